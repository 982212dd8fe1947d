"""Faults: the server killed with SIGKILL under load, the database going away and coming
back, a missing or corrupt model or index at start-up, a webhook receiver that is down."""

from __future__ import annotations

import contextlib
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from server_process import (
    Sent,
    ServerProcess,
    check_every_200_stored_once,
    demo_env,
    free_port,
    send_turns,
    stored_customer_turns,
)

from assistant.api import create_app
from assistant.engine import Models
from assistant.runtime import StartupError, build_engine
from assistant.settings import Settings
from assistant.store import CustomerTurn, Store, make_engine


# ------------------------------------------------------------- a. kill -9 under load
@pytest.mark.integration
def test_sigkill_under_load_loses_no_answered_turn(demo_settings, tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    env = demo_env(demo_settings, data_dir)  # SQLite in a copy of the demo data dir
    db_url = f"sqlite:///{data_dir / 'assistant.db'}"
    stop = threading.Event()
    sent: list[Sent] = []
    with ServerProcess(env, tmp_path / "first.log") as server:
        server.wait_ready()
        conversations = []
        for i in range(3):
            text = f"hello there {'abc'[i]}"
            r = httpx.post(f"{server.url}/v1/chat", json={"message": text}, timeout=60)
            assert r.status_code == 200, r.text
            conversations.append(r.json()["conversation_id"])
            sent.append(Sent(conversations[-1], text, 200, r.json()["turn_id"]))
        load = threading.Thread(
            target=send_turns,
            args=(server.url, conversations, 6, 200),
            kwargs={"stop": stop, "timeout_s": 30.0, "sent": sent},
        )
        load.start()
        try:
            deadline = time.monotonic() + 120
            while sum(s.status == 200 for s in sent) < 20 and time.monotonic() < deadline:
                time.sleep(0.05)
            server.kill()  # SIGKILL to the whole group, mid-load
            assert server.wait_exit(10) == -9
        finally:
            time.sleep(0.5)  # let the clients see the refused connections
            stop.set()
            load.join(60)
    answered = [s for s in sent if s.status == 200]
    assert len(answered) >= 20  # the 3 openings included
    assert {s.status for s in sent} <= {200, 0}  # no 5xx before the kill: refused after it

    with ServerProcess(env, tmp_path / "second.log") as again:
        again.wait_ready()
        stored = stored_customer_turns(db_url, conversations)
        check_every_200_stored_once(sent, stored)
        after = httpx.post(
            f"{again.url}/v1/chat",
            json={"conversation_id": conversations[0], "message": "are you back"},
            timeout=60,
        )
        assert after.status_code == 200, after.text
    print(
        f"\nkill -9: {len(sent)} turns sent, {len(answered)} answered 200, "
        f"{len(stored)} customer rows found after restart"
    )


# ------------------------------------------------------- b. the database goes away
class TcpProxy:
    """A loopback TCP forwarder to PostgreSQL that can be stopped (listener closed and
    every open connection cut) and started again on the same port."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self._conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def stop(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(OSError):  # wakes the thread blocked in accept()
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


@pytest.fixture
def proxied_postgres() -> Iterator[tuple[str, TcpProxy]]:
    from postgres_db import fresh_database
    from sqlalchemy.engine import make_url

    for url in fresh_database():
        u = make_url(url)
        proxy = TcpProxy((u.host or "127.0.0.1", u.port or 5432)).start()
        try:
            proxied = u.set(host="127.0.0.1", port=proxy.port)
            yield proxied.render_as_string(hide_password=False), proxy
        finally:
            proxy.stop()


@pytest.mark.postgres
def test_database_down_answers_503_with_retry_after_and_recovers_without_restart(
    settings: Settings, tiny_models: Models, proxied_postgres: tuple[str, TcpProxy]
) -> None:
    url, proxy = proxied_postgres
    store = Store(make_engine(url, connect_timeout_s=3))
    app = create_app(settings, engine=build_engine(settings, store, tiny_models))
    with TestClient(app) as c:
        first = c.post("/v1/chat", json={"message": "where is my order"})
        assert first.status_code == 200, first.text
        conv = first.json()["conversation_id"]
        assert c.get("/healthz").json()["database"] == "ok"

        proxy.stop()
        started = time.monotonic()
        down = c.post("/v1/chat", json={"conversation_id": conv, "message": "hello?"})
        took = time.monotonic() - started
        assert down.status_code == 503, down.text
        assert down.headers["Retry-After"] == "5" and "database" in down.json()["detail"]
        assert took < 30  # an answer, not a hang (connect_timeout bounds it)
        health = c.get("/healthz")
        assert health.status_code == 503 and health.json()["database"] == "unreachable"
        assert health.headers["Retry-After"]
        new = c.post("/v1/chat", json={"message": "anyone?"})
        assert new.status_code == 503

        proxy.start()  # same port; the app is not restarted
        back = c.post("/v1/chat", json={"conversation_id": conv, "message": "back again"})
        assert back.status_code == 200, back.text
        assert c.get("/healthz").status_code == 200
    view = store.get_conversation(conv)
    assert view is not None
    customer = [m["text"] for m in view["messages"] if m["role"] == "customer"]
    assert customer == ["where is my order", "back again"]  # the 503 turn was not stored
    store.engine.dispose()


# ------------------------------------------------ c. a missing or corrupt model or index
def test_a_missing_model_stops_the_start_naming_the_path_and_the_fix(
    demo_settings: Settings, tmp_path: Path
) -> None:
    missing = tmp_path / "no-such-model"
    settings = demo_settings.model_copy(
        update={"data_dir": tmp_path / "var", "intent_model_path": missing}
    )
    with pytest.raises(StartupError) as err, TestClient(create_app(settings)):
        pass
    assert str(missing) in str(err.value) and "assistant demo prepare" in str(err.value)


def test_a_corrupt_model_stops_the_start_naming_the_path_and_the_fix(
    demo_settings: Settings, tmp_path: Path
) -> None:
    broken = tmp_path / "sentiment"
    shutil.copytree(demo_settings.sentiment_model_dir, broken)
    (broken / "model.safetensors").write_bytes(b"\x00not a safetensors file" * 10)
    settings = demo_settings.model_copy(
        update={"data_dir": tmp_path / "var", "sentiment_model_path": broken}
    )
    with pytest.raises(StartupError) as err, TestClient(create_app(settings)):
        pass
    message = str(err.value)
    assert str(broken) in message and "safetensors" in message
    assert "assistant demo prepare --force" in message or "assistant train" in message


@pytest.mark.integration
def test_a_corrupt_index_is_rebuilt_from_sql_at_start(
    demo_settings: Settings, tmp_path: Path
) -> None:
    data_dir = tmp_path / "var"
    shutil.copytree(demo_settings.data_dir, data_dir)
    (data_dir / "index" / "index.faiss").write_bytes(b"garbage" * 100)
    settings = demo_settings.model_copy(update={"data_dir": data_dir})
    pairs = Store(make_engine(settings.db_url)).count_pairs()
    with TestClient(create_app(settings)) as c:
        health = c.get("/healthz")
        assert health.status_code == 200 and health.json()["index"]["size"] == pairs
        r = c.post("/v1/chat", json={"message": "how long does shipping take"})
        assert r.status_code == 200 and r.json()["sources"], r.text
    # the rebuilt index was saved: a second start opens it as it is
    from retrieval import KnowledgeBase, QAPair, SentenceEncoder

    store = Store(make_engine(settings.db_url))
    kb, why = KnowledgeBase.open(
        settings.index_dir,
        SentenceEncoder(settings.encoder_path),
        [QAPair(p.id, p.question, p.answer, p.intent) for p in store.approved_pairs()],
    )
    assert why is None and len(kb) == pairs


# ---------------------------------------------------- d. a webhook receiver that is down
def test_an_event_is_delivered_by_the_worker_once_a_late_receiver_starts(
    tiny_engine,
) -> None:
    """The background DeliveryWorker, real time: the receiver is down (connection refused)
    for the first attempts and started later on its port; the event arrives once."""
    from assistant.store.integrations import OutboxEvent
    from assistant.webhooks.delivery import DeliveryPolicy, DeliveryWorker
    from assistant.webhooks.subscriptions import subscribe

    store: Store = tiny_engine.store
    port = free_port()
    subscribe(store, f"http://127.0.0.1:{port}/hook", "conversation.closed", "s3cret-value")
    received: list[bytes] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    policy = DeliveryPolicy(max_attempts=20, timeout_s=1.0, backoff_base_s=0.1, backoff_max_s=0.4)
    worker = DeliveryWorker(store, policy, poll_s=0.05).start()
    receiver = None
    try:
        conv = store.record_turn(None, CustomerTurn("bye"), None, {}, {}).conversation_id
        store.set_status(conv, "closed")

        def row() -> OutboxEvent:
            with store.sessions() as s:
                return s.query(OutboxEvent).one()

        deadline = time.monotonic() + 20
        while row().attempts < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        failed = row()
        assert failed.attempts >= 2 and failed.status == "pending"
        assert "Connect" in (failed.last_error or "")

        receiver = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        while row().status != "delivered" and time.monotonic() < deadline + 20:
            time.sleep(0.05)
    finally:
        worker.stop()
        if receiver is not None:
            receiver.shutdown()
            receiver.server_close()
    done = row()
    assert done.status == "delivered" and done.attempts >= 3
    assert len(received) == 1 and done.event_id.encode() in received[0]
