from __future__ import annotations

from collections.abc import Iterator

import pytest

from assistant.store import (
    BotTurn,
    CustomerTurn,
    NewPair,
    Store,
    UnknownConversation,
    init_db,
    make_engine,
)


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """Every test here runs on SQLite and on PostgreSQL (`db_url`, tests/assistant/conftest.py)."""
    engine = make_engine(db_url)
    init_db(engine)
    yield Store(engine)
    engine.dispose()


def test_turn_and_reply_are_committed_together(store: Store) -> None:
    rec = store.record_turn(
        None,
        CustomerTurn(
            "where is 48213",
            intent="order_status",
            confidence=0.9,
            sentiment="neutral",
            sentiment_score=0.8,
            entities=[{"kind": "order_number", "value": "48213"}],
        ),
        BotTurn("On its way", "answer", "grounded", sources=[{"id": 1, "score": 0.9}]),
        {"order_number": "48213"},
        {"pending_intent": None},
        status="bot",
    )
    view = store.get_conversation(rec.conversation_id)
    assert view is not None
    roles = [(m["role"], m["text"]) for m in view["messages"]]
    assert roles == [("customer", "where is 48213"), ("bot", "On its way")]
    assert view["messages"][0]["intent"] == "order_status"
    assert view["messages"][1]["reply_to"] == rec.customer_turn_id
    assert view["slots"] == {"order_number": "48213"}
    assert view["created_at"].endswith("+00:00")
    state = store.conversation_state(rec.conversation_id)
    assert state.slots == {"order_number": "48213"} and state.history[-1] == ("bot", "On its way")


def test_unknown_conversation(store: Store) -> None:
    with pytest.raises(UnknownConversation):
        store.conversation_state("nope")
    with pytest.raises(UnknownConversation):
        store.record_turn("nope", CustomerTurn("x"), None, {}, {})
    assert store.get_conversation("nope") is None


def test_queue_lists_waiting_first(store: Store) -> None:
    a = store.record_turn(None, CustomerTurn("a"), None, {}, {}, status="bot")
    b = store.record_turn(None, CustomerTurn("b"), None, {}, {}, status="waiting_for_agent")
    c = store.record_turn(None, CustomerTurn("c"), None, {}, {}, status="bot")
    order = [row["conversation_id"] for row in store.list_conversations()]
    assert order == [b.conversation_id, c.conversation_id, a.conversation_id]


def test_agent_message_and_status(store: Store) -> None:
    rec = store.record_turn(None, CustomerTurn("help"), None, {}, {}, status="waiting_for_agent")
    store.add_agent_message(rec.conversation_id, "ana", "Hi, Ana here")
    view = store.get_conversation(rec.conversation_id)
    assert view and view["status"] == "agent" and view["messages"][-1]["author"] == "ana"
    store.set_status(rec.conversation_id, "closed")
    with pytest.raises(ValueError, match="unknown status"):
        store.set_status(rec.conversation_id, "sleeping")


def test_upsert_pairs_by_external_id(store: Store) -> None:
    assert store.upsert_pairs(
        [NewPair("q", "a", "i", "kb-1"), NewPair("q2", "a2", None, "kb-2")]
    ) == (2, 0)
    assert store.upsert_pairs([NewPair("q", "a new", "i", "kb-1")]) == (0, 1)
    assert store.upsert_pairs([NewPair("q", "a new", "i", "kb-1")]) == (0, 0)
    assert [p.answer for p in store.approved_pairs()] == ["a new", "a2"]


def test_labels_record_corrections_with_author(store: Store) -> None:
    rec = store.record_turn(
        None, CustomerTurn("refund pls", intent="request_refund", sentiment="neutral"), None, {}, {}
    )
    store.add_label(rec.customer_turn_id, "intents", "refund_status", "ana")
    store.add_label(rec.customer_turn_id, "sentiment", "negative", "ben")
    rows = store.labels()
    assert [(r["task"], r["label"], r["previous"], r["author"]) for r in rows] == [
        ("intents", "refund_status", "request_refund", "ana"),
        ("sentiment", "negative", "neutral", "ben"),
    ]
    assert store.labels("sentiment")[0]["text"] == "refund pls"
    with pytest.raises(LookupError):
        store.add_label(9999, "intents", "x", "ana")
    with pytest.raises(ValueError, match="unknown task"):
        store.add_label(rec.customer_turn_id, "topics", "x", "ana")
