"""Intent and sentiment benchmark: fine-tuned MiniLM vs TF-IDF + LinearSVC vs frozen
MiniLM sentence vectors + logistic regression, on the same splits.

Data sets (under --data-root, default ../shared/data next to the repository):
- clinc:   CLINC150 data_full.json; train on `train`, choose the out-of-scope threshold
           (and early-stop) on `val` + `oos_val`, report `test` + `oos_test` once.
- airline: airline tweets, text/sentiment, stratified 80/10/10 split, seed 13.
- bitext:  Bitext customer support, instruction/intent, stratified 80/20 split, seed 0
           (the fine-tuned model holds out 10% of train, stratified, for early stopping;
           the baselines train on the whole 80%).

Prints a markdown table and appends it to bench/RESULTS.md with the date, machine and
command; then CPU inference latency (p50 of one turn = intent + sentiment, batch 1) and
batched throughput of the fine-tuned models.

    .venv/bin/python bench/intents_bench.py                          # everything (long on CPU)
    .venv/bin/python bench/intents_bench.py --tasks clinc --limit 300  # smoke run
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import random
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from intents import OUT_OF_SCOPE, TextClassifier, choose_oos_threshold  # noqa: E402
from training import (  # noqa: E402
    Example,
    TrainArgs,
    evaluate,
    label_metrics,
    load_examples,
    stratified_split,
    train_classifier,
)

log = logging.getLogger("bench")
OOS = "oos"


@dataclass
class Splits:
    name: str
    task: str  # "intents" or "sentiment"
    train: list[Example]
    val: list[Example] | None
    test: list[Example]


@dataclass
class Row:
    data: str
    method: str
    metrics: dict[str, Any]
    train_seconds: float
    device: str


FINETUNED = "fine-tuned MiniLM (ours)"


def _cap(rows: list[Example], limit: int | None, seed: int = 0) -> list[Example]:
    if limit is None or len(rows) <= limit:
        return rows
    return random.Random(seed).sample(rows, limit)


def load_clinc(root: Path, limit: int | None) -> Splits:
    raw = json.loads((root / "clinc150" / "data_full.json").read_text(encoding="utf-8"))

    def part(*names: str) -> list[Example]:
        return [
            Example(text, OOS if name.startswith("oos") else label)
            for name in names
            for text, label in raw[name]
        ]

    return Splits(
        "CLINC150",
        "intents",
        _cap(part("train"), limit),
        _cap(part("val", "oos_val"), limit),
        _cap(part("test", "oos_test"), limit),
    )


def load_airline(root: Path, limit: int | None) -> Splits:
    rows = load_examples(root / "airline-sentiment" / "airline_sentiment.csv", "text", "sentiment")
    train, val, test = stratified_split(rows, (0.8, 0.1, 0.1), seed=13)
    return Splits("airline", "sentiment", _cap(train, limit), _cap(val, limit), _cap(test, limit))


def load_bitext(root: Path, limit: int | None) -> Splits:
    path = root / "bitext-customer-support" / "bitext_customer_support.csv"
    train, test = stratified_split(load_examples(path, "instruction", "intent"), (0.8, 0.2), 0)
    return Splits("bitext", "intents", _cap(train, limit), None, _cap(test, limit))


LOADERS: dict[str, Callable[[Path, int | None], Splits]] = {
    "clinc": load_clinc,
    "airline": load_airline,
    "bitext": load_bitext,
}


def gold_labels(rows: Sequence[Example]) -> list[str]:
    return [OUT_OF_SCOPE if ex.label == OOS else ex.label for ex in rows]


def score_baseline(
    splits: Splits, fit: Callable[[list[str], list[str]], Any], scores: Callable[..., Any]
) -> tuple[dict[str, Any], float]:
    """Fit on in-scope train rows, threshold max score on val (intents with oos rows only)."""
    train = [ex for ex in splits.train if ex.label != OOS]
    started = time.perf_counter()
    model = fit([ex.text for ex in train], [ex.label for ex in train])
    seconds = time.perf_counter() - started
    classes = list(model.classes_)
    threshold = -np.inf
    val_oos = splits.val is not None and any(ex.label == OOS for ex in splits.val)
    if splits.task == "intents" and splits.val is not None and val_oos:
        s = scores(model, [ex.text for ex in splits.val])
        best = s.max(axis=1)
        correct = np.array([classes[i] for i in s.argmax(axis=1)]) == np.array(
            [ex.label for ex in splits.val]
        )
        is_oos = np.array([ex.label == OOS for ex in splits.val])
        threshold = choose_oos_threshold(best, correct, is_oos)
    s = scores(model, [ex.text for ex in splits.test])
    guess = [OUT_OF_SCOPE if row.max() < threshold else classes[int(row.argmax())] for row in s]
    return label_metrics(gold_labels(splits.test), guess), seconds


def run_tfidf_svc(splits: Splits) -> Row:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import make_pipeline
    from sklearn.svm import LinearSVC

    def fit(texts: list[str], labels: list[str]) -> Any:
        pipe = make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1), LinearSVC(C=1.0)
        )
        pipe.fit(texts, labels)
        return pipe

    def scores(model: Any, texts: list[str]) -> Any:
        s = model.decision_function(texts)
        return s if s.ndim == 2 else np.stack([-s, s], axis=1)

    metrics, seconds = score_baseline(splits, fit, scores)
    return Row(splits.name, "TF-IDF + LinearSVC", metrics, seconds, "cpu")


def run_frozen_minilm(splits: Splits, base_model: Path) -> Row:
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression

    encoder = SentenceTransformer(str(base_model), device="cpu")

    def encode(texts: list[str]) -> Any:
        return encoder.encode(texts, batch_size=64, normalize_embeddings=True)

    def fit(texts: list[str], labels: list[str]) -> Any:
        return LogisticRegression(max_iter=2000, C=10.0).fit(encode(texts), labels)

    def scores(model: Any, texts: list[str]) -> Any:
        return model.predict_proba(encode(texts))

    metrics, seconds = score_baseline(splits, fit, scores)
    return Row(splits.name, "frozen MiniLM + LogReg", metrics, seconds, "cpu")


def run_finetuned(splits: Splits, args: TrainArgs, out_dir: Path) -> Row:
    result = train_classifier(splits.train, splits.val, args, out_dir, splits.task)
    clf = TextClassifier.load(out_dir, device=result.device)
    metrics = evaluate(clf, splits.test, oos_label=OOS)
    return Row(splits.name, FINETUNED, metrics, result.seconds, result.device)


def table(rows: list[Row]) -> str:
    def fmt(value: Any) -> str:
        return f"{value:.4f}" if isinstance(value, float) else "-"

    lines = [
        "| data | method | accuracy | macro-F1 | in-scope acc | OOS recall | train s | device |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        m = r.metrics
        lines.append(
            f"| {r.data} (n={m['n']}) | {r.method} | {fmt(m['accuracy'])} | "
            f"{fmt(m['macro_f1'])} | {fmt(m.get('in_scope_accuracy'))} | "
            f"{fmt(m.get('oos_recall'))} | {r.train_seconds:.1f} | {r.device} |"
        )
    return "\n".join(lines)


def latency(folders: list[Path], texts: list[str], turns: int) -> tuple[str, dict[str, float]]:
    """One turn = intent + sentiment on CPU: p50/p90 at batch 1, and batched turns/s."""
    if not folders or not texts:
        return "", {}
    models = [TextClassifier.load(folder, device="cpu") for folder in folders]
    sample = (texts * (turns // len(texts) + 1))[:turns]
    for text in sample[:5]:  # warm-up
        for m in models:
            m.predict([text])
    times = []
    for text in sample:
        started = time.perf_counter()
        for m in models:
            m.predict([text])
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p50, p90 = statistics.median(times), times[int(0.9 * (len(times) - 1))]
    batch = (texts * (512 // len(texts) + 1))[:512]
    started = time.perf_counter()
    for m in models:
        m.predict(batch, batch_size=64)
    throughput = len(batch) / (time.perf_counter() - started)
    what = " + ".join(m.task for m in models)
    text = (
        f"CPU inference, one turn = {what} ({len(times)} single turns, torch threads "
        f"{_torch_threads()}): p50 {p50:.1f} ms, p90 {p90:.1f} ms; batched (batch 64, "
        f"512 turns through each model): {throughput:.0f} turns/s\n"
    )
    return text, {"p50_ms": p50, "turns_per_s": throughput, "models": float(len(models))}


def _torch_threads() -> int:
    import torch

    return int(torch.get_num_threads())


def verdicts(rows: list[Row], cost: dict[str, float]) -> str:
    """Each target of the issue, met or missed, from what this run measured."""

    def mark(ok: bool) -> str:
        return "**met**" if ok else "**missed**"

    lines = ["Targets (fine-tuned MiniLM):"]
    for r in rows:
        if r.method != FINETUNED:
            continue
        m = r.metrics
        if r.data == "CLINC150" and "in_scope_accuracy" in m:
            ok = m["in_scope_accuracy"] >= 0.97 and m["oos_recall"] >= 0.80
            lines.append(
                f"- CLINC150 in-scope accuracy >= 97.0% with OOS recall >= 80% at the same "
                f"threshold: {mark(ok)} ({m['in_scope_accuracy']:.2%} / {m['oos_recall']:.2%})"
            )
            fast = r.train_seconds <= 30 * 60 if r.device == "cpu" else r.train_seconds <= 120
            budget = "30 min on CPU" if r.device == "cpu" else "2 min on GPU"
            lines.append(
                f"- CLINC150 full fine-tuning within {budget}: {mark(fast)} "
                f"({r.train_seconds / 60:.1f} min on {r.device})"
            )
        if r.data == "airline":
            ok = m["accuracy"] >= 0.86 and m["macro_f1"] >= 0.82
            lines.append(
                f"- airline sentiment accuracy >= 86% and macro-F1 >= 0.82: {mark(ok)} "
                f"({m['accuracy']:.2%} / {m['macro_f1']:.3f})"
            )
    if cost.get("models") == 2:
        lines.append(
            f"- CPU p50 per turn (intent + sentiment) <= 10 ms: {mark(cost['p50_ms'] <= 10)} "
            f"({cost['p50_ms']:.1f} ms)"
        )
        lines.append(
            f"- batched throughput >= 300 turns/s: {mark(cost['turns_per_s'] >= 300)} "
            f"({cost['turns_per_s']:.0f} turns/s)"
        )
    return "\n".join(lines) + "\n"


def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ""
    return f"{os.cpu_count()} CPUs (nproc), {cpu}{gpu}, torch {torch.__version__}"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument(
        "--tasks",
        default="clinc,airline,bitext",
        help="comma-separated subset of clinc,airline,bitext",
    )
    parser.add_argument("--limit", type=int, default=None, help="cap rows per split (smoke run)")
    parser.add_argument(
        "--methods",
        default="finetuned,tfidf,frozen",
        help="comma-separated subset of finetuned,tfidf,frozen",
    )
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--max-length", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument(
        "--freeze-layers",
        type=int,
        default=None,
        help="train with the embeddings and first N layers frozen (shared pass in the server)",
    )
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--turns", type=int, default=200, help="single turns timed for latency")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "RESULTS.md")
    parser.add_argument("--no-append", action="store_true", help="print only")
    parser.add_argument(
        "--keep-models",
        type=Path,
        default=None,
        help="keep the fine-tuned models in this folder (default: a temporary one)",
    )
    parser.add_argument(
        "--latency-only",
        type=Path,
        default=None,
        metavar="DIR",
        help="only time CPU inference of models kept earlier with --keep-models DIR",
    )
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")

    tasks = [t.strip() for t in opts.tasks.split(",") if t.strip()]
    methods = {m.strip() for m in opts.methods.split(",") if m.strip()}
    unknown = [t for t in tasks if t not in LOADERS]
    if unknown or not opts.data_root.is_dir():
        parser.error(f"unknown task(s) {unknown}" if unknown else f"no folder {opts.data_root}")
    overrides = {
        k: getattr(opts, k) for k in ("epochs", "batch_size", "max_length", "lr", "freeze_layers")
    }
    args = replace(
        TrainArgs(device=opts.device), **{k: v for k, v in overrides.items() if v is not None}
    )
    args.validate()

    if opts.latency_only is not None:
        texts = [ex.text for ex in load_clinc(opts.data_root, None).test[:200]]
        folders = [
            opts.latency_only / t for t in ("clinc", "airline") if (opts.latency_only / t).is_dir()
        ]
        timing, cost = latency(folders, texts, opts.turns)
        print(timing + "\n" + verdicts([], cost))
        return

    rows: list[Row] = []
    trained: dict[str, Path] = {}  # task -> first fine-tuned folder
    test_texts: list[str] = []
    with tempfile.TemporaryDirectory(prefix="intents-bench-") as tmp:
        work = opts.keep_models or Path(tmp)
        for task in tasks:
            splits = LOADERS[task](opts.data_root, opts.limit)
            log.info(
                "%s: %d train, %d val, %d test rows",
                splits.name,
                len(splits.train),
                len(splits.val or []),
                len(splits.test),
            )
            if "finetuned" in methods:
                rows.append(run_finetuned(splits, args, work / task))
                trained.setdefault(splits.task, work / task)
                test_texts = test_texts or [ex.text for ex in splits.test[:200]]
            if "tfidf" in methods:
                rows.append(run_tfidf_svc(splits))
            if "frozen" in methods:
                rows.append(run_frozen_minilm(splits, args.base_model))
            log.info("%s done", splits.name)
        timing, cost = latency(list(trained.values()), test_texts, opts.turns)

    command = "python " + " ".join(
        shlex.quote(a)
        for a in [
            str(Path(sys.argv[0]).relative_to(REPO))
            if Path(sys.argv[0]).is_absolute()
            else sys.argv[0],
            *(argv if argv is not None else sys.argv[1:]),
        ]
    )
    body = table(rows)
    note = (
        "OOS threshold chosen on validation by max(in-scope accuracy + OOS recall); "
        "in-scope accuracy = right intent and not rejected.\n"
    )
    section = (
        f"\n## {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')}\n\n"
        f"- machine: {machine()}\n- command: `{command}`\n"
        f"- fine-tuning: epochs {args.epochs}, lr {args.lr}, batch {args.batch_size}, "
        f"max_length {args.max_length}, seed {args.seed}, frozen layers {args.freeze_layers}"
        f"{', limit ' + str(opts.limit) + ' rows per split' if opts.limit else ''}\n\n"
        f"{body}\n\n{note}{timing}\n{verdicts(rows, cost)}"
    )
    print(section)
    if not opts.no_append:
        if not opts.results.exists():
            opts.results.write_text("# Intent and sentiment benchmark results\n", encoding="utf-8")
        with opts.results.open("a", encoding="utf-8") as fh:
            fh.write(section)
        log.info("appended to %s", opts.results)


if __name__ == "__main__":
    main()
