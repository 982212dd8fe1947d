"""The composition root: the API from `assistant` with the widget and console mounted."""

from __future__ import annotations

from typing import TYPE_CHECKING

from assistant.api import create_app
from assistant.settings import Settings

from .server import mount_ui

if TYPE_CHECKING:
    from fastapi import FastAPI

    from assistant.engine import TurnEngine


def create_full_app(settings: Settings, engine: TurnEngine | None = None) -> FastAPI:
    """API + demo page + widget + agent console, as `assistant serve` runs it."""
    from assistant.console_service import ConsoleService

    app = create_app(settings, engine=engine)
    # the services, not the engine: the engine is built at start-up, after this
    mount_ui(app, ConsoleService(app.state.services))
    return app


def create_app_from_env() -> FastAPI:
    """Uvicorn factory: settings from the CSA_* environment."""
    settings = Settings()
    from assistant.runtime import set_torch_threads  # the server process only, not tests

    set_torch_threads(settings)
    return create_full_app(settings)
