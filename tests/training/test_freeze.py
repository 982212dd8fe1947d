"""--freeze-layers: the embeddings and first N layers leave training exactly as they came."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.append(_TESTS)

from tiny_models import make_tiny_bert  # noqa: E402

from intents import TextClassifier  # noqa: E402
from intents.model import same_bottom  # noqa: E402
from training import Example, TrainArgs, train_classifier  # noqa: E402


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("freeze") / "bert", layers=3)


def test_frozen_bottom_is_untouched_and_recorded(base: Path, tmp_path: Path) -> None:
    torch.set_num_threads(1)
    rows = [Example(f"where is my order {i}", "order") for i in range(12)]
    rows += [Example(f"i want a refund {i}", "refund") for i in range(12)]
    args = TrainArgs(base_model=base, epochs=2, lr=5e-3, batch_size=8, max_length=16, device="cpu")
    args.freeze_layers = 2
    args.validate()
    train_classifier(rows, None, args, tmp_path / "model", "intents")
    clf = TextClassifier.load(tmp_path / "model")
    assert clf.metadata["frozen_layers"] == 2
    original = TextClassifier.create(base, ["order", "refund"], "intents").model.backbone
    assert same_bottom(clf.model.backbone, original, 2)
    assert not same_bottom(clf.model.backbone, original, 3)  # the top layer did train


@pytest.mark.parametrize("n", [3, 7, -1])
def test_freeze_layers_must_leave_a_layer_to_train(base: Path, n: int) -> None:
    with pytest.raises(ValueError, match="freeze_layers"):
        TrainArgs(base_model=base, freeze_layers=n).validate()
