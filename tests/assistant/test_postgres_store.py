"""Store behaviour that differs between backends, on SQLite and on PostgreSQL (`db_url`):
concurrent turns on one conversation, the SQL lock under contention, and (PostgreSQL)
timestamps and days when the server's time zone is not UTC."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select, text

from assistant import analytics
from assistant.store import BotTurn, Conversation, CustomerTurn, Store, Turn, init_db, make_engine
from assistant.store.db import session_factory
from assistant.store.locks import SqlLock


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    init_db(engine)
    yield engine
    engine.dispose()


def _at_once(n: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run work(0..n-1) in n threads released together; the exceptions they raised."""
    start = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        start.wait()
        try:
            work(i)
        except BaseException as e:  # collected for the assertion
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return errors


def test_concurrent_turns_on_one_conversation_are_all_stored_once(engine: Engine) -> None:
    store = Store(engine)
    conv = store.record_turn(None, CustomerTurn("first"), None, {}, {}).conversation_id
    writers, each = 6, 5

    def write(i: int) -> None:
        for j in range(each):
            store.record_turn(
                conv, CustomerTurn(f"w{i}-{j}"), BotTurn(f"r{i}-{j}", "answer", "t"), {}, {}
            )

    assert _at_once(writers, write) == []
    with store.sessions() as s:
        turns = s.scalars(select(Turn).where(Turn.conversation_id == conv)).all()
    texts = Counter(t.text for t in turns if t.role == "customer")
    assert texts == Counter(["first"] + [f"w{i}-{j}" for i in range(writers) for j in range(each)])
    assert len({t.id for t in turns}) == len(turns) == 1 + 2 * writers * each
    replies = {t.reply_to: t.text for t in turns if t.role == "bot"}
    by_id = {t.id: t.text for t in turns}
    assert all(by_id[c] == "w" + r[1:] for c, r in replies.items())  # each reply to its turn


def test_sql_lock_under_contention_has_exactly_one_winner(engine: Engine) -> None:
    locks = [SqlLock(engine, "retrain", ttl_s=60, owner=f"worker-{i}") for i in range(8)]
    won: list[str] = []
    assert (
        _at_once(len(locks), lambda i: won.append(locks[i].owner) if locks[i].acquire() else None)
        == []
    )
    assert len(won) == 1
    state = locks[0].state()
    assert state is not None and state.owner == won[0]
    assert state.expires_at > state.acquired_at  # naive UTC on both backends
    assert abs((state.acquired_at - datetime.now(UTC).replace(tzinfo=None)).total_seconds()) < 60


@pytest.mark.postgres
def test_timestamps_are_utc_even_when_the_server_zone_is_not(postgres_session_url: str) -> None:
    from sqlalchemy.engine import make_url

    db_url = postgres_session_url
    migrated = make_engine(db_url)
    init_db(migrated)
    migrated.dispose()

    name = make_url(db_url).database
    admin = make_engine(db_url)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f"ALTER DATABASE \"{name}\" SET timezone TO 'Pacific/Auckland'"))
    admin.dispose()
    try:
        engine = make_engine(db_url)  # new sessions would default to Auckland time
        store = Store(engine)
        late = datetime(2025, 3, 1, 20, 0, tzinfo=UTC)  # already 2 March in Auckland
        with session_factory(engine).begin() as s:
            s.add(Conversation(id="tz", created_at=late, updated_at=late))
        view = store.get_conversation("tz")
        assert view is not None and view["created_at"] == "2025-03-01T20:00:00+00:00"
        assert analytics.conversations_per_day(engine) == [
            {"day": "2025-03-01", "conversations": 1}
        ]
        engine.dispose()
    finally:
        admin = make_engine(db_url)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" RESET timezone'))
        admin.dispose()
