"""TrainArgs.validate: bad settings are refused before training starts."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from training import TrainArgs


def test_defaults_are_valid_and_point_at_the_packaged_minilm() -> None:
    args = TrainArgs()
    args.validate()
    assert (args.base_model / "config.json").is_file()
    assert args.resolved_device() in ("cpu", "cuda")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"lr": 0.0}, "lr must be > 0"),
        ({"epochs": 0}, "epochs must be >= 1"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_length": 4}, "max_length"),
        ({"warmup_ratio": 1.0}, "warmup_ratio"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"patience": 0}, "patience"),
        ({"val_fraction": 1.5}, "val_fraction"),
        ({"device": "tpu"}, "device must be one of"),
        ({"oos_label": " "}, "oos_label"),
        ({"base_model": Path("/no/such/model")}, "does not exist"),
    ],
)
def test_bad_settings_raise_a_clear_value_error(change: dict, message: str) -> None:
    args = dataclasses.replace(TrainArgs(), **change)
    with pytest.raises(ValueError, match=message):
        args.validate()


def test_folder_without_config_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no config.json"):
        TrainArgs(base_model=tmp_path).validate()


def test_cuda_without_gpu_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        TrainArgs(device="cuda").validate()
