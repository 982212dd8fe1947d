"""GET /healthz: model versions, index size, database."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from .deps import Services, get_services

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness and what is loaded")
def healthz(services: Services = Depends(get_services)) -> JSONResponse:
    db_ok = services.store.ping()
    engine = services.engine
    body: dict[str, Any] = {
        "status": "ok" if db_ok and engine is not None else "unavailable",
        "database": "ok" if db_ok else "unreachable",
        "models": dict(services.versions),
        "index": {"size": len(engine.models.knowledge) if engine else None},
    }
    if services.startup_error:
        body["error"] = services.startup_error
    headers = {} if body["status"] == "ok" else {"Retry-After": "5"}
    return JSONResponse(body, status_code=200 if body["status"] == "ok" else 503, headers=headers)
