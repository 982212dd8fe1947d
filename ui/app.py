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
    app = create_app(settings, engine=engine)
    mount_ui(app, app.state.services.store)
    return app


def create_app_from_env() -> FastAPI:
    """Uvicorn factory: settings from the CSA_* environment."""
    return create_full_app(Settings())
