"""How the bot is doing: SQL aggregates over conversations and turns, as plain data.

Portable SQL through SQLAlchemy Core (``date()``, ``count``, ``avg``, ``CASE``, ``EXISTS``): the
same queries run on SQLite and PostgreSQL. Times are UTC; days are ``YYYY-MM-DD`` strings.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, case, exists, func, select, true
from sqlalchemy.sql.elements import ColumnElement

from .store.models import Conversation, Turn, utcnow

__all__ = [
    "conversations_per_day",
    "deflection",
    "handoffs",
    "intent_volume",
    "lowest_confidence_intents",
    "overview",
    "sentiment_trend",
]


def _day(column: Any) -> Any:
    """The calendar day of a timestamp column (SQLite and PostgreSQL both have ``date()``)."""
    return func.date(column)


def _day_str(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _since(column: Any, since: datetime | None) -> ColumnElement[bool]:
    return column >= since if since is not None else true()


def conversations_per_day(engine: Engine, since: datetime | None = None) -> list[dict[str, Any]]:
    """``[{"day", "conversations"}]``: conversations started per day, oldest first."""
    day = _day(Conversation.created_at).label("day")
    q = (
        select(day, func.count(Conversation.id))
        .where(_since(Conversation.created_at, since))
        .group_by(day)
        .order_by(day)
    )
    with engine.connect() as conn:
        return [{"day": _day_str(d), "conversations": int(n)} for d, n in conn.execute(q)]


def _has_agent_turn() -> ColumnElement[bool]:
    return exists().where(Turn.conversation_id == Conversation.id, Turn.role == "agent")


def deflection(engine: Engine, since: datetime | None = None) -> dict[str, Any]:
    """Closed conversations, and those closed without an agent (never assigned, no agent turn).

    ``deflection_rate`` = closed without an agent / closed (None when nothing was closed).
    """
    no_agent = and_(Conversation.assigned_agent.is_(None), ~_has_agent_turn())
    q = select(
        func.count(Conversation.id),
        func.coalesce(func.sum(case((no_agent, 1), else_=0)), 0),
    ).where(Conversation.status == "closed", _since(Conversation.created_at, since))
    with engine.connect() as conn:
        closed, deflected = conn.execute(q).one()
    closed, deflected = int(closed), int(deflected)
    return {
        "closed": closed,
        "closed_without_agent": deflected,
        "deflection_rate": deflected / closed if closed else None,
    }


def handoffs(engine: Engine, since: datetime | None = None) -> dict[str, Any]:
    """Conversations the bot handed off, the rate among all conversations, and the reasons
    (from bot turns whose action is ``handoff``), most frequent first."""
    handed = exists().where(
        Turn.conversation_id == Conversation.id, Turn.role == "bot", Turn.action == "handoff"
    )
    totals = select(
        func.count(Conversation.id),
        func.coalesce(func.sum(case((handed, 1), else_=0)), 0),
    ).where(_since(Conversation.created_at, since))
    count = func.count(Turn.id).label("n")
    reasons = (
        select(Turn.reason, count)
        .where(Turn.role == "bot", Turn.action == "handoff", _since(Turn.created_at, since))
        .group_by(Turn.reason)
        .order_by(count.desc(), Turn.reason)
    )
    with engine.connect() as conn:
        total, handed_off = conn.execute(totals).one()
        rows = conn.execute(reasons).all()
    total, handed_off = int(total), int(handed_off)
    return {
        "conversations": total,
        "handed_off": handed_off,
        "handoff_rate": handed_off / total if total else None,
        "reasons": [{"reason": r or "(none)", "count": int(n)} for r, n in rows],
    }


def intent_volume(
    engine: Engine, since: datetime | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    """``[{"intent", "turns"}]``: customer turns per predicted intent, most frequent first."""
    count = func.count(Turn.id).label("n")
    q = (
        select(Turn.intent, count)
        .where(Turn.role == "customer", Turn.intent.is_not(None), _since(Turn.created_at, since))
        .group_by(Turn.intent)
        .order_by(count.desc(), Turn.intent)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [{"intent": i, "turns": int(n)} for i, n in conn.execute(q)]


def sentiment_trend(engine: Engine, since: datetime | None = None) -> list[dict[str, Any]]:
    """``[{"day", "sentiment", "turns"}]``: customer turns per day and sentiment label."""
    day = _day(Turn.created_at).label("day")
    q = (
        select(day, Turn.sentiment, func.count(Turn.id))
        .where(Turn.role == "customer", Turn.sentiment.is_not(None), _since(Turn.created_at, since))
        .group_by(day, Turn.sentiment)
        .order_by(day, Turn.sentiment)
    )
    with engine.connect() as conn:
        return [
            {"day": _day_str(d), "sentiment": s, "turns": int(n)} for d, s, n in conn.execute(q)
        ]


def lowest_confidence_intents(
    engine: Engine, since: datetime | None = None, limit: int = 10, min_turns: int = 1
) -> list[dict[str, Any]]:
    """``[{"intent", "mean_confidence", "turns"}]``: intents with the lowest mean confidence."""
    mean = func.avg(Turn.confidence).label("mean")
    q = (
        select(Turn.intent, mean, func.count(Turn.id))
        .where(
            Turn.role == "customer",
            Turn.intent.is_not(None),
            Turn.confidence.is_not(None),
            _since(Turn.created_at, since),
        )
        .group_by(Turn.intent)
        .having(func.count(Turn.id) >= min_turns)
        .order_by(mean.asc(), Turn.intent)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [
            {"intent": i, "mean_confidence": round(float(m), 4), "turns": int(n)}
            for i, m, n in conn.execute(q)
        ]


def overview(engine: Engine, days: int | None = 30, now: datetime | None = None) -> dict[str, Any]:
    """Everything the analytics tab shows, for the last `days` days (None: all time)."""
    since = (now or utcnow()) - timedelta(days=days) if days else None
    return {
        "since": since.isoformat() if since else None,
        "per_day": conversations_per_day(engine, since),
        "deflection": deflection(engine, since),
        "handoffs": handoffs(engine, since),
        "intents": intent_volume(engine, since),
        "sentiment": sentiment_trend(engine, since),
        "low_confidence": lowest_confidence_intents(engine, since),
    }
