"""The admin HTTP API (/v1/admin/...): API-key auth, conversations, labels, knowledge base."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.cli import main
from assistant.engine import Models, TurnEngine
from assistant.settings import Settings
from assistant.store import NewPair, Store, init_db, make_engine

PAIRS = [
    NewPair("Where is my order?", "Track it at {order_tracking_url}.", "order_status", "t-1"),
    NewPair("How do I get a refund?", "Refunds take 5 days.", "request_refund", "t-2"),
    NewPair("Do you ship abroad?", "We ship to the EU.", "delivery_options", "t-3"),
]


@pytest.fixture
def kb_engine(settings: Settings, tiny_models: Models, tiny_bert) -> TurnEngine:
    """An engine whose knowledge base is its own (ids = SQL row ids), so tests may change it."""
    from assistant.runtime import build_engine
    from retrieval import KnowledgeBase, QAPair, SentenceEncoder

    store = Store(make_engine(settings.db_url))
    init_db(store.engine)
    store.upsert_pairs(PAIRS)
    kb = KnowledgeBase(SentenceEncoder(tiny_bert))
    kb.build([QAPair(p.id, p.question, p.answer, p.intent) for p in store.approved_pairs()])
    models = Models(intent=tiny_models.intent, sentiment=tiny_models.sentiment, knowledge=kb)
    return build_engine(settings, store, models)


@pytest.fixture
def token(settings: Settings, kb_engine: TurnEngine) -> str:
    """A key made the way an operator makes one: `assistant keys add`."""
    result = CliRunner().invoke(
        main, ["keys", "add", "ops"], env={"CSA_DATA_DIR": str(settings.data_dir)}
    )
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[0]


@pytest.fixture
def client(settings: Settings, kb_engine: TurnEngine):
    with TestClient(create_app(settings, engine=kb_engine)) as c:
        yield c


@pytest.fixture
def admin(client: TestClient, token: str) -> TestClient:
    client.headers["Authorization"] = f"Bearer {token}"
    return client


ROUTES = [
    ("GET", "/v1/admin/conversations"),
    ("GET", "/v1/admin/conversations/x"),
    ("POST", "/v1/admin/conversations/x/status"),
    ("GET", "/v1/admin/labels"),
    ("POST", "/v1/admin/labels"),
    ("GET", "/v1/admin/kb"),
    ("POST", "/v1/admin/kb"),
    ("DELETE", "/v1/admin/kb/1"),
    ("GET", "/v1/admin/events"),
    ("POST", "/v1/admin/events/1/replay"),
]


AUTH_CASES = [
    ({}, "admin API key required"),
    ({"Authorization": "Bearer csa_wrongwrongwrongwrongwrong"}, "invalid or revoked"),
    ({"X-API-Key": "nope"}, "invalid or revoked"),
    ({"Authorization": "Basic b3BzOm9wcw=="}, "admin API key required"),
]


def test_every_admin_route_needs_a_valid_key(client, token) -> None:
    """A table: every route x (no key, wrong bearer, wrong X-API-Key, another scheme)."""
    for headers, detail in AUTH_CASES:
        for method, path in ROUTES:
            r = client.request(method, path, headers=headers, json={})
            assert r.status_code == 401, (headers, method, path, r.text)
            assert detail in r.json()["detail"]
            assert r.headers["www-authenticate"].startswith("Bearer")


def test_a_key_from_keys_add_works_as_bearer_or_x_api_key(client, token) -> None:
    assert (
        client.get("/v1/admin/kb", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    )
    assert client.get("/v1/admin/kb", headers={"X-API-Key": token}).status_code == 200


def test_a_revoked_key_stops_working(settings, client, token) -> None:
    runner, env = CliRunner(), {"CSA_DATA_DIR": str(settings.data_dir)}
    assert runner.invoke(main, ["keys", "revoke", "ops"], env=env).exit_code == 0
    r = client.get("/v1/admin/kb", headers={"X-API-Key": token})
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def test_conversations_by_status_and_status_change(admin, kb_engine) -> None:
    store = kb_engine.store
    a = admin.post("/v1/chat", json={"message": "hello"}).json()["conversation_id"]
    b = admin.post("/v1/chat", json={"message": "hi again"}).json()["conversation_id"]
    store.set_status(a, "bot")  # random tiny classifiers may have handed it off
    store.set_status(b, "waiting_for_agent")
    rows = admin.get("/v1/admin/conversations").json()
    assert {r["conversation_id"] for r in rows} == {a, b} and all(r["turns"] == 2 for r in rows)
    waiting = admin.get("/v1/admin/conversations?status=waiting_for_agent&limit=5").json()
    assert [r["conversation_id"] for r in waiting] == [b]
    assert len(admin.get("/v1/admin/conversations?limit=1").json()) == 1

    r = admin.post(f"/v1/admin/conversations/{b}/status", json={"status": "agent", "agent": "sam"})
    assert r.status_code == 200
    view = admin.get(f"/v1/admin/conversations/{b}").json()
    assert view["status"] == "agent" and view["assigned_agent"] == "sam"
    assert len(view["messages"]) == 2


BAD_REQUESTS = [
    ("GET", "/v1/admin/conversations?status=lost", None, 422, "unknown status 'lost'"),
    ("GET", "/v1/admin/conversations?limit=0", None, 422, "greater than or equal to 1"),
    ("GET", "/v1/admin/conversations/nope", None, 404, "unknown conversation_id"),
    ("POST", "/v1/admin/conversations/nope/status", {"status": "closed"}, 404, "unknown"),
    ("POST", "/v1/admin/conversations/nope/status", {"status": "gone"}, 422, "status"),
    (
        "POST",
        "/v1/admin/labels",
        {"turn_id": 999, "task": "intents", "label": "x", "author": "sam"},
        404,
        "no customer turn 999",
    ),
    (
        "POST",
        "/v1/admin/labels",
        {"turn_id": 1, "task": "topic", "label": "x", "author": "sam"},
        422,
        "task",
    ),
    (
        "POST",
        "/v1/admin/labels",
        {"turn_id": 1, "task": "intents", "label": "  ", "author": "sam"},
        422,
        "must not be empty",
    ),
    ("GET", "/v1/admin/labels?task=topic", None, 422, "task"),
    ("POST", "/v1/admin/kb", {"question": "", "answer": "a"}, 422, "must not be empty"),
    ("POST", "/v1/admin/kb", {"question": "q"}, 422, "answer"),
    ("POST", "/v1/admin/kb", {"question": "q", "answer": "a", "x": 1}, 422, "x"),
    ("DELETE", "/v1/admin/kb/999", None, 404, "no knowledge-base pair 999"),
    ("GET", "/v1/admin/events?status=lost", None, 422, "status"),
]


def test_bad_requests_say_what_is_wrong(admin) -> None:
    for method, path, payload, status, detail in BAD_REQUESTS:
        r = admin.request(method, path, json=payload)
        assert r.status_code == status, (method, path, r.text)
        assert detail in json.dumps(r.json()["detail"]), (method, path, r.text)


def test_labels_including_a_brand_new_intent(admin) -> None:
    turn = admin.post("/v1/chat", json={"message": "can I pay in seashells?"}).json()["turn_id"]
    r = admin.post(
        "/v1/admin/labels",
        json={"turn_id": turn, "task": "intents", "label": "exotic_payment", "author": "sam"},
    )
    assert r.status_code == 201 and r.json()["label"] == "exotic_payment"
    admin.post(
        "/v1/admin/labels",
        json={"turn_id": turn, "task": "sentiment", "label": "positive", "author": "sam"},
    )
    intents = admin.get("/v1/admin/labels?task=intents").json()
    assert [(x["label"], x["text"]) for x in intents] == [
        ("exotic_payment", "can I pay in seashells?")
    ]
    assert len(admin.get("/v1/admin/labels").json()) == 2


def test_kb_add_is_searchable_at_once_and_delete_removes_it(admin, kb_engine, settings) -> None:
    kb = kb_engine.models.knowledge
    listed = admin.get("/v1/admin/kb").json()
    assert [p["question"] for p in listed] == [p.question for p in PAIRS]

    question = "Can I pay with seashells at the harbour shop?"
    r = admin.post(
        "/v1/admin/kb",
        json={"question": question, "answer": "Only cards and cash.", "intent": "payment_methods"},
    )
    assert r.status_code == 201, r.text
    new_id = r.json()["id"]
    assert new_id == len(PAIRS) + 1 and r.json()["source"] == "admin"
    hit = kb.search(question, k=1)[0]
    assert (hit.id, hit.answer) == (new_id, "Only cards and cash.")
    assert kb.search(question, k=1, intent="payment_methods")[0].id == new_id
    assert (settings.index_dir / "texts.npy").exists()  # saved for the next start-up
    assert len(admin.get("/v1/admin/kb").json()) == len(PAIRS) + 1

    assert admin.delete(f"/v1/admin/kb/{new_id}").json() == {"id": new_id, "deleted": True}
    assert new_id not in kb and all(h.id != new_id for h in kb.search(question, k=5))
    assert admin.delete(f"/v1/admin/kb/{new_id}").status_code == 404
    assert len(admin.get("/v1/admin/kb").json()) == len(PAIRS)


def test_events_list_filters(admin, kb_engine) -> None:
    from assistant.webhooks.subscriptions import subscribe

    subscribe(kb_engine.store, "http://127.0.0.1:9/x", "conversation.closed", "s")
    conv = admin.post("/v1/chat", json={"message": "bye"}).json()["conversation_id"]
    admin.post(f"/v1/admin/conversations/{conv}/status", json={"status": "closed"})
    pending = admin.get("/v1/admin/events?status=pending").json()
    assert [e["type"] for e in pending] == ["conversation.closed"]
    assert pending[0]["payload"]["data"]["conversation_id"] == conv
    assert admin.get("/v1/admin/events?status=dead").json() == []
