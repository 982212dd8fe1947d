"""SQL tables: conversations, turns, knowledge-base pairs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_conversation_id() -> str:
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_conversation_id)
    status: Mapped[str] = mapped_column(String(32), default="bot", index=True)
    channel: Mapped[str] = mapped_column(String(32), default="web")
    slots: Mapped[dict[str, Any]] = mapped_column(default=dict)  # order_number, email, ...
    state: Mapped[dict[str, Any]] = mapped_column(default=dict)  # pending intent, streaks
    assigned_agent: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, index=True
    )

    turns: Mapped[list[Turn]] = relationship(
        back_populates="conversation", order_by="Turn.id", cascade="all, delete-orphan"
    )


class Turn(Base):
    """One message: a customer's (with its analysis), the bot's reply, or an agent's."""

    __tablename__ = "turns"
    __table_args__ = (Index("ix_turns_conversation", "conversation_id", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(ForeignKey("conversations.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))  # customer | bot | agent
    text: Mapped[str] = mapped_column(Text)
    reply_to: Mapped[int | None] = mapped_column(ForeignKey("turns.id"), default=None)
    # customer turns
    intent: Mapped[str | None] = mapped_column(String(128), default=None)
    confidence: Mapped[float | None] = mapped_column(Float, default=None)
    sentiment: Mapped[str | None] = mapped_column(String(16), default=None)
    sentiment_score: Mapped[float | None] = mapped_column(Float, default=None)
    entities: Mapped[list[Any]] = mapped_column(default=list)
    # bot turns
    action: Mapped[str | None] = mapped_column(String(16), default=None)
    reason: Mapped[str | None] = mapped_column(String(255), default=None)
    sources: Mapped[list[Any]] = mapped_column(default=list)
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # agents
    author: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="turns")


class QAPair(Base):
    """A knowledge-base pair: a customer question and the answer agents gave."""

    __tablename__ = "qa_pairs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    external_id: Mapped[str | None] = mapped_column(String(128), unique=True, default=None)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    intent: Mapped[str | None] = mapped_column(String(128), index=True, default=None)
    source: Mapped[str] = mapped_column(String(64), default="import")
    approved: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Label(Base):
    """An agent's correction of a customer turn: the label retraining learns from."""

    __tablename__ = "labels"
    __table_args__ = (Index("ix_labels_task_created", "task", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    turn_id: Mapped[int] = mapped_column(ForeignKey("turns.id", ondelete="CASCADE"), index=True)
    task: Mapped[str] = mapped_column(String(16))  # intents | sentiment
    label: Mapped[str] = mapped_column(String(128))
    previous: Mapped[str | None] = mapped_column(String(128), default=None)
    author: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
