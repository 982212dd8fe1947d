"""Fixtures for the retrieval tests: tiny random BERT folders and encoders over them."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
TESTS = Path(__file__).resolve().parent.parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from tiny_models import make_tiny_bert  # noqa: E402

from retrieval import SentenceEncoder  # noqa: E402


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("retrieval") / "tiny-bert")


@pytest.fixture(scope="session")
def other_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another tiny encoder of the same width (same dim, different name)."""
    return make_tiny_bert(tmp_path_factory.mktemp("retrieval") / "other-bert", seed=1)


@pytest.fixture(scope="session")
def tiny_encoder(tiny_bert_dir: Path) -> SentenceEncoder:
    return SentenceEncoder(tiny_bert_dir)


@pytest.fixture(scope="session")
def other_encoder(other_bert_dir: Path) -> SentenceEncoder:
    return SentenceEncoder(other_bert_dir)


class WordHashEncoder:
    """A deterministic bag-of-words stand-in for SentenceEncoder (same interface).

    Random tiny BERTs map all texts to nearly the same direction, which is fine for plumbing
    but not for checking rankings; this one makes texts that share words similar.
    """

    def __init__(self, name: str = "word-hash", dim: int = 64) -> None:
        self.name, self.dim = name, dim

    def encode(self, texts, batch_size: int = 64, show_progress: bool = False):  # type: ignore[no-untyped-def]
        import zlib

        import numpy as np

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for word in text.lower().replace("?", " ").split():
                out[row, zlib.crc32(word.encode()) % self.dim] += 1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.divide(out, norms, out=out, where=norms > 0)


@pytest.fixture(scope="session")
def word_encoder() -> WordHashEncoder:
    return WordHashEncoder()
