"""The generator interface: compose a reply from a decision, candidates and slots."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from ..policy import Decision


@dataclass(frozen=True)
class Candidate:
    """A retrieved knowledge-base answer."""

    id: int
    score: float
    answer: str
    intent: str | None


@dataclass(frozen=True)
class ReplyRequest:
    decision: Decision
    message: str
    candidates: list[Candidate]
    slots: dict[str, str]
    history: list[tuple[str, str]] = field(default_factory=list)  # (role, text)


@dataclass(frozen=True)
class Reply:
    text: str
    source_ids: list[int]  # candidates the reply used
    note: str | None = None  # why the generator deviated (e.g. "slot email missing")
    ask_slot: str | None = None  # the generator turned a missing value into a question


class Generator(Protocol):
    name: str

    def compose(self, request: ReplyRequest) -> Reply: ...
