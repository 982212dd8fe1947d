"""Several uvicorn workers on one PostgreSQL database: the real server (`assistant serve
--workers 2`) on the trained demo models, a fresh database migrated by both workers at
once, and 8 concurrent clients. Every turn answered 200 is stored exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from server_process import (
    Sent,
    ServerProcess,
    check_every_200_stored_once,
    demo_env,
    group_pids,
    send_turns,
    stored_customer_turns,
)

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

CONVERSATIONS, CLIENTS, TURNS = 4, 8, 6


@pytest.fixture
def pg_url() -> Iterator[str]:
    from postgres_db import fresh_database

    yield from fresh_database()


def _demo_pairs_into(database_url: str) -> int:
    """The demo knowledge base in the same order `demo prepare` used for the SQLite fixture,
    so the copied FAISS index (ids 1..N) matches and no worker has to rebuild it."""
    from assistant.knowledge import read_pairs
    from assistant.settings import Settings
    from assistant.store import Store, init_db, make_engine

    engine = make_engine(database_url)
    init_db(engine)
    added, _ = Store(engine).upsert_pairs(
        read_pairs(Settings().demo_dir / "answers.jsonl", source="demo")
    )
    engine.dispose()
    return added


def test_two_workers_on_postgresql_store_every_answered_turn_once(
    demo_settings, pg_url: str, tmp_path: Path
) -> None:
    assert _demo_pairs_into(pg_url) > 0
    env = demo_env(demo_settings, tmp_path / "var", database_url=pg_url)
    with ServerProcess(env, tmp_path / "server.log", workers=2) as server:
        health = server.wait_ready()
        assert health["database"] == "ok" and health["index"]["size"] > 0
        assert len(group_pids(server)) >= 3  # the supervisor and two workers

        conversations: list[str] = []
        opening: list[Sent] = []
        for i in range(CONVERSATIONS):
            text = f"hello, I have a question {'abcd'[i]}"
            r = httpx.post(f"{server.url}/v1/chat", json={"message": text}, timeout=60)
            assert r.status_code == 200, r.text
            conversations.append(r.json()["conversation_id"])
            opening.append(Sent(conversations[-1], text, 200, r.json()["turn_id"]))

        sent = send_turns(server.url, conversations, clients=CLIENTS, turns=TURNS)
        log = server.log()

    statuses = sorted({s.status for s in sent})
    assert len(sent) == CLIENTS * TURNS
    assert statuses == [200], f"statuses {statuses}; server log:\n{log}"
    stored = stored_customer_turns(pg_url, conversations)
    check_every_200_stored_once(opening + sent, stored)
    assert len(stored) == CONVERSATIONS + CLIENTS * TURNS
    # both workers served: each logs its own start-up
    assert log.count("Application startup complete") >= 2, log
    print(f"\nworkers: {len(sent) + len(opening)} turns sent, all 200, {len(stored)} rows found")
