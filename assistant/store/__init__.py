"""SQL storage (SQLAlchemy 2): conversations, turns, knowledge-base pairs."""

# more table modules: import yours here so init_db creates their tables
from . import locks  # noqa: F401  (the `locks` table: training/schedule.py)
from .agents import Agent, AgentAction  # noqa: F401  (console: agents, audit log)
from .db import init_db, make_engine
from .integrations import ApiKey, OutboxEvent, WebhookSubscription  # noqa: F401  (webhooks)
from .models import Base, Conversation, Label, QAPair, Turn
from .repository import (
    STATUSES,
    BotTurn,
    ConversationState,
    CustomerTurn,
    NewPair,
    Recorded,
    Store,
    UnknownConversation,
)

__all__ = [
    "STATUSES",
    "Base",
    "BotTurn",
    "Conversation",
    "Label",
    "ConversationState",
    "CustomerTurn",
    "NewPair",
    "QAPair",
    "Recorded",
    "Store",
    "Turn",
    "UnknownConversation",
    "init_db",
    "make_engine",
]
