"""Metrics of a classifier on labelled examples, and a report folder (CSV + PNG)."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import f1_score, precision_recall_fscore_support

from intents import OUT_OF_SCOPE, Prediction, TextClassifier, expected_calibration_error

from .data import Example

log = logging.getLogger(__name__)


def predict_examples(
    classifier: TextClassifier, examples: Sequence[Example], batch_size: int = 64
) -> list[Prediction]:
    return classifier.predict([ex.text for ex in examples], top_k=1, batch_size=batch_size)


def _gold(examples: Sequence[Example], oos_label: str) -> list[str]:
    return [OUT_OF_SCOPE if ex.label == oos_label else ex.label for ex in examples]


def label_metrics(gold: Sequence[str], guess: Sequence[str]) -> dict[str, Any]:
    """`n`, `accuracy`, `macro_f1` and, when some gold labels are `OUT_OF_SCOPE`, `n_oos`,
    `in_scope_accuracy` and `oos_recall`. Both lists use `OUT_OF_SCOPE` for out-of-scope
    rows (gold) and rejections (guess); any classifier's output can be scored this way.
    """
    n = len(gold)
    is_oos = np.array([g == OUT_OF_SCOPE for g in gold], dtype=bool)
    right = np.array([g == p for g, p in zip(gold, guess, strict=True)], dtype=bool)
    metrics: dict[str, Any] = {
        "n": n,
        "accuracy": float(right.mean()) if n else 0.0,
        "macro_f1": float(f1_score(gold, guess, average="macro", zero_division=0)) if n else 0.0,
    }
    if is_oos.any():
        rejected = np.array([p == OUT_OF_SCOPE for p in guess], dtype=bool)
        metrics["n_oos"] = int(is_oos.sum())
        metrics["in_scope_accuracy"] = float(right[~is_oos].mean()) if (~is_oos).any() else 0.0
        metrics["oos_recall"] = float(rejected[is_oos].mean())
    return metrics


def evaluate(
    classifier: TextClassifier,
    examples: Sequence[Example],
    oos_label: str = "oos",
    predictions: Sequence[Prediction] | None = None,
) -> dict[str, Any]:
    """`n`, `accuracy`, `macro_f1`, `ece` (expected calibration error on in-scope rows) and,
    when some rows are labelled `oos_label`: `n_oos`, `in_scope_accuracy` (right intent and
    not rejected, over in-scope rows) and `oos_recall` (share of oos rows rejected).

    `accuracy` counts an oos row right when it is rejected; `macro_f1` treats
    out-of-scope as one more class. Pass `predictions` to reuse ones already computed.
    """
    preds = list(predictions) if predictions is not None else predict_examples(classifier, examples)
    gold = _gold(examples, oos_label)
    metrics = label_metrics(gold, [p.label for p in preds])
    in_scope = np.array([g != OUT_OF_SCOPE for g in gold], dtype=bool)
    top_right = np.array([p.top[0][0] == g for p, g in zip(preds, gold, strict=True)], dtype=bool)
    conf = np.array([p.confidence for p in preds])
    metrics["ece"] = expected_calibration_error(conf[in_scope], top_right[in_scope])
    unknown = {g for g in gold if g != OUT_OF_SCOPE} - set(classifier.labels)
    if unknown:
        metrics["unknown_labels"] = sorted(unknown)
        log.warning(
            "%d label(s) in the data are unknown to the model (counted wrong): %s",
            len(unknown),
            ", ".join(sorted(unknown)[:10]),
        )
    return metrics


def write_report(
    classifier: TextClassifier,
    examples: Sequence[Example],
    report_dir: str | Path,
    oos_label: str = "oos",
    predictions: Sequence[Prediction] | None = None,
    top_pairs: int = 30,
) -> dict[str, Path]:
    """Write into `report_dir`: `metrics.json`, `per_label.csv` (precision, recall, F1,
    support per label), `confusion.png` (the confusion matrix, restricted to the 20 labels
    most involved in errors when there are more), `confused_pairs.png` (the `top_pairs`
    most frequent true -> predicted mistakes) and `reliability.png` (calibration).
    Returns the written paths by name.
    """
    from .plots import plot_confused_pairs, plot_confusion, plot_reliability

    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    preds = list(predictions) if predictions is not None else predict_examples(classifier, examples)
    gold = _gold(examples, oos_label)
    guess = [p.label for p in preds]
    paths = {
        name: report_dir / name
        for name in (
            "metrics.json",
            "per_label.csv",
            "confusion.png",
            "confused_pairs.png",
            "reliability.png",
        )
    }

    metrics = evaluate(classifier, examples, oos_label, preds)
    metrics.update(model_version=classifier.version, task=classifier.task)
    paths["metrics.json"].write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")

    labels = sorted(set(gold) | set(guess))
    prec, rec, f1, support = precision_recall_fscore_support(
        gold, guess, labels=labels, zero_division=0
    )
    with paths["per_label.csv"].open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["label", "precision", "recall", "f1", "support"])
        for row in sorted(zip(labels, prec, rec, f1, support, strict=True), key=lambda r: r[3]):
            writer.writerow([row[0], f"{row[1]:.4f}", f"{row[2]:.4f}", f"{row[3]:.4f}", row[4]])

    plot_confusion(gold, guess, paths["confusion.png"])
    plot_confused_pairs(gold, guess, paths["confused_pairs.png"], top=top_pairs)
    in_scope = [g != OUT_OF_SCOPE for g in gold]
    conf = [p.confidence for p, keep in zip(preds, in_scope, strict=True) if keep]
    ok = [p.top[0][0] == g for p, g, keep in zip(preds, gold, in_scope, strict=True) if keep]
    plot_reliability(conf, ok, paths["reliability.png"])
    log.info("wrote evaluation report for %d examples to %s", len(gold), report_dir)
    return paths
