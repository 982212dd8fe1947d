"""SQL storage (SQLAlchemy 2): conversations, turns, knowledge-base pairs."""

from .db import init_db, make_engine
from .models import Base, Conversation, QAPair, Turn
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
