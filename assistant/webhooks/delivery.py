"""Deliver outbox events to subscribers: signed POSTs, retries with backoff, a dead letter.

Each delivery is ``POST <subscription url>`` with the JSON body
``{"id", "type", "created_at", "data"}`` and these headers::

    Content-Type:    application/json
    X-CSA-Event:     turn.created | conversation.handoff | conversation.closed
    X-CSA-Event-Id:  <uuid, the same on every retry and for every subscriber of one event>
    X-CSA-Timestamp: <unix seconds when this attempt was signed>
    X-CSA-Signature: sha256=<hex HMAC-SHA256(subscription secret, f"{timestamp}.{raw body}")>

A 2xx answer marks the event ``delivered``. Anything else (another status, a refused
connection, a timeout) schedules a retry after an exponential backoff with jitter
(``base * 2**(attempt-1)``, the upper half of it at random, capped); after
``outbox_max_attempts`` attempts the event is ``dead`` until replayed through the admin API.
Delivery is at least once: receivers should drop event ids they have already processed.

Several workers may run at once (API processes, `assistant webhooks deliver` from cron):
a worker claims a due row with a conditional UPDATE that also pushes its ``next_attempt_at``
past the attempt (a lease), so no two workers send the same row; PostgreSQL also skips
rows locked by another worker (``FOR UPDATE SKIP LOCKED``).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update

from ..settings import Settings
from ..store import Store
from ..store.integrations import OutboxEvent, WebhookSubscription
from ..store.models import utcnow
from .signing import signed_headers

log = logging.getLogger(__name__)

USER_AGENT = "cs-assistant-webhooks/0.1"


@dataclass(frozen=True)
class DeliveryPolicy:
    max_attempts: int = 8
    timeout_s: float = 5.0
    backoff_base_s: float = 2.0
    backoff_max_s: float = 3600.0
    batch_size: int = 50

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryPolicy:
        return cls(
            max_attempts=settings.outbox_max_attempts,
            timeout_s=settings.outbox_timeout_s,
            backoff_base_s=settings.outbox_backoff_base_s,
            backoff_max_s=settings.outbox_backoff_max_s,
            batch_size=settings.outbox_batch_size,
        )

    @property
    def lease(self) -> timedelta:
        """How long a claimed row stays invisible to other workers while being sent."""
        return timedelta(seconds=2 * self.timeout_s + 30)


def backoff_s(attempts: int, policy: DeliveryPolicy, rng: random.Random | None = None) -> float:
    """Delay before the next try after `attempts` failures: the upper half of
    ``base * 2**(attempts-1)`` at random, capped, so delays grow and workers spread out."""
    ceiling = min(policy.backoff_max_s, policy.backoff_base_s * 2 ** max(attempts - 1, 0))
    return ceiling / 2 + (rng or random).random() * ceiling / 2


@dataclass
class DeliveryReport:
    claimed: int = 0
    delivered: int = 0
    retrying: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Claimed:
    row_id: int
    token: str
    event_id: str
    event_type: str
    attempts: int
    payload: dict[str, Any]
    url: str | None  # None: the subscription is gone or inactive
    secret: str


def _as_utc(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _claim(store: Store, now: datetime, policy: DeliveryPolicy) -> list[_Claimed]:
    """Take up to a batch of due rows for this pass with ONE conditional UPDATE (a write
    lock on SQLite, row locks skipped on PostgreSQL), then read what was taken."""
    token = str(uuid.uuid4())
    due = (OutboxEvent.status == "pending") & (OutboxEvent.next_attempt_at <= now)
    pick = (
        select(OutboxEvent.id)
        .where(due)
        .order_by(OutboxEvent.next_attempt_at, OutboxEvent.id)
        .limit(policy.batch_size)
    )
    with store.sessions.begin() as s:
        if s.get_bind().dialect.name == "postgresql":
            ids = list(s.scalars(pick.with_for_update(skip_locked=True)).all())
            if not ids:
                return []
            target = OutboxEvent.id.in_(ids)
        else:
            target = OutboxEvent.id.in_(pick)
        s.execute(
            update(OutboxEvent)
            .where(target, due)
            .values(claim_token=token, next_attempt_at=now + policy.lease)
            .execution_options(synchronize_session=False)
        )
        rows = s.execute(
            select(OutboxEvent, WebhookSubscription)
            .join(WebhookSubscription, WebhookSubscription.id == OutboxEvent.subscription_id)
            .where(OutboxEvent.claim_token == token)
            .order_by(OutboxEvent.id)
        ).all()
        return [
            _Claimed(
                e.id,
                token,
                e.event_id,
                e.event_type,
                e.attempts,
                dict(e.payload),
                sub.url if sub.active else None,
                sub.secret,
            )
            for e, sub in rows
        ]


def _send(client: httpx.Client, c: _Claimed) -> tuple[bool, int | None, str | None]:
    assert c.url is not None
    body = json.dumps(c.payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-CSA-Event": c.event_type,
        "X-CSA-Event-Id": c.event_id,
        **signed_headers(c.secret, body),  # signed at the real send time
    }
    try:
        r = client.post(c.url, content=body, headers=headers)
    except httpx.HTTPError as e:
        return False, None, f"{type(e).__name__}: {e}"[:500]
    if 200 <= r.status_code < 300:
        return True, r.status_code, None
    return False, r.status_code, f"HTTP {r.status_code}: {r.text[:200]}"


def _settle(
    store: Store,
    c: _Claimed,
    outcome: tuple[bool, int | None, str | None],
    now: datetime,
    policy: DeliveryPolicy,
    rng: random.Random | None,
) -> str:
    ok, code, error = outcome
    attempts = c.attempts + 1
    values: dict[str, Any] = {
        "attempts": attempts,
        "claim_token": None,
        "last_status_code": code,
        "last_error": error,
    }
    if ok:
        status = "delivered"
        values |= {"status": status, "delivered_at": now}
    elif attempts >= policy.max_attempts:
        status = "dead"
        values |= {"status": status}
    else:
        status = "retrying"
        values |= {"next_attempt_at": now + timedelta(seconds=backoff_s(attempts, policy, rng))}
    with store.sessions.begin() as s:
        s.execute(
            update(OutboxEvent)
            .where(OutboxEvent.id == c.row_id, OutboxEvent.claim_token == c.token)
            .values(**values)
            .execution_options(synchronize_session=False)
        )
    return status


def deliver_due(
    store: Store,
    now: datetime | None = None,
    *,
    policy: DeliveryPolicy | None = None,
    client: httpx.Client | None = None,
    rng: random.Random | None = None,
) -> DeliveryReport:
    """Send every event due at `now` (default: the current time) once; returns what happened.

    `now` drives scheduling only (tests pass a fake clock); signatures use the real time.
    """
    now = _as_utc(now or utcnow())
    policy = policy or DeliveryPolicy()
    report = DeliveryReport()
    claimed = _claim(store, now, policy)
    if not claimed:
        return report
    report.claimed = len(claimed)
    own_client = client is None
    http = client or httpx.Client(timeout=policy.timeout_s, follow_redirects=False)
    try:
        for c in claimed:
            if c.url is None:
                outcome: tuple[bool, int | None, str | None] = (
                    False,
                    None,
                    "subscription inactive",
                )
                status = _settle(store, c, outcome, now, DeliveryPolicy(max_attempts=1), rng)
            else:
                outcome = _send(http, c)
                status = _settle(store, c, outcome, now, policy, rng)
            if status == "delivered":
                report.delivered += 1
                log.info("event %s (%s) delivered to %s", c.event_id, c.event_type, c.url)
            elif status == "dead":
                report.dead += 1
                log.error(
                    "event %s (%s) is dead after %d attempts: %s",
                    c.event_id,
                    c.event_type,
                    c.attempts + 1,
                    outcome[2],
                )
            else:
                report.retrying += 1
                log.warning(
                    "event %s to %s failed (attempt %d): %s; will retry",
                    c.event_id,
                    c.url,
                    c.attempts + 1,
                    outcome[2],
                )
            if outcome[2]:
                report.errors.append(outcome[2])
    finally:
        if own_client:
            http.close()
    return report


class DeliveryWorker:
    """A daemon thread that runs `deliver_due` every `poll_s` seconds until stopped."""

    def __init__(self, store: Store, policy: DeliveryPolicy, poll_s: float = 1.0) -> None:
        self.store, self.policy, self.poll_s = store, policy, poll_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-delivery", daemon=True)

    def start(self) -> DeliveryWorker:
        self._thread.start()
        log.info("outbox delivery worker started (every %.1fs)", self.poll_s)
        return self

    def stop(self, timeout: float | None = None) -> None:
        self._stop.set()
        self._thread.join(timeout if timeout is not None else self.policy.timeout_s + 5)
        log.info("outbox delivery worker stopped")

    def _run(self) -> None:
        with httpx.Client(timeout=self.policy.timeout_s, follow_redirects=False) as client:
            while not self._stop.is_set():
                try:
                    report = deliver_due(self.store, policy=self.policy, client=client)
                    busy = report.claimed >= self.policy.batch_size
                except Exception:
                    log.exception("outbox delivery pass failed")
                    busy = False
                if not busy:
                    self._stop.wait(self.poll_s)


def start_worker(settings: Settings, store: Store) -> DeliveryWorker | None:
    """The API's delivery thread, when `outbox_worker` is on (or unset and subscribers exist)."""
    from .subscriptions import has_subscriptions

    enabled = settings.outbox_worker
    if enabled is None:
        enabled = has_subscriptions(store)
    if not enabled:
        return None
    return DeliveryWorker(
        store, DeliveryPolicy.from_settings(settings), settings.outbox_poll_s
    ).start()
