"""Run a BERT-family network with ONNX Runtime on the CPU.

For the short texts of a chat turn, ONNX Runtime runs MiniLM-L6 2-3x faster than eager
torch on one core with the same outputs (to ~1e-5; bench/RESULTS.md, "Inference backends").
`export_runner` converts a torch module once (about a second) and keeps the file in a cache
folder under a key that names the weights, so later starts only load it.
"""

from __future__ import annotations

import logging
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

log = logging.getLogger(__name__)

OPSET = 17
# What a network is traced with: two rows of different lengths, so padding is in the graph.
SAMPLE_TEXTS = ("a sample text", "a longer sample text for the converter")


def onnx_available() -> bool:
    """True when onnxruntime (and onnx, which the exporter needs) can be imported."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


class _Positional(nn.Module):
    """`module(**{name: tensor})` called with positional tensors, as the exporter passes them."""

    def __init__(self, module: nn.Module, names: Sequence[str]) -> None:
        super().__init__()
        self.module = module
        self.names = list(names)

    def forward(self, *tensors: torch.Tensor) -> torch.Tensor:
        return self.module(**dict(zip(self.names, tensors, strict=True)))


class OnnxRunner:
    """`runner(batch)`: the network's output for a batch of token arrays, as float32 numpy."""

    def __init__(
        self, session: Any, input_names: Sequence[str], source: str, int8: bool = False
    ) -> None:
        self.session = session
        self.input_names = list(input_names)
        self.source = source  # the cached file, or "temporary"
        self.int8 = int8

    @property
    def backend(self) -> str:
        """The `inference_backend` name of this runner: "onnx" or "onnx-int8"."""
        return "onnx-int8" if self.int8 else "onnx"

    def __call__(self, batch: Mapping[str, Any]) -> NDArray[np.float32]:
        feed = {}
        for name in self.input_names:
            value = batch[name]
            if isinstance(value, torch.Tensor):
                value = value.cpu().numpy()
            value = np.asarray(value)
            floating = np.issubdtype(value.dtype, np.floating)
            feed[name] = value.astype(np.float32 if floating else np.int64, copy=False)
        out = self.session.run(None, feed)[0]
        return np.asarray(out, dtype=np.float32)

    def __repr__(self) -> str:
        return f"OnnxRunner(inputs={self.input_names}, source={self.source!r}, int8={self.int8})"


def _session(model: str | bytes, threads: int) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = max(0, threads)  # 0: one per core
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only
    # idle pool threads sleep instead of spinning: the request threads need those cores
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _export(module: nn.Module, sample: Mapping[str, torch.Tensor], target: Any) -> None:
    names = list(sample)
    dynamic = {n: {0: "batch", 1: "tokens"} for n in names} | {"output": {0: "batch"}}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # the exporter's deprecation and tracer notes
        torch.onnx.export(
            _Positional(module, names).eval(),
            tuple(sample[n].cpu() for n in names),
            target,
            input_names=names,
            output_names=["output"],
            dynamic_axes=dynamic,
            opset_version=OPSET,
            dynamo=False,
        )


def _prune(folder: Path, name: str, kept: Path) -> None:
    """Remove the other conversions of model `name`: a running process keeps its loaded
    copy, and a rollback converts again in a second or two."""
    for old in folder.glob(f"{name}--*.onnx"):
        if old != kept:
            old.unlink(missing_ok=True)


def _convert(
    module: nn.Module, sample: Mapping[str, torch.Tensor], target: Path, int8: bool
) -> None:
    """Write `module` as ONNX to `target`; `int8`: with dynamically quantised weights."""
    if not int8:
        _export(module, sample, str(target))
        return
    from onnxruntime.quantization import QuantType, quantize_dynamic

    plain = target.with_name(target.name + ".fp32")
    try:
        _export(module, sample, str(plain))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            quantize_dynamic(str(plain), str(target), weight_type=QuantType.QInt8)
    finally:
        plain.unlink(missing_ok=True)


def export_runner(
    module: nn.Module,
    sample: Mapping[str, torch.Tensor],
    *,
    cache_dir: Path | None = None,
    name: str | None = None,
    version: str | None = None,
    threads: int = 1,
    int8: bool = False,
) -> OnnxRunner:
    """Convert `module` (called as `module(**sample)`, eval mode, on the CPU) to ONNX.

    With `cache_dir`, `name` and `version` (which must change whenever the weights do) the
    file is kept as `cache_dir/<name>--<version>[.int8].onnx`, reused by later starts, and
    older versions of `name` are removed; otherwise it lives in a temporary folder. `threads`
    are ONNX Runtime's threads per call; `int8` quantises the weights (smaller, faster on
    the CPU, outputs differ slightly: measure before using). Raises what the exporter raises
    for a module it cannot convert; the caller keeps torch then.
    """
    module.eval()
    names = list(sample)
    suffix = ".int8.onnx" if int8 else ".onnx"
    if cache_dir is not None and name and version:
        folder = Path(cache_dir)
        path = folder / f"{name}--{version}{suffix}"
        if path.is_file():
            try:
                return OnnxRunner(_session(str(path), threads), names, str(path), int8)
            except Exception as err:  # a truncated or foreign file: convert again
                log.warning("cached ONNX model %s unusable (%s): converting again", path, err)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd, tmp_name = tempfile.mkstemp(dir=folder, suffix=".tmp")
        except OSError as err:  # a read-only data folder: convert at every start instead
            log.warning("cannot write the ONNX cache in %s (%s): converting in /tmp", folder, err)
        else:
            os.close(fd)
            tmp = Path(tmp_name)
            try:
                _convert(module, sample, tmp, int8)
                tmp.chmod(0o644)
                tmp.replace(path)
            finally:
                tmp.unlink(missing_ok=True)
            _prune(folder, name, path)
            log.info("converted %s to ONNX at %s", name, path)
            return OnnxRunner(_session(str(path), threads), names, str(path), int8)
    with tempfile.TemporaryDirectory(prefix="csa-onnx-") as tmp_dir:
        path = Path(tmp_dir) / f"model{suffix}"
        _convert(module, sample, path, int8)
        return OnnxRunner(_session(str(path), threads), names, "temporary", int8)


class OnnxBacked:
    """A model whose inference moves to an `OnnxRunner` once `_use_runner` converted it;
    `backend` says where it runs and `use_torch()` goes back."""

    _runner: OnnxRunner | None = None

    @property
    def backend(self) -> str:
        """ "torch", or "onnx" / "onnx-int8" after a successful conversion."""
        return "torch" if self._runner is None else self._runner.backend

    def use_torch(self) -> None:
        """Run the torch network again."""
        self._runner = None

    def _use_runner(
        self,
        what: str,
        module: nn.Module,
        tokenizer: Any,
        max_length: int,
        *,
        cache_dir: str | Path | None,
        name: str,
        version: str | None,
        threads: int,
        int8: bool,
    ) -> bool:
        """Convert `module` (fed by `tokenizer`) and run on it from now on. False, keeping
        torch, without onnxruntime or when the network does not convert (both logged)."""
        if not onnx_available():
            log.warning("onnxruntime is not installed: %s stays on torch", what)
            return False
        from .chunking import padded_rows

        enc = tokenizer(list(SAMPLE_TEXTS), truncation=True, max_length=max_length)
        width = max(len(ids) for ids in enc["input_ids"])
        rows = padded_rows(tokenizer, enc, [0, 1], width)
        try:
            self._runner = export_runner(
                module,
                {k: torch.from_numpy(v) for k, v in rows.items()},
                cache_dir=Path(cache_dir) if cache_dir is not None else None,
                name=name,
                version=version,
                threads=threads,
                int8=int8,
            )
        except Exception as err:  # an exotic backbone: torch still works
            log.warning("cannot convert %s to ONNX (%s): it stays on torch", what, err)
            return False
        return True
