"""Inbound helpdesk webhooks: verify, parse, dedupe, run the customer's turn, answer.

Signature (all providers): ``X-CSA-Timestamp`` and ``X-CSA-Signature: sha256=<hex>`` with
the provider's shared secret from ``CSA_WEBHOOK_SECRETS`` (see `assistant.webhooks.signing`).

Dedupe: a receipt row (unique on provider + message id) is claimed BEFORE the turn runs and
completed with the reply afterwards, so a repeated delivery is answered with the first reply
and never makes a second turn. A claim left ``processing`` by a crashed worker for longer
than `STALE_CLAIM` is taken over (then, at worst, that one message runs twice).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from ..engine import TurnEngine, TurnResult
from ..settings import Settings
from ..store import Store
from ..store.integrations import ExternalLink, InboundReceipt, rowcount
from ..store.models import Conversation, utcnow
from .providers import PROVIDERS, InboundMessage, NotAMessage, PayloadError, Provider
from .signing import SignatureError, verify

log = logging.getLogger(__name__)

STALE_CLAIM = timedelta(minutes=2)


class InboundError(Exception):
    """The request is refused; `status_code` and `detail` become the HTTP answer."""

    def __init__(self, status_code: int, detail: str) -> None:
        super().__init__(detail)
        self.status_code, self.detail = status_code, detail


def provider_for(name: str) -> Provider:
    try:
        return PROVIDERS[name]
    except KeyError:
        raise InboundError(
            404, f"unknown webhook provider {name!r}; expected one of {sorted(PROVIDERS)}"
        ) from None


def authenticate(
    settings: Settings,
    provider: str,
    body: bytes,
    timestamp: str | None,
    sig: str | None,
    now: float | None = None,
) -> None:
    secret = settings.webhook_secrets.get(provider)
    if not secret:
        raise InboundError(
            403,
            f"webhooks from {provider} are not enabled: no shared secret is configured "
            f"(set CSA_WEBHOOK_SECRETS)",
        )
    try:
        verify(secret, timestamp, sig, body, tolerance_s=settings.webhook_tolerance_s, now=now)
    except SignatureError as e:
        log.warning("%s webhook refused: %s", provider, e)
        raise InboundError(401, str(e)) from e


def parse(provider: Provider, body: bytes) -> InboundMessage:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InboundError(422, f"body is not JSON: {e}") from e
    if not isinstance(payload, dict):
        raise InboundError(422, "body must be a JSON object")
    try:  # "\ud800" escapes decode to lone surrogates: not text, cannot be stored
        json.dumps(payload, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError as e:
        raise InboundError(422, "body holds a lone surrogate (\\ud800-\\udfff escape)") from e
    try:
        return provider.parse(payload)
    except PayloadError as e:
        raise InboundError(422, str(e)) from e


def _ignored(reason: str) -> dict[str, Any]:
    return {"csa": {"status": "ignored", "reason": reason}}


# ------------------------------------------------------------------------- receipts
@dataclass(frozen=True)
class _Claim:
    receipt_id: int | None  # ours to complete; None when `previous` answers the request
    previous: dict[str, Any] | None


def _claim_receipt(store: Store, provider: str, message_id: str) -> _Claim:
    try:
        with store.sessions.begin() as s:
            row = InboundReceipt(provider=provider, message_id=message_id, status="processing")
            s.add(row)
            s.flush()
            return _Claim(row.id, None)
    except IntegrityError:
        pass
    with store.sessions.begin() as s:
        row = s.scalars(
            select(InboundReceipt).where(
                InboundReceipt.provider == provider, InboundReceipt.message_id == message_id
            )
        ).one()
        if row.status == "done":
            return _Claim(None, dict(row.response))
        took = rowcount(
            s.execute(
                update(InboundReceipt)
                .where(
                    InboundReceipt.id == row.id,
                    InboundReceipt.status == "processing",
                    InboundReceipt.created_at < utcnow() - STALE_CLAIM,
                )
                .values(created_at=utcnow())
                .execution_options(synchronize_session=False)
            )
        )
    if took:
        log.warning("%s message %s: taking over an abandoned claim", provider, message_id)
        return _Claim(row.id, None)
    raise InboundError(409, "this message is being handled right now; retry shortly")


def _release(store: Store, receipt_id: int) -> None:
    with store.sessions.begin() as s:
        s.execute(delete(InboundReceipt).where(InboundReceipt.id == receipt_id))


def _complete(store: Store, receipt_id: int, result: TurnResult, response: dict) -> None:
    with store.sessions.begin() as s:
        s.execute(
            update(InboundReceipt)
            .where(InboundReceipt.id == receipt_id)
            .values(
                status="done",
                conversation_id=result.conversation_id,
                turn_id=result.turn_id,
                response=response,
            )
            .execution_options(synchronize_session=False)
        )


# ---------------------------------------------------------------------------- links
def linked_conversation(store: Store, provider: str, external_id: str) -> str:
    """Our conversation for the provider's conversation, created (and linked) on first use."""
    where = (ExternalLink.provider == provider) & (ExternalLink.external_id == external_id)
    with store.sessions() as s:
        found = s.scalars(select(ExternalLink.conversation_id).where(where)).first()
    if found:
        return found
    try:
        with store.sessions.begin() as s:
            conv = Conversation(channel=provider)
            s.add(conv)
            s.flush()
            s.add(ExternalLink(provider=provider, external_id=external_id, conversation_id=conv.id))
            log.info("%s conversation %s linked to %s", provider, external_id, conv.id)
            return conv.id
    except IntegrityError:  # another request linked it first
        with store.sessions() as s:
            return s.scalars(select(ExternalLink.conversation_id).where(where)).one()


# -------------------------------------------------------------------------- the turn
def handle_message(
    store: Store, engine: TurnEngine, provider: Provider, msg: InboundMessage, max_chars: int
) -> dict[str, Any]:
    """Answer one parsed message; the response body is the provider's reply shape plus
    ``"csa": {status, conversation_id, turn_id, action, ...}``."""
    if msg.author != "customer":
        log.info("%s message %s by %s ignored", provider.name, msg.message_id, msg.author)
        return _ignored(f"authored by {msg.author}")
    if not msg.text:
        return _ignored("no text")
    claim = _claim_receipt(store, provider.name, msg.message_id)
    if claim.previous is not None:
        log.info("%s message %s already handled: same reply", provider.name, msg.message_id)
        return claim.previous | {"csa": {**claim.previous.get("csa", {}), "status": "duplicate"}}
    assert claim.receipt_id is not None
    try:
        conversation_id = linked_conversation(store, provider.name, msg.conversation_id)
        text = msg.text
        if len(text) > max_chars:
            log.warning(
                "%s message %s truncated to %d characters", provider.name, msg.message_id, max_chars
            )
            text = text[:max_chars]
        result = engine.handle(conversation_id, text)
    except BaseException:
        _release(store, claim.receipt_id)
        raise
    response = provider.reply(result.reply) if result.reply else {}
    response["csa"] = {
        "status": "answered" if result.reply else "with_agent",
        "conversation_id": result.conversation_id,
        "turn_id": result.turn_id,
        "action": result.action,
        "intent": result.intent,
    }
    _complete(store, claim.receipt_id, result, response)
    log.info(
        "%s message %s -> turn %s (%s)",
        provider.name,
        msg.message_id,
        result.turn_id,
        result.action,
    )
    return response


def handle_parsed(
    settings: Settings, store: Store, engine: TurnEngine, provider: Provider, body: bytes
) -> dict[str, Any]:
    """Parse an authenticated body and answer it (a turn, an ignore, or a repeat)."""
    try:
        msg = parse(provider, body)
    except NotAMessage as e:
        return _ignored(str(e))
    return handle_message(store, engine, provider, msg, settings.max_message_chars)


def handle_webhook(
    settings: Settings,
    store: Store,
    engine: TurnEngine,
    provider_name: str,
    body: bytes,
    timestamp: str | None,
    sig: str | None,
) -> dict[str, Any]:
    """Everything `POST /v1/webhooks/{provider}` does; raises `InboundError` to refuse."""
    provider = provider_for(provider_name)
    authenticate(settings, provider.name, body, timestamp, sig)
    return handle_parsed(settings, store, engine, provider, body)
