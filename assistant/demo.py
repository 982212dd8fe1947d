"""`assistant demo prepare`: the demo shop's knowledge base, models and index."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from .knowledge import read_pairs, rebuild_index
from .settings import Settings
from .store import Store

log = logging.getLogger(__name__)


def prepare_demo(settings: Settings, store: Store, force: bool = False) -> dict[str, float]:
    """Ingest the demo knowledge base and train what is missing. Returns seconds per step."""
    timings: dict[str, float] = {}
    demo = settings.demo_dir

    t = time.perf_counter()
    added, updated = store.upsert_pairs(read_pairs(demo / "answers.jsonl", source="demo"))
    timings["knowledge_base"] = time.perf_counter() - t
    log.info("demo knowledge base: %d pairs added, %d updated", added, updated)

    for task, data, folder in (
        ("intents", demo / "intents.jsonl", settings.intent_model_dir),
        ("sentiment", demo / "sentiment.jsonl", settings.sentiment_model_dir),
    ):
        if folder.exists() and not force:
            log.info("%s model present at %s", task, folder)
            continue
        t = time.perf_counter()
        _train(task, data, folder)
        timings[f"train_{task}"] = time.perf_counter() - t

    index_manifest = settings.index_dir / "manifest.json"
    if force or added or updated or not index_manifest.exists():
        t = time.perf_counter()
        rebuild_index(settings, store)
        timings["index"] = time.perf_counter() - t
    return timings


def _train(task: str, data: Path, folder: Path) -> None:
    from training import TrainArgs, load_examples, train_classifier

    label_column = "intent" if task == "intents" else "label"
    examples = load_examples(data, text_column="text", label_column=label_column)
    args = TrainArgs(epochs=DEMO_EPOCHS[task], max_length=48, batch_size=32, seed=0)
    args.validate()
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    result = train_classifier(examples, None, args, folder, task=task)
    log.info("%s model trained in %.0fs: %s", task, result.seconds, result.metrics)


# Sized to train both demo models in a few minutes on 2 CPU cores.
DEMO_EPOCHS = {"intents": 6, "sentiment": 5}
