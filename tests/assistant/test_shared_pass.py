"""The shared pass: the frozen bottom layers run once for intent, sentiment and retrieval,
with the outputs of three separate passes; refused (with the reason) when not shareable."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.append(_TESTS)

from tiny_models import make_tiny_bert  # noqa: E402

from assistant.engine import Models, analyse  # noqa: E402
from assistant.shared_pass import SharedPass  # noqa: E402
from intents import TextClassifier  # noqa: E402
from intents.model import bert_layers, freeze_bottom  # noqa: E402
from intents.onnx_runner import onnx_available  # noqa: E402
from retrieval import SentenceEncoder  # noqa: E402

pytestmark = pytest.mark.skipif(not onnx_available(), reason="onnxruntime is not installed")

TEXTS = [
    "where is my order",
    "refund refund refund please i want my money back now",
    "",
    "hello",
    "order " * 40,  # longer than the classifiers' max_length: separate passes
]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("shared") / "base", layers=3)


def trained_like(base: Path, task: str, labels: list[str], frozen: int, seed: int) -> Any:
    """A classifier as `--freeze-layers frozen` training leaves it: the bottom as in `base`,
    the layers above and the head changed."""
    torch.manual_seed(seed)
    clf = TextClassifier.create(base, labels, task, max_length=24)
    freeze_bottom(clf.model.backbone, frozen)
    with torch.no_grad():
        for p in clf.model.parameters():
            if p.requires_grad:
                p.add_(0.05 * torch.randn_like(p))
    clf.metadata["frozen_layers"] = frozen
    return clf


@pytest.fixture(scope="module")
def models(base: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Any]:
    root = tmp_path_factory.mktemp("saved")
    intent = trained_like(base, "intents", ["order", "refund", "greeting"], 2, 1)
    sentiment = trained_like(base, "sentiment", ["negative", "neutral", "positive"], 1, 2)
    intent.save(root / "intent")  # saved: the conversions are cached by their weights
    sentiment.save(root / "sentiment")
    return intent, sentiment, SentenceEncoder(base)


def test_shared_pass_gives_the_separate_passes_outputs(models: Any, tmp_path: Path) -> None:
    intent, sentiment, encoder = models
    shared, why = SharedPass.build(intent, sentiment, encoder, cache_dir=tmp_path)
    assert shared is not None, why
    assert shared.depth == 1  # the shallower of the two frozen bottoms
    assert "1 shared layer" in why
    out = shared.run(TEXTS)
    assert out.rows == [0, 1, 2, 3]  # the last one is too long for the classifiers
    fit = TEXTS[:4]
    np.testing.assert_allclose(out.intent, intent.logits(fit), atol=1e-4)
    np.testing.assert_allclose(out.sentiment, sentiment.logits(fit), atol=1e-4)
    np.testing.assert_allclose(out.vectors, encoder.encode(fit), atol=1e-4)
    assert shared.run([TEXTS[4]]).rows == []
    names = sorted(p.name.split("--")[0] for p in tmp_path.glob("*.onnx"))
    assert names == ["encoder-top", "intents-top", "sentiment-top", "shared-bottom"]


class Knowledge:
    """The engine's view of the knowledge base: only query encoding matters here."""

    def __init__(self, encoder: SentenceEncoder) -> None:
        self.encoder = encoder

    def __len__(self) -> int:
        return 0

    def encode_queries(self, queries: list[str]) -> Any:
        return self.encoder.encode(list(queries))

    def search(self, *args: Any, **kwargs: Any) -> list[Any]:
        return []


def test_engine_analysis_is_the_same_with_and_without_sharing(models: Any, tmp_path: Path) -> None:
    intent, sentiment, encoder = models
    shared, why = SharedPass.build(intent, sentiment, encoder, cache_dir=tmp_path)
    assert shared is not None, why
    kb = Knowledge(encoder)
    queries = list(TEXTS)
    queries[1] = "a question asked earlier " + TEXTS[1]  # a resumed turn: its own query
    plain = analyse(Models(intent, sentiment, kb), TEXTS, queries)
    both = analyse(Models(intent, sentiment, kb, shared=shared), TEXTS, queries)
    # a batch of nothing but too-long texts: every one takes the separate passes
    alone = analyse(Models(intent, sentiment, kb, shared=shared), TEXTS[4:], queries[4:])
    for a, b in zip(plain + plain[4:], both + alone, strict=True):
        assert a.intent.label == b.intent.label and a.sentiment.label == b.sentiment.label
        assert a.intent.confidence == pytest.approx(b.intent.confidence, abs=1e-4)
        np.testing.assert_allclose(a.query_vector, b.query_vector, atol=1e-4)


def test_not_shared_without_frozen_layers(models: Any, base: Path) -> None:
    intent, sentiment, encoder = models
    unfrozen = trained_like(base, "intents", ["a", "b"], 1, 3)
    unfrozen.metadata["frozen_layers"] = 0
    shared, why = SharedPass.build(unfrozen, sentiment, encoder, cache_dir=None)
    assert shared is None and "without --freeze-layers" in why


def test_not_shared_when_the_bottom_differs_from_the_encoder(models: Any, base: Path) -> None:
    intent, sentiment, encoder = models
    drifted = trained_like(base, "sentiment", ["neg", "pos"], 1, 4)
    embeddings, _ = bert_layers(drifted.model.backbone)
    with torch.no_grad():
        next(embeddings.parameters()).add_(0.01)  # e.g. trained from another base model
    shared, why = SharedPass.build(intent, drifted, encoder, cache_dir=None)
    assert shared is None and "not the encoder's" in why


def test_not_shared_with_an_encoder_of_another_pooling(models: Any, base: Path) -> None:
    intent, sentiment, _ = models
    other = SentenceEncoder(base)
    other._model[1].pooling_mode = "cls"
    shared, why = SharedPass.build(intent, sentiment, other, cache_dir=None)
    assert shared is None and "mean pooling" in why
