"""Outbound webhooks: events written with the change that caused them, delivered to a REAL
local HTTP receiver (a stand-in for a helpdesk's server, on 127.0.0.1) that is down at first
and comes back; retries with growing backoff, a dead letter, replay through the admin API."""

from __future__ import annotations

import json
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from assistant.api import create_app
from assistant.engine import TurnEngine
from assistant.settings import Settings
from assistant.store import BotTurn, CustomerTurn, Store
from assistant.store.integrations import OutboxEvent
from assistant.store.models import utcnow
from assistant.webhooks.delivery import DeliveryPolicy, DeliveryWorker, deliver_due
from assistant.webhooks.keys import create_key
from assistant.webhooks.signing import verify
from assistant.webhooks.subscriptions import subscribe

SECRET = "receiver-secret"
ALL_EVENTS = "turn.created,conversation.handoff,conversation.closed"
POLICY = DeliveryPolicy(max_attempts=5, timeout_s=2.0, backoff_base_s=2.0, batch_size=50)


class Receiver:
    """A tiny helpdesk-side HTTP server: verifies signatures, answers from a script of status
    codes (then `default`), and records the event ids it accepted with a 2xx."""

    def __init__(self, port: int = 0, script: list[int] | None = None, default: int = 200):
        self.script, self.default = list(script or []), default
        self.accepted: list[str] = []
        self.requests: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                verify(
                    SECRET,
                    self.headers["X-CSA-Timestamp"],
                    self.headers["X-CSA-Signature"],
                    body,
                    tolerance_s=300,
                )
                event = json.loads(body)
                assert event["id"] == self.headers["X-CSA-Event-Id"]
                assert event["type"] == self.headers["X-CSA-Event"]
                with receiver.lock:
                    code = receiver.script.pop(0) if receiver.script else receiver.default
                    receiver.requests.append((event["id"], code))
                    if 200 <= code < 300:
                        receiver.accepted.append(event["id"])
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/csa"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers() -> Iterator[list[Receiver]]:
    started: list[Receiver] = []
    yield started
    for r in started:
        r.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def outbox(store: Store) -> list[OutboxEvent]:
    with store.sessions() as s:
        return list(s.scalars(select(OutboxEvent).order_by(OutboxEvent.id)).all())


def make_events(store: Store) -> list[str]:
    """Two conversations: a turn answered, a turn handed off, an agent message, a close."""
    answered = store.record_turn(
        None, CustomerTurn("hi"), BotTurn("Hello!", "answer", "greeting"), {}, {}, status="bot"
    )
    handed = store.record_turn(
        None,
        CustomerTurn("a person please"),
        BotTurn("Connecting you", "handoff", "asked for a human"),
        {},
        {},
        status="waiting_for_agent",
    )
    store.add_agent_message(handed.conversation_id, "sam", "Sam here")
    store.set_status(answered.conversation_id, "closed")
    return [answered.conversation_id, handed.conversation_id]


def as_utc(ts: datetime) -> datetime:
    from datetime import UTC

    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


# -------------------------------------------------------------------------- the outbox
def test_events_are_written_with_the_change_one_row_per_subscriber(tiny_engine) -> None:
    store = tiny_engine.store
    make_events(store)
    assert outbox(store) == []  # no subscribers: nothing queued
    subscribe(store, "http://127.0.0.1:9/a", ALL_EVENTS, SECRET)
    subscribe(store, "http://127.0.0.1:9/b", "conversation.closed", SECRET)
    make_events(store)
    rows = outbox(store)
    types = Counter(r.event_type for r in rows)
    # subscriber a: 2+2 bot/customer turns, 1 agent turn, 1 handoff, 1 close; b: 1 close
    assert types == {"turn.created": 5, "conversation.handoff": 1, "conversation.closed": 2}
    closed = [r for r in rows if r.event_type == "conversation.closed"]
    assert closed[0].event_id == closed[1].event_id  # one event, two subscribers
    assert {r.subscription_id for r in closed} == {1, 2}
    handoff = next(r for r in rows if r.event_type == "conversation.handoff").payload
    assert set(handoff) == {"id", "type", "created_at", "data"}
    assert handoff["data"]["reason"] == "asked for a human"
    assert all(r.status == "pending" and r.attempts == 0 for r in rows)


def test_a_rolled_back_change_leaves_no_event(tiny_engine) -> None:
    store = tiny_engine.store
    subscribe(store, "http://127.0.0.1:9/a", ALL_EVENTS, SECRET)
    with pytest.raises(LookupError):
        store.record_turn("no-such-conversation", CustomerTurn("hi"), None, {}, {})
    assert outbox(store) == []


# ------------------------------------------------------------------------- delivery
def test_receiver_down_then_back_every_event_delivered_exactly_once(tiny_engine, receivers) -> None:
    store = tiny_engine.store
    port = free_port()  # nothing listens here yet: connection refused
    subscribe(store, f"http://127.0.0.1:{port}/hooks/csa", ALL_EVENTS, SECRET)
    make_events(store)
    event_ids = {r.event_id for r in outbox(store)}
    assert len(event_ids) == 7

    rng, now = random.Random(7), utcnow()
    first = deliver_due(store, now, policy=POLICY, rng=rng)
    assert first.claimed == 7 and first.retrying == 7 and first.delivered == 0
    assert all("ConnectError" in (r.last_error or "") for r in outbox(store))

    # it comes back, but answers 500 to its first 3 requests
    receivers.append(Receiver(port=port, script=[500, 500, 500]))
    passes = 0
    while any(r.status == "pending" for r in outbox(store)):
        passes += 1
        assert passes < 20
        now = max(now, min(as_utc(r.next_attempt_at) for r in outbox(store)))
        deliver_due(store, now, policy=POLICY, rng=rng)

    rows = outbox(store)
    assert {r.status for r in rows} == {"delivered"}
    accepted = Counter(receivers[0].accepted)
    assert set(accepted) == event_ids and set(accepted.values()) == {1}  # once per event id
    assert sum(1 for _, code in receivers[0].requests if code == 500) == 3
    assert max(r.attempts for r in rows) >= 3


def test_backoff_grows_and_an_always_failing_receiver_leads_to_dead_then_replay(
    settings, tiny_engine, receivers
) -> None:
    store = tiny_engine.store
    receiver = Receiver(default=500)
    receivers.append(receiver)
    subscribe(store, receiver.url, "conversation.closed", SECRET)
    conv = store.record_turn(None, CustomerTurn("bye"), None, {}, {}).conversation_id
    store.set_status(conv, "closed")
    (row,) = outbox(store)

    rng, now, delays = random.Random(1), utcnow(), []
    for attempt in range(1, POLICY.max_attempts + 1):
        report = deliver_due(store, now, policy=POLICY, rng=rng)
        assert report.claimed == 1
        (row,) = outbox(store)
        assert row.attempts == attempt and row.last_status_code == 500
        if attempt < POLICY.max_attempts:
            assert row.status == "pending"
            delays.append((as_utc(row.next_attempt_at) - now).total_seconds())
            assert deliver_due(store, now + timedelta(seconds=0.5), policy=POLICY).claimed == 0
            now = as_utc(row.next_attempt_at)
    assert row.status == "dead"
    assert delays == sorted(delays) and delays[-1] > 2 * delays[0]  # 1-2s, 2-4s, 4-8s, 8-16s
    assert all(POLICY.backoff_base_s * 2 ** (i - 1) <= d * 2 for i, d in enumerate(delays, 1))
    assert deliver_due(store, now + timedelta(days=1), policy=POLICY).claimed == 0  # stays dead

    key = create_key(store, "ops").token
    no_thread = settings.model_copy(update={"outbox_worker": False})  # this test drives it
    with TestClient(create_app(no_thread, engine=tiny_engine)) as c:
        auth = {"Authorization": f"Bearer {key}"}
        dead = c.get("/v1/admin/events?status=dead", headers=auth).json()
        assert [e["id"] for e in dead] == [row.id] and dead[0]["attempts"] == POLICY.max_attempts
        assert c.post(f"/v1/admin/events/{row.id}/replay").status_code == 401
        replayed = c.post(f"/v1/admin/events/{row.id}/replay", headers=auth)
        assert replayed.status_code == 200 and replayed.json()["status"] == "pending"
        assert c.post("/v1/admin/events/999/replay", headers=auth).status_code == 404
        receiver.default = 204  # the receiver is fixed
        report = deliver_due(store, utcnow() + timedelta(seconds=1), policy=POLICY)
        assert report.delivered == 1
        delivered = c.get("/v1/admin/events?status=delivered", headers=auth).json()
        assert [e["event_id"] for e in delivered] == [row.event_id]
    assert receiver.accepted == [row.event_id]
    assert len(receiver.requests) == POLICY.max_attempts + 1


def test_two_workers_at_once_send_each_event_once(tiny_engine, receivers) -> None:
    store = tiny_engine.store
    receiver = Receiver()
    receivers.append(receiver)
    subscribe(store, receiver.url, ALL_EVENTS, SECRET)
    for _ in range(4):
        make_events(store)
    expected = {r.event_id for r in outbox(store)}
    now = utcnow() + timedelta(seconds=1)
    small = DeliveryPolicy(batch_size=5, timeout_s=2.0)

    def work() -> None:
        for _ in range(10):
            deliver_due(store, now, policy=small)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert {r.status for r in outbox(store)} == {"delivered"}
    assert Counter(receiver.accepted) == Counter(expected)  # each exactly once


def test_the_background_worker_delivers(tiny_engine, receivers) -> None:
    store = tiny_engine.store
    receiver = Receiver()
    receivers.append(receiver)
    subscribe(store, receiver.url, "conversation.closed", SECRET)
    worker = DeliveryWorker(store, POLICY, poll_s=0.05).start()
    try:
        conv = store.record_turn(None, CustomerTurn("bye"), None, {}, {}).conversation_id
        store.set_status(conv, "closed")
        deadline = time.monotonic() + 10
        while not receiver.accepted and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        worker.stop()
    assert len(receiver.accepted) == 1 and outbox(store)[0].status == "delivered"


def _worker_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name == "outbox-delivery"]


@pytest.mark.parametrize(
    ("setting", "subscribed", "running"),
    [(None, False, False), (None, True, True), (False, True, False), (True, False, True)],
)
def test_the_app_runs_the_worker_only_when_enabled(
    settings: Settings, tiny_engine: TurnEngine, setting, subscribed, running
) -> None:
    if subscribed:
        subscribe(tiny_engine.store, "http://127.0.0.1:9/x", ALL_EVENTS, SECRET)
    app = create_app(settings.model_copy(update={"outbox_worker": setting}), engine=tiny_engine)
    before = len(_worker_threads())
    with TestClient(app):
        assert len(_worker_threads()) - before == int(running)
    assert len(_worker_threads()) == before
