"""Inbound helpdesk webhooks over the real app (tiny models, real SQLite, real index):
signatures, the three adapters, dedupe of repeated deliveries, agent messages ignored."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from assistant.api import create_app
from assistant.engine import TurnEngine
from assistant.settings import Settings
from assistant.webhooks.providers import (
    PROVIDERS,
    InboundMessage,
    NotAMessage,
    PayloadError,
)
from assistant.webhooks.signing import SignatureError, signature, signed_headers, verify

SECRETS = {"zendesk": "zd-secret", "freshdesk": "fd-secret", "chatwoot": "cw-secret"}
PROVIDER_NAMES = sorted(SECRETS)


# ------------------------------------------------------------------ provider payloads
def zendesk_message(ticket="141", msg_id="m-1", text="where is my order 48213?", actor="end_user"):
    return {
        "account_id": 21825834,
        "detail": {"id": ticket},
        "event": {
            "actor": {"id": "zd:1", "name": "Jane", "type": actor},
            "conversation_id": "67ab5f53a96f98663935c3f2",
            "message": {"body": text, "id": msg_id},
        },
        "id": "01JQMQH83YNAKWSWJ8B1QH2NSC",
        "subject": f"zen:ticket:{ticket}",
        "time": "2025-02-11T14:32:05Z",
        "type": "zen:event-type:messaging_ticket.message_added",
        "zendesk_event_version": "2022-11-06",
    }


def zendesk_comment(ticket="142", comment_id=555, text="hello", staff=False, public=True):
    return {
        "account_id": 1,
        "detail": {"id": ticket, "status": "OPEN"},
        "event": {
            "comment": {
                "id": comment_id,
                "body": text,
                "is_public": public,
                "author": {"id": 9, "is_staff": staff, "name": "Sam"},
            }
        },
        "subject": f"zen:ticket:{ticket}",
        "type": "zen:event-type:ticket.comment_added",
    }


def freshdesk_reply(ticket=42, conv_id=9001, text="where is my order 48213?", incoming=True):
    return {
        "data": {
            "actor": {"type": "contact" if incoming else "agent", "id": 7},
            "conversation": {
                "id": conv_id,
                "ticket_id": ticket,
                "body": f"<div>{text}</div>",
                "body_text": text,
                "incoming": incoming,
                "private": False,
                "user_id": 7,
                "source": 0,
            },
        }
    }


def chatwoot_message(conv=7, msg_id=101, text="where is my order 48213?", kind="incoming"):
    return {
        "event": "message_created",
        "id": msg_id,
        "content": text,
        "created_at": "2020-03-03 13:05:57 UTC",
        "message_type": kind,
        "content_type": "text",
        "private": False,
        "sender": {"id": 3, "name": "Jane", "type": "contact" if kind == "incoming" else "user"},
        "conversation": {"id": conv, "status": "open", "inbox_id": 1},
        "account": {"id": 1, "name": "Harbor & Pine"},
    }


def customer_message(provider: str, conv: int = 1, msg: int = 1, text: str = "hi") -> dict:
    if provider == "zendesk":
        return zendesk_message(ticket=str(conv), msg_id=f"m-{msg}", text=text)
    if provider == "freshdesk":
        return freshdesk_reply(ticket=conv, conv_id=msg, text=text)
    return chatwoot_message(conv=conv, msg_id=msg, text=text)


def agent_message(provider: str) -> dict:
    if provider == "zendesk":
        return zendesk_message(actor="agent", text="Hi, Sam from support here")
    if provider == "freshdesk":
        return freshdesk_reply(incoming=False, text="Hi, Sam from support here")
    return chatwoot_message(kind="outgoing", text="Hi, Sam from support here")


def reply_text(provider: str, body: dict[str, Any]) -> str:
    if provider == "zendesk":
        assert body["ticket"]["comment"]["public"] is True
        return str(body["ticket"]["comment"]["body"])
    if provider == "freshdesk":
        return str(body["body"])
    assert body["message_type"] == "outgoing" and body["private"] is False
    return str(body["content"])


# --------------------------------------------------------------------------- fixtures
@pytest.fixture
def client(settings: Settings, tiny_engine: TurnEngine):
    settings = settings.model_copy(update={"webhook_secrets": dict(SECRETS)})
    with TestClient(create_app(settings, engine=tiny_engine)) as c:
        yield c


def post(client: TestClient, provider: str, payload: Any, headers: dict | None = None, **kw):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    if headers is None:
        headers = signed_headers(SECRETS.get(provider, "x"), body, **kw)
    return client.post(
        f"/v1/webhooks/{provider}",
        content=body,
        headers={"Content-Type": "application/json", **headers},
    )


# ------------------------------------------------------------------------- signatures
def test_signature_scheme_is_hmac_sha256_over_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body = b'{"a":1}'
    want = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert signature("s3cret", 1700000000, body) == f"sha256={want}"
    verify("s3cret", "1700000000", f"sha256={want}", body, tolerance_s=300, now=1700000100)
    with pytest.raises(SignatureError, match="stale"):
        verify("s3cret", "1700000000", f"sha256={want}", body, tolerance_s=300, now=1700000301)


def _case_headers(case: str, provider: str, body: bytes) -> dict[str, str]:
    secret, now = SECRETS[provider], time.time()
    return {
        "valid": lambda: signed_headers(secret, body),
        "wrong secret": lambda: signed_headers("not-the-secret", body),
        "other body": lambda: signed_headers(secret, body + b" "),
        "garbage signature": lambda: {"X-CSA-Timestamp": str(int(now)), "X-CSA-Signature": "zz"},
        "stale": lambda: signed_headers(secret, body, now=now - 400),
        "from the future": lambda: signed_headers(secret, body, now=now + 400),
        "bad timestamp": lambda: {
            "X-CSA-Timestamp": "yesterday",
            "X-CSA-Signature": signature(secret, "yesterday", body),
        },
        "no signature": lambda: {"X-CSA-Timestamp": str(int(now))},
        "no timestamp": lambda: {"X-CSA-Signature": signature(secret, int(now), body)},
        "no headers": lambda: {},
    }[case]()


SIGNATURE_CASES = [
    ("valid", 200, None),
    ("wrong secret", 401, "invalid signature"),
    ("other body", 401, "invalid signature"),
    ("garbage signature", 401, "invalid signature"),
    ("stale", 401, "stale timestamp"),
    ("from the future", 401, "stale timestamp"),
    ("bad timestamp", 401, "invalid X-CSA-Timestamp"),
    ("no signature", 401, "missing X-CSA-Signature"),
    ("no timestamp", 401, "missing X-CSA-Timestamp"),
    ("no headers", 401, "missing X-CSA-Timestamp"),
]


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
def test_signatures(client, tiny_engine, provider) -> None:
    """Every case for every provider on one app (one start-up): only `valid` makes a turn."""
    for case, status, detail in SIGNATURE_CASES:
        body = json.dumps(customer_message(provider, msg=len(case))).encode()
        r = post(client, provider, body, headers=_case_headers(case, provider, body))
        assert r.status_code == status, (case, r.text)
        if detail:
            assert detail in r.json()["detail"], (case, r.text)
    assert tiny_engine.store.count_turns() == 2  # the valid case: customer turn + reply


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
def test_provider_without_a_secret_is_refused(settings, tiny_engine, provider) -> None:
    others = {k: v for k, v in SECRETS.items() if k != provider}
    app = create_app(settings.model_copy(update={"webhook_secrets": others}), engine=tiny_engine)
    with TestClient(app) as c:
        r = post(c, provider, customer_message(provider))
    assert r.status_code == 403 and "no shared secret is configured" in r.json()["detail"]
    assert tiny_engine.store.count_turns() == 0


def test_unknown_provider_is_404(client) -> None:
    r = post(client, "intercom", {"x": 1}, headers={})
    assert r.status_code == 404 and "unknown webhook provider 'intercom'" in r.json()["detail"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{not json", "body is not JSON"),
        (b"[1, 2]", "must be a JSON object"),
        (json.dumps({"event": "message_created", "id": 5}).encode(), "missing conversation.id"),
    ],
)
def test_malformed_payloads_are_422(client, body, detail) -> None:
    r = post(client, "chatwoot", body)
    assert r.status_code == 422 and detail in r.json()["detail"]


# --------------------------------------------------------------------------- adapters
ADAPTER_CASES = [
    (
        "zendesk",
        zendesk_message(ticket="141", msg_id="abc", text="Hi there"),
        InboundMessage("141", "abc", "customer", "Hi there"),
    ),
    ("zendesk", zendesk_message(actor="agent"), "agent"),
    ("zendesk", zendesk_message(actor="system"), "bot"),
    ("zendesk", zendesk_comment(ticket="9", comment_id=77, text="<p>Refund?</p>"), None),
    ("zendesk", zendesk_comment(staff=True), "agent"),
    ("zendesk", zendesk_comment(public=False), NotAMessage),
    (
        "zendesk",
        {"type": "zen:event-type:ticket.status_changed", "detail": {"id": "1"}},
        NotAMessage,
    ),
    ("zendesk", {"type": "zen:event-type:messaging_ticket.message_added"}, PayloadError),
    (
        "freshdesk",
        freshdesk_reply(ticket=42, conv_id=9001, text="Where is it?"),
        InboundMessage("42", "9001", "customer", "Where is it?"),
    ),
    ("freshdesk", freshdesk_reply(incoming=False), "agent"),
    (
        "freshdesk",
        {"conversation": {"id": 1, "ticket_id": 2, "private": True, "body_text": "note"}},
        NotAMessage,
    ),
    (
        "freshdesk",
        {"ticket": {"id": 31, "subject": "Help", "description_text": "My parcel is late"}},
        InboundMessage("31", "ticket-31", "customer", "My parcel is late"),
    ),
    ("freshdesk", {"something": "else"}, PayloadError),
    (
        "chatwoot",
        chatwoot_message(conv=7, msg_id=101, text="Hello"),
        InboundMessage("1:7", "101", "customer", "Hello"),
    ),
    ("chatwoot", chatwoot_message(kind="outgoing"), "agent"),
    ("chatwoot", chatwoot_message(kind="template"), "bot"),
    ("chatwoot", chatwoot_message() | {"sender": {"type": "agent_bot"}}, "bot"),
    ("chatwoot", chatwoot_message() | {"private": True}, NotAMessage),
    ("chatwoot", {"event": "conversation_status_changed", "id": 1}, NotAMessage),
    ("chatwoot", {"id": 1}, PayloadError),
]


@pytest.mark.parametrize(("provider", "payload", "expected"), ADAPTER_CASES)
def test_adapters(provider, payload, expected) -> None:
    parse = PROVIDERS[provider].parse
    if isinstance(expected, type) and issubclass(expected, Exception):
        with pytest.raises(expected):
            parse(payload)
    elif isinstance(expected, str):
        assert parse(payload).author == expected
    elif expected is None:  # zendesk comment: html stripped, ids as strings
        assert parse(payload) == InboundMessage("9", "77", "customer", "Refund?")
    else:
        assert parse(payload) == expected


def test_reply_shapes() -> None:
    assert PROVIDERS["chatwoot"].reply("Hi") == {
        "content": "Hi",
        "message_type": "outgoing",
        "private": False,
    }
    assert PROVIDERS["zendesk"].reply("Hi") == {
        "ticket": {"comment": {"body": "Hi", "public": True}}
    }
    assert PROVIDERS["freshdesk"].reply("a < b\nc") == {"body": "a &lt; b<br>c"}


# ------------------------------------------------------------------- turns and dedupe
@pytest.mark.parametrize("provider", PROVIDER_NAMES)
def test_message_becomes_a_turn_and_a_repeat_gets_the_same_reply(
    client, tiny_engine, provider
) -> None:
    payload = customer_message(provider, conv=5, msg=11, text="where is my order 48213?")
    first = post(client, provider, payload)
    assert first.status_code == 200, first.text
    body = first.json()
    text = reply_text(provider, body)
    assert text and body["csa"]["status"] == "answered"
    conv_id = body["csa"]["conversation_id"]
    conv = client.get(f"/v1/conversations/{conv_id}").json()
    assert conv["messages"][0]["text"] == "where is my order 48213?"
    assert tiny_engine.store.count_turns() == 2

    again = post(client, provider, payload)  # the provider retries: fresh signature, same id
    assert again.status_code == 200
    assert reply_text(provider, again.json()) == text
    assert again.json()["csa"]["status"] == "duplicate"
    assert again.json()["csa"]["turn_id"] == body["csa"]["turn_id"]
    assert tiny_engine.store.count_turns() == 2  # no new turn

    follow = post(client, provider, customer_message(provider, conv=5, msg=12, text="thanks"))
    assert follow.json()["csa"]["conversation_id"] == conv_id  # same helpdesk conversation
    other = post(client, provider, customer_message(provider, conv=6, msg=13, text="hello"))
    assert other.json()["csa"]["conversation_id"] != conv_id
    assert client.get(f"/v1/conversations/{conv_id}").json()["messages"][2]["text"] == "thanks"


@pytest.mark.parametrize("provider", PROVIDER_NAMES)
def test_agent_and_bot_messages_are_acknowledged_and_ignored(client, tiny_engine, provider) -> None:
    r = post(client, provider, agent_message(provider))
    assert r.status_code == 200
    assert r.json() == {"csa": {"status": "ignored", "reason": "authored by agent"}}
    assert tiny_engine.store.count_turns() == 0


def test_other_events_are_acknowledged(client, tiny_engine) -> None:
    r = post(client, "chatwoot", {"event": "conversation_status_changed", "id": 3})
    assert r.status_code == 200 and r.json()["csa"]["status"] == "ignored"
    assert tiny_engine.store.count_turns() == 0


def test_a_conversation_with_an_agent_gets_no_bot_reply(client, tiny_engine) -> None:
    first = post(client, "chatwoot", customer_message("chatwoot", conv=9, msg=1)).json()
    tiny_engine.store.set_status(first["csa"]["conversation_id"], "agent", "sam")
    r = post(client, "chatwoot", customer_message("chatwoot", conv=9, msg=2, text="hello?"))
    assert r.status_code == 200
    assert "content" not in r.json() and r.json()["csa"]["status"] == "with_agent"
