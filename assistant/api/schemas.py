"""Request and response shapes of the public HTTP API (see DESIGN.md)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str | None = Field(
        default=None, max_length=64, description="Omit to start a new conversation."
    )
    message: str = Field(description="The customer's message (1 to 4,000 characters).")

    @field_validator("message")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("message must not be empty")
        return v

    @field_validator("message", "conversation_id")
    @classmethod
    def _encodable(cls, v: str | None) -> str | None:
        # JSON may carry lone surrogates ("\ud800"); they are not text and cannot be stored
        if v is not None:
            try:
                v.encode("utf-8")
            except UnicodeEncodeError as e:
                raise ValueError(f"not valid Unicode text (lone surrogate at {e.start})") from e
        return v


class IntentOut(BaseModel):
    name: str
    confidence: float


class SentimentOut(BaseModel):
    label: str
    score: float


class SourceOut(BaseModel):
    id: int
    score: float


class ChatResponse(BaseModel):
    conversation_id: str
    reply: str
    action: Literal["answer", "clarify", "handoff"]
    intent: IntentOut
    sentiment: SentimentOut
    sources: list[SourceOut]
    turn_id: int
    quick_replies: list[str] = []
    status: str
    reason: str
