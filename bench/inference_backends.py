"""Inference backends: torch vs ONNX Runtime (fp32, int8) on the CPU, quality and cost.

    python bench/inference_backends.py [--models var/bench-models] [--turns 300]
                                       [--backends torch,onnx,onnx-int8] [--no-append]

Takes the CLINC150 intent model and the airline sentiment model that
`bench/intents_bench.py --keep-models DIR` kept in DIR/clinc and DIR/airline, and the
packaged MiniLM query encoder. For each backend (what `CSA_INFERENCE_BACKEND` selects in
the server) it scores the test splits again (the same splits as intents_bench: CLINC150
test + oos_test at the model's own threshold, airline 80/10/10 seed 13), counts the
predictions that differ from torch's, and times on the CPU with one thread (the server's
`torch_threads` default): one turn = intent + sentiment (+ the retrieval query vector) at
batch 1, p50/p90; and batched turns/s (512 turns, batch 64) on 1 thread and on all cores.
Issue targets for intent + sentiment: p50 <= 10 ms on 2 cores and >= 300 turns/s batched.
Appends a dated section to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from intents_bench import OOS, load_airline, load_clinc  # noqa: E402
from report import append_section, machine_line, pct  # noqa: E402

from intents import TextClassifier  # noqa: E402
from retrieval import SentenceEncoder  # noqa: E402
from training import evaluate  # noqa: E402

log = logging.getLogger("bench")
TARGET_P50_MS = 10.0
TARGET_TURNS_S = 300.0


def with_backend(model: Any, backend: str, cache: Path, threads: int) -> Any:
    if backend != "torch" and not model.use_onnx(
        cache, threads=threads, int8=backend == "onnx-int8"
    ):
        raise SystemExit(f"{model!r} cannot run on {backend}")
    return model


def single_turns(models: list[Any], texts: list[str], turns: int) -> tuple[float, float]:
    """p50, p90 (ms) of one turn through all `models` at batch 1."""
    sample = (texts * (turns // len(texts) + 1))[:turns]
    for text in sample[:10]:  # warm-up
        for m in models:
            run_one(m, text)
    times = []
    for text in sample:
        started = time.perf_counter()
        for m in models:
            run_one(m, text)
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), pct(times, 0.9)


def run_one(model: Any, text: str) -> None:
    if isinstance(model, TextClassifier):
        model.predict([text])
    else:
        model.encode([text])


def batched(classifiers: list[TextClassifier], texts: list[str]) -> float:
    """Turns/s for 512 turns through every classifier in batches of 64."""
    batch = (texts * (512 // len(texts) + 1))[:512]
    started = time.perf_counter()
    for m in classifiers:
        m.predict(batch, batch_size=64)
    return len(batch) / (time.perf_counter() - started)


def shared_turns(
    intent: TextClassifier,
    senti: TextClassifier,
    encoder: SentenceEncoder,
    backend: str,
    cache: Path,
    texts: list[str],
    turns: int,
) -> float | None:
    """p50 (ms) of intent + sentiment + query vector through one shared pass of the frozen
    layers (models trained with --freeze-layers), None when the models cannot share."""
    if backend == "torch":
        return None
    from assistant.shared_pass import SharedPass

    shared, why = SharedPass.build(
        intent, senti, encoder, cache_dir=cache, threads=1, int8=backend == "onnx-int8"
    )
    log.info("%s: %s", backend, why)
    if shared is None:
        return None
    fit = [t for t in texts if len(shared.tokenizer(t)["input_ids"]) <= shared.max_length]
    sample = (fit * (turns // len(fit) + 1))[:turns]
    times = []
    for n, text in enumerate(sample):
        started = time.perf_counter()
        out = shared.run([text])
        intent.predictions(out.intent)
        senti.predictions(out.sentiment)
        if n >= 10:  # after a warm-up
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def set_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=Path, default=REPO / "var" / "bench-models")
    parser.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--backends", default="torch,onnx,onnx-int8")
    parser.add_argument("--turns", type=int, default=300)
    parser.add_argument("--no-append", action="store_true")
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for task in ("clinc", "airline"):
        if not (opts.models / task).is_dir():
            parser.error(
                f"no {opts.models / task}: run `python bench/intents_bench.py --tasks "
                f"clinc,airline --methods finetuned --keep-models {opts.models}` first"
            )
    clinc = load_clinc(opts.data_root, None).test
    airline = load_airline(opts.data_root, None).test
    texts = [ex.text for ex in clinc[:200]]
    all_cores = len(os.sched_getaffinity(0))
    rows = []
    reference: dict[str, list[str]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as cache_dir:
        cache = Path(cache_dir)
        for backend in [b.strip() for b in opts.backends.split(",") if b.strip()]:
            set_threads(1)
            intent = with_backend(TextClassifier.load(opts.models / "clinc"), backend, cache, 1)
            senti = with_backend(TextClassifier.load(opts.models / "airline"), backend, cache, 1)
            encoder = with_backend(SentenceEncoder(), backend, cache, 1)
            log.info("%s: scoring the test splits", backend)
            quality = {}
            for name, clf, rows_ in (("clinc", intent, clinc), ("airline", senti, airline)):
                preds = clf.predict([ex.text for ex in rows_], top_k=1, batch_size=64)
                quality[name] = evaluate(clf, rows_, oos_label=OOS, predictions=preds)
                labels = [p.label for p in preds]
                reference.setdefault(name, labels)
                quality[name]["changed"] = sum(
                    a != b for a, b in zip(labels, reference[name], strict=True)
                )
            log.info("%s: timing", backend)
            p50, p90 = single_turns([intent, senti], texts, opts.turns)
            p50_all, _ = single_turns([intent, senti, encoder], texts, opts.turns)
            p50_shared = shared_turns(intent, senti, encoder, backend, cache, texts, opts.turns)
            one_thread = batched([intent, senti], texts)
            threads_all = all_cores
            if backend == "torch":
                set_threads(all_cores)
            else:  # new sessions with all cores
                intent = with_backend(intent, backend, cache, all_cores)
                senti = with_backend(senti, backend, cache, all_cores)
            every_core = batched([intent, senti], texts)
            rows.append(
                (
                    backend,
                    quality,
                    p50,
                    p90,
                    p50_all,
                    p50_shared,
                    one_thread,
                    every_core,
                    threads_all,
                )
            )

    lines = [
        "| backend | CLINC in-scope acc | CLINC OOS recall | CLINC changed vs first row | "
        "airline acc | airline macro-F1 | airline changed vs first row | "
        "intent+sentiment p50 / p90 ms (1 thread) | + query vector p50 ms | "
        "all three in one shared pass p50 ms | batched turns/s, 1 thread | "
        "batched turns/s, all cores |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    verdicts = []
    for backend, q, p50, p90, p50_all, p50_shared, one, every, cores in rows:
        c, a = q["clinc"], q["airline"]
        lines.append(
            f"| {backend} | {c['in_scope_accuracy']:.4f} | {c['oos_recall']:.4f} | "
            f"{c['changed']} / {c['n']} | {a['accuracy']:.4f} | {a['macro_f1']:.4f} | "
            f"{a['changed']} / {a['n']} | {p50:.1f} / {p90:.1f} | {p50_all:.1f} | "
            f"{'-' if p50_shared is None else f'{p50_shared:.1f}'} | {one:.0f} | "
            f"{every:.0f} ({cores} threads) |"
        )
        met_p50 = "met" if p50 <= TARGET_P50_MS else "missed"
        met_tp = "met" if max(one, every) >= TARGET_TURNS_S else "missed"
        verdicts.append(
            f"- {backend}: intent + sentiment p50 {p50:.1f} ms (target <= {TARGET_P50_MS:.0f} "
            f"ms: {met_p50}); batched {max(one, every):.0f} turns/s (target >= "
            f"{TARGET_TURNS_S:.0f}: {met_tp})"
        )
    body = "\n".join(lines) + "\n\n" + "\n".join(verdicts) + "\n"
    print(body)
    if not opts.no_append:
        command = "python bench/inference_backends.py " + " ".join(
            shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
        )
        append_section(
            "Inference backends (torch vs ONNX Runtime)",
            command.strip(),
            body,
            machine_line("no GPU"),
        )


if __name__ == "__main__":
    main()
