"""`use_backend`: which inference backend a model gets from the settings (a table of cases)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.runtime import StartupError, use_backend
from assistant.settings import Settings


class FakeModel:
    """Stands in for a TextClassifier / SentenceEncoder: records what it was asked."""

    def __init__(self, converts: bool) -> None:
        self.converts = converts
        self.calls: list[tuple[Path, int, bool]] = []
        self.backend = "torch"

    def use_onnx(self, cache_dir: Path, threads: int = 1, int8: bool = False) -> bool:
        self.calls.append((cache_dir, threads, int8))
        if self.converts:
            self.backend = "onnx-int8" if int8 else "onnx"
        return self.converts


@pytest.mark.parametrize(
    ("setting", "converts", "expected", "int8"),
    [
        ("auto", True, "onnx", False),
        ("auto", False, "torch", False),  # no onnxruntime: quietly torch
        ("onnx", True, "onnx", False),
        ("onnx-int8", True, "onnx-int8", True),
        ("torch", True, "torch", None),  # never asked to convert
    ],
)
def test_backend_from_settings(
    tmp_path: Path, setting: str, converts: bool, expected: str, int8: bool | None
) -> None:
    settings = Settings(data_dir=tmp_path, inference_backend=setting, onnx_threads=2)
    model = FakeModel(converts)
    assert use_backend(model, settings) == expected
    if int8 is None:
        assert model.calls == []
    else:
        assert model.calls == [(tmp_path / "cache" / "onnx", 2, int8)]


@pytest.mark.parametrize("setting", ["onnx", "onnx-int8"])
def test_asked_for_onnx_that_cannot_be_had_is_a_start_error(tmp_path: Path, setting: str) -> None:
    settings = Settings(data_dir=tmp_path, inference_backend=setting)
    with pytest.raises(StartupError, match=f"CSA_INFERENCE_BACKEND={setting}"):
        use_backend(FakeModel(converts=False), settings)


def test_unknown_backend_is_refused_with_the_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CSA_INFERENCE_BACKEND", "tensorrt")
    with pytest.raises(ValueError, match="auto.*onnx.*torch"):
        Settings()
