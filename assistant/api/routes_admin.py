"""/v1/admin/...: conversations, labels, knowledge base, outbox events. Every route needs an
admin API key (``Authorization: Bearer <key>`` or ``X-API-Key``), else 401."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ..engine import TurnEngine
from ..store import UnknownConversation
from ..webhooks import admin, subscriptions
from .auth import require_admin
from .deps import Services, get_engine, get_services

router = APIRouter(prefix="/v1/admin", tags=["admin"], dependencies=[Depends(require_admin)])
log = logging.getLogger(__name__)

Limit = Query(100, ge=1, le=1000, description="At most this many rows.")


def _not_blank(v: str) -> str:
    if not v.strip():
        raise ValueError("must not be empty")
    return v.strip()


NonBlank = Annotated[str, AfterValidator(_not_blank)]


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: Literal["bot", "waiting_for_agent", "agent", "closed"]
    agent: str | None = Field(default=None, max_length=128)


class LabelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    turn_id: int
    task: Literal["intents", "sentiment"]
    label: NonBlank = Field(max_length=128, description="A new intent name is allowed.")
    author: NonBlank = Field(max_length=128)


class PairIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    question: NonBlank = Field(max_length=4000)
    answer: NonBlank = Field(max_length=8000)
    intent: str | None = Field(default=None, max_length=128)


# ----------------------------------------------------------------------- conversations
@router.get("/conversations", summary="Conversations, newest first")
def conversations(
    status: str | None = Query(None, description="bot | waiting_for_agent | agent | closed"),
    limit: int = Limit,
    services: Services = Depends(get_services),
) -> list[dict[str, Any]]:
    try:
        return admin.list_conversations(services.store, status, limit)
    except ValueError as e:
        raise HTTPException(422, str(e)) from e


@router.get("/conversations/{conversation_id}", summary="A conversation and its messages")
def conversation(conversation_id: str, services: Services = Depends(get_services)) -> dict:
    view = services.store.get_conversation(conversation_id)
    if view is None:
        raise HTTPException(404, f"unknown conversation_id {conversation_id!r}")
    return view


@router.post("/conversations/{conversation_id}/status", summary="Set a conversation's status")
def set_status(
    conversation_id: str,
    body: StatusIn,
    request: Request,
    services: Services = Depends(get_services),
) -> dict:
    try:
        services.store.set_status(conversation_id, body.status, body.agent)
    except UnknownConversation as e:
        raise HTTPException(404, f"unknown conversation_id {conversation_id!r}") from e
    log.info(
        "admin key %s set conversation %s to %s",
        request.state.admin_key,
        conversation_id,
        body.status,
    )
    return {"conversation_id": conversation_id, "status": body.status, "agent": body.agent}


@router.delete(
    "/conversations/{conversation_id}",
    summary="Erase a conversation: its turns, labels, outbox events and receipts",
)
def erase_conversation(
    conversation_id: str, request: Request, services: Services = Depends(get_services)
) -> dict[str, Any]:
    """For a customer's erasure request. The audit log gets an ``erase`` row (counts only,
    no content); knowledge-base pairs approved from the conversation are kept and listed
    in ``kb_pairs_kept``."""
    erased = services.store.erase_conversation(
        conversation_id, f"admin-key:{request.state.admin_key}"
    )
    if erased is None:
        raise HTTPException(404, f"unknown conversation_id {conversation_id!r}")
    return erased


# ------------------------------------------------------------------------------ labels
@router.get("/labels", summary="Agents' corrections (labels for retraining)")
def labels(
    task: Literal["intents", "sentiment"] | None = None,
    services: Services = Depends(get_services),
) -> list[dict[str, Any]]:
    return services.store.labels(task)


@router.post("/labels", status_code=201, summary="Correct a customer turn's intent or sentiment")
def add_label(body: LabelIn, services: Services = Depends(get_services)) -> dict[str, Any]:
    try:
        label_id = services.store.add_label(body.turn_id, body.task, body.label, body.author)
    except LookupError as e:
        raise HTTPException(404, str(e).strip("'\"")) from e
    except ValueError as e:
        raise HTTPException(422, str(e)) from e
    return {"id": label_id, **body.model_dump()}


# ---------------------------------------------------------------------- knowledge base
@router.get("/kb", summary="Knowledge-base pairs")
def kb_list(
    limit: int = Limit,
    offset: int = Query(0, ge=0),
    services: Services = Depends(get_services),
) -> list[dict[str, Any]]:
    return admin.list_pairs(services.store, limit, offset)


@router.post("/kb", status_code=201, summary="Add a Q&A pair, searchable at once")
def kb_add(
    body: PairIn,
    services: Services = Depends(get_services),
    engine: TurnEngine = Depends(get_engine),
) -> dict[str, Any]:
    try:
        return admin.add_pair(
            services.store, engine, services.settings, body.question, body.answer, body.intent
        )
    except admin.IndexUnavailable as e:
        raise HTTPException(503, str(e)) from e


@router.delete("/kb/{pair_id}", summary="Remove a Q&A pair from SQL and the index")
def kb_delete(
    pair_id: int,
    services: Services = Depends(get_services),
    engine: TurnEngine = Depends(get_engine),
) -> dict[str, Any]:
    try:
        found = admin.delete_pair(services.store, engine, services.settings, pair_id)
    except admin.IndexUnavailable as e:
        raise HTTPException(503, str(e)) from e
    if not found:
        raise HTTPException(404, f"no knowledge-base pair {pair_id}")
    return {"id": pair_id, "deleted": True}


# ------------------------------------------------------------------------------ events
@router.get("/events", summary="Outbox events (webhook deliveries)")
def events(
    status: Literal["pending", "delivered", "dead"] | None = None,
    limit: int = Limit,
    services: Services = Depends(get_services),
) -> list[dict[str, Any]]:
    return subscriptions.list_events(services.store, status, limit)


@router.post("/events/{row_id}/replay", summary="Deliver an event again (e.g. a dead one)")
def replay(row_id: int, services: Services = Depends(get_services)) -> dict[str, Any]:
    view = subscriptions.replay_event(services.store, row_id)
    if view is None:
        raise HTTPException(404, f"no outbox event {row_id}")
    return view
