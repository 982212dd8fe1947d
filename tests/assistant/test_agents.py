"""Agent accounts: password hashing, the store, and `assistant agents ...`."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli import main
from assistant.settings import Settings
from assistant.store import init_db, make_engine
from assistant.store.agents import AgentExists, Agents, hash_password, verify_password


def test_hash_is_salted_and_verifies() -> None:
    a, b = hash_password("s3cret-pass"), hash_password("s3cret-pass")
    assert a != b  # per-user salt
    assert a.startswith("scrypt$") and "s3cret" not in a
    assert verify_password("s3cret-pass", a) and verify_password("s3cret-pass", b)
    assert not verify_password("s3cret-pasS", a)
    assert not verify_password("s3cret-pass", "garbage")
    assert not verify_password("s3cret-pass", "md5$1$2$3$x$y")


def _agents(settings: Settings) -> Agents:
    engine = make_engine(settings.db_url)
    init_db(engine)
    return Agents(engine)


def test_agents_store(settings: Settings) -> None:
    agents = _agents(settings)
    agents.add("sam", "correct horse battery")
    with pytest.raises(AgentExists):
        agents.add("sam", "another password")
    with pytest.raises(ValueError, match="password"):
        agents.add("alex", "short")
    with pytest.raises(ValueError, match="user name"):
        agents.add("bad name", "long enough pass")
    assert [a.username for a in agents.list_agents()] == ["sam"]
    assert agents.authenticate("sam", "correct horse battery")
    assert agents.authenticate(" sam ", "correct horse battery")
    assert not agents.authenticate("sam", "Correct horse battery")
    assert not agents.authenticate("nobody", "correct horse battery")
    assert agents.remove("sam") and not agents.remove("sam")
    assert not agents.authenticate("sam", "correct horse battery")


def test_audit_log(settings: Settings) -> None:
    agents = _agents(settings)
    agents.record("sam", "take_over", "c1")
    agents.record("alex", "send", "c1", 7, {"chars": 5})
    agents.record("sam", "close", "c2")
    rows = agents.actions("c1")
    assert [(r["agent"], r["action"], r["turn_id"]) for r in rows] == [
        ("sam", "take_over", None),
        ("alex", "send", 7),
    ]
    assert rows[1]["details"] == {"chars": 5} and rows[1]["created_at"]
    assert [r["conversation_id"] for r in agents.actions(agent="sam")] == ["c1", "c2"]


def test_cli_add_list_remove(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"CSA_DATA_DIR": str(tmp_path / "var"), "CSA_DATABASE_URL": ""}
    added = runner.invoke(
        main, ["agents", "add", "sam", "--password-stdin"], input="pa55 word ok\n", env=env
    )
    assert added.exit_code == 0, added.output
    again = runner.invoke(
        main, ["agents", "add", "sam", "--password-stdin"], input="pa55 word ok\n", env=env
    )
    assert again.exit_code == 2 and "already exists" in again.output
    short = runner.invoke(main, ["agents", "add", "al", "--password-stdin"], input="x\n", env=env)
    assert short.exit_code == 2 and "at least" in short.output
    prompted = runner.invoke(
        main, ["agents", "add", "alex"], input="another pass\nanother pass\n", env=env
    )
    assert prompted.exit_code == 0, prompted.output

    listed = runner.invoke(main, ["agents", "list"], env=env)
    assert [line.split("\t")[0] for line in listed.output.splitlines()] == ["alex", "sam"]

    agents = _agents(Settings(data_dir=tmp_path / "var"))
    assert agents.authenticate("sam", "pa55 word ok")
    assert agents.authenticate("alex", "another pass")

    removed = runner.invoke(main, ["agents", "remove", "sam"], env=env)
    assert removed.exit_code == 0
    assert runner.invoke(main, ["agents", "remove", "sam"], env=env).exit_code == 1
    assert not agents.authenticate("sam", "pa55 word ok")
