"""POST /v1/webhooks/{provider}: signed helpdesk message events (zendesk, freshdesk, chatwoot).

Headers: ``X-CSA-Timestamp`` (unix seconds) and ``X-CSA-Signature: sha256=<hex>``, the
HMAC-SHA256 of ``f"{timestamp}.{raw body}"`` with the provider's secret from
``CSA_WEBHOOK_SECRETS``. The answer carries the reply in the provider's shape.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from ..webhooks.inbound import InboundError, authenticate, handle_parsed, provider_for
from ..webhooks.signing import SIGNATURE_HEADER, TIMESTAMP_HEADER
from .deps import Services, get_engine, get_services

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

MAX_BODY_BYTES = 1_000_000


@router.post("/{provider}", summary="A helpdesk message event (signed)")
async def inbound_webhook(
    provider: str, request: Request, services: Services = Depends(get_services)
) -> dict[str, Any]:
    """Runs the customer's turn and answers with the reply in the provider's shape, e.g.
    Chatwoot ``{"content", "message_type": "outgoing"}``; agent and bot messages are
    acknowledged and ignored; a repeated message id gets the first answer again."""
    body = await request.body()
    try:
        adapter = provider_for(provider)
        if len(body) > MAX_BODY_BYTES:
            raise InboundError(413, f"body is {len(body)} bytes; the limit is {MAX_BODY_BYTES}")
        authenticate(
            services.settings,
            adapter.name,
            body,
            request.headers.get(TIMESTAMP_HEADER),
            request.headers.get(SIGNATURE_HEADER),
        )
        engine = get_engine(request)
        return await run_in_threadpool(
            handle_parsed, services.settings, services.store, engine, adapter, body
        )
    except InboundError as e:
        raise HTTPException(e.status_code, e.detail) from e
