"""Training sets from logged conversations: `assistant data export`.

Per task (intents, sentiment) the rows are:
- agents' corrections (the `labels` table): always; the latest correction of a turn wins;
- with `include_bot_labels`, the bot's own label of customer turns in conversations that
  ended without a handoff (no bot turn with action "handoff", not with an agent) when the
  bot was confident (>= `min_confidence`) and not out of scope.
An agent's label beats the bot's for the same text. Texts are redacted again (they were
redacted on write) and de-duplicated on a normalised form (case, spaces). Then a
stratified train / val / test split, and a data card (`card.json` + `README.md`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import aliased

from assistant.redact import redact
from assistant.store import Conversation, Store, Turn

from .data import Example, stratified_split
from .registry import TASKS, now_iso, write_examples

log = logging.getLogger(__name__)

OUT_OF_SCOPE = "out_of_scope"  # intents.OUT_OF_SCOPE, without importing torch
SPLITS = ("train", "val", "test")
FRACTIONS = (0.8, 0.1, 0.1)
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class LabelledTurn:
    text: str
    label: str
    source: str  # "agent" | "bot"
    turn_id: int
    created_at: str | None


@dataclass
class ExportedSet:
    task: str
    train: list[Example]
    val: list[Example]
    test: list[Example]
    card: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.train) + len(self.val) + len(self.test)


def normalise(text: str) -> str:
    return _WS.sub(" ", text.casefold()).strip()


def data_hash(examples: Sequence[Example]) -> str:
    """sha256 (16 hex digits) of the sorted (text, label) rows: same data, same hash."""
    digest = hashlib.sha256()
    for text, label in sorted((ex.text, ex.label) for ex in examples):
        digest.update(f"{text}\t{label}\n".encode())
    return digest.hexdigest()[:16]


def agent_labels(store: Store, task: str, since: datetime | None = None) -> list[LabelledTurn]:
    """Agents' corrections; when a turn was corrected several times, the latest wins."""
    latest: dict[int, dict[str, Any]] = {}
    for row in store.labels(task, since):
        latest[row["turn_id"]] = row
    return [
        LabelledTurn(r["text"], r["label"], "agent", r["turn_id"], r["created_at"])
        for r in latest.values()
    ]


def bot_labels(
    store: Store, task: str, since: datetime | None = None, min_confidence: float = 0.9
) -> list[LabelledTurn]:
    """The bot's labels of customer turns in conversations that ended without a handoff."""
    label_col = Turn.intent if task == "intents" else Turn.sentiment
    score_col = Turn.confidence if task == "intents" else Turn.sentiment_score
    reply = aliased(Turn)
    handoff = (
        select(reply.id)
        .where(reply.conversation_id == Conversation.id)
        .where(reply.role == "bot", reply.action == "handoff")
    )
    q = (
        select(Turn.id, Turn.text, label_col, Turn.created_at)
        .join(Conversation, Conversation.id == Turn.conversation_id)
        .where(Turn.role == "customer", label_col.is_not(None), score_col >= min_confidence)
        .where(label_col != OUT_OF_SCOPE)
        .where(Conversation.status.in_(("bot", "closed")), ~exists(handoff))
        .order_by(Turn.id)
    )
    if since is not None:
        q = q.where(Turn.created_at >= since)
    with store.sessions() as s:
        return [
            LabelledTurn(text, str(label), "bot", id_, _iso(created))
            for id_, text, label, created in s.execute(q).all()
        ]


def build_set(task: str, rows: Sequence[LabelledTurn], seed: int = 0) -> ExportedSet:
    """Redact, de-duplicate (agent labels first, then the latest), split, describe."""
    ordered = sorted(rows, key=lambda r: (r.source == "agent", r.turn_id))
    chosen: dict[str, LabelledTurn] = {}
    for row in ordered:  # later rows win: agents over the bot, newer over older
        label = "oos" if task == "intents" and row.label == OUT_OF_SCOPE else row.label
        clean = redact(row.text).strip()
        if clean:
            chosen[normalise(clean)] = LabelledTurn(
                clean, label, row.source, row.turn_id, row.created_at
            )
    kept = sorted(chosen.values(), key=lambda r: r.turn_id)
    examples = [Example(r.text, r.label) for r in kept]
    if examples:
        train, val, test = stratified_split(examples, FRACTIONS, seed)
    else:
        train, val, test = [], [], []
    dates = sorted(r.created_at for r in kept if r.created_at)
    card = {
        "task": task,
        "generated_at": now_iso(),
        "rows": len(examples),
        "duplicates_removed": len(rows) - len(kept),
        "sources": dict(Counter(r.source for r in kept)),
        "date_range": [dates[0], dates[-1]] if dates else None,
        "labels": {
            label: {
                name: sum(ex.label == label for ex in part)
                for name, part in zip(SPLITS, (train, val, test), strict=True)
            }
            for label in sorted({ex.label for ex in examples})
        },
        "splits": {"train": len(train), "val": len(val), "test": len(test)},
        "data_hash": data_hash(examples),
        "pii": "texts redacted with assistant.redact (emails, cards, IBANs, phones)",
    }
    return ExportedSet(task, list(train), list(val), list(test), card)


def export_task(
    store: Store,
    task: str,
    *,
    since: datetime | None = None,
    include_bot_labels: bool = False,
    min_confidence: float = 0.9,
    seed: int = 0,
) -> ExportedSet:
    rows = agent_labels(store, task, since)
    if include_bot_labels:
        corrected = {r.turn_id for r in rows}
        rows += [
            r for r in bot_labels(store, task, since, min_confidence) if r.turn_id not in corrected
        ]
    dataset = build_set(task, rows, seed)
    dataset.card.update(since=_iso(since), include_bot_labels=include_bot_labels)
    log.info(
        "%s: exported %d rows (%s), %d duplicates removed",
        task,
        dataset.size,
        ", ".join(f"{k} {v}" for k, v in dataset.card["sources"].items()) or "none",
        dataset.card["duplicates_removed"],
    )
    return dataset


def write_set(dataset: ExportedSet, out_dir: Path) -> Path:
    """`out_dir/{task}/`: train.jsonl, val.jsonl, test.jsonl, card.json, README.md."""
    folder = Path(out_dir) / dataset.task
    folder.mkdir(parents=True, exist_ok=True)
    for name, part in zip(SPLITS, (dataset.train, dataset.val, dataset.test), strict=True):
        write_examples(folder / f"{name}.jsonl", part)
    (folder / "card.json").write_text(json.dumps(dataset.card, indent=2) + "\n", encoding="utf-8")
    (folder / "README.md").write_text(card_markdown(dataset.card), encoding="utf-8")
    return folder


def export_all(
    store: Store,
    out_dir: Path | None,
    tasks: Sequence[str] = TASKS,
    **options: Any,
) -> dict[str, ExportedSet]:
    """Export each task; write the files when `out_dir` is given."""
    sets = {task: export_task(store, task, **options) for task in tasks}
    if out_dir is not None:
        for dataset in sets.values():
            write_set(dataset, out_dir)
    return sets


def card_markdown(card: dict[str, Any]) -> str:
    lines = [
        f"# Data card: {card['task']}",
        "",
        f"- generated: {card['generated_at']}",
        f"- rows: {card['rows']} (train {card['splits']['train']}, val {card['splits']['val']}, "
        f"test {card['splits']['test']}); duplicates removed: {card['duplicates_removed']}",
        f"- sources: {json.dumps(card['sources'])}",
        f"- date range: {card['date_range'] or 'n/a'}; since: {card.get('since') or 'all time'}",
        f"- data hash: {card['data_hash']}",
        f"- PII: {card['pii']}",
        "",
        "| label | train | val | test |",
        "| --- | --- | --- | --- |",
    ]
    for label, counts in card["labels"].items():
        lines.append(f"| {label} | {counts['train']} | {counts['val']} | {counts['test']} |")
    return "\n".join(lines) + "\n"


def _iso(ts: datetime | None) -> str | None:
    if ts is None:
        return None
    return (ts if ts.tzinfo else ts.replace(tzinfo=UTC)).isoformat()
