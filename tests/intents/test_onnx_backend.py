"""ONNX Runtime backend of TextClassifier: same outputs as torch, cached by weights, int8."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.append(_TESTS)

from tiny_models import make_tiny_bert  # noqa: E402

from intents import TextClassifier  # noqa: E402
from intents.onnx_runner import onnx_available  # noqa: E402

pytestmark = pytest.mark.skipif(not onnx_available(), reason="onnxruntime is not installed")

LABELS = ["order_status", "refund", "reset_password", "greeting"]
# different lengths in one call: padded rows, several length chunks, an empty text
TEXTS = [
    "where is my order",
    "i want a refund please because the parcel arrived broken and late",
    "reset my password",
    "hello",
    "",
    "order order order refund password hello where is it now please tell me",
]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("onnx")
    torch.manual_seed(0)
    clf = TextClassifier.create(make_tiny_bert(root / "base"), LABELS, "intents", max_length=24)
    clf.calibrate(temperature=1.3, oos_threshold=0.3)
    return clf.save(root / "model")


def test_onnx_logits_match_torch_for_any_batch(saved: Path) -> None:
    clf = TextClassifier.load(saved)
    want = clf.logits(TEXTS, batch_size=2)
    assert clf.backend == "torch"
    assert clf.use_onnx() is True
    assert clf.backend == "onnx"
    for batch_size in (1, 3, 64):  # batch shapes other than the converter's sample
        got = clf.logits(TEXTS, batch_size=batch_size)
        np.testing.assert_allclose(got, want, atol=1e-4, rtol=1e-4)
    preds = clf.predict(TEXTS)
    assert [p.label for p in preds] == [p.label for p in TextClassifier.load(saved).predict(TEXTS)]
    clf.use_torch()
    assert clf.backend == "torch"


def test_conversion_is_cached_by_weights_and_reused(saved: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    clf = TextClassifier.load(saved)
    assert clf.use_onnx(cache)
    files = list(cache.glob("*.onnx"))
    assert [f.name for f in files] == [f"intents--{clf.metadata['sha256'][:24]}.onnx"]
    stamp = files[0].stat().st_mtime_ns
    again = TextClassifier.load(saved)
    assert again.use_onnx(cache)
    assert files[0].stat().st_mtime_ns == stamp  # loaded, not converted again
    np.testing.assert_allclose(again.logits(TEXTS), clf.logits(TEXTS), atol=1e-6)


def test_corrupt_cache_file_is_converted_again(saved: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    clf = TextClassifier.load(saved)
    assert clf.use_onnx(cache)
    (path,) = cache.glob("*.onnx")
    path.write_bytes(b"not an onnx file")
    again = TextClassifier.load(saved)
    assert again.use_onnx(cache)
    assert path.stat().st_size > 1000
    np.testing.assert_allclose(again.logits(TEXTS), clf.logits(TEXTS), atol=1e-6)


def test_new_weights_replace_the_old_conversion(saved: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    old = TextClassifier.load(saved)
    assert old.use_onnx(cache)
    newer = TextClassifier.load(saved)
    with torch.no_grad():
        newer.model.head.bias.add_(1.0)
    newer.save(tmp_path / "v2")
    assert newer.use_onnx(cache)
    names = sorted(f.name for f in cache.glob("*.onnx"))
    assert names == [f"intents--{newer.metadata['sha256'][:24]}.onnx"]
    assert newer.metadata["sha256"] != old.metadata["sha256"]
    # the process still holding the old conversion keeps working
    assert old.logits(TEXTS).shape == (len(TEXTS), len(LABELS))


def test_unsaved_classifier_converts_in_a_temporary_folder(tmp_path: Path) -> None:
    torch.manual_seed(1)
    clf = TextClassifier.create(make_tiny_bert(tmp_path / "base"), LABELS, "sentiment")
    want = clf.logits(TEXTS)
    assert clf.use_onnx(tmp_path / "cache")  # no sha256 yet: nothing cached
    assert not (tmp_path / "cache").exists()
    np.testing.assert_allclose(clf.logits(TEXTS), want, atol=1e-4, rtol=1e-4)


def test_int8_is_smaller_and_close(saved: Path, tmp_path: Path) -> None:
    clf = TextClassifier.load(saved)
    want = clf.logits(TEXTS)
    assert clf.use_onnx(tmp_path / "fp32")
    assert clf.use_onnx(tmp_path / "int8", int8=True)
    assert clf.backend == "onnx-int8"
    (fp32,) = (tmp_path / "fp32").glob("*.onnx")
    (int8,) = (tmp_path / "int8").glob("*.onnx")
    assert int8.name.endswith(".int8.onnx")
    assert int8.stat().st_size < fp32.stat().st_size
    got = clf.logits(TEXTS)
    assert got.shape == want.shape
    assert not np.allclose(got, want, atol=1e-6)  # really quantised
    assert np.corrcoef(got.ravel(), want.ravel())[0, 1] > 0.95


def test_without_onnxruntime_torch_stays(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import intents.onnx_runner as runner_module

    monkeypatch.setattr(runner_module, "onnx_available", lambda: False)
    clf = TextClassifier.load(saved)
    assert clf.use_onnx() is False
    assert clf.backend == "torch"


def test_a_module_that_does_not_convert_keeps_torch(
    saved: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import intents.onnx_runner as runner_module

    def refuse(*args: object, **kwargs: object) -> None:
        raise RuntimeError("unsupported operator")

    monkeypatch.setattr(runner_module.torch.onnx, "export", refuse)
    clf = TextClassifier.load(saved)
    assert clf.use_onnx() is False
    assert clf.backend == "torch"
    assert clf.logits(TEXTS).shape == (len(TEXTS), len(LABELS))
