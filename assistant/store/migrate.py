"""Schema migrations (Alembic), run in code: `upgrade(engine)` brings a database to head.

No alembic.ini is needed: the Config is built here, the scripts live in the package
(assistant/store/migrations) and the open connection is handed to env.py.

* Several processes may start at once (uvicorn workers): on PostgreSQL the upgrade runs
  under a transaction-scoped advisory lock, on SQLite inside ``BEGIN IMMEDIATE``; whoever
  comes second finds the database at head and does nothing.
* A database made by the old ``create_all`` (tables, no ``alembic_version``) is adopted:
  missing tables are created as before, the baseline is stamped, later revisions run
  (they are written to skip what is already there), and the result must equal the models'
  schema, else nothing is committed and `SchemaMismatch` lists the differences.
"""

from __future__ import annotations

import logging
import time
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, inspect, text

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001"
# pg_advisory_xact_lock key for "schema upgrade" (any constant bigint, ours alone)
PG_LOCK_KEY = 0x637361_6D6967  # "csa" "mig"


class SchemaMismatch(RuntimeError):
    """The database's tables differ from what this version of the service expects."""


def target_metadata() -> MetaData:
    """The models' metadata, with every table module imported (they all use one Base)."""
    from . import agents, integrations, locks, models  # noqa: F401  (register the tables)

    return models.Base.metadata


def alembic_config(connection: Connection | None = None) -> Any:
    """An Alembic Config built in code: script_location from the package."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    return cfg


@cache
def head_revision() -> str:
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:  # pragma: no cover - the package always ships a baseline
        raise RuntimeError(f"no migration scripts in {MIGRATIONS_DIR}")
    return head


def current_revision(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn).get_current_revision()


def schema_diff(conn: Connection) -> list[Any]:
    """Differences between the database and the models (Alembic's compare_metadata)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    ctx = MigrationContext.configure(conn, opts={"compare_type": True})
    return list(compare_metadata(ctx, target_metadata()))


def upgrade(engine: Engine, attempts: int = 5) -> str:
    """Bring the database to the head revision; safe when several processes call it at once.

    Returns the revision the database is at afterwards. SQLite may answer "database is
    locked" at once (without waiting its busy timeout) when several connections start
    together; that attempt rolled back, so it is tried again.
    """
    from sqlalchemy.exc import OperationalError

    for attempt in range(1, attempts + 1):
        try:
            return _upgrade_once(engine)
        except OperationalError as err:
            if engine.dialect.name != "sqlite" or "locked" not in str(err) or attempt == attempts:
                raise
            log.info("database schema: locked by another process, retrying (%d)", attempt)
            time.sleep(0.2 * attempt)
    raise AssertionError("unreachable")  # pragma: no cover


def _upgrade_once(engine: Engine) -> str:
    head = head_revision()
    with engine.connect() as conn:
        if current_revision(conn) == head:
            return head
    with engine.connect() as conn:
        _lock(conn)
        rev = current_revision(conn)  # again: another process may have just done it
        if rev == head:
            conn.rollback()
            return head
        if rev is None and _app_tables(conn):
            _adopt_create_all_database(conn)
        else:
            log.info("database schema: upgrading %s -> %s", rev or "empty", head)
            _run("upgrade", conn, head)
        conn.commit()
    log.info("database schema at %s", head)
    return head


def _lock(conn: Connection) -> None:
    """Serialise upgrades between processes until this transaction ends."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_LOCK_KEY})
    elif conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # waits up to the busy timeout


def _app_tables(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names()) & set(target_metadata().tables)


def _adopt_create_all_database(conn: Connection) -> None:
    """Tables made by `create_all` before migrations existed: stamp them, then upgrade."""
    found = _app_tables(conn)
    missing = sorted(set(target_metadata().tables) - found)
    log.warning(
        "database has %d tables but no alembic_version (made by create_all): adopting it%s",
        len(found),
        f"; creating missing tables {', '.join(missing)}" if missing else "",
    )
    # the tables of the baseline revision that an older version did not have yet
    target_metadata().create_all(conn)
    _run("stamp", conn, BASELINE)
    _run("upgrade", conn, "head")
    diff = schema_diff(conn)
    if diff:
        conn.rollback()
        lines = "\n  ".join(str(d) for d in diff[:20])
        raise SchemaMismatch(
            f"the existing database (made without migrations) differs from this version's "
            f"schema in {len(diff)} places; nothing was changed. Differences:\n  {lines}"
        )


def _run(what: str, conn: Connection, revision: str) -> None:
    from alembic import command

    cfg = alembic_config(conn)
    if what == "stamp":
        command.stamp(cfg, revision)
    else:
        command.upgrade(cfg, revision)
