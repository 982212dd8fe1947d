"""SQL tables for integrations: admin API keys, webhook subscriptions, the outbox, inbound
receipts (dedupe) and links from helpdesk conversations to ours.

`emit_turn_events` and `emit_status_events` are called by `Store` with its open session, so
outbox rows commit (or roll back) together with the change that caused them.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from .models import Base, Conversation, Turn, utcnow

log = logging.getLogger(__name__)

EVENT_TYPES = ("turn.created", "conversation.handoff", "conversation.closed")
OUTBOX_STATUSES = ("pending", "delivered", "dead")


class ApiKey(Base):
    """An admin API key: only the sha256 of the token is kept, and a prefix to recognise it."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128), index=True)
    prefix: Mapped[str] = mapped_column(String(16), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class WebhookSubscription(Base):
    """A receiver URL, the secret its deliveries are signed with, and the events it wants."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(256))
    events: Mapped[list[Any]] = mapped_column(default=list)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OutboxEvent(Base):
    """One event for one subscriber. `event_id` is shared by the subscribers of one event."""

    __tablename__ = "outbox_events"
    __table_args__ = (
        UniqueConstraint("event_id", "subscription_id", name="uq_outbox_event_subscriber"),
        Index("ix_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(36))
    subscription_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), index=True
    )
    event_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(String(36), default=None)
    last_error: Mapped[str | None] = mapped_column(String(512), default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)


class InboundReceipt(Base):
    """A helpdesk message we handled (or are handling): the reply we gave, to answer repeats."""

    __tablename__ = "inbound_receipts"
    __table_args__ = (UniqueConstraint("provider", "message_id", name="uq_receipt_message"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(128))
    status: Mapped[str] = mapped_column(String(16), default="processing")  # processing | done
    conversation_id: Mapped[str | None] = mapped_column(String(64), default=None)
    turn_id: Mapped[int | None] = mapped_column(Integer, default=None)
    response: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class ExternalLink(Base):
    """A helpdesk conversation (ticket) and the conversation of ours that mirrors it."""

    __tablename__ = "external_links"
    __table_args__ = (UniqueConstraint("provider", "external_id", name="uq_external_link"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(128))
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


def rowcount(result: Any) -> int:
    """Rows matched by an UPDATE/DELETE result (typed loosely across SQLAlchemy results)."""
    return int(getattr(result, "rowcount", 0) or 0)


# --------------------------------------------------------------------------- the outbox
def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def event_envelope(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    """The JSON body every subscriber receives: ``{"id", "type", "created_at", "data"}``."""
    return {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "created_at": utcnow().isoformat(),
        "data": data,
    }


def active_subscriptions(s: Session) -> list[WebhookSubscription]:
    """The subscribers events go to (one small SELECT); load once per transaction."""
    return list(s.scalars(select(WebhookSubscription).where(WebhookSubscription.active)).all())


def emit_event(
    s: Session,
    event_type: str,
    data: dict[str, Any],
    subs: Sequence[WebhookSubscription] | None = None,
) -> int:
    """Queue `event_type` for every active subscriber that wants it, in the session `s`.

    `subs`: the active subscriptions when the caller already loaded them. Returns how many
    outbox rows were added.
    """
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}; expected one of {EVENT_TYPES}")
    subs = active_subscriptions(s) if subs is None else subs
    wanted = [sub for sub in subs if event_type in (sub.events or [])]
    if not wanted:
        return 0
    envelope = event_envelope(event_type, data)
    now = utcnow()
    for sub in wanted:
        s.add(
            OutboxEvent(
                event_id=envelope["id"],
                subscription_id=sub.id,
                event_type=event_type,
                payload=envelope,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return len(wanted)


def _turn_data(conv: Conversation, turn: Turn) -> dict[str, Any]:
    data: dict[str, Any] = {
        "conversation_id": conv.id,
        "channel": conv.channel,
        "status": conv.status,
        "turn": {
            "id": turn.id,
            "role": turn.role,
            "text": turn.text,
            "created_at": _iso(turn.created_at),
        },
    }
    if turn.role == "customer":
        data["turn"] |= {
            "intent": turn.intent,
            "confidence": turn.confidence,
            "sentiment": turn.sentiment,
        }
    elif turn.role == "bot":
        data["turn"] |= {"action": turn.action, "reason": turn.reason, "reply_to": turn.reply_to}
    else:
        data["turn"]["author"] = turn.author
    return data


def emit_turn_events(
    s: Session, conv: Conversation, turns: Sequence[Turn | None], previous_status: str | None
) -> None:
    """`turn.created` for each stored message, then `conversation.handoff` if the
    conversation has just started waiting for an agent. One SELECT of the subscribers per
    call, and nothing more when there are none (the common case on a turn's hot path)."""
    subs = active_subscriptions(s)
    if not subs:
        return
    for turn in turns:
        if turn is not None:
            emit_event(s, "turn.created", _turn_data(conv, turn), subs)
    emit_status_events(s, conv, previous_status, reason=_reason(turns), subs=subs)


def _reason(turns: Sequence[Turn | None]) -> str | None:
    bots = [t for t in turns if t is not None and t.role == "bot"]
    return bots[-1].reason if bots else None


def emit_status_events(
    s: Session,
    conv: Conversation,
    previous_status: str | None,
    reason: str | None = None,
    subs: Sequence[WebhookSubscription] | None = None,
) -> None:
    """`conversation.handoff` / `conversation.closed` when the status has just become so."""
    if conv.status == previous_status:
        return
    data = {
        "conversation_id": conv.id,
        "channel": conv.channel,
        "status": conv.status,
        "previous_status": previous_status,
        "assigned_agent": conv.assigned_agent,
    }
    if conv.status == "waiting_for_agent":
        emit_event(s, "conversation.handoff", data | {"reason": reason}, subs)
    elif conv.status == "closed":
        emit_event(s, "conversation.closed", data, subs)
