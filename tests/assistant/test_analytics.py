"""Analytics queries on a small hand-built set of conversations with known answers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine

from assistant import analytics
from assistant.store import Conversation, Turn, init_db, make_engine
from assistant.store.db import session_factory

DAY1 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
DAY2 = datetime(2025, 3, 2, 14, 0, tzinfo=UTC)


def _conv(
    cid: str, when: datetime, status: str, turns: list[dict[str, Any]], agent: str | None = None
) -> Conversation:
    conv = Conversation(id=cid, status=status, assigned_agent=agent, created_at=when)
    for i, t in enumerate(turns):
        conv.turns.append(Turn(created_at=when + timedelta(minutes=i), **t))
    return conv


def _customer(text: str, intent: str, confidence: float, sentiment: str) -> dict[str, Any]:
    return {
        "role": "customer",
        "text": text,
        "intent": intent,
        "confidence": confidence,
        "sentiment": sentiment,
        "sentiment_score": 0.9,
    }


def _bot(action: str, reason: str) -> dict[str, Any]:
    return {"role": "bot", "text": "…", "action": action, "reason": reason}


PERSON = "customer asked for a person"


@pytest.fixture
def db(db_url: str) -> Iterator[Engine]:
    """On SQLite and on PostgreSQL (`db_url`, tests/assistant/conftest.py)."""
    engine = make_engine(db_url)
    init_db(engine)
    convs = [
        # day 1: answered and closed by the bot (deflected); handed off and closed by an agent
        _conv(
            "c1",
            DAY1,
            "closed",
            [_customer("where is my order", "order_status", 0.9, "neutral"), _bot("answer", "ok")],
        ),
        _conv(
            "c2",
            DAY1,
            "closed",
            [
                _customer("it's broken", "damaged_item", 0.5, "negative"),
                _bot("handoff", PERSON),
                {"role": "agent", "text": "Sorry!", "author": "sam"},
            ],
            agent="sam",
        ),
        # day 2: waiting (two handoff turns, one conversation); with the bot; taken over, closed
        _conv(
            "c3",
            DAY2,
            "waiting_for_agent",
            [
                _customer("refund now", "refund", 0.3, "negative"),
                _bot("handoff", "low intent confidence"),
                _customer("hello??", "refund", 0.3, "negative"),
                _bot("handoff", PERSON),
            ],
        ),
        _conv(
            "c4",
            DAY2,
            "bot",
            [
                _customer("track it", "order_status", 0.7, "positive"),
                _bot("answer", "ok"),
                _customer("and a refund?", "refund", 0.6, "neutral"),
                _bot("clarify", "unsure"),
            ],
        ),
        _conv(
            "c5",
            DAY2,
            "closed",
            [_customer("shipping cost?", "shipping_cost", 0.95, "positive")],
            agent="alex",
        ),
    ]
    with session_factory(engine).begin() as s:
        s.add_all(convs)
    yield engine
    engine.dispose()


def test_conversations_per_day(db: Engine) -> None:
    assert analytics.conversations_per_day(db) == [
        {"day": "2025-03-01", "conversations": 2},
        {"day": "2025-03-02", "conversations": 3},
    ]


def test_deflection_counts_only_closed_without_any_agent(db: Engine) -> None:
    # c1 deflected; c2 had an agent turn; c5 was taken over (assigned) without a reply
    assert analytics.deflection(db) == {
        "closed": 3,
        "closed_without_agent": 1,
        "deflection_rate": pytest.approx(1 / 3),
    }


def test_handoff_rate_and_reasons(db: Engine) -> None:
    out = analytics.handoffs(db)
    assert (out["conversations"], out["handed_off"]) == (5, 2)
    assert out["handoff_rate"] == pytest.approx(0.4)
    assert out["reasons"] == [
        {"reason": PERSON, "count": 2},
        {"reason": "low intent confidence", "count": 1},
    ]


def test_intent_volume(db: Engine) -> None:
    assert analytics.intent_volume(db) == [
        {"intent": "refund", "turns": 3},
        {"intent": "order_status", "turns": 2},
        {"intent": "damaged_item", "turns": 1},
        {"intent": "shipping_cost", "turns": 1},
    ]


def test_sentiment_trend(db: Engine) -> None:
    assert analytics.sentiment_trend(db) == [
        {"day": "2025-03-01", "sentiment": "negative", "turns": 1},
        {"day": "2025-03-01", "sentiment": "neutral", "turns": 1},
        {"day": "2025-03-02", "sentiment": "negative", "turns": 2},
        {"day": "2025-03-02", "sentiment": "neutral", "turns": 1},
        {"day": "2025-03-02", "sentiment": "positive", "turns": 2},
    ]


def test_lowest_confidence_intents(db: Engine) -> None:
    rows = analytics.lowest_confidence_intents(db, limit=3)
    assert rows == [
        {"intent": "refund", "mean_confidence": pytest.approx(0.4), "turns": 3},
        {"intent": "damaged_item", "mean_confidence": 0.5, "turns": 1},
        {"intent": "order_status", "mean_confidence": pytest.approx(0.8), "turns": 2},
    ]
    assert [r["intent"] for r in analytics.lowest_confidence_intents(db, min_turns=2)] == [
        "refund",
        "order_status",
    ]


def test_overview_window(db: Engine) -> None:
    out = analytics.overview(db, days=1, now=datetime(2025, 3, 2, 23, 0, tzinfo=UTC))
    assert out["per_day"] == [{"day": "2025-03-02", "conversations": 3}]
    assert out["deflection"]["closed"] == 1 and out["deflection"]["deflection_rate"] == 0
    assert out["handoffs"]["handed_off"] == 1
    assert out["intents"][0] == {"intent": "refund", "turns": 3}
    assert analytics.overview(db, days=None)["since"] is None


def test_empty_database(db_url: str) -> None:
    engine = make_engine(db_url)
    init_db(engine)
    out = analytics.overview(engine)
    assert out["per_day"] == [] and out["intents"] == []
    assert out["deflection"]["deflection_rate"] is None
    assert out["handoffs"]["handoff_rate"] is None
