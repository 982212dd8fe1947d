"""`assistant retrain`: logged corrections -> candidate model -> regression gate -> promotion.

Per task: export labelled turns -> fine-tune a candidate (from the live model's encoder,
or the base encoder) on the original training data + the new rows (so the label set is
the union: labels agents introduced get an output of their own) -> score candidate AND
live model on the frozen regression set -> `gate` -> promote, or keep the live model and
record the candidate as rejected with the reasons. Then the FAISS index is rebuilt from
the approved Q&A pairs. The server swaps promoted models in (assistant/hotswap.py).

GPU: `--device cuda` (or auto on a GPU machine) trains with bf16 autocast (fp16 + loss
scaling on GPUs without bf16). Several GPUs: `train_classifier` is a single-process loop;
to spread one fine-tuning over N GPUs, launch the same script with
`torchrun --nproc_per_node=N script.py` or `accelerate launch --multi_gpu script.py`
after wrapping the model in DistributedDataParallel (or `accelerator.prepare`) and
sharding batches by rank; save and register from rank 0 only. One GPU is ample for
CLINC150-sized data.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .args import TrainArgs
from .data import Example
from .export import ExportedSet, data_hash, export_all, normalise
from .registry import TASKS, Registry, now_iso

if TYPE_CHECKING:
    from assistant.settings import Settings
    from assistant.store import Store
    from intents import TextClassifier

log = logging.getLogger(__name__)

MIN_SUPPORT = 20  # labels with at least this many regression examples are guarded
MAX_RECALL_DROP = 0.02  # ... against losing more than this much recall


# -- the gate ---------------------------------------------------------------------------
def gate(
    current: dict[str, Any],
    candidate: dict[str, Any],
    min_support: int = MIN_SUPPORT,
    max_recall_drop: float = MAX_RECALL_DROP,
) -> tuple[bool, list[str]]:
    """Promote only if macro-F1 does not drop and no label with at least `min_support`
    regression examples loses more than `max_recall_drop` recall. Both dicts come from
    `regression_metrics`: {"macro_f1": float, "per_label": {label: {"n", "recall"}}}.
    Returns (ok, reasons); the reasons say what failed (empty when ok)."""
    reasons = []
    cur_f1, cand_f1 = float(current["macro_f1"]), float(candidate["macro_f1"])
    if cand_f1 < cur_f1 - 1e-9:
        reasons.append(f"macro-F1 drops from {cur_f1:.4f} to {cand_f1:.4f}")
    cand_labels = candidate.get("per_label", {})
    for label, cur in sorted(current.get("per_label", {}).items()):
        if int(cur["n"]) < min_support:
            continue
        cand_recall = float(cand_labels.get(label, {}).get("recall", 0.0))
        if cand_recall < float(cur["recall"]) - max_recall_drop - 1e-9:
            reasons.append(
                f"recall of {label!r} ({cur['n']} examples) drops from {cur['recall']:.4f} "
                f"to {cand_recall:.4f} (more than {max_recall_drop * 100:.0f} points)"
            )
    return not reasons, reasons


def regression_metrics(
    clf: TextClassifier, examples: Sequence[Example], oos_label: str = "oos"
) -> dict[str, Any]:
    """accuracy, macro-F1 and per-label (n, recall) on `examples` (oos rows: right if rejected)."""
    from sklearn.metrics import precision_recall_fscore_support

    from .evaluation import _gold, label_metrics, predict_examples

    gold = _gold(examples, oos_label)
    guess = [p.label for p in predict_examples(clf, examples)]
    metrics = label_metrics(gold, guess)
    labels = sorted(set(gold))
    _, recall, _, support = precision_recall_fscore_support(
        gold, guess, labels=labels, zero_division=0
    )
    metrics["per_label"] = {
        label: {"n": int(n), "recall": round(float(r), 4)}
        for label, r, n in zip(labels, recall, support, strict=True)
    }
    return metrics


# -- the flow ---------------------------------------------------------------------------
@dataclass
class TaskOutcome:
    task: str
    status: str  # promoted | rejected | skipped
    version: str | None = None
    live: str | None = None  # the live version after this run
    reasons: list[str] = field(default_factory=list)
    current_metrics: dict[str, Any] | None = None
    candidate_metrics: dict[str, Any] | None = None
    seconds: float = 0.0


@dataclass
class RetrainReport:
    started_at: str
    outcomes: list[TaskOutcome]
    index_size: int | None = None
    seconds: float = 0.0


def retrain(
    settings: Settings,
    store: Store,
    tasks: Sequence[str] = TASKS,
    *,
    device: str = "auto",
    base: str = "current",
    args: TrainArgs | None = None,
    since: datetime | None = None,
    include_bot_labels: bool | None = None,
    refresh_index: bool = True,
) -> RetrainReport:
    """Export -> fine-tune -> gate -> promote or reject, per task; then rebuild the index."""
    started, started_at = time.perf_counter(), now_iso()
    registry = Registry(settings.data_dir / "models")
    bot = settings.retrain_include_bot_labels if include_bot_labels is None else include_bot_labels
    exports = export_all(
        store,
        None,
        tasks,
        since=since,
        include_bot_labels=bot,
        min_confidence=settings.retrain_bot_min_confidence,
    )
    base_args = replace(args or TrainArgs(), device=device)
    outcomes = [retrain_task(registry, exports[t], base_args, base) for t in tasks]
    size = rebuild_index(settings, store) if refresh_index else None
    report = RetrainReport(started_at, outcomes, size, round(time.perf_counter() - started, 2))
    for o in outcomes:
        log.info("%s: %s %s (live: %s) %s", o.task, o.status, o.version, o.live, o.reasons)
    return report


def retrain_task(registry: Registry, data: ExportedSet, args: TrainArgs, base: str) -> TaskOutcome:
    task, started = data.task, time.perf_counter()
    registry.adopt_legacy(task)
    current = registry.current(task)
    if data.size == 0:
        live = current.version if current else None
        return TaskOutcome(task, "skipped", None, live, ["no labelled turns"])
    regression = registry.extend_regression(task, data.test)
    train = training_rows(registry.base_train(task), data.train + data.val, regression)
    live_dir = registry.current_link(task)
    with tempfile.TemporaryDirectory(prefix="csa-encoder-") as tmp:
        if base == "current" and current is not None:
            args = replace(args, base_model=export_encoder(live_dir, Path(tmp)))
        if current is not None and args.freeze_layers is None:
            # as the live model was (its frozen layers are what the server shares)
            from intents.storage import read_metadata

            frozen = int(read_metadata(live_dir).get("frozen_layers", 0))
            args = replace(args, freeze_layers=frozen)
        log.info("%s: training a candidate on %d rows from %s", task, len(train), args.base_model)
        staging = registry.staging_dir(task)
        from .finetune import train_classifier

        try:
            result = train_classifier(train, None, args, staging, task)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    cand_metrics = _score(staging, regression, args.oos_label)
    cur_metrics = _score(live_dir, regression, args.oos_label) if current else None
    if not regression:
        ok = current is None
        reasons = [] if ok else ["no regression set to compare the candidate on"]
    elif cur_metrics is None:
        ok, reasons = True, []
    else:
        ok, reasons = gate(cur_metrics, cand_metrics)
    info = registry.register(
        task,
        staging,
        metrics={
            "train": _summary(result.metrics),
            "regression": cand_metrics,
            "regression_live": cur_metrics,
            "regression_size": len(regression),
        },
        data_hash=data_hash(train),
        parent=current.version if current else None,
        note=f"retrained from {'the live model' if base == 'current' else 'the base encoder'}",
    )
    if ok:
        registry.promote(task, info.version)
        status, live = "promoted", info.version
    else:
        registry.mark_rejected(task, info.version, reasons)
        status, live = "rejected", current.version if current else None
    seconds = round(time.perf_counter() - started, 2)
    return TaskOutcome(
        task, status, info.version, live, reasons, cur_metrics, cand_metrics, seconds
    )


def training_rows(
    base: Sequence[Example], new: Sequence[Example], held_out: Sequence[Example]
) -> list[Example]:
    """Original data + new rows, minus anything in the regression set; for the same text
    the new (agent-labelled) row wins. The label set is the union of both."""
    excluded = {normalise(ex.text) for ex in held_out}
    rows: dict[str, Example] = {}
    for ex in list(base) + list(new):
        key = normalise(ex.text)
        if key not in excluded:
            rows[key] = ex
    return list(rows.values())


def export_encoder(classifier_dir: Path, out: Path) -> Path:
    """Write the live classifier's fine-tuned encoder as a Hugging Face model folder."""
    from intents import TextClassifier

    clf = TextClassifier.load(classifier_dir)
    clf.model.backbone.save_pretrained(out)
    clf.tokenizer.save_pretrained(out)
    return out


def rebuild_index(settings: Settings, store: Store) -> int:
    """Re-encode every approved Q&A pair and save a fresh FAISS index to settings.index_dir."""
    from retrieval import KnowledgeBase, QAPair, SentenceEncoder

    kb = KnowledgeBase(SentenceEncoder(settings.encoder_path))
    kb.build([QAPair(p.id, p.question, p.answer, p.intent) for p in store.approved_pairs()])
    kb.save(settings.index_dir)
    log.info("index rebuilt at %s with %d approved pairs", settings.index_dir, len(kb))
    return len(kb)


def _score(folder: Path, examples: Sequence[Example], oos_label: str) -> dict[str, Any]:
    from intents import TextClassifier

    return regression_metrics(TextClassifier.load(folder), examples, oos_label)


def _summary(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k not in ("history", "args")}
