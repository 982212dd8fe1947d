"""GET /v1/conversations/{id}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException

from .deps import Services, get_services

router = APIRouter(prefix="/v1", tags=["conversations"])


@router.get("/conversations/{conversation_id}", summary="A conversation and its messages")
def get_conversation(
    conversation_id: str, services: Services = Depends(get_services)
) -> dict[str, Any]:
    view = services.store.get_conversation(conversation_id)
    if view is None:
        raise HTTPException(404, f"unknown conversation_id {conversation_id!r}")
    return view
