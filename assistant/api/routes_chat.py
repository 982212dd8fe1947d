"""POST /v1/chat and /v1/chat/stream."""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Iterator

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import StreamingResponse

from ..engine import TurnEngine
from ..store import UnknownConversation
from .deps import Services, get_engine, get_services
from .schemas import ChatRequest, ChatResponse

router = APIRouter(prefix="/v1", tags=["chat"])
log = logging.getLogger(__name__)


def _check_length(body: ChatRequest, services: Services) -> None:
    limit = services.settings.max_message_chars
    if len(body.message) > limit:
        raise HTTPException(413, f"message is {len(body.message)} characters; the limit is {limit}")


def _run_turn(body: ChatRequest, engine: TurnEngine, services: Services) -> dict:
    _check_length(body, services)
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
    """Events: ``delta`` ({"text"}) chunks as the reply is generated, then ``final`` with
    the /v1/chat answer (authoritative: it may replace an ungrounded neural draft).

    Template replies arrive as one chunk. Validation errors and unknown conversations
    answer 4xx before the stream starts; a failure mid-stream sends an ``error`` event.
    """
    _check_length(body, services)
    items = engine.stream(body.conversation_id, body.message)
    try:
        first = next(items)  # analysis runs here, so a 404 is still a plain HTTP error
    except UnknownConversation as e:
        raise HTTPException(404, f"unknown conversation_id {e.args[0]!r}") from e

    def events() -> Iterator[str]:
        streamed = False
        try:
            for item in itertools.chain([first], items):
                if isinstance(item, str):
                    streamed = True
                    yield _sse("delta", {"text": item})
                else:
                    result = item.api_view()
                    if not streamed and result["reply"]:
                        yield _sse("delta", {"text": result["reply"]})
                    yield _sse("final", result)
        except Exception:
            log.exception("streamed turn failed")
            yield _sse("error", {"detail": "the reply could not be completed; please retry"})

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"}
    )
