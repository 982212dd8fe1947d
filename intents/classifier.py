"""`TextClassifier`: tokenizer + `EncoderClassifier` + calibration, with save and load."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from . import storage
from .calibration import softmax
from .chunking import length_chunks, padded_rows
from .errors import ModelLoadError
from .model import EncoderClassifier
from .onnx_runner import OnnxBacked
from .prediction import OUT_OF_SCOPE, TASKS, Prediction

log = logging.getLogger(__name__)


def _quiet_transformers() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


class TextClassifier(OnnxBacked):
    """A BERT-family text classifier for one task ("intents" or "sentiment").

    Build a fresh one with `TextClassifier.create(base_model_folder, labels, task)` (what
    training does) or open a saved one with `TextClassifier.load(folder)`.
    """

    def __init__(
        self,
        model: EncoderClassifier,
        tokenizer: Any,
        labels: Sequence[str],
        task: str,
        *,
        max_length: int = 64,
        temperature: float = 1.0,
        oos_threshold: float = 0.0,
        metadata: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        device: str | torch.device = "cpu",
    ):
        if task not in TASKS:
            raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
        if model.head.out_features != len(labels):
            raise ValueError(f"head has {model.head.out_features} outputs for {len(labels)} labels")
        self.model = model
        self.tokenizer = tokenizer
        self._labels = list(labels)
        self._task = task
        self.max_length = max_length
        self._temperature = float(temperature)
        self._oos_threshold = float(oos_threshold)
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.metrics: dict[str, Any] = dict(metrics or {})
        self.device = torch.device(device)
        self.model.to(self.device)

    # -- construction -----------------------------------------------------------------
    @classmethod
    def create(
        cls,
        base_model: str | Path,
        labels: Sequence[str],
        task: str,
        *,
        max_length: int = 64,
        dropout: float = 0.1,
        device: str | torch.device = "cpu",
    ) -> TextClassifier:
        """A new classifier: pretrained encoder from `base_model`, randomly initialised head."""
        from transformers import AutoModel, AutoTokenizer

        _quiet_transformers()
        backbone = AutoModel.from_pretrained(str(base_model))
        tokenizer = AutoTokenizer.from_pretrained(str(base_model))
        model = EncoderClassifier(backbone, backbone.config.hidden_size, len(labels), dropout)
        meta = {"base_model": str(base_model), "dropout": dropout}
        return cls(
            model, tokenizer, labels, task, max_length=max_length, metadata=meta, device=device
        )

    # -- properties -------------------------------------------------------------------
    @property
    def labels(self) -> list[str]:
        return list(self._labels)

    @property
    def task(self) -> str:
        return self._task

    @property
    def version(self) -> str:
        """First 12 hex digits of the sha256 of the saved weights ("unsaved" before saving)."""
        return str(self.metadata.get("sha256", "unsaved"))[:12]

    @property
    def temperature(self) -> float:
        return self._temperature

    @property
    def oos_threshold(self) -> float:
        return self._oos_threshold

    def calibrate(self, temperature: float, oos_threshold: float) -> None:
        """Set the softmax temperature and the out-of-scope threshold (0 never rejects)."""
        if temperature <= 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if not 0.0 <= oos_threshold <= 1.0:
            raise ValueError(f"oos_threshold must be in [0, 1], got {oos_threshold}")
        self._temperature = float(temperature)
        self._oos_threshold = float(oos_threshold)

    # -- inference backend (backend, use_torch: OnnxBacked) -----------------------------
    def use_onnx(
        self, cache_dir: str | Path | None = None, threads: int = 1, int8: bool = False
    ) -> bool:
        """Predict with ONNX Runtime from now on (CPU only; 2-3x faster for short texts).

        The converted network is cached in `cache_dir` under the weights' sha256 (saved or
        loaded classifiers only); `int8` quantises its weights. Returns False, and keeps
        torch, on a GPU, without onnxruntime, or when the backbone does not convert. Call it
        after training: later changes to the torch weights do not reach the converted copy
        (`use_torch()` goes back).
        """
        if self.device.type != "cpu":
            return False
        sha = self.metadata.get("sha256")
        return self._use_runner(
            f"the {self._task} classifier",
            self.model,
            self.tokenizer,
            self.max_length,
            cache_dir=cache_dir,
            name=self._task,
            version=sha[:24] if sha else None,
            threads=threads,
            int8=int8,
        )

    # -- inference --------------------------------------------------------------------
    def tokenize(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Token tensors for one batch, padded to its longest row, on the model's device."""
        enc = self.tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
        )
        return {k: v.to(self.device) for k, v in enc.items()}

    def logits(self, texts: Sequence[str], batch_size: int = 64) -> NDArray[np.float32]:
        """Raw (uncalibrated) logits, shape (len(texts), len(labels)), in input order."""
        out = np.zeros((len(texts), len(self._labels)), dtype=np.float32)
        if not texts:
            return out
        # Tokenised once; similar lengths run together so a pass pads little.
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)
        lengths = [len(ids) for ids in enc["input_ids"]]
        if self.model.training:
            self.model.eval()
        with torch.inference_mode():
            for idx in length_chunks(lengths, max_size=batch_size):
                width = max(lengths[i] for i in idx)
                if self._runner is not None:
                    out[idx] = self._runner(padded_rows(self.tokenizer, enc, idx, width))
                else:
                    batch = self._padded(enc, idx, width)
                    out[idx] = self.model(**batch).float().cpu().numpy()
        return out

    def _padded(self, enc: Any, idx: list[int], width: int) -> dict[str, torch.Tensor]:
        """Rows `idx` of an unpadded tokenizer output as tensors padded to `width`."""
        rows = padded_rows(self.tokenizer, enc, idx, width)
        return {k: torch.from_numpy(v).to(self.device) for k, v in rows.items()}

    def probabilities(self, texts: Sequence[str], batch_size: int = 64) -> NDArray[np.float64]:
        """Calibrated probabilities, shape (len(texts), len(labels))."""
        return softmax(self.logits(texts, batch_size), self._temperature)

    def predict(
        self, texts: Sequence[str], top_k: int = 3, batch_size: int = 64
    ) -> list[Prediction]:
        """One `Prediction` per text, in order."""
        if isinstance(texts, str):
            raise TypeError("predict() takes a sequence of texts, not one string")
        return self.predictions(self.logits(texts, batch_size), top_k)

    def predictions(self, logits: NDArray[np.float32], top_k: int = 3) -> list[Prediction]:
        """`Prediction`s from raw logits (this classifier's, computed elsewhere: e.g. by a
        pass shared with other models): calibrated, with the out-of-scope decision."""
        if len(logits) == 0:
            return []
        probs = softmax(np.asarray(logits, dtype=np.float32), self._temperature)
        k = max(1, min(top_k, len(self._labels)))
        results = []
        for row in probs:
            best = np.argsort(-row, kind="stable")[:k]
            top = [(self._labels[j], float(row[j])) for j in best]
            confidence = top[0][1]
            rejected = confidence < self._oos_threshold
            results.append(
                Prediction(
                    label=OUT_OF_SCOPE if rejected else top[0][0],
                    confidence=confidence,
                    top=top,
                    out_of_scope=rejected,
                )
            )
        return results

    # -- persistence ------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Write the classifier to `folder` atomically (replacing it) and return it."""
        folder = Path(folder)
        meta = {
            **self.metadata,
            "format_version": storage.FORMAT_VERSION,
            "labels": self._labels,
            "task": self._task,
            "max_length": self.max_length,
            "pooling": "mean",
            "temperature": self._temperature,
            "oos_threshold": self._oos_threshold,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        meta.setdefault("base_model", "")

        def fill(tmp: Path) -> None:
            state = {
                k: v.detach().cpu().clone().contiguous() for k, v in self.model.state_dict().items()
            }
            save_file(state, str(tmp / storage.WEIGHTS))
            meta["sha256"] = storage.sha256_file(tmp / storage.WEIGHTS)
            self.model.backbone.config.save_pretrained(tmp)
            self.tokenizer.save_pretrained(tmp)
            storage.write_json(tmp / storage.METADATA, meta)
            storage.write_json(tmp / storage.METRICS, self.metrics)

        storage.write_atomically(folder, fill)
        self.metadata = meta
        log.info(
            "saved %s classifier %s (%d labels) to %s",
            self._task,
            self.version,
            len(self._labels),
            folder,
        )
        return folder

    @classmethod
    def load(cls, folder: str | Path, device: str | torch.device = "cpu") -> TextClassifier:
        """Open a saved classifier; raise `ModelLoadError` when the folder is not a valid one."""
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        _quiet_transformers()
        folder = Path(folder)
        meta = storage.read_metadata(folder)
        labels: list[str] = meta["labels"]
        try:
            config = AutoConfig.from_pretrained(str(folder))
        except (OSError, ValueError) as err:
            raise ModelLoadError(folder, f"bad {storage.CONFIG}: {err}") from err
        weights = folder / storage.WEIGHTS
        try:
            with safe_open(str(weights), framework="pt") as fh:
                keys = set(fh.keys())
                head_shape = (
                    fh.get_slice("head.weight").get_shape() if "head.weight" in keys else None
                )
        except Exception as err:  # safetensors raises its own error types
            raise ModelLoadError(
                folder, f"{storage.WEIGHTS} is not a safetensors file: {err}"
            ) from err
        if head_shape is None:
            raise ModelLoadError(folder, f"{storage.WEIGHTS} has no classification head")
        if head_shape[0] != len(labels):
            raise ModelLoadError(
                folder,
                f"the head has {head_shape[0]} outputs but {storage.METADATA} lists "
                f"{len(labels)} labels",
            )
        if head_shape[1] != config.hidden_size:
            raise ModelLoadError(
                folder,
                f"the head expects vectors of size {head_shape[1]} but the backbone in "
                f"{storage.CONFIG} has hidden_size {config.hidden_size}",
            )
        backbone = AutoModel.from_config(config)
        model = EncoderClassifier(
            backbone, config.hidden_size, len(labels), float(meta.get("dropout", 0.1))
        )
        try:
            model.load_state_dict(load_file(str(weights)), strict=True)
        except RuntimeError as err:
            raise ModelLoadError(
                folder, f"weights do not fit the backbone in {storage.CONFIG}: {str(err)[:500]}"
            ) from err
        try:
            tokenizer = AutoTokenizer.from_pretrained(str(folder))
        except (OSError, ValueError) as err:
            raise ModelLoadError(folder, f"cannot load the tokenizer: {err}") from err
        clf = cls(
            model,
            tokenizer,
            labels,
            meta["task"],
            max_length=int(meta["max_length"]),
            temperature=float(meta["temperature"]),
            oos_threshold=float(meta["oos_threshold"]),
            metadata=meta,
            metrics=storage.read_metrics(folder),
            device=device,
        )
        log.info(
            "loaded %s classifier %s (%d labels) from %s on %s",
            clf.task,
            clf.version,
            len(labels),
            folder,
            clf.device,
        )
        return clf

    def __repr__(self) -> str:
        return (
            f"TextClassifier(task={self._task!r}, labels={len(self._labels)}, "
            f"version={self.version!r}, temperature={self._temperature:.3f}, "
            f"oos_threshold={self._oos_threshold:.3f})"
        )
