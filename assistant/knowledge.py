"""Knowledge-base operations shared by the CLI, the demo and the service."""

from __future__ import annotations

import logging
from pathlib import Path

from .records import DataFileError, iter_records
from .settings import Settings
from .store import NewPair, Store

log = logging.getLogger(__name__)


def read_pairs(
    path: Path,
    question_column: str = "question",
    answer_column: str = "answer",
    intent_column: str | None = "intent",
    id_column: str | None = "id",
    source: str = "import",
) -> list[NewPair]:
    """Q&A pairs from a CSV/JSONL file; placeholders (``{slot}``, ``{{Slot}}``) are kept."""
    pairs = []
    for line, row in iter_records(path, required=(question_column, answer_column)):
        question = str(row[question_column] or "").strip()
        answer = str(row[answer_column] or "").strip()
        if not question or not answer:
            raise DataFileError(f"{path}:{line}: empty {question_column} or {answer_column}")
        intent = str(row.get(intent_column) or "").strip() or None if intent_column else None
        ext = str(row.get(id_column) or "").strip() or None if id_column else None
        pairs.append(NewPair(question, answer, intent, ext or f"{Path(path).name}:{line}", source))
    return pairs


def rebuild_index(settings: Settings, store: Store) -> int:
    """Re-encode every approved pair from SQL and save a fresh index. Returns its size."""
    from retrieval import KnowledgeBase, QAPair, SentenceEncoder

    encoder = SentenceEncoder(settings.encoder_path)
    kb = KnowledgeBase(encoder)
    kb.build([QAPair(p.id, p.question, p.answer, p.intent) for p in store.approved_pairs()])
    kb.save(settings.index_dir)
    log.info("index rebuilt at %s with %d pairs", settings.index_dir, len(kb))
    return len(kb)
