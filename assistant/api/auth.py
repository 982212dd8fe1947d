"""`require_admin`: the admin API key check (``Authorization: Bearer <token>`` or ``X-API-Key``).

Keys are created with `assistant keys add NAME`; only their sha256 is stored.
"""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from ..webhooks.keys import check_token
from .deps import Services, get_services

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="cs-assistant admin"'}


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    key = request.headers.get("x-api-key", "").strip()
    return key or None


async def require_admin(request: Request, services: Services = Depends(get_services)) -> str:
    """The name of the admin key used; 401 when it is missing, unknown or revoked."""
    token = _token(request)
    if token is None:
        raise HTTPException(
            401,
            "admin API key required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>' "
            "(create one with `assistant keys add NAME`)",
            headers=_CHALLENGE,
        )
    name = await run_in_threadpool(check_token, services.store, token)
    if name is None:
        raise HTTPException(401, "invalid or revoked admin API key", headers=_CHALLENGE)
    request.state.admin_key = name
    return name
