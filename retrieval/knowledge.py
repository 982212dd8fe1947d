"""Knowledge base of historical Q&A pairs searched by meaning over their questions."""

from __future__ import annotations

import hashlib
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from retrieval.index import (
    IndexCorruptError,
    IndexMismatchError,
    VectorIndex,
    _atomic_write,
)

if TYPE_CHECKING:
    from retrieval.encoder import SentenceEncoder

log = logging.getLogger(__name__)

TEXTS_FILE = "texts.npy"  # sidecar: (id, 64-bit hash of the embedded text) per indexed pair
# open() syncs a saved index incrementally when at most this fraction of pairs changed.
SYNC_MAX_FRACTION = 0.5


@dataclass(frozen=True)
class QAPair:
    id: int
    question: str
    answer: str
    intent: str | None = None


@dataclass(frozen=True)
class Hit:
    id: int
    score: float
    question: str
    answer: str
    intent: str | None


_WS = re.compile(r"\s+")


def normalise_answer(text: str) -> str:
    """Lower case, single spaces, no surrounding spaces or trailing punctuation."""
    return _WS.sub(" ", text.casefold()).strip().rstrip(".!?…").strip()


def _text_hash(text: str) -> int:
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


class KnowledgeBase:
    """Q&A pairs in memory (id -> QAPair) and a VectorIndex over their question vectors.

    Ranking is plain cosine similarity between the query and the questions: on Bitext,
    kNN intent voting, BM25 fusion, intent-centroid re-scoring and answer vectors did not
    measurably beat it (bench/retrieval_quality.py, bench/RESULTS.md).
    """

    def __init__(self, encoder: SentenceEncoder, *, kind: str = "auto") -> None:
        self.encoder = encoder
        self.kind = kind
        self._pairs: dict[int, QAPair] = {}
        self._by_intent: dict[str, set[int]] = defaultdict(set)
        self._index = VectorIndex(encoder.dim, kind=kind)

    # ---------------------------------------------------------------- content
    def __len__(self) -> int:
        return len(self._pairs)

    def __contains__(self, id_: object) -> bool:
        return id_ in self._pairs

    def get(self, id_: int) -> QAPair | None:
        return self._pairs.get(id_)

    def pairs(self) -> list[QAPair]:
        return [self._pairs[i] for i in sorted(self._pairs)]

    def intents(self) -> dict[str, int]:
        """Number of pairs per intent."""
        return {name: len(ids) for name, ids in self._by_intent.items() if ids}

    @property
    def index(self) -> VectorIndex:
        return self._index

    @staticmethod
    def embedded_text(pair: QAPair) -> str:
        """The text whose vector represents the pair in the index."""
        return pair.question

    def _encode(self, pairs: Sequence[QAPair]) -> np.ndarray:
        texts = [self.embedded_text(p) for p in pairs]
        return self.encoder.encode(texts, show_progress=len(texts) > 5000)

    def _remember(self, pairs: Iterable[QAPair]) -> None:
        for p in pairs:
            old = self._pairs.get(p.id)
            if old is not None and old.intent is not None:
                self._by_intent[old.intent].discard(p.id)
            self._pairs[p.id] = p
            if p.intent is not None:
                self._by_intent[p.intent].add(p.id)

    def _forget(self, ids: Iterable[int]) -> None:
        for id_ in ids:
            old = self._pairs.pop(id_, None)
            if old is not None and old.intent is not None:
                self._by_intent[old.intent].discard(id_)

    @staticmethod
    def _unique(pairs: Iterable[QAPair]) -> list[QAPair]:
        pairs = list(pairs)
        ids = [p.id for p in pairs]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate pair ids")
        return pairs

    def build(self, pairs: Iterable[QAPair]) -> None:
        """Replace the whole content with `pairs`."""
        pairs = self._unique(pairs)
        vectors = self._encode(pairs)
        self._pairs, self._by_intent = {}, defaultdict(set)
        self._index = VectorIndex(self.encoder.dim, kind=self.kind)
        self._index.add([p.id for p in pairs], vectors)
        self._remember(pairs)
        log.info("built knowledge base: %d pairs, %s index", len(pairs), self._index.kind)

    def add(self, pairs: Iterable[QAPair]) -> None:
        """Add new pairs; raises ValueError when an id is already present (use update)."""
        pairs = self._unique(pairs)
        present = [p.id for p in pairs if p.id in self._pairs]
        if present:
            raise ValueError(f"pairs already in the knowledge base (use update): {present[:10]}")
        self._index.add([p.id for p in pairs], self._encode(pairs))
        self._remember(pairs)
        log.info("added %d pairs (now %d)", len(pairs), len(self))

    def remove(self, ids: Iterable[int]) -> int:
        """Remove pairs by id (unknown ids are ignored); returns how many were removed."""
        ids = [i for i in ids if i in self._pairs]
        self._index.remove(ids)
        self._forget(ids)
        if ids:
            log.info("removed %d pairs (now %d)", len(ids), len(self))
        return len(ids)

    def update(self, pairs: Iterable[QAPair]) -> None:
        """Replace pairs by id (new ids are added); re-encodes only when the question changed."""
        pairs = self._unique(pairs)
        changed = [
            p
            for p in pairs
            if p.id not in self._pairs
            or self.embedded_text(self._pairs[p.id]) != self.embedded_text(p)
        ]
        if changed:
            self._index.update([p.id for p in changed], self._encode(changed))
        self._remember(pairs)
        log.info("updated %d pairs (%d re-encoded)", len(pairs), len(changed))

    # ----------------------------------------------------------------- search
    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        """Vectors for `search(..., query_vector=)`: one encoder pass for many queries."""
        return self.encoder.encode(list(queries))

    def search(
        self,
        query: str,
        k: int = 5,
        intent: str | None = None,
        query_vector: np.ndarray | None = None,
    ) -> list[Hit]:
        """The k best pairs for `query`, best first, near-duplicate answers collapsed.

        `intent` restricts the search to that intent's pairs, or searches everything when the
        intent has none. Pass `query_vector` (from the same encoder) to skip encoding.
        """
        if k <= 0 or not self._pairs:
            return []
        if query_vector is None:
            query_vector = self.encoder.encode([query])[0]
        qv = np.asarray(query_vector, dtype=np.float32).reshape(1, -1)
        allowed: set[int] | None = None
        if intent is not None:
            allowed = self._by_intent.get(intent) or None
            if allowed is None:
                log.debug("no pairs for intent %r: searching the whole knowledge base", intent)
        fetch = max(4 * k, 16)  # extra candidates for the ones collapsed as duplicates
        total = len(allowed) if allowed is not None else len(self)
        while True:
            raw = self._index.search(qv, min(fetch, total), allowed_ids=allowed)[0]
            hits = self._collapse(raw, k)
            if len(hits) >= k or len(raw) >= total:
                return hits
            fetch *= 4

    def _collapse(self, raw: list[tuple[int, float]], k: int) -> list[Hit]:
        seen: set[str] = set()
        hits: list[Hit] = []
        for id_, score in raw:
            pair = self._pairs.get(id_)
            if pair is None:  # pragma: no cover - index and pairs are kept in step
                continue
            key = normalise_answer(pair.answer)
            if key in seen:
                continue
            seen.add(key)
            hits.append(Hit(id_, score, pair.question, pair.answer, pair.intent))
            if len(hits) >= k:
                break
        return hits

    # ------------------------------------------------------------ persistence
    def save(self, folder: str | Path) -> Path:
        """Save the index (atomically, manifest last) and the hashes of the embedded texts."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        table = np.array(
            [(i, _text_hash(self.embedded_text(self._pairs[i]))) for i in sorted(self._pairs)],
            dtype=np.int64,
        ).reshape(-1, 2)

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                np.save(f, table, allow_pickle=False)

        _atomic_write(folder / TEXTS_FILE, write)
        self._index.save(folder, self.encoder.name)
        return folder

    @classmethod
    def open(
        cls,
        folder: str | Path,
        encoder: SentenceEncoder,
        pairs: list[QAPair],
        **options: Any,
    ) -> tuple[KnowledgeBase, str | None]:
        """Load the saved index for `pairs` (the source of truth), or rebuild it.

        Returns the knowledge base and why it was rebuilt or re-synced (None when the saved
        index matched the encoder, the pair ids and the embedded texts).
        """
        folder = Path(folder)
        kb = cls(encoder, **options)
        pairs = cls._unique(pairs)
        reason: str | None
        try:
            index = VectorIndex.load(folder, encoder.name, encoder.dim)
            reason = kb._adopt(folder, index, pairs)
        except (IndexMismatchError, IndexCorruptError) as exc:
            reason = str(exc)
        if reason is None:
            log.info("opened knowledge base %s: %d pairs", folder, len(kb))
            return kb, None
        if not reason.startswith("synced"):
            log.warning("rebuilding knowledge base index in %s: %s", folder, reason)
            kb.build(pairs)
        else:
            log.info("knowledge base index in %s %s", folder, reason)
        kb.save(folder)
        return kb, reason

    def _adopt(self, folder: Path, index: VectorIndex, pairs: list[QAPair]) -> str | None:
        """Take a loaded index; sync it in place if few pairs differ. Returns a reason or None."""
        want = {p.id: p for p in pairs}
        have = set(index.ids())
        try:
            table = np.load(folder / TEXTS_FILE, allow_pickle=False)
            hashes = {int(i): int(h) for i, h in table.reshape(-1, 2)}
        except (OSError, ValueError):
            hashes = {}
        if not hashes and have:
            # no record of what was embedded: only ids can be compared
            if have != set(want):
                return f"index ids differ from the store ({len(have)} indexed, {len(want)} given)"
            hashes = {i: _text_hash(self.embedded_text(want[i])) for i in have}
        gone = have - set(want)
        new = [p for i, p in want.items() if i not in have]
        stale = [
            p
            for i, p in want.items()
            if i in have and hashes.get(i) != _text_hash(self.embedded_text(p))
        ]
        changed = len(gone) + len(new) + len(stale)
        if changed > SYNC_MAX_FRACTION * max(len(want), 1) and changed > 0:
            return (
                f"index differs from the store in {changed} of {len(want)} pairs "
                f"({len(new)} new, {len(gone)} gone, {len(stale)} edited)"
            )
        self._index = index
        self.kind = "auto" if index.auto else index.kind
        self._remember(pairs)
        if not changed:
            return None
        index.remove(gone)
        if new or stale:
            fresh = new + stale
            index.update([p.id for p in fresh], self._encode(fresh))
        return f"synced with the store: {len(new)} new, {len(gone)} gone, {len(stale)} edited"
