"""The model registry: numbered versions per task, the live one behind a `current` symlink.

Layout under `root` (the service's `data_dir/models`):

    {task}/v1/                 a TextClassifier folder + registry.json (see `VersionInfo`)
    {task}/v2/ ...
    {task}/current -> v2       symlink to the live version, replaced atomically (os.replace)
    {task}/history.json        promotions, oldest first: [{"version", "at", "action"}]
    {task}/data/regression.jsonl   the frozen regression set (held-out original data, then
                                   held-out labelled turns appended by each retraining)
    {task}/data/base_train.jsonl   the original training data (kept so old labels stay
                                   learnable when retraining on logged turns)

`TextClassifier.load(root / task / "current")` opens the live model. A legacy `current`
that is a real folder (a demo trained before the registry) is adopted as a version first.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .data import Example

log = logging.getLogger(__name__)

TASKS = ("intents", "sentiment")
REGISTRY_FILE = "registry.json"
HISTORY_FILE = "history.json"
CURRENT = "current"
REGRESSION_FILE = "regression.jsonl"
BASE_TRAIN_FILE = "base_train.jsonl"
_VERSION = re.compile(r"^v(\d+)$")


class RegistryError(RuntimeError):
    """A registry operation cannot be done; the message says why."""


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class VersionInfo:
    """What `registry.json` in a version folder holds."""

    task: str
    version: str
    status: str = "candidate"  # candidate | promoted | rejected
    created_at: str = field(default_factory=now_iso)
    promoted_at: str | None = None
    parent: str | None = None
    data_hash: str | None = None
    model_sha: str | None = None
    labels: list[str] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    note: str = ""

    @property
    def number(self) -> int:
        return version_number(self.version)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def version_number(version: str) -> int:
    match = _VERSION.match(version)
    if not match:
        raise RegistryError(f"not a version name: {version!r} (expected v1, v2, ...)")
    return int(match.group(1))


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def write_examples(path: Path, examples: Iterable[Example]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [json.dumps({"text": ex.text, "label": ex.label}, ensure_ascii=False) for ex in examples]
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.write_text("".join(r + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)
    return len(rows)


def read_examples(path: Path) -> list[Example]:
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out.append(Example(str(row["text"]), str(row["label"])))
    return out


class Registry:
    """Versions of the intent and sentiment classifiers under `root`."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    # -- paths ----------------------------------------------------------------------
    def task_dir(self, task: str) -> Path:
        if task not in TASKS:
            raise RegistryError(f"unknown task {task!r}; expected one of {', '.join(TASKS)}")
        return self.root / task

    def current_link(self, task: str) -> Path:
        return self.task_dir(task) / CURRENT

    def data_dir(self, task: str) -> Path:
        return self.task_dir(task) / "data"

    def staging_dir(self, task: str) -> Path:
        """A fresh folder path (not created) to train a candidate into before `register`."""
        return self.task_dir(task) / f".staging-{uuid.uuid4().hex[:8]}"

    # -- reading --------------------------------------------------------------------
    def versions(self, task: str) -> list[VersionInfo]:
        folder = self.task_dir(task)
        if not folder.is_dir():
            return []
        infos = [
            self._read_info(p)
            for p in folder.iterdir()
            if _VERSION.match(p.name) and (p / REGISTRY_FILE).is_file()
        ]
        return sorted(infos, key=lambda i: i.number)

    def get(self, task: str, version: str) -> VersionInfo:
        folder = self.task_dir(task) / version
        version_number(version)
        if not (folder / REGISTRY_FILE).is_file():
            raise RegistryError(f"no {task} version {version} in {self.task_dir(task)}")
        return self._read_info(folder)

    def path(self, task: str, version: str) -> Path:
        return self.task_dir(task) / version

    def current_version(self, task: str) -> str | None:
        """The version `current` points to, or None (no model, or a legacy folder)."""
        link = self.current_link(task)
        if not link.is_symlink():
            return None
        name = Path(os.readlink(link)).name
        return name if _VERSION.match(name) else None

    def current(self, task: str) -> VersionInfo | None:
        version = self.current_version(task)
        return self.get(task, version) if version else None

    def history(self, task: str) -> list[dict[str, str]]:
        path = self.task_dir(task) / HISTORY_FILE
        if not path.is_file():
            return []
        data = json.loads(path.read_text(encoding="utf-8"))
        return list(data) if isinstance(data, list) else []

    def listing(self) -> dict[str, Any]:
        """Everything `assistant models list --json` prints."""
        return {
            task: {
                "current": self.current_version(task),
                "versions": [v.to_json() for v in self.versions(task)],
                "history": self.history(task),
            }
            for task in TASKS
        }

    # -- writing --------------------------------------------------------------------
    def register(
        self,
        task: str,
        folder: Path,
        *,
        metrics: dict[str, Any] | None = None,
        data_hash: str | None = None,
        parent: str | None = None,
        note: str = "",
    ) -> VersionInfo:
        """Move a saved classifier `folder` into the registry as the next version."""
        from intents import TextClassifier  # checks the folder is a loadable classifier

        clf = TextClassifier.load(folder)
        if clf.task != task:
            raise RegistryError(f"{folder} holds a {clf.task} model, not {task}")
        task_dir = self.task_dir(task)
        task_dir.mkdir(parents=True, exist_ok=True)
        self.adopt_legacy(task)
        taken = [v.number for v in self.versions(task)]
        taken += [version_number(p.name) for p in task_dir.iterdir() if _VERSION.match(p.name)]
        version = f"v{max(taken, default=0) + 1}"
        info = VersionInfo(
            task=task,
            version=version,
            parent=parent,
            data_hash=data_hash,
            model_sha=clf.version,
            labels=clf.labels,
            metrics=dict(metrics or {}),
            note=note,
        )
        write_json_atomic(Path(folder) / REGISTRY_FILE, info.to_json())
        os.rename(folder, task_dir / version)  # fails if a concurrent writer took the name
        log.info("registered %s %s (parent %s, sha %s)", task, version, parent, clf.version)
        return info

    def promote(self, task: str, version: str, *, action: str = "promote") -> VersionInfo:
        """Point `current` at `version` (atomic symlink replace) and record it in the history."""
        info = self.get(task, version)
        self.adopt_legacy(task)
        link = self.current_link(task)
        tmp = link.with_name(f".{CURRENT}.tmp-{uuid.uuid4().hex[:8]}")
        os.symlink(version, tmp)  # relative: the registry folder can move
        os.replace(tmp, link)
        info.status = "promoted"
        info.promoted_at = now_iso()
        info.reasons = [] if action == "promote" else info.reasons
        self._write_info(info)
        history = self.history(task) + [
            {"version": version, "at": info.promoted_at, "action": action}
        ]
        write_json_atomic(self.task_dir(task) / HISTORY_FILE, history)
        log.info("%s: %s is now live (%s)", task, version, action)
        return info

    def rollback(self, task: str) -> VersionInfo:
        """Promote again the version that was live before the current one."""
        current = self.current_version(task)
        for entry in reversed(self.history(task)):
            version = entry["version"]
            if version != current and (self.task_dir(task) / version).is_dir():
                return self.promote(task, version, action=f"rollback from {current}")
        raise RegistryError(f"no earlier promoted {task} version to roll back to")

    def mark_rejected(self, task: str, version: str, reasons: Sequence[str]) -> VersionInfo:
        info = self.get(task, version)
        info.status = "rejected"
        info.reasons = list(reasons)
        self._write_info(info)
        log.info("%s %s rejected: %s", task, version, "; ".join(reasons))
        return info

    def update_metrics(self, task: str, version: str, metrics: dict[str, Any]) -> VersionInfo:
        info = self.get(task, version)
        info.metrics.update(metrics)
        self._write_info(info)
        return info

    def adopt_legacy(self, task: str) -> str | None:
        """Turn a real `current` folder (trained before the registry) into a version."""
        link = self.current_link(task)
        if link.is_symlink() or not link.is_dir():
            return None
        from intents import TextClassifier

        staging = self.staging_dir(task)
        os.rename(link, staging)
        info = self.register(
            task,
            staging,
            metrics=TextClassifier.load(staging).metrics,
            note="adopted from a legacy current folder",
        )
        self.promote(task, info.version, action="adopt")
        return info.version

    # -- data kept with the registry -------------------------------------------------
    def regression_set(self, task: str) -> list[Example]:
        return read_examples(self.data_dir(task) / REGRESSION_FILE)

    def base_train(self, task: str) -> list[Example]:
        return read_examples(self.data_dir(task) / BASE_TRAIN_FILE)

    def freeze_data(
        self, task: str, train: Sequence[Example], regression: Sequence[Example]
    ) -> None:
        """Store the original training data and the regression slice held out from it.

        Done once, at first registration; later calls leave existing files alone.
        """
        folder = self.data_dir(task)
        if not (folder / REGRESSION_FILE).is_file():
            n = write_examples(folder / REGRESSION_FILE, regression)
            log.info("%s: froze a regression set of %d examples", task, n)
        if not (folder / BASE_TRAIN_FILE).is_file():
            write_examples(folder / BASE_TRAIN_FILE, train)

    def extend_regression(self, task: str, held_out: Sequence[Example]) -> list[Example]:
        """Append held-out labelled turns not yet in the regression set; return the whole set.

        A turn once held out stays held out, so the set only grows and stays comparable.
        """
        rows = self.regression_set(task)
        seen = {ex.text for ex in rows}
        new = [ex for ex in held_out if ex.text not in seen]
        if new:
            rows += new
            write_examples(self.data_dir(task) / REGRESSION_FILE, rows)
            log.info("%s: %d held-out labelled turns added to the regression set", task, len(new))
        return rows

    # -- internals ------------------------------------------------------------------
    def _read_info(self, folder: Path) -> VersionInfo:
        data = json.loads((folder / REGISTRY_FILE).read_text(encoding="utf-8"))
        known = set(VersionInfo.__dataclass_fields__)
        return VersionInfo(**{k: v for k, v in data.items() if k in known})

    def _write_info(self, info: VersionInfo) -> None:
        write_json_atomic(self.path(info.task, info.version) / REGISTRY_FILE, info.to_json())

    def remove(self, task: str, version: str) -> None:
        """Delete a version that is not live (e.g. old rejected candidates)."""
        if version == self.current_version(task):
            raise RegistryError(f"{task} {version} is live; promote another version first")
        shutil.rmtree(self.path(task, version))
