"""Swap promoted models into the running server without a restart or a failed request.

`ModelWatcher` watches the model folders the service loads (by default the registry's
`data_dir/models/{task}/current` symlinks). When one points somewhere new, it loads the
new classifier BESIDE the running one (requests keep being served meanwhile), builds a new
`Models` with the unchanged knowledge base and assigns `engine.models` (one reference
swap: `TurnEngine.begin` reads `self.models` once per turn, so a turn in flight finishes
on the models it started with). `services.versions` is replaced too, for `/healthz`.
A folder that fails to load is logged and the running model is kept.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .engine import Models
from .runtime import StartupError, build_shared, use_backend

if TYPE_CHECKING:
    from .api.deps import Services

log = logging.getLogger(__name__)


def fingerprint(folder: Path) -> tuple[str, str] | None:
    """(resolved folder, weights sha256) of a classifier folder; None when absent."""
    real = Path(os.path.realpath(folder))
    try:
        meta = json.loads((real / "classifier.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return str(real), str(meta.get("sha256", ""))


def registry_version(folder: Path) -> str | None:
    """The registry version ("v3") of a classifier folder, when it has a registry.json."""
    try:
        data = json.loads((folder / "registry.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    version = data.get("version")
    return str(version) if version else None


class ModelWatcher:
    """`ModelWatcher(services, interval_s).start()`; tests call `check_once()`."""

    def __init__(self, services: Services, interval_s: float = 10.0) -> None:
        self.services = services
        self.interval_s = interval_s
        settings = services.settings
        self.folders = {
            "intents": settings.intent_model_dir,
            "sentiment": settings.sentiment_model_dir,
        }
        # What the engine runs now is what is on disk now.
        self.seen = {task: fingerprint(folder) for task, folder in self.folders.items()}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._publish_registry_versions()

    def check_once(self) -> list[str]:
        """Swap in every task whose folder changed; returns the tasks swapped."""
        with self._lock:  # one check at a time (thread + a manual call)
            engine = self.services.engine
            if engine is None:
                return []
            loaded: dict[str, Any] = {}
            for task, folder in self.folders.items():
                mark = fingerprint(folder)
                if mark is None or mark == self.seen[task]:
                    continue
                clf = self._load(task, Path(mark[0]))
                if clf is not None:
                    loaded[task] = clf
                self.seen[task] = mark  # a broken folder is not retried until it changes
            if not loaded:
                return []
            old = engine.models
            intent = loaded.get("intents", old.intent)
            sentiment = loaded.get("sentiment", old.sentiment)
            encoder = getattr(old.knowledge, "encoder", None)
            engine.models = Models(  # the atomic swap
                intent=intent,
                sentiment=sentiment,
                knowledge=old.knowledge,
                shared=build_shared(self.services.settings, intent, sentiment, encoder)
                if encoder is not None
                else None,
            )
            versions = dict(self.services.versions)
            for task, clf in loaded.items():
                versions[task] = clf.version
            self.services.versions = versions
            self._publish_registry_versions()
            log.info("models swapped in: %s", ", ".join(f"{t} {versions[t]}" for t in loaded))
            return sorted(loaded)

    def _load(self, task: str, folder: Path) -> Any:
        from intents import ModelLoadError, TextClassifier

        try:
            clf = TextClassifier.load(folder)
        except (ModelLoadError, OSError) as err:
            log.error(
                "new %s model at %s not loaded; keeping the running one: %s", task, folder, err
            )
            return None
        if clf.task != task:
            log.error(
                "%s holds a %s model, not %s; keeping the running one", folder, clf.task, task
            )
            return None
        try:
            use_backend(clf, self.services.settings)
        except StartupError as err:
            log.error("new %s model at %s: %s; keeping the running one", task, folder, err)
            return None
        return clf

    def _publish_registry_versions(self) -> None:
        versions = dict(self.services.versions)
        for task, mark in self.seen.items():
            release = registry_version(Path(mark[0])) if mark else None
            if release:
                versions[f"{task}_release"] = release
        self.services.versions = versions

    # -- background thread ----------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check_once()
            except Exception:  # never let the watcher die
                log.exception("model watcher check failed")

    def start(self) -> ModelWatcher:
        self._thread = threading.Thread(target=self._loop, name="model-watcher", daemon=True)
        self._thread.start()
        log.info(
            "watching %s every %.0fs", ", ".join(map(str, self.folders.values())), self.interval_s
        )
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


class BackgroundWorkers:
    """What `start_background_workers` started, stopped together at shutdown."""

    def __init__(self) -> None:
        self.workers: list[Any] = []

    def stop(self) -> None:
        for worker in reversed(self.workers):
            worker.stop()


def start_background_workers(services: Services) -> BackgroundWorkers:
    """The model watcher (`CSA_MODEL_WATCH_INTERVAL_S` > 0) and the retraining scheduler
    (`CSA_RETRAIN_SCHEDULE=true`); nothing when both are off (the default)."""
    started = BackgroundWorkers()
    settings = services.settings
    if settings.model_watch_interval_s > 0:
        started.workers.append(ModelWatcher(services, settings.model_watch_interval_s).start())
    if settings.retrain_schedule:
        from training.schedule import RetrainScheduler  # the CLI's retraining, in a thread

        started.workers.append(RetrainScheduler(settings, services.store).start())
    return started
