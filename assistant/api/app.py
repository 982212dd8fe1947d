"""The FastAPI application factory: `create_app(settings)`."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError

from ..engine import TurnEngine
from ..settings import Settings
from ..store import Store, init_db, make_engine
from . import routes_chat, routes_conversations, routes_health
from .content_type import FormLabelledJson
from .deps import Services
from .errors import install_error_handlers
from .limits import BodySizeLimit
from .ratelimit import install_rate_limits, limit_chat, limit_poll

log = logging.getLogger(__name__)


def create_app(settings: Settings, engine: TurnEngine | None = None) -> FastAPI:
    """The API. Models load at start-up unless a ready `engine` is given (tests)."""
    store = engine.store if engine is not None else Store(make_engine(settings.db_url))
    services = Services(settings=settings, store=store, engine=engine)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        init_db(services.store.engine)
        own_engine = services.engine is None  # built here, so stopped here
        if services.engine is None:
            from ..runtime import build_engine, load_models

            models = load_models(settings, services.store)
            services.engine = build_engine(settings, services.store, models)
        m = services.engine.models
        services.versions = {"intents": m.intent.version, "sentiment": m.sentiment.version}
        # background workers: start yours here and stop them after the yield
        from ..hotswap import start_background_workers  # model watcher, retrain schedule

        model_workers = start_background_workers(services)
        from ..webhooks.delivery import start_worker  # outbox delivery, when enabled

        outbox_worker = start_worker(settings, services.store)
        yield
        model_workers.stop()
        if outbox_worker is not None:
            outbox_worker.stop()
        if own_engine and services.engine is not None:
            services.engine.close()  # the model batcher's thread

    app = FastAPI(
        title="cs-assistant",
        version="0.1.0",
        summary="Customer-service chat assistant: intents, retrieval, replies, stored turns.",
        lifespan=lifespan,
    )
    app.state.services = services
    # abuse limits (added before CORS, so CORS stays outermost and 413/429 carry its headers)
    from .routes_webhooks import MAX_BODY_BYTES as WEBHOOK_MAX_BODY_BYTES

    app.add_middleware(
        BodySizeLimit,
        max_bytes=settings.max_body_bytes,
        overrides={"/v1/webhooks/": WEBHOOK_MAX_BODY_BYTES},
    )
    app.add_middleware(FormLabelledJson)  # `curl -d '{...}'` without -H
    install_rate_limits(app, settings)
    install_error_handlers(app)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Content-Type"],
        )

    @app.exception_handler(OperationalError)
    async def _database_down(_request: Request, exc: OperationalError) -> JSONResponse:
        log.error("database unavailable: %s", exc.orig)
        return JSONResponse(
            {"detail": "the database is unavailable; try again shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    app.include_router(routes_health.router)
    app.include_router(routes_chat.router, dependencies=[Depends(limit_chat)])
    app.include_router(routes_conversations.router, dependencies=[Depends(limit_poll)])
    # routers: include yours below (one line each)
    from . import routes_admin, routes_webhooks

    app.include_router(routes_webhooks.router)
    app.include_router(routes_admin.router)
    return app
