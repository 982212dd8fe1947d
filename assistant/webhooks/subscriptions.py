"""Webhook subscriptions and the outbox as operators see them: subscribe, list, replay."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import select, update

from ..store import Store
from ..store.integrations import (
    EVENT_TYPES,
    OUTBOX_STATUSES,
    OutboxEvent,
    WebhookSubscription,
    rowcount,
)
from ..store.models import utcnow

log = logging.getLogger(__name__)


def parse_events(events: str | Iterable[str]) -> list[str]:
    names = events.split(",") if isinstance(events, str) else list(events)
    wanted = [e.strip() for e in names if e.strip()]
    unknown = sorted(set(wanted) - set(EVENT_TYPES))
    if unknown or not wanted:
        raise ValueError(f"unknown or no event types {unknown}; choose from {list(EVENT_TYPES)}")
    return sorted(set(wanted), key=EVENT_TYPES.index)


def subscribe(
    store: Store, url: str, events: str | Iterable[str], secret: str | None = None
) -> tuple[int, str]:
    """Add a subscription; returns (id, secret). A secret is generated when none is given."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    wanted = parse_events(events)
    secret = secret or secrets.token_urlsafe(32)
    with store.sessions.begin() as s:
        sub = WebhookSubscription(url=url, secret=secret, events=wanted, active=True)
        s.add(sub)
        s.flush()
        sub_id = sub.id
    log.info("webhook subscription %d: %s for %s", sub_id, url, ",".join(wanted))
    return sub_id, secret


def set_active(store: Store, subscription_id: int, active: bool) -> bool:
    with store.sessions.begin() as s:
        n = rowcount(
            s.execute(
                update(WebhookSubscription)
                .where(WebhookSubscription.id == subscription_id)
                .values(active=active)
            )
        )
    return bool(n)


def list_subscriptions(store: Store) -> list[dict[str, Any]]:
    with store.sessions() as s:
        subs = s.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)).all()
        return [
            {"id": w.id, "url": w.url, "events": list(w.events or []), "active": w.active}
            for w in subs
        ]


def has_subscriptions(store: Store) -> bool:
    with store.sessions() as s:
        return (
            s.scalars(
                select(WebhookSubscription.id).where(WebhookSubscription.active).limit(1)
            ).first()
            is not None
        )


def event_view(e: OutboxEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "event_id": e.event_id,
        "type": e.event_type,
        "subscription_id": e.subscription_id,
        "status": e.status,
        "attempts": e.attempts,
        "next_attempt_at": e.next_attempt_at.isoformat() if e.next_attempt_at else None,
        "last_status_code": e.last_status_code,
        "last_error": e.last_error,
        "created_at": e.created_at.isoformat() if e.created_at else None,
        "delivered_at": e.delivered_at.isoformat() if e.delivered_at else None,
        "payload": e.payload,
    }


def list_events(store: Store, status: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    if status is not None and status not in OUTBOX_STATUSES:
        raise ValueError(f"unknown status {status!r}; expected one of {list(OUTBOX_STATUSES)}")
    with store.sessions() as s:
        q = select(OutboxEvent).order_by(OutboxEvent.id.desc()).limit(limit)
        if status is not None:
            q = q.where(OutboxEvent.status == status)
        return [event_view(e) for e in s.scalars(q).all()]


def replay_event(store: Store, row_id: int) -> dict[str, Any] | None:
    """Queue an outbox row again (dead or delivered), with a fresh attempt budget.

    The event id is unchanged, so a receiver that already has it can drop the repeat.
    """
    with store.sessions.begin() as s:
        e = s.get(OutboxEvent, row_id)
        if e is None:
            return None
        e.status, e.attempts, e.next_attempt_at = "pending", 0, utcnow()
        e.claim_token, e.last_error = None, None
        s.flush()
        view = event_view(e)
    log.info("outbox row %d (event %s) queued again for delivery", row_id, view["event_id"])
    return view
