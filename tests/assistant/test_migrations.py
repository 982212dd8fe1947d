"""Alembic migrations: an empty SQLite or PostgreSQL database upgraded to head has exactly
the models' schema; a database made by the old `create_all` is adopted (stamped) with its
data; concurrent starts upgrade once; `assistant db upgrade|current`."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, inspect, text

from assistant.cli import main
from assistant.store import CustomerTurn, Store, init_db, make_engine
from assistant.store.migrate import (
    BASELINE,
    SchemaMismatch,
    current_revision,
    head_revision,
    schema_diff,
    target_metadata,
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A brand-new empty database (PostgreSQL: its own `csa_test_<random>`, dropped after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db.sqlite'}"
        return
    from postgres_db import fresh_database

    yield from fresh_database()


@pytest.fixture
def empty_engine(empty_url: str) -> Iterator[Engine]:
    engine = make_engine(empty_url)
    yield engine
    engine.dispose()


def _revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return current_revision(conn)


def _diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        return schema_diff(conn)


def test_upgrade_of_an_empty_database_gives_exactly_the_models_schema(
    empty_engine: Engine,
) -> None:
    assert _revision(empty_engine) is None
    assert len(_diff(empty_engine)) >= len(target_metadata().tables)  # every table missing
    init_db(empty_engine)
    assert _revision(empty_engine) == head_revision()
    assert _diff(empty_engine) == []
    tables = set(inspect(empty_engine).get_table_names())
    assert tables == set(target_metadata().tables) | {"alembic_version"}
    init_db(empty_engine)  # a second start: nothing to do
    assert _revision(empty_engine) == head_revision()
    # and the schema works: a turn goes in and comes out
    store = Store(empty_engine)
    rec = store.record_turn(None, CustomerTurn("hello"), None, {}, {})
    assert store.conversation_state(rec.conversation_id).history == [("customer", "hello")]


def test_a_create_all_database_is_stamped_and_keeps_its_data(empty_engine: Engine) -> None:
    target_metadata().create_all(empty_engine)  # as init_db did before migrations
    rec = Store(empty_engine).record_turn(None, CustomerTurn("from before"), None, {}, {})
    assert _revision(empty_engine) is None
    init_db(empty_engine)
    assert _revision(empty_engine) == head_revision()
    assert _diff(empty_engine) == []
    view = Store(empty_engine).get_conversation(rec.conversation_id)
    assert view is not None and [m["text"] for m in view["messages"]] == ["from before"]


def test_an_older_create_all_database_gets_its_missing_tables(empty_engine: Engine) -> None:
    md = target_metadata()
    older = [md.tables[name] for name in ("conversations", "turns", "qa_pairs", "labels")]
    md.create_all(empty_engine, tables=older)  # before agents, webhooks and locks existed
    init_db(empty_engine)
    assert _revision(empty_engine) == head_revision() and _diff(empty_engine) == []


def test_a_create_all_database_that_differs_is_refused_unchanged(empty_engine: Engine) -> None:
    with empty_engine.begin() as conn:
        conn.execute(text("CREATE TABLE conversations (id VARCHAR(64) PRIMARY KEY)"))
    with pytest.raises(SchemaMismatch, match="differs from this version's schema") as err:
        init_db(empty_engine)
    assert "conversations" in str(err.value)
    assert _revision(empty_engine) is None  # rolled back: not stamped, nothing added
    assert set(inspect(empty_engine).get_table_names()) == {"conversations"}


def test_several_processes_starting_at_once_upgrade_once(empty_url: str) -> None:
    """Six engines (as six workers would have) run init_db at the same moment."""
    engines = [make_engine(empty_url) for _ in range(6)]
    start = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def boot(engine: Engine) -> None:
        start.wait()
        try:
            init_db(engine)
        except BaseException as e:  # reported below
            errors.append(e)

    threads = [threading.Thread(target=boot, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    try:
        assert errors == []
        assert _revision(engines[0]) == head_revision() and _diff(engines[0]) == []
        with engines[0].connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    finally:
        for e in engines:
            e.dispose()


def test_baseline_is_the_first_revision() -> None:
    from alembic.script import ScriptDirectory

    from assistant.store.migrate import alembic_config

    script = ScriptDirectory.from_config(alembic_config())
    assert [r.revision for r in script.walk_revisions()][-1] == BASELINE
    assert script.get_revision(BASELINE).down_revision is None


def test_cli_db_upgrade_and_current(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"CSA_DATA_DIR": str(tmp_path / "var")}
    before = runner.invoke(main, ["db", "current"], env=env)
    assert before.exit_code == 0, before.output
    assert "none" in before.output and f"head {head_revision()}" in before.output
    up = runner.invoke(main, ["db", "upgrade"], env=env)
    assert up.exit_code == 0, up.output
    after = runner.invoke(main, ["db", "current"], env=env)
    assert f"{head_revision()} (head)" in after.output
