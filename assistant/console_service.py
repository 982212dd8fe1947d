"""What the agent console does, over the store and the live engine (``ui.ConsoleBackend``).

Every action takes the logged-in agent's name and writes an audit row
(:class:`assistant.store.agents.AgentAction`); agent turns and labels carry the name too.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import select

from . import analytics
from .policy import OUT_OF_SCOPE
from .settings import Settings
from .store import Conversation, Label, QAPair, Store, Turn
from .store.agents import Agents

__all__ = ["ActionError", "ConsoleService", "SENTIMENTS"]

log = logging.getLogger(__name__)

SENTIMENTS = ("negative", "neutral", "positive")
_INTENT_NAME = re.compile(r"^[a-z0-9][a-z0-9_]{0,63}$")


class ActionError(ValueError):
    """The action cannot be done (the message says why, for the agent)."""


class EngineLike(Protocol):
    @property
    def models(self) -> Any: ...
    @property
    def catalog(self) -> Any: ...


class ServicesLike(Protocol):
    """``assistant.api.deps.Services``: the engine is set at start-up, after the console."""

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> Store: ...
    @property
    def engine(self) -> Any: ...


@runtime_checkable
class WritableKnowledge(Protocol):
    def __contains__(self, id_: object) -> bool: ...
    def add(self, pairs: Any) -> None: ...
    def update(self, pairs: Any) -> None: ...
    def save(self, folder: str | Path) -> Path: ...


def normalise_intent(name: str) -> str:
    """``"Gift Wrap "`` -> ``"gift_wrap"``; raises ActionError for an unusable name."""
    slug = re.sub(r"[\s\-]+", "_", name.strip().lower())
    if not _INTENT_NAME.match(slug):
        raise ActionError(
            "an intent name is 1-64 lower-case letters, digits or underscores, e.g. gift_wrap"
        )
    return slug


class ConsoleService:
    """The console's backend: queue, conversation view, agent actions, teaching, analytics."""

    def __init__(self, services: ServicesLike) -> None:
        self._services = services
        self.agents = Agents(services.store.engine)
        self._kb_lock = threading.Lock()

    @property
    def store(self) -> Store:
        return self._services.store

    @property
    def settings(self) -> Settings:
        return self._services.settings

    def _engine(self) -> Any:
        engine = self._services.engine
        if engine is None:
            raise ActionError("the models are still loading; try again in a moment")
        return engine

    # login -----------------------------------------------------------------------
    def authenticate(self, username: str, password: str) -> bool:
        ok = self.agents.authenticate(username, password)
        if not ok:
            log.warning("console login failed for %r", username[:64])
        return ok

    # reading ---------------------------------------------------------------------
    def list_conversations(self, limit: int = 100) -> list[dict[str, Any]]:
        """The queue: the store's list plus assignment and the last customer sentiment score."""
        convs = self.store.list_conversations(limit=limit)
        ids = [c["conversation_id"] for c in convs]
        if not ids:
            return convs
        with self.store.sessions() as s:
            last_customer = (
                select(Turn.conversation_id, Turn.sentiment_score, Turn.id)
                .where(Turn.conversation_id.in_(ids), Turn.role == "customer")
                .order_by(Turn.id)
            )
            scores = {cid: score for cid, score, _ in s.execute(last_customer)}
            assigned = dict(
                s.execute(
                    select(Conversation.id, Conversation.assigned_agent).where(
                        Conversation.id.in_(ids)
                    )
                ).all()
            )
        for conv in convs:
            cid = conv["conversation_id"]
            conv["last_sentiment_score"] = scores.get(cid)
            conv["assigned_agent"] = assigned.get(cid)
        return convs

    def get_conversation(self, conversation_id: str) -> dict[str, Any] | None:
        """The store's view plus, per customer turn, its suggestion and corrections; and
        ``suggestion``: the draft for the latest customer turn not answered by an agent."""
        conv = self.store.get_conversation(conversation_id)
        if conv is None:
            return None
        messages = conv["messages"]
        customer_ids = [m["id"] for m in messages if m["role"] == "customer"]
        with self.store.sessions() as s:
            details: dict[int, Any] = dict(
                s.execute(select(Turn.id, Turn.details).where(Turn.id.in_(customer_ids))).all()
            )
            labels = s.execute(
                select(Label.turn_id, Label.task, Label.label, Label.author)
                .where(Label.turn_id.in_(customer_ids))
                .order_by(Label.id)
            ).all()
        corrected: dict[int, dict[str, Any]] = {}
        for turn_id, task, label, author in labels:
            corrected.setdefault(turn_id, {})[task] = {"label": label, "author": author}
        suggestion = ""
        for msg in messages:
            if msg["role"] == "customer":
                draft = (details.get(msg["id"]) or {}).get("suggestion") or {}
                msg["suggestion"] = draft.get("text") if isinstance(draft, dict) else None
                msg["corrected"] = corrected.get(msg["id"], {})
                suggestion = msg["suggestion"] or ""
            elif msg["role"] == "agent":
                suggestion = ""  # the latest question was answered by an agent
        conv["suggestion"] = suggestion
        conv["approved_turns"] = self._approved_turns(conversation_id)
        return conv

    def intents(self) -> list[str]:
        """Known intent names: the catalog, the classifier's labels and agents' new names."""
        names: set[str] = set()
        engine = self._services.engine
        if engine is not None:
            names |= set(getattr(engine.catalog, "intents", {}) or {})
            names |= set(getattr(engine.models.intent, "labels", []) or [])
        with self.store.sessions() as s:
            names |= set(s.scalars(select(Label.label).where(Label.task == "intents").distinct()))
        return sorted(names)

    def actions(self, conversation_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """The audit log (oldest first), optionally for one conversation."""
        return self.agents.actions(conversation_id=conversation_id, limit=limit)

    def analytics(self, days: int | None = 30) -> dict[str, Any]:
        return analytics.overview(self.store.engine, days=days)

    # conversation actions ----------------------------------------------------------
    def _status(self, conversation_id: str, agent: str, status: str, action: str) -> None:
        agent = self._agent(agent)
        before = self._require(conversation_id)
        self.store.set_status(conversation_id, status, agent if status == "agent" else None)
        self.agents.record(agent, action, conversation_id, details={"from": before["status"]})

    def take_over(self, conversation_id: str, agent: str) -> None:
        """The agent owns the conversation: the bot stops replying and only drafts."""
        self._status(conversation_id, agent, "agent", "take_over")

    def hand_back(self, conversation_id: str, agent: str) -> None:
        """The bot answers again."""
        self._status(conversation_id, agent, "bot", "hand_back")

    def close(self, conversation_id: str, agent: str) -> None:
        self._status(conversation_id, agent, "closed", "close")

    def send(self, conversation_id: str, agent: str, text: str) -> int:
        """Send the agent's reply (the conversation becomes the agent's). Returns the turn id."""
        agent = self._agent(agent)
        text = text.strip()
        if not text:
            raise ActionError("the reply is empty")
        if len(text) > self.settings.max_message_chars:
            raise ActionError(f"the reply is longer than {self.settings.max_message_chars} chars")
        conv = self._require(conversation_id)
        if conv["status"] == "closed":
            raise ActionError("the conversation is closed")
        turn_id = self.store.add_agent_message(conversation_id, agent, text)
        self.agents.record(agent, "send", conversation_id, turn_id, {"chars": len(text)})
        return turn_id

    # teaching --------------------------------------------------------------------
    def correct_intent(self, turn_id: int, agent: str, intent: str) -> str:
        """Label a customer turn with the right intent (a known or a NEW name). Returns it."""
        agent = self._agent(agent)
        name = normalise_intent(intent)
        conversation_id = self._customer_turn(turn_id).conversation_id
        known = name in self.intents()
        self.store.add_label(turn_id, "intents", name, agent)
        self.agents.record(
            agent, "correct_intent", conversation_id, turn_id, {"label": name, "new": not known}
        )
        return name

    def correct_sentiment(self, turn_id: int, agent: str, sentiment: str) -> None:
        agent = self._agent(agent)
        if sentiment not in SENTIMENTS:
            raise ActionError(f"sentiment must be one of {', '.join(SENTIMENTS)}")
        conversation_id = self._customer_turn(turn_id).conversation_id
        self.store.add_label(turn_id, "sentiment", sentiment, agent)
        self.agents.record(
            agent, "correct_sentiment", conversation_id, turn_id, {"label": sentiment}
        )

    def approve_answer(self, turn_id: int, agent: str) -> int:
        """Add an agent's answer to the knowledge base, indexed at once. Returns the pair id.

        Question: the customer turn it answered (the latest before it); intent: the agents'
        latest correction of that turn, else the predicted intent (none when out of scope).
        """
        agent = self._agent(agent)
        engine = self._engine()
        knowledge = engine.models.knowledge
        if not isinstance(knowledge, WritableKnowledge):
            raise ActionError("the live knowledge base cannot be updated")
        with self.store.sessions.begin() as s:
            answer = s.get(Turn, turn_id)
            if answer is None or answer.role != "agent":
                raise ActionError(f"turn {turn_id} is not an agent's message")
            question = s.scalars(
                select(Turn)
                .where(
                    Turn.conversation_id == answer.conversation_id,
                    Turn.role == "customer",
                    Turn.id < answer.id,
                )
                .order_by(Turn.id.desc())
                .limit(1)
            ).first()
            if question is None:
                raise ActionError("no customer message before this answer")
            external_id = f"agent-turn:{turn_id}"
            if s.scalars(select(QAPair.id).where(QAPair.external_id == external_id)).first():
                raise ActionError("this answer is already in the knowledge base")
            corrected = s.scalars(
                select(Label.label)
                .where(Label.turn_id == question.id, Label.task == "intents")
                .order_by(Label.id.desc())
                .limit(1)
            ).first()
            intent = corrected or question.intent
            if intent == OUT_OF_SCOPE:
                intent = None
            pair = QAPair(
                external_id=external_id,
                question=question.text,
                answer=answer.text,
                intent=intent,
                source="agent",
                approved=True,
            )
            s.add(pair)
            s.flush()
            pair_id, conversation_id = pair.id, answer.conversation_id
            question_text, answer_text = question.text, answer.text
        self._index(knowledge, pair_id, question_text, answer_text, intent)
        self.agents.record(
            agent,
            "approve_answer",
            conversation_id,
            turn_id,
            {"pair_id": pair_id, "intent": intent},
        )
        return pair_id

    def _index(
        self, knowledge: WritableKnowledge, pair_id: int, q: str, a: str, intent: str | None
    ) -> None:
        from retrieval import QAPair as KBPair

        pair = KBPair(pair_id, q, a, intent)
        with self._kb_lock:
            if pair_id in knowledge:  # an index out of step with SQL: SQL wins
                knowledge.update([pair])
            else:
                knowledge.add([pair])
            knowledge.save(self.settings.index_dir)

    # helpers ---------------------------------------------------------------------
    @staticmethod
    def _agent(agent: str | None) -> str:
        name = (agent or "").strip()
        if not name:
            raise ActionError("log in to act on conversations")
        return name

    def _require(self, conversation_id: str) -> dict[str, Any]:
        conv = self.store.get_conversation(conversation_id) if conversation_id else None
        if conv is None:
            raise ActionError(f"no conversation {conversation_id!r}")
        return conv

    def _customer_turn(self, turn_id: int) -> Turn:
        with self.store.sessions() as s:
            turn = s.get(Turn, turn_id)
        if turn is None or turn.role != "customer":
            raise ActionError(f"turn {turn_id} is not a customer's message")
        return turn

    def _approved_turns(self, conversation_id: str) -> list[int]:
        prefix = "agent-turn:"
        with self.store.sessions() as s:
            rows = s.execute(
                select(Turn.id)
                .where(Turn.conversation_id == conversation_id, Turn.role == "agent")
                .order_by(Turn.id)
            ).scalars()
            ids = [f"{prefix}{i}" for i in rows]
            if not ids:
                return []
            found = s.scalars(select(QAPair.external_id).where(QAPair.external_id.in_(ids)))
            return sorted(int(str(e).removeprefix(prefix)) for e in found)
