"""FAISS vector index with stable int64 ids, inner-product search, atomic save and checked load.

Ids are the caller's (e.g. SQL primary keys). Internally every vector lives in a *slot* (its
position in the FAISS index); `_ext[slot]` is its id, -1 once removed. Removing marks the slot
dead (a tombstone excluded from every search by an IDSelector) and the index is compacted once
the dead slots pass a fraction of it, so add/remove/update never rebuild the whole index.

Kinds: "flat" (exact inner product) and "hnsw" (graph, approximate). "auto" starts flat and
converts to HNSW once the index holds more than `HNSW_THRESHOLD` vectors (see
bench/retrieval_scale.py for the measurement behind the number).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
INDEX_FILE = "index.faiss"
IDS_FILE = "ids.npy"
MANIFEST_FILE = "manifest.json"
KINDS = ("auto", "flat", "hnsw")

# Measured with bench/retrieval_scale.py (bench/RESULTS.md, 2 shared cores, one query on one
# thread): exact flat search costs ~0.11 ms per 1K 384-d vectors (1.0 ms at 10K, 11.5 ms at
# 100K), so it passes the 2 ms p50 budget near 20K; HNSW (M=32, efSearch=64) answers in
# 0.1-0.3 ms at recall@10 = 1.000 at 10K-100K, and converting 20K vectors costs a few seconds.
HNSW_THRESHOLD = 20_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 64
# A filtered HNSW search over at most this many allowed vectors is done exactly instead.
EXACT_FILTER_MAX = 20_000
# Compact when dead slots exceed this fraction of all slots (and at least COMPACT_MIN of them).
COMPACT_FRACTION = 0.2
COMPACT_MIN = 64


class RetrievalIndexError(Exception):
    """Base class of the errors raised when loading a saved index."""


class IndexMismatchError(RetrievalIndexError):
    """The saved index was built by another encoder or with another dimension."""


class IndexCorruptError(RetrievalIndexError):
    """The saved index is missing files, fails its checksum or cannot be read."""


def _faiss() -> Any:
    import faiss

    return faiss


def gpu_available() -> bool:
    """True when this FAISS build has GPU support and sees at least one GPU."""
    faiss = _faiss()
    if not hasattr(faiss, "StandardGpuResources"):
        return False
    try:
        return int(faiss.get_num_gpus()) > 0
    except Exception:  # pragma: no cover - broken driver
        return False


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _atomic_write(path: Path, write: Any) -> None:
    """Write through `write(tmp_path)` into a temp file next to `path`, fsync, then os.replace."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(tmp)
        with open(tmp, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class VectorIndex:
    """Inner-product (cosine on unit vectors) index over FAISS with stable int64 ids."""

    def __init__(
        self,
        dim: int,
        kind: str = "auto",
        *,
        hnsw_threshold: int = HNSW_THRESHOLD,
        ef_search: int = HNSW_EF_SEARCH,
        use_gpu: bool | None = None,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown index kind {kind!r}; expected one of {KINDS}")
        if dim <= 0:
            raise ValueError(f"dim must be positive, got {dim}")
        self.dim = int(dim)
        self.auto = kind == "auto"
        self.hnsw_threshold = int(hnsw_threshold)
        self.ef_search = int(ef_search)
        self.use_gpu = gpu_available() if use_gpu is None else bool(use_gpu and gpu_available())
        self._lock = threading.RLock()
        self._kind = "hnsw" if kind == "hnsw" else "flat"
        self._index: Any = self._new_faiss(self._kind)
        self._ext = np.zeros(0, dtype=np.int64)  # slot -> id, -1 when dead
        self._slot_of: dict[int, int] = {}  # live id -> slot
        self._dead = 0
        self._gpu_index: Any = None  # lazy GPU copy of a flat index, dropped on every change
        self._gpu_res: Any = None

    # ----------------------------------------------------------------- basics
    @property
    def kind(self) -> str:
        """The FAISS index kind in use now: "flat" or "hnsw"."""
        return self._kind

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, id_: object) -> bool:
        return id_ in self._slot_of

    def ids(self) -> list[int]:
        """The live ids, sorted."""
        with self._lock:
            return sorted(self._slot_of)

    def __repr__(self) -> str:
        return (
            f"VectorIndex(dim={self.dim}, kind={self._kind!r}, auto={self.auto}, "
            f"count={len(self)}, dead={self._dead}, gpu={self.use_gpu})"
        )

    def _new_faiss(self, kind: str) -> Any:
        faiss = _faiss()
        if kind == "flat":
            return faiss.IndexFlatIP(self.dim)
        index = faiss.IndexHNSWFlat(self.dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = self.ef_search
        return index

    # -------------------------------------------------------------- validation
    def _check_vectors(self, vectors: Any, n: int | None = None) -> np.ndarray:
        x = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
        if x.ndim == 1:
            x = x.reshape(1, -1)
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {x.shape}")
        if n is not None and x.shape[0] != n:
            raise ValueError(f"got {n} ids but {x.shape[0]} vectors")
        if not np.isfinite(x).all():
            raise ValueError("vectors contain NaN or infinity")
        return x

    @staticmethod
    def _check_ids(ids: Iterable[int]) -> np.ndarray:
        arr = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
        arr = arr.reshape(-1)
        if len(np.unique(arr)) != len(arr):
            raise ValueError("ids must be unique")
        if (arr < 0).any():
            raise ValueError("ids must be non-negative")
        return arr

    # --------------------------------------------------------------- mutation
    def add(self, ids: Iterable[int], vectors: Any) -> None:
        """Add vectors under new ids; raises ValueError if an id is already present."""
        id_arr = self._check_ids(ids)
        x = self._check_vectors(vectors, len(id_arr))
        if len(id_arr) == 0:
            return
        with self._lock:
            present = [int(i) for i in id_arr if int(i) in self._slot_of]
            if present:
                raise ValueError(f"ids already in the index (use update): {present[:10]}")
            if self.auto and self._kind == "flat" and len(self) + len(id_arr) > self.hnsw_threshold:
                self._convert("hnsw")
            start = len(self._ext)
            self._index.add(x)
            self._ext = np.concatenate([self._ext, id_arr])
            for offset, id_ in enumerate(id_arr.tolist()):
                self._slot_of[id_] = start + offset
            self._gpu_index = None

    def remove(self, ids: Iterable[int]) -> int:
        """Remove ids (unknown ids are ignored); returns how many were removed."""
        id_arr = np.asarray(list(ids) if not isinstance(ids, np.ndarray) else ids, dtype=np.int64)
        with self._lock:
            slots = [
                self._slot_of.pop(int(i)) for i in id_arr.reshape(-1) if int(i) in self._slot_of
            ]
            if not slots:
                return 0
            self._ext[np.asarray(slots, dtype=np.int64)] = -1
            self._dead += len(slots)
            self._gpu_index = None
            if self._dead >= max(COMPACT_MIN, COMPACT_FRACTION * len(self._ext)):
                self._compact()
            return len(slots)

    def update(self, ids: Iterable[int], vectors: Any) -> None:
        """Replace the vectors of ids (ids not present yet are added)."""
        id_arr = self._check_ids(ids)
        x = self._check_vectors(vectors, len(id_arr))
        with self._lock:
            self.remove(id_arr)
            self.add(id_arr, x)

    def _live_slots(self) -> np.ndarray:
        return np.flatnonzero(self._ext >= 0)

    def _live_vectors(self, slots: np.ndarray) -> np.ndarray:
        if len(slots) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.asarray(self._index.reconstruct_batch(slots.astype(np.int64)), dtype=np.float32)

    def _rebuild(self, kind: str) -> None:
        """Rebuild the FAISS index of `kind` from the live vectors (drops dead slots)."""
        t0 = time.perf_counter()
        slots = self._live_slots()
        vectors = self._live_vectors(slots)
        ext = self._ext[slots]
        index = self._new_faiss(kind)
        if len(vectors):
            index.add(vectors)
        self._index, self._kind, self._ext, self._dead = index, kind, ext, 0
        self._slot_of = dict(zip(ext.tolist(), range(len(ext)), strict=True))
        self._gpu_index = None
        log.info(
            "rebuilt %s index over %d vectors in %.2fs", kind, len(ext), time.perf_counter() - t0
        )

    def _compact(self) -> None:
        log.info("compacting %s index: %d dead of %d slots", self._kind, self._dead, len(self._ext))
        self._rebuild(self._kind)

    def _convert(self, kind: str) -> None:
        log.info(
            "index passes %d vectors: converting %s -> %s", self.hnsw_threshold, self._kind, kind
        )
        self._rebuild(kind)

    # ----------------------------------------------------------------- search
    def _bitmap_selector(self, mask: np.ndarray) -> tuple[Any, np.ndarray]:
        faiss = _faiss()
        bitmap = np.packbits(mask, bitorder="little")
        return faiss.IDSelectorBitmap(len(mask), faiss.swig_ptr(bitmap)), bitmap

    def _params(self, selector: Any, ef: int) -> Any:
        faiss = _faiss()
        if self._kind == "hnsw":
            return faiss.SearchParametersHNSW(sel=selector, efSearch=ef)
        return faiss.SearchParameters(sel=selector)

    def _gpu(self) -> Any:
        if self._gpu_index is None:
            faiss = _faiss()
            res = faiss.StandardGpuResources()
            self._gpu_index = faiss.index_cpu_to_gpu(res, 0, self._index)
            self._gpu_res = res
            log.info("copied flat index (%d vectors) to GPU 0", self._index.ntotal)
        return self._gpu_index

    def search(
        self, vectors: Any, k: int, allowed_ids: set[int] | None = None
    ) -> list[list[tuple[int, float]]]:
        """Top-k (id, inner product) per query vector, best first.

        `allowed_ids` restricts the candidates (ids not in the index are ignored); an empty
        set gives empty results.
        """
        q = self._check_vectors(vectors)
        n_queries = q.shape[0]
        if k <= 0:
            return [[] for _ in range(n_queries)]
        with self._lock:
            if len(self) == 0 or n_queries == 0:
                return [[] for _ in range(n_queries)]
            if allowed_ids is not None:
                slots = np.fromiter(
                    (self._slot_of[i] for i in allowed_ids if i in self._slot_of), dtype=np.int64
                )
                if len(slots) == 0:
                    return [[] for _ in range(n_queries)]
                if self._kind == "hnsw" and len(slots) <= EXACT_FILTER_MAX:
                    return self._exact_over(q, k, np.sort(slots))
                mask = np.zeros(len(self._ext), dtype=bool)
                mask[slots] = True
                n_candidates = len(slots)
            elif self._dead:
                mask = self._ext >= 0
                n_candidates = len(self)
            else:
                mask, n_candidates = None, len(self)

            k_eff = min(k, n_candidates)
            ef = max(self.ef_search, k_eff)
            if mask is None:
                if self.use_gpu and self._kind == "flat":
                    dist, lab = self._gpu().search(q, k_eff)
                else:
                    params = self._params(None, ef) if self._kind == "hnsw" else None
                    dist, lab = self._index.search(q, k_eff, params=params)
            else:
                if self._kind == "hnsw":
                    # a selective filter needs a wider beam to keep recall
                    ef = min(max(ef, int(ef * len(self) / n_candidates)), 4 * max(ef, 256))
                selector, _bitmap = self._bitmap_selector(mask)
                dist, lab = self._index.search(q, k_eff, params=self._params(selector, ef))
            return self._to_results(dist, lab)

    def _exact_over(
        self, q: np.ndarray, k: int, slots: np.ndarray
    ) -> list[list[tuple[int, float]]]:
        vecs = self._live_vectors(slots)
        scores = q @ vecs.T
        k_eff = min(k, len(slots))
        top = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
        out: list[list[tuple[int, float]]] = []
        for row, cand in zip(scores, top, strict=True):
            order = cand[np.argsort(-row[cand], kind="stable")]
            out.append([(int(self._ext[slots[j]]), float(row[j])) for j in order])
        return out

    def _to_results(self, dist: np.ndarray, lab: np.ndarray) -> list[list[tuple[int, float]]]:
        out: list[list[tuple[int, float]]] = []
        for drow, lrow in zip(dist, lab, strict=True):
            hits = []
            for d, slot in zip(drow.tolist(), lrow.tolist(), strict=True):
                if slot < 0:
                    continue
                id_ = int(self._ext[slot])
                if id_ >= 0:
                    hits.append((id_, float(d)))
            out.append(hits)
        return out

    # ------------------------------------------------------------ persistence
    def save(self, folder: str | Path, encoder_name: str) -> Path:
        """Write index.faiss, ids.npy and manifest.json into `folder` atomically (manifest last)."""
        faiss = _faiss()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        with self._lock:
            _atomic_write(folder / INDEX_FILE, lambda tmp: faiss.write_index(self._index, tmp))

            def write_ids(tmp: str) -> None:
                with open(tmp, "wb") as f:
                    np.save(f, self._ext, allow_pickle=False)

            _atomic_write(folder / IDS_FILE, write_ids)
            manifest = {
                "format_version": FORMAT_VERSION,
                "encoder": encoder_name,
                "dim": self.dim,
                "count": len(self),
                "kind": self._kind,
                "auto": self.auto,
                "hnsw_threshold": self.hnsw_threshold,
                "sha256": _sha256(folder / INDEX_FILE),
                "ids_sha256": _sha256(folder / IDS_FILE),
                "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
            }
            text = json.dumps(manifest, indent=2) + "\n"
            _atomic_write(folder / MANIFEST_FILE, lambda tmp: Path(tmp).write_text(text, "utf-8"))
        log.info(
            "saved %s index (%d vectors, encoder %s) to %s",
            self._kind,
            len(self),
            encoder_name,
            folder,
        )
        return folder

    @staticmethod
    def read_manifest(folder: str | Path) -> dict[str, Any]:
        """The parsed manifest.json of a saved index; IndexCorruptError when missing/unreadable."""
        path = Path(folder) / MANIFEST_FILE
        if not path.is_file():
            raise IndexCorruptError(f"index folder {folder}: {MANIFEST_FILE} is missing")
        try:
            manifest = json.loads(path.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise IndexCorruptError(
                f"index folder {folder}: unreadable {MANIFEST_FILE}: {exc}"
            ) from exc
        if not isinstance(manifest, dict):
            raise IndexCorruptError(f"index folder {folder}: {MANIFEST_FILE} is not an object")
        return manifest

    @classmethod
    def load(
        cls,
        folder: str | Path,
        expected_encoder: str,
        expected_dim: int,
        *,
        use_gpu: bool | None = None,
    ) -> VectorIndex:
        """Load a saved index after checking encoder, dimension and checksums."""
        faiss = _faiss()
        folder = Path(folder)
        manifest = cls.read_manifest(folder)
        try:
            version = int(manifest["format_version"])
            encoder, dim = str(manifest["encoder"]), int(manifest["dim"])
            kind, count = str(manifest["kind"]), int(manifest["count"])
            sha, ids_sha = str(manifest["sha256"]), str(manifest["ids_sha256"])
        except (KeyError, TypeError, ValueError) as exc:
            raise IndexCorruptError(f"index folder {folder}: manifest lacks {exc}") from exc
        if version != FORMAT_VERSION:
            raise IndexMismatchError(
                f"index folder {folder}: format version {version}, this code reads {FORMAT_VERSION}"
            )
        if encoder != expected_encoder:
            raise IndexMismatchError(
                f"index folder {folder} was built by encoder {encoder!r}, not {expected_encoder!r}"
            )
        if dim != expected_dim:
            raise IndexMismatchError(
                f"index folder {folder} holds {dim}-d vectors, the encoder makes {expected_dim}-d"
            )
        if kind not in ("flat", "hnsw"):
            raise IndexCorruptError(f"index folder {folder}: unknown kind {kind!r} in manifest")
        for name, want in ((INDEX_FILE, sha), (IDS_FILE, ids_sha)):
            path = folder / name
            if not path.is_file():
                raise IndexCorruptError(f"index folder {folder}: {name} is missing")
            got = _sha256(path)
            if got != want:
                raise IndexCorruptError(
                    f"index folder {folder}: checksum of {name} is {got[:12]}…, "
                    f"manifest says {want[:12]}…"
                )
        try:
            index = faiss.read_index(str(folder / INDEX_FILE))
            ext = np.load(folder / IDS_FILE, allow_pickle=False)
        except Exception as exc:
            raise IndexCorruptError(f"index folder {folder}: cannot read index: {exc}") from exc
        live = ext[ext >= 0] if ext.ndim == 1 else ext
        if (
            ext.ndim != 1
            or ext.dtype != np.int64
            or index.d != dim
            or index.ntotal != len(ext)
            or len(live) != count
            or len(np.unique(live)) != len(live)
        ):
            raise IndexCorruptError(
                f"index folder {folder}: index ({index.ntotal} x {index.d}) and ids "
                f"({ext.shape}, {len(live)} live) disagree with the manifest ({count} x {dim})"
            )
        vi = cls(
            dim,
            kind="auto" if manifest.get("auto") else kind,
            hnsw_threshold=int(manifest.get("hnsw_threshold", HNSW_THRESHOLD)),
            use_gpu=use_gpu,
        )
        if kind == "hnsw":
            index.hnsw.efSearch = vi.ef_search
        vi._index, vi._kind, vi._ext = index, kind, ext
        vi._slot_of = dict(zip(live.tolist(), np.flatnonzero(ext >= 0).tolist(), strict=True))
        vi._dead = int(len(ext) - len(live))
        log.info("loaded %s index (%d vectors, encoder %s) from %s", kind, count, encoder, folder)
        return vi
