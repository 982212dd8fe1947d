"""Fixtures: a complete engine on tiny random models, a real SQLite file and a real index."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.engine import Models, TurnEngine
from assistant.settings import Settings
from assistant.store import Store, init_db, make_engine

DEMO = Path(__file__).resolve().parents[2] / "assistant" / "demo"


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tiny_models import make_tiny_bert

    return make_tiny_bert(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="session")
def tiny_models(tiny_bert: Path) -> Models:
    """Untrained classifiers (random answers) and a knowledge base over the demo answers."""
    from intents import TextClassifier
    from retrieval import KnowledgeBase, QAPair, SentenceEncoder

    catalog = json.loads((DEMO / "intents.json").read_text())
    intent = TextClassifier.create(tiny_bert, sorted(catalog), "intents")
    sentiment = TextClassifier.create(tiny_bert, ["negative", "neutral", "positive"], "sentiment")
    kb = KnowledgeBase(SentenceEncoder(tiny_bert))
    rows = [json.loads(line) for line in (DEMO / "answers.jsonl").read_text().splitlines() if line]
    kb.build([QAPair(i + 1, r["question"], r["answer"], r["intent"]) for i, r in enumerate(rows)])
    return Models(intent=intent, sentiment=sentiment, knowledge=kb)


@pytest.fixture(scope="session")
def postgres_session_url() -> Iterator[str]:
    """One throw-away PostgreSQL database for the session's store tests (skips without one)."""
    from postgres_db import fresh_database

    yield from fresh_database()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a fresh SQLite file, or the session's PostgreSQL database
    with every table emptied (identities restarted) before the test."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'db.sqlite'}"
    from sqlalchemy import text

    from assistant.store.migrate import target_metadata

    url: str = request.getfixturevalue("postgres_session_url")
    engine = make_engine(url)
    init_db(engine)
    tables = ", ".join(f'"{t}"' for t in target_metadata().tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()
    return url


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var", cors_origins=["http://widget.example"])


@pytest.fixture
def tiny_engine(settings: Settings, tiny_models: Models) -> TurnEngine:
    from assistant.runtime import build_engine

    engine = make_engine(settings.db_url)
    init_db(engine)
    return build_engine(settings, Store(engine), tiny_models)
