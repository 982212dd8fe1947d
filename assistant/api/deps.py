"""Dependencies injected into the route functions."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi import HTTPException, Request

from ..engine import TurnEngine
from ..settings import Settings
from ..store import Store


@dataclass
class Services:
    """What the routes use; built once by `create_app` and kept on `app.state`."""

    settings: Settings
    store: Store
    engine: TurnEngine | None = None
    startup_error: str | None = None
    versions: dict[str, str] = field(default_factory=dict)


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_engine(request: Request) -> TurnEngine:
    services = get_services(request)
    if services.engine is None:
        raise HTTPException(503, services.startup_error or "models are still loading")
    return services.engine
