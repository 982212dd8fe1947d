"""`assistant demo prepare`: the demo shop's knowledge base, models and index."""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .knowledge import read_pairs, rebuild_index
from .settings import Settings
from .store import Store

if TYPE_CHECKING:
    from training import Example

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
        if _in_registry(settings, task, folder):
            _train_registered(settings, task, data)
        else:
            _train(task, data, folder)
        timings[f"train_{task}"] = time.perf_counter() - t

    index_manifest = settings.index_dir / "manifest.json"
    if force or added or updated or not index_manifest.exists():
        t = time.perf_counter()
        rebuild_index(settings, store)
        timings["index"] = time.perf_counter() - t
    trained = any(step.startswith("train_") for step in timings)
    if settings.inference_backend != "torch" and (trained or not settings.onnx_cache_dir.exists()):
        t = time.perf_counter()
        _convert_for_serving(settings, store)
        timings["onnx"] = time.perf_counter() - t
    return timings


def _convert_for_serving(settings: Settings, store: Store) -> None:
    """Load the models as the server does, so the ONNX conversions are in the cache before
    the first start (a no-op when they already are)."""
    from .runtime import load_models, set_torch_threads

    set_torch_threads(settings)
    load_models(settings, store)


def _in_registry(settings: Settings, task: str, folder: Path) -> bool:
    """The default model folders are the registry's `current` links (training/registry.py)."""
    return folder == settings.data_dir / "models" / task / "current"


def _train_registered(settings: Settings, task: str, data: Path) -> None:
    """Train on 90% of the demo data, freeze the other 10% as the task's regression set,
    register the model as the next version (v1 on a fresh install) and make it live."""
    from training import stratified_split
    from training.registry import Registry

    registry = Registry(settings.data_dir / "models")
    train, held_out = stratified_split(_examples(task, data), (0.9, 0.1), seed=0)
    registry.freeze_data(task, train, held_out)
    staging = registry.staging_dir(task)
    metrics = _train_examples(task, list(train), staging)
    info = registry.register(task, staging, metrics=metrics, note=f"demo: {data.name}")
    registry.promote(task, info.version)


def _examples(task: str, data: Path) -> list[Example]:
    from training import load_examples

    label_column = "intent" if task == "intents" else "label"
    return load_examples(data, text_column="text", label_column=label_column)


def _train(task: str, data: Path, folder: Path) -> None:
    _train_examples(task, _examples(task, data), folder)


def _train_examples(task: str, examples: list[Example], folder: Path) -> dict[str, Any]:
    from training import TrainArgs, train_classifier

    args = TrainArgs(
        epochs=DEMO_EPOCHS[task],
        max_length=48,
        batch_size=32,
        seed=0,
        freeze_layers=DEMO_FREEZE_LAYERS,
    )
    args.validate()
    if folder.exists():
        shutil.rmtree(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    result = train_classifier(examples, None, args, folder, task=task)
    log.info("%s model trained in %.0fs: %s", task, result.seconds, result.metrics)
    return {k: v for k, v in result.metrics.items() if k not in ("history", "args")}


# Sized to train both demo models in a few minutes on 2 CPU cores.
DEMO_EPOCHS = {"intents": 6, "sentiment": 5}
# Embeddings + the first 3 of MiniLM's 6 layers stay the packaged encoder's: the server
# runs them once per turn for intent, sentiment and retrieval (assistant/shared_pass.py).
DEMO_FREEZE_LAYERS = 3
