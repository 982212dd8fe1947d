"""Request body size limits (BodySizeLimit) over HTTP through the real app."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.engine import TurnEngine
from assistant.settings import Settings

JSON = {"content-type": "application/json"}


@pytest.fixture
def client(settings: Settings, tiny_engine: TurnEngine):
    limited = settings.model_copy(update={"max_body_bytes": 1000})
    with TestClient(create_app(limited, engine=tiny_engine)) as c:
        yield c


def chunks(body: bytes, size: int = 100) -> Iterator[bytes]:
    """A body sent without Content-Length (chunked transfer encoding)."""
    for i in range(0, len(body), size):
        yield body[i : i + size]


def test_declared_length_over_the_limit_is_refused_before_parsing(client, tiny_engine) -> None:
    # not even JSON: a 422 would mean it was parsed
    r = client.post("/v1/chat", content=b"x" * 1001, headers=JSON)
    assert r.status_code == 413, r.text
    assert r.json()["detail"] == "request body is 1001 bytes; the limit is 1000 bytes"
    assert tiny_engine.store.count_turns() == 0


def test_body_at_the_limit_passes(client) -> None:
    body = json.dumps({"message": "x" * 500}).encode()
    body += b" " * (1000 - len(body))
    assert client.post("/v1/chat", content=body, headers=JSON).status_code == 200


def test_chunked_body_is_counted(client, tiny_engine) -> None:
    big = json.dumps({"message": "y" * 2000}).encode()
    r = client.post("/v1/chat/stream", content=chunks(big), headers=JSON)
    assert r.status_code == 413, r.text
    assert "exceeds 1000 bytes" in r.json()["detail"]
    small = json.dumps({"message": "hello"}).encode()
    ok = client.post("/v1/chat", content=chunks(small, 3), headers=JSON)
    assert ok.status_code == 200, ok.text  # replayed intact to the route
    assert tiny_engine.store.count_turns() == 2


def test_bad_content_length_is_400(client) -> None:
    # httpx would correct the header, so speak ASGI directly through the app's middleware
    import anyio

    app = client.app
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/chat",
        "raw_path": b"/v1/chat",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-length", b"12abc"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
        "state": {},
    }
    anyio.run(app, scope, receive, send)
    assert sent[0]["status"] == 400
    assert b"Content-Length is not a number" in sent[1]["body"]


def test_message_chars_limit_still_413(settings: Settings, tiny_engine) -> None:
    with TestClient(create_app(settings, engine=tiny_engine)) as c:  # default 64 KiB
        r = c.post("/v1/chat", json={"message": "😀" * 4001})  # ~ 48 KB of JSON
        assert r.status_code == 413
        assert "limit is 4000" in r.json()["detail"]
        big = c.post("/v1/chat", json={"message": "z" * 70_000})
        assert big.status_code == 413 and "the limit is 65536 bytes" in big.json()["detail"]


def test_webhooks_have_their_own_larger_limit(client) -> None:
    body = json.dumps({"pad": "p" * 5000}).encode()
    r = client.post("/v1/webhooks/chatwoot", content=body, headers=JSON)
    assert r.status_code not in (413, 500), r.text  # over 1000 bytes, under the 1 MB limit
    huge = client.post("/v1/webhooks/chatwoot", content=b"p" * 1_000_001, headers=JSON)
    assert huge.status_code == 413


def test_zero_turns_the_limit_off(settings: Settings, tiny_engine) -> None:
    off = settings.model_copy(update={"max_body_bytes": 0})
    with TestClient(create_app(off, engine=tiny_engine)) as c:
        r = c.post("/v1/chat", json={"message": "z" * 70_000})
        assert r.status_code == 413 and "limit is 4000" in r.json()["detail"]  # the route's


def test_paths_outside_the_api_are_not_limited(client) -> None:
    r = client.post("/not-an-api-route", content=b"x" * 5000)
    assert r.status_code == 404
