"""The HTTP API over real SQLite and a real index, with tiny random classifiers."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.engine import TurnEngine
from assistant.settings import Settings


@pytest.fixture
def client(settings: Settings, tiny_engine: TurnEngine):
    with TestClient(create_app(settings, engine=tiny_engine)) as c:
        yield c


def test_chat_answers_in_the_documented_shape_and_stores_the_turn(client, tiny_engine) -> None:
    r = client.post("/v1/chat", json={"message": "where is my order 48213?"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) >= {
        "conversation_id",
        "reply",
        "action",
        "intent",
        "sentiment",
        "sources",
        "turn_id",
    }
    assert body["action"] in ("answer", "clarify", "handoff")
    assert set(body["intent"]) == {"name", "confidence"}
    assert set(body["sentiment"]) == {"label", "score"}
    assert body["reply"] and "{" not in body["reply"]
    conv = client.get(f"/v1/conversations/{body['conversation_id']}").json()
    customer = conv["messages"][0]
    assert customer["id"] == body["turn_id"] and customer["text"] == "where is my order 48213?"
    assert {"kind": "order_number", "value": "48213"} in customer["entities"]
    assert conv["messages"][1]["role"] == "bot" and conv["messages"][1]["text"] == body["reply"]
    assert tiny_engine.store.count_turns() == 2


def test_curl_default_content_type_is_read_as_json(client) -> None:
    """`curl -X POST .../v1/chat -d '{"message": ...}'` labels the JSON as a form."""
    form = {"content-type": "application/x-www-form-urlencoded"}
    r = client.post("/v1/chat", content=b'{"message":"where is my order 48213?"}', headers=form)
    assert r.status_code == 200, r.text
    assert r.json()["conversation_id"]
    bad = client.post("/v1/chat", content=b"message=hello", headers=form)
    assert bad.status_code == 422 and "JSON" in bad.text


def test_follow_up_turn_in_the_same_conversation(client) -> None:
    first = client.post("/v1/chat", json={"message": "hello"}).json()
    second = client.post(
        "/v1/chat", json={"conversation_id": first["conversation_id"], "message": "thanks"}
    ).json()
    assert second["conversation_id"] == first["conversation_id"]
    assert second["turn_id"] > first["turn_id"]


@pytest.mark.parametrize(
    ("payload", "status", "detail"),
    [
        ({"message": ""}, 422, "message must not be empty"),
        ({"message": "   "}, 422, "message must not be empty"),
        ({}, 422, "message"),
        ({"message": 5}, 422, "string"),
        ({"message": "x" * 4001}, 413, "limit is 4000"),
        ({"message": "hi", "surprise": 1}, 422, "surprise"),
        ({"message": "hi", "conversation_id": "nope"}, 404, "unknown conversation_id"),
    ],
)
def test_bad_requests_say_what_is_wrong(client, payload, status, detail) -> None:
    r = client.post("/v1/chat", json=payload)
    assert r.status_code == status, r.text
    assert detail in json.dumps(r.json()["detail"])


def test_malformed_json(client, tiny_engine) -> None:
    r = client.post(
        "/v1/chat", content=b'{"message": "hi"', headers={"content-type": "application/json"}
    )
    assert r.status_code == 422 and "JSON" in r.text
    assert tiny_engine.store.count_turns() == 0


def test_4000_characters_and_odd_text_are_accepted(client) -> None:
    for message in ["x" * 4000, "😀 <script>alert(1)</script> \u0000\u202e émoji"]:
        r = client.post("/v1/chat", json={"message": message})
        assert r.status_code == 200, r.text


def test_unknown_conversation_is_404(client) -> None:
    assert client.get("/v1/conversations/does-not-exist").status_code == 404


def test_stream_sends_a_delta_then_the_final_answer(client) -> None:
    with client.stream("POST", "/v1/chat/stream", json={"message": "hello there"}) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        raw = "".join(r.iter_text())
    events = [block.split("\n") for block in raw.strip().split("\n\n")]
    names = [e[0].removeprefix("event: ") for e in events]
    assert names[-1] == "final" and names[:-1] == ["delta"]
    final = json.loads(events[-1][1].removeprefix("data: "))
    delta = json.loads(events[0][1].removeprefix("data: "))
    assert delta["text"] == final["reply"] and final["turn_id"] > 0


def test_stream_validates_before_streaming(client) -> None:
    assert client.post("/v1/chat/stream", json={"message": ""}).status_code == 422


def test_healthz_reports_models_index_and_database(client) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["models"]["intents"] and body["index"]["size"] > 0


def test_cors_allow_list(client) -> None:
    ok = client.options(
        "/v1/chat",
        headers={"Origin": "http://widget.example", "Access-Control-Request-Method": "POST"},
    )
    assert ok.headers.get("access-control-allow-origin") == "http://widget.example"
    bad = client.options(
        "/v1/chat",
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in bad.headers


def test_pii_is_redacted_before_storage(client) -> None:
    body = client.post(
        "/v1/chat", json={"message": "my card 4111 1111 1111 1111, mail a@b.co"}
    ).json()
    stored = client.get(f"/v1/conversations/{body['conversation_id']}").json()["messages"][0]
    assert stored["text"] == "my card [CARD], mail [EMAIL]"
