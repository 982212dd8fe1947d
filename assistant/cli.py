"""The `assistant` command line. `assistant --help` is the manual.

Only click is imported here; each command imports what it needs, so help answers at once.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

import click

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def _settings():  # type: ignore[no-untyped-def]
    from .settings import Settings

    return Settings()


def _store(settings):  # type: ignore[no-untyped-def]
    from .store import Store, init_db, make_engine

    engine = make_engine(settings.db_url)
    init_db(engine)
    return Store(engine)


def _fail(message: str) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(2)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
def main(verbose: bool) -> None:
    """cs-assistant: a customer-service chat assistant you run on your own machines.

    \b
    Quick start:
      make run                        # prepare the demo shop and serve it
      assistant demo prepare          # knowledge base, models and index for the demo
      assistant serve                 # http://127.0.0.1:8000 (widget /, console /console)
    Configuration comes from CSA_* environment variables (see README).
    """
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


@main.command()
@click.option("--host", default=None, help="Bind address (default CSA_HOST or 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default CSA_PORT or 8000).")
@click.option("--workers", type=int, default=None, help="Worker processes (use PostgreSQL).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Serve the API, the widget demo page (/) and the agent console (/console)."""
    import uvicorn

    settings = _settings()
    if host:
        os.environ["CSA_HOST"] = host
    if port:
        os.environ["CSA_PORT"] = str(port)
    workers = workers or settings.workers
    if workers > 1 and settings.db_url.startswith("sqlite"):
        click.echo(
            "warning: several workers on SQLite; use CSA_DATABASE_URL=postgresql://...", err=True
        )
    uvicorn.run(
        "ui.app:create_app_from_env",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers,
        log_level="info",
        access_log=settings.access_log,
    )


@main.group()
def demo() -> None:
    """The demo shop (Harbor & Pine): knowledge base, models, index."""


@demo.command("prepare")
@click.option("--force", is_flag=True, help="Retrain the models even if present.")
def demo_prepare(force: bool) -> None:
    """Ingest the demo knowledge base, train the intent and sentiment models if absent,
    and build the index. A second run only checks and returns."""
    from .demo import prepare_demo

    settings = _settings()
    started = time.perf_counter()
    timings = prepare_demo(settings, _store(settings), force=force)
    steps = ", ".join(f"{k} {v:.1f}s" for k, v in timings.items())
    click.echo(f"demo ready in {time.perf_counter() - started:.1f}s ({steps})", err=True)


@main.group()
def kb() -> None:
    """The knowledge base of question/answer pairs (SQL is the source of truth)."""


@kb.command("ingest")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--question-column", default="question", show_default=True)
@click.option("--answer-column", default="answer", show_default=True)
@click.option("--intent-column", default="intent", show_default=True)
@click.option("--id-column", default="id", show_default=True, help="Stable id for updates.")
@click.option("--no-index", is_flag=True, help="Do not rebuild the index afterwards.")
def kb_ingest(
    file: Path,
    question_column: str,
    answer_column: str,
    intent_column: str,
    id_column: str,
    no_index: bool,
) -> None:
    """Add (or update) Q&A pairs from a CSV or JSONL FILE, then rebuild the index.

    Placeholders in answers ({order_number}, {{Order Number}}) are kept and filled
    at reply time.
    """
    from .knowledge import read_pairs, rebuild_index
    from .records import DataFileError

    settings = _settings()
    store = _store(settings)
    try:
        pairs = read_pairs(file, question_column, answer_column, intent_column, id_column)
    except DataFileError as e:
        _fail(str(e))
    added, updated = store.upsert_pairs(pairs)
    click.echo(f"{added} pairs added, {updated} updated, {store.count_pairs()} in all", err=True)
    if not no_index:
        rebuild_index(settings, store)


@kb.command("search")
@click.argument("query")
@click.option("--k", default=5, show_default=True, help="How many hits.")
@click.option("--intent", default=None, help="Restrict to an intent (falls back to all).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list.")
def kb_search(query: str, k: int, intent: str | None, as_json: bool) -> None:
    """Search the knowledge base for QUERY."""
    from retrieval import KnowledgeBase, QAPair, SentenceEncoder

    settings = _settings()
    store = _store(settings)
    pairs = [QAPair(p.id, p.question, p.answer, p.intent) for p in store.approved_pairs()]
    knowledge, _ = KnowledgeBase.open(
        settings.index_dir, SentenceEncoder(settings.encoder_path), pairs
    )
    hits = knowledge.search(query, k=k, intent=intent)
    rows = [
        {
            "id": h.id,
            "score": round(float(h.score), 4),
            "question": h.question,
            "answer": h.answer,
            "intent": h.intent,
        }
        for h in hits
    ]
    if as_json:
        click.echo(json.dumps(rows, ensure_ascii=False))
    else:
        for r in rows:
            click.echo(f"{r['score']:.3f}  #{r['id']}  [{r['intent']}]  {r['question']}")


@main.group()
def index() -> None:
    """The FAISS index over the knowledge base."""


@index.command("rebuild")
def index_rebuild() -> None:
    """Re-encode every approved pair from SQL and save a fresh index."""
    from .knowledge import rebuild_index

    settings = _settings()
    n = rebuild_index(settings, _store(settings))
    click.echo(f"index rebuilt: {n} pairs at {settings.index_dir}", err=True)


@main.group()
def db() -> None:
    """The database schema (Alembic migrations; `serve` and every command upgrade by themselves)."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Bring the database to the newest schema (`alembic upgrade head`; safe to repeat)."""
    from .store import make_engine
    from .store.migrate import upgrade

    engine = make_engine(_settings().db_url)
    click.echo(f"database schema at {upgrade(engine)} (head)", err=True)


@db.command("current")
def db_current() -> None:
    """Print the database's schema revision and whether it is the newest."""
    from .store import make_engine
    from .store.migrate import current_revision, head_revision

    with make_engine(_settings().db_url).connect() as conn:
        rev = current_revision(conn)
    head = head_revision()
    click.echo(
        f"{rev} (head)"
        if rev == head
        else f"{rev or 'none'} (head {head}: run `assistant db upgrade`)"
    )


# command groups from other modules: register yours below (one line each)
from .cli_agents import agents as _agents_group  # noqa: E402

main.add_command(_agents_group)
from training.cli_retrain import add_commands as _add_retrain_commands  # noqa: E402

_add_retrain_commands(main)  # data export, retrain, models list|promote|rollback
from .cli_erasure import erase_command as _erase_command  # noqa: E402

_data_group = main.commands["data"]
assert isinstance(_data_group, click.Group)
_data_group.add_command(_erase_command)  # data erase
from .cli_integrations import keys as _keys_group  # noqa: E402
from .cli_integrations import webhooks as _webhooks_group  # noqa: E402

main.add_command(_keys_group)
main.add_command(_webhooks_group)


def _register_training_commands() -> None:
    try:
        from training.cli import eval_command, train_command
    except ImportError:  # pragma: no cover - training is part of the distribution
        return
    main.add_command(train_command, "train")
    main.add_command(eval_command, "eval")


_register_training_commands()

if __name__ == "__main__":
    main()
