"""Rate limits: the token-bucket arithmetic on an injected clock, then real HTTP requests
through the app (tiny models, real SQLite) until the limit answers 429."""

from __future__ import annotations

import math
import time

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from assistant.api import create_app
from assistant.api.ratelimit import TokenBuckets, client_ip
from assistant.engine import TurnEngine
from assistant.settings import Settings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# (per_min, burst, [(seconds since start, key, expected wait in seconds)])
CASES = [
    pytest.param(60, 1, [(0, "a", 0), (0, "a", 1.0), (0.5, "a", 0.5), (1, "a", 0)], id="1/s"),
    pytest.param(
        60,
        3,
        [(0, "a", 0), (0, "a", 0), (0, "a", 0), (0, "a", 1.0), (0, "b", 0)],
        id="burst-of-3-then-wait; keys apart",
    ),
    pytest.param(
        120,
        2,
        [(0, "a", 0), (0, "a", 0), (0, "a", 0.5), (0.25, "a", 0.25), (0.5, "a", 0)],
        id="2/s refill",
    ),
    pytest.param(
        30,
        2,
        [(0, "a", 0), (0, "a", 0), (600, "a", 0), (600, "a", 0), (600, "a", 2.0)],
        id="refill caps at the burst",
    ),
    pytest.param(
        60,
        1,
        [(0, "a", 0), (0.2, "a", 0.8), (0.2, "a", 0.8), (0.9, "a", 0.1), (1.0, "a", 0)],
        id="a refused request spends nothing",
    ),
]


@pytest.mark.parametrize(("per_min", "burst", "steps"), CASES)
def test_token_buckets(per_min: int, burst: int, steps: list[tuple[float, str, float]]) -> None:
    clock = FakeClock()
    buckets = TokenBuckets(per_min, burst, clock)
    start = clock.now
    for at, key, expected in steps:
        clock.now = start + at
        assert buckets.take(key) == pytest.approx(expected), (at, key)


def test_buckets_beyond_max_keys_drop_the_least_recently_used() -> None:
    clock = FakeClock()
    buckets = TokenBuckets(60, 1, clock, max_keys=2)
    assert [buckets.take(k) for k in ("a", "b", "c")] == [0, 0, 0]
    assert len(buckets) == 2
    assert buckets.take("c") == pytest.approx(1.0)  # still limited
    assert buckets.take("a") == 0  # forgotten: a fresh bucket


@pytest.mark.parametrize(("per_min", "burst"), [(0, 1), (-5, 1), (60, 0)])
def test_bad_bucket_settings_are_refused(per_min: int, burst: int) -> None:
    with pytest.raises(ValueError):
        TokenBuckets(per_min, burst)


def _request(peer: str, forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded is not None else []
    return Request({"type": "http", "headers": headers, "client": (peer, 1234)})


@pytest.mark.parametrize(
    ("trust", "forwarded", "expected"),
    [
        (False, "203.0.113.9", "10.0.0.1"),  # not trusted: the socket's peer
        (True, None, "10.0.0.1"),
        (True, "203.0.113.9", "203.0.113.9"),
        (True, "1.2.3.4, 203.0.113.9", "203.0.113.9"),  # the proxy's entry, not the client's
        (True, " , ", "10.0.0.1"),
    ],
)
def test_client_ip(trust: bool, forwarded: str | None, expected: str) -> None:
    assert client_ip(_request("10.0.0.1", forwarded), trust) == expected


# ------------------------------------------------------------------------- over HTTP
def _client(settings: Settings, engine: TurnEngine, **limits: object) -> TestClient:
    return TestClient(create_app(settings.model_copy(update=limits), engine=engine))


def test_per_ip_limit_answers_429_with_retry_after(settings: Settings, tiny_engine) -> None:
    with _client(
        settings,
        tiny_engine,
        rate_limit_per_ip_per_min=2,
        rate_limit_ip_burst=2,
        rate_limit_per_conversation_per_min=0,
    ) as client:
        started = time.monotonic()
        codes = [client.post("/v1/chat", json={"message": "hello"}).status_code for _ in range(2)]
        assert codes == [200, 200]
        r = client.post("/v1/chat/stream", json={"message": "hello"})  # same bucket
        elapsed = time.monotonic() - started
        assert r.status_code == 429, r.text
        # 2 a minute: the next token comes 30 s after the bucket ran dry, minus time passed
        retry = int(r.headers["Retry-After"])
        assert math.ceil(30 - elapsed) <= retry <= 30
        body = r.json()
        assert body["retry_after_s"] == retry
        assert body["limit"] == "ip"
        assert "at most 2 chat messages from one IP address a minute" in body["detail"]
        # reading conversations has its own budget
        assert client.get("/v1/conversations/nope").status_code == 404
    assert tiny_engine.store.count_turns() == 4  # the refused message was not stored


def test_per_conversation_limit(settings: Settings, tiny_engine) -> None:
    with _client(
        settings,
        tiny_engine,
        rate_limit_per_ip_per_min=0,
        rate_limit_per_conversation_per_min=1,
        rate_limit_conversation_burst=1,
    ) as client:
        conv = client.post("/v1/chat", json={"message": "hello"}).json()["conversation_id"]
        ok = client.post("/v1/chat", json={"message": "thanks", "conversation_id": conv})
        assert ok.status_code == 200
        r = client.post("/v1/chat", json={"message": "again", "conversation_id": conv})
        assert r.status_code == 429 and r.json()["limit"] == "conversation"
        assert int(r.headers["Retry-After"]) >= 59
        # another conversation (and new ones) are not held back
        assert client.post("/v1/chat", json={"message": "hi"}).status_code == 200


def test_forwarded_for_only_when_trusted(settings: Settings, tiny_engine) -> None:
    limits = {"rate_limit_per_ip_per_min": 1, "rate_limit_ip_burst": 1}
    for trust, second_status in ((True, 200), (False, 429)):
        with _client(settings, tiny_engine, trust_forwarded_for=trust, **limits) as client:
            for ip, status in (("198.51.100.1", 200), ("198.51.100.2", second_status)):
                r = client.post("/v1/chat", json={"message": "hi"}, headers={"X-Forwarded-For": ip})
                assert r.status_code == status, (trust, ip, r.text)


def test_poll_limit_and_zero_turns_limits_off(settings: Settings, tiny_engine) -> None:
    with _client(settings, tiny_engine, rate_limit_poll_per_ip_per_min=1) as client:
        codes = [client.get("/v1/conversations/nope").status_code for _ in range(11)]
        assert codes[:10] == [404] * 10  # the burst
        assert codes[10] == 429
    off = {
        "rate_limit_per_ip_per_min": 0,
        "rate_limit_per_conversation_per_min": 0,
        "rate_limit_poll_per_ip_per_min": 0,
    }
    with _client(settings, tiny_engine, **off) as client:
        assert all(client.get("/v1/conversations/nope").status_code == 404 for _ in range(30))
