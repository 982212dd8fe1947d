"""Throw-away PostgreSQL databases for tests: ``csa_test_<random>``, dropped afterwards.

The server is the one on 127.0.0.1:5432 (trust auth, user postgres, database ``test``);
CSA_TEST_POSTGRES_URL overrides it. Tests skip with the reason when it does not answer.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from functools import cache

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get(
    "CSA_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@cache
def unavailable_reason() -> str | None:
    """None when PostgreSQL answers, else why not (cached: asked once per session)."""
    try:
        engine = create_engine(ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as e:  # any failure means: no server for these tests
        return f"PostgreSQL at {make_url(ADMIN_URL).render_as_string()} does not answer: {e}"
    return None


def require_postgres() -> None:
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)


def create_database(prefix: str = "csa_test") -> str:
    """A new empty database; returns its SQLAlchemy URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    name = make_url(url).database
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fresh_database(prefix: str = "csa_test") -> Iterator[str]:
    """Generator for fixtures: skip without PostgreSQL, else a new database, dropped after."""
    require_postgres()
    url = create_database(prefix)
    try:
        yield url
    finally:
        drop_database(url)
