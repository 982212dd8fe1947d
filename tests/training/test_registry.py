"""The model registry (register, promote, rollback, list) and the SQL retraining lock."""

from __future__ import annotations

import json
import os
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

_TESTS = str(Path(__file__).resolve().parents[1])
if _TESTS not in sys.path:
    sys.path.append(_TESTS)

from tiny_models import make_tiny_bert  # noqa: E402

from intents import TextClassifier  # noqa: E402
from training.registry import Registry, RegistryError  # noqa: E402

LABELS = ["order_status", "request_refund", "reset_password"]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_bert(tmp_path_factory.mktemp("tiny") / "bert")


def saved_model(base: Path, folder: Path, seed: int, task: str = "intents") -> Path:
    import torch

    torch.manual_seed(seed)  # a different head, so a different weights sha
    labels = LABELS if task == "intents" else ["negative", "neutral", "positive"]
    TextClassifier.create(base, labels, task).save(folder)
    return folder


def test_register_promote_rollback_and_list(base: Path, tmp_path: Path) -> None:
    registry = Registry(tmp_path / "models")
    assert registry.current_version("intents") is None

    v1 = registry.register("intents", saved_model(base, tmp_path / "a", 1), data_hash="abc")
    assert v1.version == "v1" and v1.status == "candidate" and v1.labels == LABELS
    assert not (tmp_path / "a").exists()  # moved into the registry
    registry.promote("intents", "v1")
    link = tmp_path / "models" / "intents" / "current"
    assert link.is_symlink() and os.readlink(link) == "v1"
    live = TextClassifier.load(link)  # loads through the symlink
    assert live.version == v1.model_sha

    v2 = registry.register(
        "intents", saved_model(base, tmp_path / "b", 2), parent="v1", metrics={"macro_f1": 0.9}
    )
    assert v2.version == "v2" and v2.model_sha != v1.model_sha
    registry.promote("intents", "v2")
    assert registry.current_version("intents") == "v2"
    assert TextClassifier.load(link).version == v2.model_sha
    assert registry.get("intents", "v2").promoted_at is not None

    v3 = registry.register("intents", saved_model(base, tmp_path / "c", 3), parent="v2")
    registry.mark_rejected("intents", v3.version, ["macro-F1 drops"])
    assert registry.current_version("intents") == "v2"

    back = registry.rollback("intents")
    assert back.version == "v1" and registry.current_version("intents") == "v1"
    assert [h["version"] for h in registry.history("intents")] == ["v1", "v2", "v1"]
    assert registry.history("intents")[-1]["action"] == "rollback from v2"
    back = registry.rollback("intents")  # rollback again: to v2, the one live before v1
    assert back.version == "v2"

    listing = registry.listing()
    assert listing["intents"]["current"] == "v2"
    statuses = {v["version"]: v["status"] for v in listing["intents"]["versions"]}
    assert statuses == {"v1": "promoted", "v2": "promoted", "v3": "rejected"}
    assert listing["intents"]["versions"][2]["reasons"] == ["macro-F1 drops"]
    assert listing["sentiment"] == {"current": None, "versions": [], "history": []}

    with pytest.raises(RegistryError):
        registry.promote("intents", "v9")
    with pytest.raises(RegistryError):
        registry.rollback("sentiment")
    with pytest.raises(RegistryError):
        registry.register("sentiment", saved_model(base, tmp_path / "d", 4))  # wrong task


def test_cli_list_promote_rollback(
    base: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from training.cli_retrain import models_group

    monkeypatch.setenv("CSA_DATA_DIR", str(tmp_path / "var"))
    registry = Registry(tmp_path / "var" / "models")
    for seed in (1, 2):
        registry.register("sentiment", saved_model(base, tmp_path / f"s{seed}", seed, "sentiment"))
    runner = CliRunner()

    result = runner.invoke(models_group, ["promote", "v1", "--task", "sentiment"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(models_group, ["promote", "v2", "--task", "sentiment"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(models_group, ["list", "--json"])
    assert result.exit_code == 0, result.output
    listing = json.loads(result.stdout)
    assert listing["sentiment"]["current"] == "v2"
    assert [v["version"] for v in listing["sentiment"]["versions"]] == ["v1", "v2"]

    result = runner.invoke(models_group, ["rollback", "--task", "sentiment"])
    assert result.exit_code == 0, result.output
    assert registry.current_version("sentiment") == "v1"
    result = runner.invoke(models_group, ["list"])
    assert "sentiment (live: v1)" in result.stdout and "* v1" in result.stdout

    result = runner.invoke(models_group, ["promote", "v7", "--task", "sentiment"])
    assert result.exit_code != 0 and "no sentiment version v7" in result.output


def test_a_legacy_current_folder_is_adopted_as_v1(base: Path, tmp_path: Path) -> None:
    registry = Registry(tmp_path / "models")
    legacy = saved_model(base, tmp_path / "models" / "intents" / "current", 1)
    sha = TextClassifier.load(legacy).version
    registry.register("intents", saved_model(base, tmp_path / "new", 2))
    assert registry.current_version("intents") == "v1"
    assert registry.get("intents", "v1").model_sha == sha
    assert registry.get("intents", "v2").status == "candidate"


# -- the retraining lock (assistant/store/locks.py) ------------------------------------------
def test_sql_lock_second_acquire_fails_and_an_expired_lock_is_taken_over(tmp_path: Path) -> None:
    from assistant.store import init_db, make_engine
    from assistant.store.locks import LockHeld, LockRow, SqlLock

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    init_db(engine)
    first = SqlLock(engine, "retrain", ttl_s=60, owner="worker-1")
    second = SqlLock(engine, "retrain", ttl_s=60, owner="worker-2")
    assert first.acquire()
    assert not second.acquire()
    assert first.acquire()  # re-entrant for its owner (renews)
    with pytest.raises(LockHeld, match="held by worker-1"), second.hold():
        pass

    # worker-1 "crashes": its lock is left behind, then expires.
    with first.sessions.begin() as s:
        row = s.get(LockRow, "retrain")
        assert row is not None
        row.expires_at = row.expires_at - timedelta(seconds=120)
    assert second.acquire()
    state = second.state()
    assert state is not None and state.owner == "worker-2"
    assert not first.refresh()  # the crashed owner lost it
    second.release()
    assert second.state() is None

    with first.hold():
        assert not second.acquire()
    assert second.acquire()  # released at the end of the block


def test_schedule_is_due_and_one_run_at_a_time(tmp_path: Path) -> None:
    from assistant.settings import Settings
    from assistant.store import BotTurn, CustomerTurn, Store, init_db, make_engine
    from assistant.store.locks import LockHeld, SqlLock
    from training.schedule import LOCK_NAME, is_due, last_run, run_locked

    settings = Settings(data_dir=tmp_path / "var", retrain_min_new_labels=2)
    engine = make_engine(settings.db_url)
    init_db(engine)
    store = Store(engine)
    assert is_due(settings, store) == (False, "0 new labels since the last run, 2 needed")
    for text in ("where is my order", "refund please"):
        turn = store.record_turn(
            None, CustomerTurn(text), BotTurn("ok", "answer", "t"), {}, {}
        ).customer_turn_id
        store.add_label(turn, "sentiment", "neutral", "ann")
    assert is_due(settings, store)[0]

    other = SqlLock(engine, LOCK_NAME, ttl_s=60, owner="other-host")
    assert other.acquire()
    with pytest.raises(LockHeld):
        run_locked(settings, store, tasks=("intents",), refresh_index=False)
    other.release()

    # nothing labelled for intents: the run is recorded, the task skipped (no training)
    report = run_locked(settings, store, tasks=("intents",), refresh_index=False)
    assert [o.status for o in report.outcomes] == ["skipped"]
    assert last_run(settings) is not None
    due, why = is_due(settings, store)
    assert not due and "less than 168.0h ago" in why
    assert SqlLock(engine, LOCK_NAME, ttl_s=60).acquire()  # released after the run
