"""When to retrain, and only one retraining at a time.

Due = at least `retrain_interval_hours` since the last run AND at least
`retrain_min_new_labels` agent corrections since then. Run it from cron
(`assistant retrain --if-due`, e.g. hourly) or from a thread in the API server
(`CSA_RETRAIN_SCHEDULE=true`). Either way the run holds the SQL lock "retrain"
(assistant/store/locks.py), so two runs never overlap and a crashed run's lock expires.
The last run is recorded in `data_dir/models/retrain_state.json`.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from assistant.store import Label, Store
from assistant.store.locks import SqlLock

from .registry import write_json_atomic

if TYPE_CHECKING:
    from assistant.settings import Settings

    from .retrain import RetrainReport

log = logging.getLogger(__name__)

LOCK_NAME = "retrain"
STATE_FILE = "retrain_state.json"


def state_path(settings: Settings) -> Path:
    return settings.data_dir / "models" / STATE_FILE


def last_run(settings: Settings) -> datetime | None:
    try:
        data = json.loads(state_path(settings).read_text(encoding="utf-8"))
        return datetime.fromisoformat(data["last_run_at"])
    except (OSError, ValueError, KeyError):
        return None


def new_labels_since(store: Store, since: datetime | None) -> int:
    with store.sessions() as s:
        q = select(func.count(Label.id))
        if since is not None:
            q = q.where(Label.created_at >= since)
        return int(s.execute(q).scalar_one())


def is_due(settings: Settings, store: Store, now: datetime | None = None) -> tuple[bool, str]:
    now = now or datetime.now(UTC)
    last = last_run(settings)
    if last is not None and now - last < timedelta(hours=settings.retrain_interval_hours):
        return (
            False,
            f"last run {last.isoformat()} is less than {settings.retrain_interval_hours}h ago",
        )
    fresh = new_labels_since(store, last)
    if fresh < settings.retrain_min_new_labels:
        return (
            False,
            f"{fresh} new labels since the last run, {settings.retrain_min_new_labels} needed",
        )
    return True, f"{fresh} new labels since {last.isoformat() if last else 'ever'}"


def retrain_lock(settings: Settings, store: Store) -> SqlLock:
    return SqlLock(store.engine, LOCK_NAME, settings.retrain_lock_ttl_s)


def run_locked(settings: Settings, store: Store, **options: Any) -> RetrainReport:
    """Retrain holding the lock (raises `LockHeld` when another run is on); record the run."""
    from .retrain import retrain

    started = datetime.now(UTC)
    with retrain_lock(settings, store).hold():
        report = retrain(settings, store, **options)
        state = {"last_run_at": started.isoformat(), "report": asdict(report)}
        state_path(settings).parent.mkdir(parents=True, exist_ok=True)
        write_json_atomic(state_path(settings), state)
    return report


class RetrainScheduler:
    """A daemon thread that checks `is_due` every `retrain_check_interval_s` and retrains."""

    def __init__(self, settings: Settings, store: Store, **options: Any) -> None:
        self.settings, self.store, self.options = settings, store, options
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="retrain-scheduler", daemon=True)

    def check_once(self) -> RetrainReport | None:
        from assistant.store.locks import LockHeld

        due, why = is_due(self.settings, self.store)
        if not due:
            log.debug("retraining not due: %s", why)
            return None
        log.info("retraining due: %s", why)
        try:
            return run_locked(self.settings, self.store, **self.options)
        except LockHeld as err:
            log.info("retraining skipped: %s", err)
            return None

    def _loop(self) -> None:
        while not self._stop.wait(self.settings.retrain_check_interval_s):
            try:
                self.check_once()
            except Exception:  # keep the scheduler alive; the next check tries again
                log.exception("scheduled retraining failed")

    def start(self) -> RetrainScheduler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
