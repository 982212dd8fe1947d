"""Engine and session factory for any SQLAlchemy URL (SQLite by default)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, connect_timeout_s: int = 5) -> Engine:
    """An engine for `url`; SQLite gets WAL, foreign keys and a busy timeout; PostgreSQL a
    connect timeout and pre-ping, so a database that went away answers 503 at once (not a
    hang) and the pool reconnects when it is back."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        return engine
    connect_args: dict[str, int | str] = {}
    if url.startswith("postgresql"):  # psycopg (3) and psycopg2 both take these
        connect_args["connect_timeout"] = connect_timeout_s
        # timestamps come back in UTC and date() counts UTC days, as on SQLite
        connect_args["options"] = "-c TimeZone=UTC"
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args=connect_args
    )


def init_db(engine: Engine) -> None:
    """Bring the schema to the newest migration (`alembic upgrade head`, run in code).

    Safe when several processes start at once; adopts a database made by the old
    ``create_all`` (see assistant/store/migrate.py)."""
    from .migrate import upgrade

    upgrade(engine)


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
