"""POST /v1/chat and /v1/chat/stream."""

from __future__ import annotations

import json
from collections.abc import Iterator

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import StreamingResponse

from ..engine import TurnEngine
from ..store import UnknownConversation
from .deps import Services, get_engine, get_services
from .schemas import ChatRequest, ChatResponse

router = APIRouter(prefix="/v1", tags=["chat"])


def _run_turn(body: ChatRequest, engine: TurnEngine, services: Services) -> dict:
    limit = services.settings.max_message_chars
    if len(body.message) > limit:
        raise HTTPException(413, f"message is {len(body.message)} characters; the limit is {limit}")
    try:
        return engine.handle(body.conversation_id, body.message).api_view()
    except UnknownConversation as e:
        raise HTTPException(404, f"unknown conversation_id {e.args[0]!r}") from e


@router.post("/chat", response_model=ChatResponse, summary="Send a customer message")
def chat(
    body: ChatRequest,
    engine: TurnEngine = Depends(get_engine),
    services: Services = Depends(get_services),
) -> dict:
    """Run one turn; the turn and the reply are stored before this answers."""
    return _run_turn(body, engine, services)


def _sse(event: str, data: object) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


@router.post("/chat/stream", summary="Send a customer message, reply as Server-Sent Events")
def chat_stream(
    body: ChatRequest,
    engine: TurnEngine = Depends(get_engine),
    services: Services = Depends(get_services),
) -> StreamingResponse:
    """Events: ``delta`` ({"text"}) chunks, then ``final`` with the /v1/chat answer.

    Template replies arrive as one chunk. Validation errors answer 4xx before the
    stream starts, so a client never has to parse an error out of the stream.
    """
    result = _run_turn(body, engine, services)

    def events() -> Iterator[str]:
        if result["reply"]:
            yield _sse("delta", {"text": result["reply"]})
        yield _sse("final", result)

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
