"""TextClassifier: predictions, save/load round trip, refusal of broken folders."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
import torch

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:  # tests/conftest.py normally adds it (for tiny_models)
    sys.path.append(_TESTS)

from tiny_models import make_tiny_bert  # noqa: E402

from intents import OUT_OF_SCOPE, ModelLoadError, Prediction, TextClassifier  # noqa: E402

LABELS = ["order_status", "refund", "reset_password"]
TEXTS = ["where is my order", "i want a refund please", "reset my password", "hello", ""]


def tiny_bert(folder: Path) -> Path:
    """make_tiny_bert, with its WordPiece vocabulary actually in the tokenizer (under
    transformers 5 `BertTokenizerFast(vocab_file=...)` ignores the file: all [UNK])."""
    from transformers import BertTokenizerFast

    make_tiny_bert(folder)
    BertTokenizerFast(vocab=str(folder / "vocab.txt"), do_lower_case=True).save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("clf")
    torch.manual_seed(0)
    clf = TextClassifier.create(tiny_bert(root / "base"), LABELS, "intents", max_length=16)
    clf.calibrate(temperature=1.5, oos_threshold=0.2)
    clf.metrics = {"val_accuracy": 0.5}
    return clf.save(root / "model")


@pytest.fixture
def copy(saved: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(saved, tmp_path / "model"))


def test_predict_returns_one_calibrated_prediction_per_text(saved: Path) -> None:
    clf = TextClassifier.load(saved)
    preds = clf.predict(TEXTS, top_k=2, batch_size=2)
    assert len(preds) == len(TEXTS)
    for p in preds:
        assert isinstance(p, Prediction)
        assert len(p.top) == 2 and p.top[0][1] >= p.top[1][1]
        assert p.confidence == p.top[0][1]
        assert p.out_of_scope == (p.confidence < clf.oos_threshold)
        assert p.label == (OUT_OF_SCOPE if p.out_of_scope else p.top[0][0])
    probs = clf.probabilities(TEXTS)
    assert probs.shape == (len(TEXTS), 3)
    assert abs(probs.sum(axis=1) - 1).max() < 1e-6
    assert clf.predict([]) == []
    assert len(clf.predict(TEXTS, top_k=10)[0].top) == 3
    with pytest.raises(TypeError):
        clf.predict("one string")  # type: ignore[arg-type]


def test_batching_does_not_change_results(saved: Path) -> None:
    clf = TextClassifier.load(saved)
    one_by_one = [clf.logits([t])[0] for t in TEXTS]
    batched = clf.logits(TEXTS, batch_size=3)
    assert all(abs(a - b).max() < 1e-4 for a, b in zip(one_by_one, batched, strict=True))


def test_save_load_round_trip_gives_identical_predictions(saved: Path, tmp_path: Path) -> None:
    first = TextClassifier.load(saved)
    again = TextClassifier.load(first.save(tmp_path / "resaved"))
    assert first.predict(TEXTS) == again.predict(TEXTS)
    assert (first.logits(TEXTS) == again.logits(TEXTS)).all()
    assert again.labels == LABELS and again.task == "intents"
    assert again.temperature == 1.5 and again.oos_threshold == 0.2
    assert again.version == first.version and len(again.version) == 12
    assert again.metrics == {"val_accuracy": 0.5}
    meta = json.loads((saved / "classifier.json").read_text())
    for key in (
        "labels",
        "task",
        "max_length",
        "pooling",
        "temperature",
        "oos_threshold",
        "base_model",
        "created_at",
        "sha256",
    ):
        assert key in meta


def test_save_replaces_an_existing_folder_without_leftovers(saved: Path, tmp_path: Path) -> None:
    clf = TextClassifier.load(saved)
    target = tmp_path / "out"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    clf.save(target)
    assert not (target / "stale.txt").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_high_threshold_rejects_everything(saved: Path) -> None:
    clf = TextClassifier.load(saved)
    clf.calibrate(temperature=1.0, oos_threshold=0.99)
    preds = clf.predict(TEXTS)
    assert all(p.out_of_scope and p.label == OUT_OF_SCOPE for p in preds)
    assert all(p.top[0][0] in LABELS and 0 < p.confidence < 0.99 for p in preds)
    clf.calibrate(temperature=1.0, oos_threshold=0.0)
    assert not any(p.out_of_scope for p in clf.predict(TEXTS))


def test_tampered_weights_are_refused(copy: Path) -> None:
    data = bytearray((copy / "model.safetensors").read_bytes())
    data[-1] ^= 0xFF
    (copy / "model.safetensors").write_bytes(bytes(data))
    with pytest.raises(ModelLoadError, match="model.safetensors does not match") as info:
        TextClassifier.load(copy)
    assert str(copy) in str(info.value)


@pytest.mark.parametrize(
    "name", ["model.safetensors", "config.json", "classifier.json", "tokenizer_config.json"]
)
def test_missing_file_is_refused(copy: Path, name: str) -> None:
    (copy / name).unlink()
    with pytest.raises(ModelLoadError, match=f"missing file.*{name}"):
        TextClassifier.load(copy)


def test_label_count_mismatch_is_refused(copy: Path) -> None:
    meta = json.loads((copy / "classifier.json").read_text())
    meta["labels"].append("extra")
    (copy / "classifier.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match="head has 3 outputs but classifier.json lists 4"):
        TextClassifier.load(copy)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m: m.pop("sha256"), "lacks key"),
        (lambda m: m.update(task="translation"), "unknown task"),
        (lambda m: m.update(labels=["a", "a", "b"]), "unique strings"),
    ],
)
def test_bad_metadata_is_refused(copy: Path, edit, message: str) -> None:  # type: ignore[no-untyped-def]
    meta = json.loads((copy / "classifier.json").read_text())
    edit(meta)
    (copy / "classifier.json").write_text(json.dumps(meta))
    with pytest.raises(ModelLoadError, match=message):
        TextClassifier.load(copy)


def test_not_json_and_no_folder_are_refused(copy: Path, tmp_path: Path) -> None:
    (copy / "classifier.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        TextClassifier.load(copy)
    with pytest.raises(ModelLoadError, match="no such folder"):
        TextClassifier.load(tmp_path / "nowhere")


def test_backbone_mismatch_is_refused(copy: Path) -> None:
    config = json.loads((copy / "config.json").read_text())
    config["num_hidden_layers"] = 3
    (copy / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelLoadError, match="do not fit the backbone"):
        TextClassifier.load(copy)
