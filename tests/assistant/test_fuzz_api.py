"""Property-based fuzzing of the HTTP API (hypothesis): generated JSON bodies, ids and texts
(unicode, emoji, control characters, NUL, lone surrogates as JSON escapes, 4,000+ characters,
HTML/script) never get a 5xx, and a valid message gets 200 with its text stored redacted,
intact otherwise. Runs over the real app, tiny models, real SQLite and a real index.

Reproducible: ``derandomize=True`` (examples come from the test's name) and no example
database, so CI and local runs try the same inputs.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from assistant.api import create_app
from assistant.cli import main
from assistant.engine import Models, TurnEngine
from assistant.redact import redact
from assistant.settings import Settings
from assistant.store import NewPair, Store, init_db, make_engine
from assistant.webhooks.signing import signed_headers

FUZZ = settings(
    max_examples=100,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SECRET = "fuzz-secret"

# text with everything JSON can carry: any code point incl. control characters and NUL,
# lone surrogates (sent as \\udXXX escapes), emoji, markup, and long runs
NASTY = st.sampled_from(
    [
        "<script>alert(1)</script>",
        "\x00",
        "\u202e",
        "\ud800",
        "\udfff",
        "😀👩‍👩‍👧",
        "'; DROP TABLE turns; --",
        "{order_number}",
        "{{7*7}}",
        "4111 1111 1111 1111",
        "a@b.co",
        "\r\n\t",
    ]
)
TEXT = st.one_of(
    st.text(st.characters(codec=None), max_size=60),
    st.lists(st.one_of(NASTY, st.text(max_size=10)), max_size=8).map("".join),
    st.integers(3990, 4010).map(lambda n: "é" * n),
)
JSON_VALUE = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


def chat_body(keys: list[str]) -> st.SearchStrategy[object]:
    """Mostly chat-shaped objects (valid or almost), sometimes anything at all."""
    shaped = st.fixed_dictionaries(
        {"message": st.one_of(TEXT, JSON_VALUE)},
        optional={"conversation_id": st.one_of(TEXT, st.none(), st.integers()), "extra": TEXT},
    )
    return st.one_of(shaped, shaped, JSON_VALUE)


def dumps(body: object) -> bytes:
    # ensure_ascii: lone surrogates travel as JSON escapes, as a hostile client may send
    return json.dumps(body, ensure_ascii=True).encode()


def valid_message(body: object) -> str | None:
    if not isinstance(body, dict) or not set(body) <= {"message", "conversation_id"}:
        return None
    if body.get("conversation_id") is not None or "message" not in body:
        return None  # an unknown conversation (404) or no message (422)
    message = body["message"]
    if not isinstance(message, str) or not message.strip() or len(message) > 4000:
        return None
    try:
        message.encode("utf-8")
    except UnicodeEncodeError:
        return None
    return message


@pytest.fixture
def engine(settings: Settings, tiny_models: Models, tiny_bert) -> TurnEngine:
    """An engine with its own small knowledge base (the admin routes change it)."""
    from assistant.runtime import build_engine
    from retrieval import KnowledgeBase, QAPair, SentenceEncoder

    store = Store(make_engine(settings.db_url))
    init_db(store.engine)
    store.upsert_pairs([NewPair("Where is my order?", "It ships soon.", "order_status", "f-1")])
    kb = KnowledgeBase(SentenceEncoder(tiny_bert))
    kb.build([QAPair(p.id, p.question, p.answer, p.intent) for p in store.approved_pairs()])
    return build_engine(
        settings,
        store,
        Models(intent=tiny_models.intent, sentiment=tiny_models.sentiment, knowledge=kb),
    )


@pytest.fixture
def client(settings: Settings, engine: TurnEngine):
    open_settings = settings.model_copy(
        update={
            "rate_limit_per_ip_per_min": 0,
            "rate_limit_per_conversation_per_min": 0,
            "rate_limit_poll_per_ip_per_min": 0,
            "webhook_secrets": {"zendesk": SECRET, "freshdesk": SECRET, "chatwoot": SECRET},
            "outbox_worker": False,
        }
    )
    env = {"CSA_DATA_DIR": str(settings.data_dir)}
    token = CliRunner().invoke(main, ["keys", "add", "fuzz"], env=env).stdout.splitlines()[0]
    with TestClient(create_app(open_settings, engine=engine)) as c:
        c.headers["X-API-Key"] = token
        yield c


def customer_message(provider: str, msg: int, text: str) -> dict:
    """A customer's message in each helpdesk's shape (as in test_webhooks_inbound.py)."""
    if provider == "zendesk":
        event = {"actor": {"type": "end_user"}, "message": {"body": text, "id": f"m-{msg}"}}
        return {
            "detail": {"id": "1"},
            "event": event,
            "type": "zen:event-type:messaging_ticket.message_added",
        }
    if provider == "freshdesk":
        conversation = {"id": msg, "ticket_id": 1, "body_text": text, "incoming": True}
        return {"data": {"actor": {"type": "contact"}, "conversation": conversation}}
    return {
        "event": "message_created",
        "id": msg,
        "content": text,
        "message_type": "incoming",
        "sender": {"type": "contact"},
        "conversation": {"id": 1},
    }


def post(client: TestClient, path: str, body: bytes, **headers: str):
    return client.post(path, content=body, headers={"content-type": "application/json", **headers})


@FUZZ
@given(body=chat_body(["message"]))
def test_chat(client: TestClient, body: object) -> None:
    r = post(client, "/v1/chat", dumps(body))
    assert r.status_code < 500, r.text
    message = valid_message(body)
    if message is None:
        assert r.status_code in (404, 413, 422), r.text
        return
    assert r.status_code == 200, r.text
    answer = r.json()
    stored = client.get(f"/v1/conversations/{answer['conversation_id']}").json()["messages"]
    assert stored[0]["text"] == redact(message)  # intact but for the redacted PII
    assert stored[0]["id"] == answer["turn_id"]


@FUZZ
@given(body=chat_body(["message"]))
def test_chat_stream(client: TestClient, body: object) -> None:
    r = post(client, "/v1/chat/stream", dumps(body))
    assert r.status_code < 500, r.text
    if valid_message(body) is None:
        assert r.status_code in (404, 413, 422), r.text
        return
    assert r.status_code == 200, r.text
    assert "event: final" in r.text and "event: error" not in r.text


@FUZZ
@given(conversation_id=st.text(st.characters(codec="utf-8"), min_size=1, max_size=80))
def test_conversation_ids(client: TestClient, conversation_id: str) -> None:
    for path in ("/v1/conversations/", "/v1/admin/conversations/"):
        r = client.get(path + quote(conversation_id, safe=""))
        assert r.status_code in (404, 405, 307), (path, conversation_id, r.text)
    r = client.delete("/v1/admin/conversations/" + quote(conversation_id, safe=""))
    assert r.status_code in (404, 405), r.text


@FUZZ
@given(
    provider=st.sampled_from(["zendesk", "freshdesk", "chatwoot"]),
    text=TEXT,
    noise=JSON_VALUE,
    shaped=st.booleans(),
)
def test_webhooks(
    client: TestClient, provider: str, text: str, noise: object, shaped: bool
) -> None:
    body = customer_message(provider, msg=len(text), text=text)
    payload = dumps(body if shaped else noise)
    signed = post(client, f"/v1/webhooks/{provider}", payload, **signed_headers(SECRET, payload))
    assert signed.status_code < 500, signed.text
    unsigned = post(client, f"/v1/webhooks/{provider}", payload)
    assert unsigned.status_code == 401


ADMIN_CALLS = st.one_of(
    st.tuples(
        st.just("/v1/admin/labels"),
        st.fixed_dictionaries(
            {
                "turn_id": st.integers(-5, 10**12) | TEXT,
                "task": st.sampled_from(["intents", "sentiment"]) | TEXT,
                "label": TEXT,
                "author": TEXT,
            }
        ),
    ),
    st.tuples(
        st.just("/v1/admin/kb"),
        st.fixed_dictionaries(
            {"question": TEXT, "answer": TEXT}, optional={"intent": TEXT | st.none()}
        ),
    ),
    st.tuples(
        st.sampled_from(["/v1/admin/conversations/x/status", "/v1/admin/conversations/%00/status"]),
        st.fixed_dictionaries(
            {"status": st.sampled_from(["bot", "closed"]) | TEXT},
            optional={"agent": TEXT | st.none()},
        ),
    ),
    st.tuples(
        st.sampled_from(["/v1/admin/labels", "/v1/admin/kb", "/v1/admin/conversations/x/status"]),
        JSON_VALUE,
    ),
)


@FUZZ
@given(call=ADMIN_CALLS)
def test_admin_routes(client: TestClient, call: tuple[str, object]) -> None:
    route, body = call
    r = post(client, route, dumps(body))
    assert r.status_code < 500, r.text
    assert r.status_code in (201, 404, 413, 422), r.text
