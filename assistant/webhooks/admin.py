"""What the admin HTTP API does beyond plain store reads: conversation lists by status, and
knowledge-base pairs added to / removed from SQL and the live index together."""

from __future__ import annotations

import logging
import threading
from typing import Any

from sqlalchemy import delete, func, select

from ..engine import TurnEngine
from ..settings import Settings
from ..store import STATUSES, Store
from ..store.models import Conversation, QAPair, Turn

log = logging.getLogger(__name__)

_index_lock = threading.Lock()  # one writer at a time for the live index and its files


class IndexUnavailable(RuntimeError):
    """The live knowledge base cannot be changed in place."""


def list_conversations(store: Store, status: str | None, limit: int) -> list[dict[str, Any]]:
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown status {status!r}; expected one of {list(STATUSES)}")
    with store.sessions() as s:
        turns = (
            select(Turn.conversation_id, func.count(Turn.id).label("n"))
            .group_by(Turn.conversation_id)
            .subquery()
        )
        q = (
            select(Conversation, func.coalesce(turns.c.n, 0))
            .outerjoin(turns, turns.c.conversation_id == Conversation.id)
            .order_by(Conversation.updated_at.desc())
            .limit(limit)
        )
        if status is not None:
            q = q.where(Conversation.status == status)
        return [
            {
                "conversation_id": c.id,
                "status": c.status,
                "channel": c.channel,
                "assigned_agent": c.assigned_agent,
                "turns": int(n),
                "created_at": c.created_at.isoformat(),
                "updated_at": c.updated_at.isoformat(),
            }
            for c, n in s.execute(q).all()
        ]


def pair_view(p: QAPair) -> dict[str, Any]:
    return {
        "id": p.id,
        "question": p.question,
        "answer": p.answer,
        "intent": p.intent,
        "source": p.source,
        "approved": p.approved,
        "external_id": p.external_id,
    }


def list_pairs(store: Store, limit: int, offset: int = 0) -> list[dict[str, Any]]:
    with store.sessions() as s:
        rows = s.scalars(select(QAPair).order_by(QAPair.id).offset(offset).limit(limit)).all()
        return [pair_view(p) for p in rows]


def _live(engine: TurnEngine) -> Any:
    kb = engine.models.knowledge
    if not all(hasattr(kb, m) for m in ("add", "remove", "save")):
        raise IndexUnavailable("the loaded knowledge base cannot be changed in place")
    return kb


def add_pair(
    store: Store,
    engine: TurnEngine,
    settings: Settings,
    question: str,
    answer: str,
    intent: str | None,
    source: str = "admin",
) -> dict[str, Any]:
    """Insert the pair in SQL and index it at once in the live knowledge base (then save)."""
    from retrieval import QAPair as IndexedPair

    kb = _live(engine)
    with store.sessions.begin() as s:
        row = QAPair(question=question, answer=answer, intent=intent, source=source)
        s.add(row)
        s.flush()
        view = pair_view(row)
    pair = IndexedPair(view["id"], question, answer, intent)
    try:
        with _index_lock:
            if view["id"] in kb:  # an index out of step with SQL: replace what it holds
                log.warning("pair %d was already indexed; replacing it", view["id"])
                kb.update([pair])
            else:
                kb.add([pair])
            kb.save(settings.index_dir)
    except Exception:
        with store.sessions.begin() as s:
            s.execute(delete(QAPair).where(QAPair.id == view["id"]))
        raise
    log.info("knowledge-base pair %d added and indexed (%s)", view["id"], intent)
    return view


def delete_pair(store: Store, engine: TurnEngine, settings: Settings, pair_id: int) -> bool:
    """Remove the pair from SQL and the live index; False when there is no such pair."""
    kb = _live(engine)
    with store.sessions.begin() as s:
        row = s.get(QAPair, pair_id)
        if row is None:
            return False
        s.delete(row)
    with _index_lock:
        kb.remove([pair_id])
        kb.save(settings.index_dir)
    log.info("knowledge-base pair %d removed from SQL and the index", pair_id)
    return True
