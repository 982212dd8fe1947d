"""The saved classifier folder: which files, what `classifier.json` holds, integrity checks.

A folder holds `model.safetensors` (backbone + head), the backbone's `config.json`, the
tokenizer files, `classifier.json` (labels, task, calibration, provenance, sha256 of the
weights) and `metrics.json` (what training measured).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import ModelLoadError
from .prediction import TASKS

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
METADATA = "classifier.json"
METRICS = "metrics.json"
TOKENIZER_CONFIG = "tokenizer_config.json"
REQUIRED_FILES = (WEIGHTS, CONFIG, METADATA, TOKENIZER_CONFIG)
FORMAT_VERSION = 1
_REQUIRED_KEYS = ("labels", "task", "max_length", "temperature", "oos_threshold", "sha256")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_atomically(folder: Path, fill: Callable[[Path], None]) -> None:
    """Call `fill(tmp)` on a fresh sibling folder, then rename it to `folder`.

    Readers never see a half-written folder; an existing `folder` is replaced.
    """
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".{folder.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        fill(tmp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = folder.parent / f".{folder.name}.old-{uuid.uuid4().hex[:8]}"
    if folder.exists():
        os.rename(folder, old)
    os.rename(tmp, folder)
    shutil.rmtree(old, ignore_errors=True)


def read_metadata(folder: Path) -> dict[str, Any]:
    """Check that the folder is complete and return its validated `classifier.json`."""
    if not folder.is_dir():
        raise ModelLoadError(folder, "no such folder")
    missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
    if missing:
        raise ModelLoadError(folder, f"missing file(s): {', '.join(missing)}")
    try:
        meta = json.loads((folder / METADATA).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelLoadError(folder, f"{METADATA} is not valid JSON ({err})") from err
    if not isinstance(meta, dict):
        raise ModelLoadError(folder, f"{METADATA} must hold a JSON object")
    absent = [key for key in _REQUIRED_KEYS if key not in meta]
    if absent:
        raise ModelLoadError(folder, f"{METADATA} lacks key(s): {', '.join(absent)}")
    labels = meta["labels"]
    if (
        not isinstance(labels, list)
        or not labels
        or not all(isinstance(x, str) for x in labels)
        or len(set(labels)) != len(labels)
    ):
        raise ModelLoadError(
            folder, f"{METADATA}: labels must be a non-empty list of unique strings"
        )
    if meta["task"] not in TASKS:
        raise ModelLoadError(folder, f"{METADATA}: unknown task {meta['task']!r}")
    actual = sha256_file(folder / WEIGHTS)
    if actual != meta["sha256"]:
        raise ModelLoadError(
            folder,
            f"{WEIGHTS} does not match {METADATA} (sha256 {actual[:12]}, expected "
            f"{str(meta['sha256'])[:12]}): the weights were modified or belong to another model",
        )
    return meta


def read_metrics(folder: Path) -> dict[str, Any]:
    """`metrics.json`, or {} when absent or unreadable (it is informative only)."""
    try:
        data = json.loads((folder / METRICS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
