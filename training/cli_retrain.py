"""`assistant data export`, `assistant retrain`, `assistant models list|promote|rollback`.

Only click is imported at module level; the commands import the rest when they run.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

TASKS = ("intents", "sentiment")
TASK_OR_ALL = click.Choice([*TASKS, "all"])


def _context() -> tuple[Any, Any]:
    """Settings (CSA_* environment) and the SQL store, tables created."""
    from assistant.settings import Settings
    from assistant.store import Store, init_db, make_engine

    settings = Settings()
    engine = make_engine(settings.db_url)
    init_db(engine)
    return settings, Store(engine)


def _tasks(task: str) -> tuple[str, ...]:
    return TASKS if task == "all" else (task,)


def _since(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError as err:
        raise click.BadParameter(f"not an ISO date: {value!r} (e.g. 2025-01-31)") from err
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


# -- data export ------------------------------------------------------------------------
@click.group("data")
def data_group() -> None:
    """Data from logged conversations: training exports, and erasure of a customer's."""


@data_group.command("export")
@click.option("--since", default=None, help="Only turns/labels from this ISO date on.")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Output folder.")
@click.option("--task", type=TASK_OR_ALL, default="all", show_default=True)
@click.option(
    "--include-bot-labels",
    is_flag=True,
    help="Also the bot's confident labels from conversations that ended without a handoff.",
)
def export_command(since: str | None, out: Path, task: str, include_bot_labels: bool) -> None:
    """Write OUT/{task}/train|val|test.jsonl, card.json and README.md (PII redacted,
    duplicates removed, agents' corrections win, stratified split)."""
    from .export import export_all

    settings, store = _context()
    sets = export_all(
        store,
        out,
        _tasks(task),
        since=_since(since),
        include_bot_labels=include_bot_labels,
        min_confidence=settings.retrain_bot_min_confidence,
    )
    for name, dataset in sets.items():
        click.echo(f"{name}: {dataset.size} rows -> {out / name}", err=True)
    click.echo(json.dumps({name: ds.card for name, ds in sets.items()}))


# -- retrain ----------------------------------------------------------------------------
@click.command("retrain")
@click.option("--task", type=TASK_OR_ALL, default="all", show_default=True)
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="cuda trains with bf16/fp16 mixed precision.",
)
@click.option(
    "--base",
    type=click.Choice(["current", "encoder"]),
    default="current",
    show_default=True,
    help="Start from the live model's encoder, or from the base encoder (--base-model).",
)
@click.option(
    "--base-model",
    type=click.Path(path_type=Path),
    default=None,
    help="Base encoder folder for --base encoder.  [default: packaged MiniLM]",
)
@click.option("--epochs", type=int, default=None, help="Maximum epochs.  [default: 6]")
@click.option("--since", default=None, help="Only labels from this ISO date on.")
@click.option(
    "--include-bot-labels",
    is_flag=True,
    default=None,
    help="Also train on the bot's confident labels (CSA_RETRAIN_INCLUDE_BOT_LABELS).",
)
@click.option("--if-due", is_flag=True, help="Only when the schedule says so (for cron).")
@click.option("--no-index", is_flag=True, help="Do not rebuild the FAISS index.")
def retrain_command(
    task: str,
    device: str,
    base: str,
    base_model: Path | None,
    epochs: int | None,
    since: str | None,
    include_bot_labels: bool | None,
    if_due: bool,
    no_index: bool,
) -> None:
    """Export labelled turns, fine-tune candidates, promote those that pass the gate.

    The gate: macro-F1 on the frozen regression set must not drop, and no label with at
    least 20 regression examples may lose more than 2 points of recall. A refused
    candidate stays in the registry marked rejected. One run at a time (SQL lock).
    Prints a JSON report on stdout.
    """
    from assistant.store.locks import LockHeld

    from .args import TrainArgs
    from .cli import _setup_logging
    from .schedule import is_due, run_locked

    _setup_logging()
    settings, store = _context()
    if if_due:
        due, why = is_due(settings, store)
        if not due:
            click.echo(f"retraining not due: {why}", err=True)
            return
    overrides: dict[str, Any] = {"device": device}
    if base_model is not None:
        overrides["base_model"] = base_model
    if epochs is not None:
        overrides["epochs"] = epochs
    args = TrainArgs(**overrides)
    try:
        replace(args).validate()  # checked; freeze_layers stays None: the live model's
    except ValueError as err:
        raise click.UsageError(str(err)) from err
    try:
        report = run_locked(
            settings,
            store,
            tasks=_tasks(task),
            device=device,
            base=base,
            args=args,
            since=_since(since),
            include_bot_labels=include_bot_labels,
            refresh_index=not no_index,
        )
    except LockHeld as err:
        raise click.ClickException(f"another retraining is running: {err}") from err
    for o in report.outcomes:
        why = f": {'; '.join(o.reasons)}" if o.reasons else ""
        click.echo(f"{o.task}: {o.status} {o.version or ''} (live: {o.live}){why}", err=True)
    click.echo(json.dumps(asdict(report)))


# -- models -----------------------------------------------------------------------------
@click.group("models")
def models_group() -> None:
    """The model registry: versions, promotion, rollback."""


def _registry() -> Any:
    from assistant.settings import Settings

    from .registry import Registry

    return Registry(Settings().data_dir / "models")


@models_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the registry as JSON.")
def models_list(as_json: bool) -> None:
    """Versions per task: status, macro-F1 on the regression set, live marker."""
    listing = _registry().listing()
    if as_json:
        click.echo(json.dumps(listing))
        return
    for task, entry in listing.items():
        click.echo(f"{task} (live: {entry['current'] or 'none'})")
        for v in entry["versions"]:
            f1 = (v["metrics"].get("regression") or {}).get("macro_f1")
            live = "*" if v["version"] == entry["current"] else " "
            f1_text = f"{f1:.4f}" if isinstance(f1, float) else "  n/a "
            click.echo(
                f" {live} {v['version']:<5} {v['status']:<9} macro-F1 {f1_text}  "
                f"parent {v['parent'] or '-':<5} {v['created_at']}  {'; '.join(v['reasons'])}"
            )


@models_group.command("promote")
@click.argument("version")
@click.option("--task", type=click.Choice(TASKS), default="intents", show_default=True)
def models_promote(version: str, task: str) -> None:
    """Make VERSION (e.g. v3) the live TASK model (a running server swaps it in)."""
    from .registry import RegistryError

    try:
        info = _registry().promote(task, version)
    except RegistryError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"{task}: {info.version} is live", err=True)


@models_group.command("rollback")
@click.option("--task", type=click.Choice(TASKS), default="intents", show_default=True)
def models_rollback(task: str) -> None:
    """Make the previously live TASK version live again."""
    from .registry import RegistryError

    try:
        info = _registry().rollback(task)
    except RegistryError as err:
        raise click.ClickException(str(err)) from err
    click.echo(f"{task}: rolled back to {info.version}", err=True)


def add_commands(group: click.Group) -> None:
    """Register `data`, `retrain` and `models` on the `assistant` command group."""
    group.add_command(data_group)
    group.add_command(retrain_command)
    group.add_command(models_group)
