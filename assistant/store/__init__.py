"""SQL storage (SQLAlchemy 2): conversations, turns, knowledge-base pairs."""

from .db import init_db, make_engine

# more table modules: import yours here so init_db creates their tables
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
