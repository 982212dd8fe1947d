"""The store: every read and write of conversations, turns and knowledge-base pairs.

One customer turn and the bot's reply are written in ONE transaction, committed
before the reply is returned to the customer.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from .db import session_factory
from .integrations import emit_status_events, emit_turn_events
from .models import Conversation, Label, QAPair, Turn, utcnow

STATUSES = ("bot", "waiting_for_agent", "agent", "closed")


class UnknownConversation(LookupError):
    """The conversation id is not in the database."""


@dataclass(frozen=True)
class ConversationState:
    id: str
    status: str
    slots: dict[str, str]
    state: dict[str, Any]
    history: list[tuple[str, str]]  # last messages as (role, text), oldest first


@dataclass
class CustomerTurn:
    text: str
    intent: str | None = None
    confidence: float | None = None
    sentiment: str | None = None
    sentiment_score: float | None = None
    entities: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class BotTurn:
    text: str
    action: str
    reason: str
    sources: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recorded:
    conversation_id: str
    customer_turn_id: int
    bot_turn_id: int | None
    status: str


@dataclass(frozen=True)
class NewPair:
    question: str
    answer: str
    intent: str | None = None
    external_id: str | None = None
    source: str = "import"


def _iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    return (ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)).isoformat()


def turn_view(t: Turn) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": t.id,
        "role": t.role,
        "text": t.text,
        "created_at": _iso(t.created_at),
    }
    if t.role == "customer":
        view |= {
            "intent": t.intent,
            "confidence": t.confidence,
            "sentiment": t.sentiment,
            "sentiment_score": t.sentiment_score,
            "entities": t.entities,
        }
    elif t.role == "bot":
        view |= {
            "action": t.action,
            "reason": t.reason,
            "sources": t.sources,
            "reply_to": t.reply_to,
        }
    else:
        view |= {"author": t.author}
    return view


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.sessions = session_factory(engine)

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    # conversations ------------------------------------------------------------
    def conversation_state(self, conversation_id: str, history: int = 6) -> ConversationState:
        with self.sessions() as s:
            conv = s.get(Conversation, conversation_id)
            if conv is None:
                raise UnknownConversation(conversation_id)
            rows = s.scalars(
                select(Turn)
                .where(Turn.conversation_id == conversation_id)
                .order_by(Turn.id.desc())
                .limit(history)
            ).all()
            return ConversationState(
                conv.id,
                conv.status,
                dict(conv.slots or {}),
                dict(conv.state or {}),
                [(t.role, t.text) for t in reversed(rows)],
            )

    def record_turn(
        self,
        conversation_id: str | None,
        customer: CustomerTurn,
        bot: BotTurn | None,
        slots: dict[str, str],
        state: dict[str, Any],
        status: str | None = None,
    ) -> Recorded:
        """Write the customer's turn and the bot's reply in one transaction."""
        with self.sessions.begin() as s:
            conv = self._conversation_for_update(s, conversation_id)
            previous_status = conv.status
            now = utcnow()
            conv.slots = dict(slots)
            conv.state = dict(state)
            if status:
                conv.status = status
            conv.updated_at = now
            cust = Turn(
                conversation_id=conv.id,
                role="customer",
                text=customer.text,
                intent=customer.intent,
                confidence=customer.confidence,
                sentiment=customer.sentiment,
                sentiment_score=customer.sentiment_score,
                entities=customer.entities,
                details=customer.details,
                created_at=now,
            )
            s.add(cust)
            s.flush()
            bot_id = None
            if bot is not None:
                reply = Turn(
                    conversation_id=conv.id,
                    role="bot",
                    text=bot.text,
                    reply_to=cust.id,
                    action=bot.action,
                    reason=bot.reason,
                    sources=bot.sources,
                    details=bot.details,
                    created_at=utcnow(),
                )
                s.add(reply)
                s.flush()
                bot_id = reply.id
            emit_turn_events(s, conv, [cust, reply if bot is not None else None], previous_status)
            return Recorded(conv.id, cust.id, bot_id, conv.status)

    def _conversation_for_update(self, s: Session, conversation_id: str | None) -> Conversation:
        if conversation_id is None:
            new = Conversation()
            s.add(new)
            s.flush()
            return new
        conv = s.scalars(
            select(Conversation).where(Conversation.id == conversation_id).with_for_update()
        ).first()
        if conv is None:
            raise UnknownConversation(conversation_id)
        return conv

    def get_conversation(self, conversation_id: str) -> dict[str, Any] | None:
        with self.sessions() as s:
            conv = s.get(Conversation, conversation_id)
            if conv is None:
                return None
            turns = s.scalars(
                select(Turn).where(Turn.conversation_id == conversation_id).order_by(Turn.id)
            ).all()
            return {
                "conversation_id": conv.id,
                "status": conv.status,
                "assigned_agent": conv.assigned_agent,
                "slots": conv.slots,
                "created_at": _iso(conv.created_at),
                "updated_at": _iso(conv.updated_at),
                "messages": [turn_view(t) for t in turns],
            }

    def list_conversations(self, limit: int = 100) -> list[dict[str, Any]]:
        with self.sessions() as s:
            waiting_first = (Conversation.status != "waiting_for_agent").asc()
            convs = s.scalars(
                select(Conversation)
                .order_by(waiting_first, Conversation.updated_at.desc())
                .limit(limit)
            ).all()
            out = []
            for c in convs:
                counts = s.execute(
                    select(func.count(Turn.id)).where(Turn.conversation_id == c.id)
                ).scalar_one()
                last = s.scalars(
                    select(Turn)
                    .where(Turn.conversation_id == c.id)
                    .order_by(Turn.id.desc())
                    .limit(1)
                ).first()
                last_customer = s.scalars(
                    select(Turn)
                    .where(Turn.conversation_id == c.id, Turn.role == "customer")
                    .order_by(Turn.id.desc())
                    .limit(1)
                ).first()
                out.append(
                    {
                        "conversation_id": c.id,
                        "status": c.status,
                        "created_at": _iso(c.created_at),
                        "updated_at": _iso(c.updated_at),
                        "last_message": last.text if last else "",
                        "turns": counts,
                        "last_intent": last_customer.intent if last_customer else None,
                        "last_sentiment": last_customer.sentiment if last_customer else None,
                    }
                )
            return out

    def add_agent_message(self, conversation_id: str, agent: str, text_: str) -> int:
        with self.sessions.begin() as s:
            conv = self._conversation_for_update(s, conversation_id)
            conv.status = "agent"
            conv.assigned_agent = agent
            conv.updated_at = utcnow()
            turn = Turn(conversation_id=conv.id, role="agent", text=text_, author=agent)
            s.add(turn)
            s.flush()
            emit_turn_events(s, conv, [turn], conv.status)  # no status event
            return turn.id

    def set_status(self, conversation_id: str, status: str, agent: str | None = None) -> None:
        if status not in STATUSES:
            raise ValueError(f"unknown status {status!r}; expected one of {STATUSES}")
        with self.sessions.begin() as s:
            conv = self._conversation_for_update(s, conversation_id)
            previous_status = conv.status
            conv.status = status
            if agent is not None:
                conv.assigned_agent = agent
            if status == "bot":
                conv.state = {}
            conv.updated_at = utcnow()
            emit_status_events(s, conv, previous_status)

    # knowledge base -------------------------------------------------------------
    def upsert_pairs(self, pairs: Iterable[NewPair]) -> tuple[int, int]:
        """Insert new pairs, update those whose external id exists. Returns (added, updated)."""
        added = updated = 0
        with self.sessions.begin() as s:
            for p in pairs:
                row = None
                if p.external_id:
                    row = s.scalars(
                        select(QAPair).where(QAPair.external_id == p.external_id)
                    ).first()
                if row is None:
                    s.add(
                        QAPair(
                            external_id=p.external_id,
                            question=p.question,
                            answer=p.answer,
                            intent=p.intent,
                            source=p.source,
                        )
                    )
                    added += 1
                elif (row.question, row.answer, row.intent) != (p.question, p.answer, p.intent):
                    row.question, row.answer, row.intent = p.question, p.answer, p.intent
                    row.updated_at = utcnow()
                    updated += 1
        return added, updated

    def approved_pairs(self) -> list[QAPair]:
        with self.sessions() as s:
            return list(s.scalars(select(QAPair).where(QAPair.approved).order_by(QAPair.id)).all())

    def count_pairs(self) -> int:
        with self.sessions() as s:
            return int(s.execute(select(func.count(QAPair.id))).scalar_one())

    def count_turns(self) -> int:
        with self.sessions() as s:
            return int(s.execute(select(func.count(Turn.id))).scalar_one())

    # labels (agents' corrections) ----------------------------------------------------
    def add_label(self, turn_id: int, task: str, label: str, author: str) -> int:
        """Record an agent's correction of a customer turn's intent or sentiment."""
        if task not in ("intents", "sentiment"):
            raise ValueError(f"unknown task {task!r}; expected intents or sentiment")
        label = label.strip()
        if not label:
            raise ValueError("label must not be empty")
        with self.sessions.begin() as s:
            turn = s.get(Turn, turn_id)
            if turn is None or turn.role != "customer":
                raise LookupError(f"no customer turn {turn_id}")
            previous = turn.intent if task == "intents" else turn.sentiment
            row = Label(turn_id=turn_id, task=task, label=label, previous=previous, author=author)
            s.add(row)
            s.flush()
            return row.id

    def labels(
        self, task: str | None = None, since: datetime | None = None
    ) -> list[dict[str, Any]]:
        """Corrections with the (redacted) turn text, newest last."""
        with self.sessions() as s:
            q = select(Label, Turn.text).join(Turn, Turn.id == Label.turn_id).order_by(Label.id)
            if task:
                q = q.where(Label.task == task)
            if since:
                q = q.where(Label.created_at >= since)
            return [
                {
                    "id": lab.id,
                    "turn_id": lab.turn_id,
                    "task": lab.task,
                    "label": lab.label,
                    "previous": lab.previous,
                    "author": lab.author,
                    "text": text_,
                    "created_at": _iso(lab.created_at),
                }
                for lab, text_ in s.execute(q).all()
            ]

    # erasure (data-subject requests: assistant/store/erasure.py) -----------------------
    def erase_conversation(self, conversation_id: str, actor: str) -> dict[str, Any] | None:
        """Delete a conversation and everything derived from it, and record in the audit
        log (without content) that `actor` did. None when the id is unknown."""
        from .erasure import erase_conversation

        with self.sessions.begin() as s:
            return erase_conversation(s, conversation_id, actor)

    def erase_customer(self, email: str, actor: str) -> list[dict[str, Any]]:
        """`erase_conversation` for every conversation in which the customer gave `email`."""
        from .erasure import conversations_of_email, erase_conversation

        with self.sessions.begin() as s:
            erased = [erase_conversation(s, c, actor) for c in conversations_of_email(s, email)]
        return [e for e in erased if e is not None]
