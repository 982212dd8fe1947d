from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from intents.onnx_runner import onnx_available
from retrieval import SentenceEncoder, default_encoder_path


def test_encode_shape_dtype_and_unit_norm(tiny_encoder: SentenceEncoder) -> None:
    vecs = tiny_encoder.encode(["where is my order", "refund please", "hi"], batch_size=2)
    assert vecs.dtype == np.float32
    assert vecs.shape == (3, tiny_encoder.dim) == (3, 32)  # plain BERT folder: mean pooling
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, rtol=1e-5)


def test_encode_is_deterministic_and_handles_empty(tiny_encoder: SentenceEncoder) -> None:
    a = tiny_encoder.encode(["track my parcel"])
    b = tiny_encoder.encode(["track my parcel", "other text"])
    np.testing.assert_allclose(a[0], b[0], atol=1e-5)
    assert tiny_encoder.encode([]).shape == (0, tiny_encoder.dim)
    with pytest.raises(TypeError):
        tiny_encoder.encode("not a list")  # type: ignore[arg-type]


def test_name_is_stable_and_tells_encoders_apart(
    tiny_encoder: SentenceEncoder, other_encoder: SentenceEncoder, tiny_bert_dir: Path
) -> None:
    assert tiny_encoder.name.startswith("tiny-bert-")
    assert SentenceEncoder(tiny_bert_dir).name == tiny_encoder.name
    assert other_encoder.name != tiny_encoder.name
    assert other_encoder.dim == tiny_encoder.dim


def test_name_follows_the_folder_contents(tiny_bert_dir: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(tiny_bert_dir, tmp_path / "tiny-bert")
    (copy / "config.json").write_text((copy / "config.json").read_text() + "\n ")
    assert SentenceEncoder(copy).name != SentenceEncoder(tiny_bert_dir).name


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="encoder folder not found"):
        SentenceEncoder(tmp_path / "nope")


def test_default_encoder_path_is_the_packaged_minilm() -> None:
    path = default_encoder_path()
    assert (path / "config.json").is_file()


@pytest.mark.skipif(not onnx_available(), reason="onnxruntime is not installed")
def test_onnx_queries_match_sentence_transformers(tiny_bert_dir: Path, tmp_path: Path) -> None:
    enc = SentenceEncoder(tiny_bert_dir)
    texts = ["where is my order", "refund", "", "a much longer question " * 6, "hi there"]
    want = enc.encode(texts, batch_size=2)
    assert enc.use_onnx(tmp_path / "cache")
    assert enc.backend == "onnx"
    assert [p.name for p in (tmp_path / "cache").glob("*.onnx")] == [f"encoder--{enc.name}.onnx"]
    for batch_size in (1, 2, 64):
        np.testing.assert_allclose(enc.encode(texts, batch_size=batch_size), want, atol=1e-5)
    enc.use_torch()
    assert enc.backend == "torch"


@pytest.mark.skipif(not onnx_available(), reason="onnxruntime is not installed")
def test_onnx_refuses_an_encoder_without_mean_pooling(tiny_bert_dir: Path) -> None:
    enc = SentenceEncoder(tiny_bert_dir)
    enc._model[1].pooling_mode = "cls"  # what a CLS-pooled sentence-transformers folder has
    assert enc.use_onnx() is False
    assert enc.backend == "torch"
