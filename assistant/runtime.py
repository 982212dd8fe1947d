"""Load what the engine runs on from disk, with clear errors when something is missing."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from .batcher import MicroBatcher
from .catalog import load_catalog, load_facts
from .engine import Analysis, AnalysisItem, Models, TurnEngine, analyse_batch
from .generators.factory import make_generator
from .policy import Thresholds
from .settings import Settings
from .store import Store

log = logging.getLogger(__name__)


class StartupError(RuntimeError):
    """The service cannot start: the message says what is missing and how to fix it."""


@dataclass(frozen=True)
class ModelVersions:
    intents: str
    sentiment: str
    index_size: int


def set_torch_threads(settings: Settings) -> None:
    """`torch.set_num_threads(settings.torch_threads)` (process-wide; 0 leaves torch's)."""
    if settings.torch_threads > 0:
        import torch

        torch.set_num_threads(settings.torch_threads)
        log.info("inference on %d CPU thread(s) per forward pass", settings.torch_threads)


def use_backend(model: Any, settings: Settings) -> str:
    """Move a classifier or the encoder to `settings.inference_backend`; returns the backend
    it runs on. "onnx" that cannot be had is a `StartupError`; "auto" falls back to torch."""
    if settings.inference_backend == "torch":
        return "torch"
    ok = model.use_onnx(
        settings.onnx_cache_dir,
        threads=settings.onnx_threads,
        int8=settings.inference_backend == "onnx-int8",
    )
    if not ok and settings.inference_backend != "auto":
        raise StartupError(
            f"CSA_INFERENCE_BACKEND={settings.inference_backend} but {model!r} cannot run on "
            "ONNX Runtime (is onnxruntime installed? is the model on the CPU?): see the log, "
            "or set it to auto"
        )
    return str(model.backend)


def build_shared(settings: Settings, intent: Any, sentiment: Any, encoder: Any) -> Any:
    """The shared pass of these models (assistant/shared_pass.py) or None, with a log line
    saying which and why."""
    if not settings.shared_pass or settings.inference_backend == "torch":
        return None
    from .shared_pass import SharedPass

    shared, why = SharedPass.build(
        intent,
        sentiment,
        encoder,
        cache_dir=settings.onnx_cache_dir,
        threads=settings.onnx_threads,
        int8=settings.inference_backend == "onnx-int8",
    )
    log.info("%s: %s", "shared pass" if shared else "no shared pass", why)
    return shared


def load_models(settings: Settings, store: Store) -> Models:
    """The classifiers, the encoder and the knowledge-base index (rebuilt from SQL if stale)."""
    from intents import ModelLoadError, TextClassifier
    from retrieval import KnowledgeBase, QAPair, SentenceEncoder

    started = time.perf_counter()
    loaded = {}
    for task, folder in (
        ("intents", settings.intent_model_dir),
        ("sentiment", settings.sentiment_model_dir),
    ):
        if not folder.exists():
            raise StartupError(
                f"no {task} model at {folder}: run `assistant demo prepare` (demo) or "
                f"`assistant train {task} --data FILE --out {folder}`"
            )
        try:
            loaded[task] = TextClassifier.load(folder)
        except ModelLoadError as e:
            raise StartupError(
                f"cannot load the {task} model: {e}. Retrain it: `assistant demo prepare "
                f"--force` (demo) or `assistant train {task} --data FILE --out {folder}`, or "
                f"`assistant models rollback {task}` to the previous version"
            ) from e
    encoder = SentenceEncoder(settings.encoder_path)
    backends = {
        name: use_backend(m, settings) for name, m in (*loaded.items(), ("encoder", encoder))
    }
    pairs = [QAPair(p.id, p.question, p.answer, p.intent) for p in store.approved_pairs()]
    knowledge, rebuilt = KnowledgeBase.open(settings.index_dir, encoder, pairs)
    if rebuilt:
        log.warning("index at %s rebuilt from SQL: %s", settings.index_dir, rebuilt)
    log.info(
        "models loaded in %.1fs: intents %s, sentiment %s, %d knowledge-base pairs (%s)",
        time.perf_counter() - started,
        loaded["intents"].version,
        loaded["sentiment"].version,
        len(knowledge),
        ", ".join(f"{name} on {backend}" for name, backend in backends.items()),
    )
    shared = build_shared(settings, loaded["intents"], loaded["sentiment"], encoder)
    return Models(
        intent=loaded["intents"],
        sentiment=loaded["sentiment"],
        knowledge=knowledge,
        shared=shared,
    )


def build_engine(settings: Settings, store: Store, models: Models) -> TurnEngine:
    catalog = load_catalog(settings.intents_catalog_file)
    facts = load_facts(settings.company_facts_file)
    key = settings.generator_api_key
    generator = make_generator(
        settings.generator,
        facts=facts,
        titles=catalog.titles,
        model_path=settings.generator_model_path,
        device=settings.generator_device,
        base_url=settings.generator_base_url,
        api_key=key.get_secret_value() if key else None,
        model=settings.generator_model,
        timeout_s=settings.generator_timeout_s,
        max_new_tokens=settings.generator_max_new_tokens,
    )
    thresholds = Thresholds(
        min_intent_confidence=settings.min_intent_confidence,
        clarify_margin=settings.clarify_margin,
        min_retrieval_score=settings.min_retrieval_score,
        negative_handoff_score=settings.negative_handoff_score,
    )
    return TurnEngine(
        store,
        models,
        generator,
        catalog,
        thresholds,
        settings.retrieval_k,
        store_unredacted=settings.store_unredacted,
        batcher=_batcher(settings),
    )


def _batcher(settings: Settings) -> MicroBatcher[AnalysisItem, Analysis] | None:
    """Shares the model calls of concurrent turns (None when batch_max_size is 1)."""
    if settings.batch_max_size <= 1:
        return None
    return MicroBatcher(
        analyse_batch,
        window_ms=settings.batch_window_ms,
        max_size=settings.batch_max_size,
        name="model-batcher",
    )
