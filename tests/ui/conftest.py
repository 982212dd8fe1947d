"""Fixtures for the ui tests.

``FakeConsoleBackend`` is an in-memory test double standing in for the service (the real
``ConsoleBackend`` is ``assistant.console_service.ConsoleService``); it holds a few canned
conversations and records the actions done to them.
"""

from __future__ import annotations

from typing import Any

import pytest

CONVERSATIONS: list[dict[str, Any]] = [
    {
        "conversation_id": "c-old",
        "status": "bot",
        "created_at": "2025-11-20T09:00:00+00:00",
        "updated_at": "2025-11-20T09:05:00+00:00",
        "messages": [
            {
                "id": 1,
                "role": "customer",
                "text": "Where is my order #1234?",
                "created_at": "2025-11-20T09:00:00+00:00",
                "intent": "order_status",
                "confidence": 0.93,
                "sentiment": "neutral",
                "sentiment_score": 0.71,
            },
            {
                "id": 2,
                "role": "bot",
                "text": "You can track it at https://harborandpine.example/orders/track",
                "created_at": "2025-11-20T09:00:01+00:00",
                "action": "answer",
                "reason": "confident match",
                "sources": [{"id": 12, "score": 0.88}],
            },
        ],
    },
    {
        "conversation_id": "c-new",
        "status": "bot",
        "created_at": "2025-11-21T10:00:00+00:00",
        "updated_at": "2025-11-21T10:01:00+00:00",
        "messages": [
            {
                "id": 3,
                "role": "customer",
                "text": "hi <img src=x onerror=alert(1)> **bold**",
                "created_at": "2025-11-21T10:00:00+00:00",
                "intent": "greeting",
                "confidence": 0.55,
                "sentiment": "positive",
                "sentiment_score": 0.9,
            },
        ],
    },
    {
        "conversation_id": "c-waiting",
        "status": "waiting_for_agent",
        "created_at": "2025-11-19T08:00:00+00:00",
        "updated_at": "2025-11-19T08:02:00+00:00",
        "messages": [
            {
                "id": 4,
                "role": "customer",
                "text": "My lamp arrived broken, I want a person",
                "created_at": "2025-11-19T08:00:00+00:00",
                "intent": "damaged_item",
                "confidence": 0.81,
                "sentiment": "negative",
                "sentiment_score": 0.95,
            },
            {
                "id": 5,
                "role": "bot",
                "text": "I'm connecting you with a member of our team.",
                "created_at": "2025-11-19T08:00:01+00:00",
                "action": "handoff",
                "reason": "customer asked for a person",
                "sources": [],
            },
            {
                "id": 6,
                "role": "agent",
                "text": "Hi, I'm Sam. Sorry about the lamp!",
                "created_at": "2025-11-19T08:02:00+00:00",
                "author": "sam",
            },
        ],
    },
]


class FakeConsoleBackend:
    """In-memory stand-in for the service (implements ui.ConsoleBackend); records actions."""

    def __init__(self, conversations: list[dict[str, Any]]) -> None:
        self._convs = {c["conversation_id"]: c for c in conversations}
        self.log: list[dict[str, Any]] = []
        self.labels: list[tuple[int, str, str, str]] = []
        self.approved: list[int] = []
        self.passwords = {"sam": "correct horse battery"}

    def authenticate(self, username: str, password: str) -> bool:
        return self.passwords.get(username) == password

    def list_conversations(self, limit: int = 100) -> list[dict[str, Any]]:
        out = []
        for conv in list(self._convs.values())[:limit]:
            msgs = conv["messages"]
            customer = [m for m in msgs if m["role"] == "customer"]
            out.append(
                {
                    "conversation_id": conv["conversation_id"],
                    "status": conv["status"],
                    "created_at": conv["created_at"],
                    "updated_at": conv["updated_at"],
                    "last_message": msgs[-1]["text"] if msgs else "",
                    "turns": len(msgs),
                    "last_intent": customer[-1].get("intent") if customer else None,
                    "last_sentiment": customer[-1].get("sentiment") if customer else None,
                    "assigned_agent": conv.get("assigned_agent"),
                }
            )
        return out

    def get_conversation(self, conversation_id: str) -> dict[str, Any] | None:
        return self._convs.get(conversation_id)

    def intents(self) -> list[str]:
        return sorted(
            {"order_status", "damaged_item", "greeting", *(lab[2] for lab in self.labels)}
        )

    def actions(self, conversation_id: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        rows = [a for a in self.log if conversation_id in (None, a["conversation_id"])]
        return rows[-limit:]

    def analytics(self, days: int | None = 30) -> dict[str, Any]:
        return {
            "since": None,
            "per_day": [{"day": "2025-11-19", "conversations": 1}],
            "deflection": {"closed": 2, "closed_without_agent": 1, "deflection_rate": 0.5},
            "handoffs": {
                "conversations": 3,
                "handed_off": 1,
                "handoff_rate": 1 / 3,
                "reasons": [{"reason": "customer asked for a person", "count": 1}],
            },
            "intents": [{"intent": "order_status", "turns": 1}],
            "sentiment": [{"day": "2025-11-19", "sentiment": "negative", "turns": 1}],
            "low_confidence": [{"intent": "greeting", "mean_confidence": 0.55, "turns": 1}],
        }

    def _record(self, agent: str, action: str, cid: str | None, turn: int | None = None) -> None:
        if not agent:
            raise ValueError("log in to act on conversations")
        self.log.append(
            {
                "agent": agent,
                "action": action,
                "conversation_id": cid,
                "turn_id": turn,
                "details": {},
                "created_at": "2025-11-21T10:05:00+00:00",
            }
        )

    def _conv(self, cid: str) -> dict[str, Any]:
        if cid not in self._convs:
            raise LookupError(f"no conversation {cid!r}")
        return self._convs[cid]

    def take_over(self, conversation_id: str, agent: str) -> None:
        self._conv(conversation_id).update(status="agent", assigned_agent=agent)
        self._record(agent, "take_over", conversation_id)

    def hand_back(self, conversation_id: str, agent: str) -> None:
        self._conv(conversation_id)["status"] = "bot"
        self._record(agent, "hand_back", conversation_id)

    def close(self, conversation_id: str, agent: str) -> None:
        self._conv(conversation_id)["status"] = "closed"
        self._record(agent, "close", conversation_id)

    def send(self, conversation_id: str, agent: str, text: str) -> int:
        if not text.strip():
            raise ValueError("the reply is empty")
        conv = self._conv(conversation_id)
        turn_id = 100 + len(self.log)
        conv["messages"].append({"id": turn_id, "role": "agent", "text": text, "author": agent})
        conv.update(status="agent", assigned_agent=agent)
        self._record(agent, "send", conversation_id, turn_id)
        return turn_id

    def correct_intent(self, turn_id: int, agent: str, intent: str) -> str:
        name = intent.strip().lower().replace(" ", "_")
        self.labels.append((turn_id, "intents", name, agent))
        self._record(agent, "correct_intent", None, turn_id)
        return name

    def correct_sentiment(self, turn_id: int, agent: str, sentiment: str) -> None:
        self.labels.append((turn_id, "sentiment", sentiment, agent))
        self._record(agent, "correct_sentiment", None, turn_id)

    def approve_answer(self, turn_id: int, agent: str) -> int:
        self.approved.append(turn_id)
        self._record(agent, "approve_answer", None, turn_id)
        return 500 + len(self.approved)


@pytest.fixture
def fake_backend() -> FakeConsoleBackend:
    return FakeConsoleBackend([dict(c) for c in CONVERSATIONS])
