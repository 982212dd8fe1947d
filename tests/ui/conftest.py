"""Fixtures for the ui tests.

``FakeConsoleBackend`` is an in-memory test double standing in for the service's store
(the real ``ConsoleBackend`` lives in ``assistant``); it holds a few canned conversations.
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
    """In-memory stand-in for the service's store (implements ui.ConsoleBackend)."""

    def __init__(self, conversations: list[dict[str, Any]]) -> None:
        self._convs = {c["conversation_id"]: c for c in conversations}

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
                }
            )
        return out

    def get_conversation(self, conversation_id: str) -> dict[str, Any] | None:
        return self._convs.get(conversation_id)


@pytest.fixture
def fake_backend() -> FakeConsoleBackend:
    return FakeConsoleBackend([dict(c) for c in CONVERSATIONS])
