"""How much of the fine-tuned models' test error is the out-of-scope threshold?

Loads the models that `bench/intents_bench.py --keep-models var/bench-models` kept and
scores the same test splits three ways: the model's own threshold (as in the main
table), no threshold (plain argmax), and for CLINC150 the threshold chosen on `val` +
`oos_val` as the one with the best in-scope accuracy among those keeping OOS recall >= 80%
(the issue's operating point). Appends a section to bench/RESULTS.md.

    .venv/bin/python bench/intents_thresholds.py [--models var/bench-models]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from intents_bench import load_bitext, load_clinc  # noqa: E402
from report import append_section  # noqa: E402

from intents import TextClassifier  # noqa: E402

MIN_OOS_RECALL = 0.80


def scored(clf: TextClassifier, rows: list) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(confidence, argmax is right, row is oos) per row."""
    preds = clf.predict([ex.text for ex in rows], top_k=1)
    conf = np.array([p.top[0][1] for p in preds])
    right = np.array([p.top[0][0] == ex.label for p, ex in zip(preds, rows, strict=True)])
    oos = np.array([ex.label == "oos" for ex in rows])
    return conf, right, oos


def at(threshold: float, conf: np.ndarray, right: np.ndarray, oos: np.ndarray) -> tuple:
    keep = conf >= threshold
    in_scope = float((right & keep)[~oos].mean()) if (~oos).any() else float("nan")
    recall = float((~keep)[oos].mean()) if oos.any() else float("nan")
    return in_scope, recall


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--models", type=Path, default=REPO / "var" / "bench-models")
    ap.add_argument("--no-write", action="store_true")
    opts = ap.parse_args()
    lines = [
        "| data | threshold | chosen how | in-scope acc (test) | OOS recall (test) |",
        "| --- | ---: | --- | ---: | ---: |",
    ]
    clinc = load_clinc(opts.data_root, None)
    clf = TextClassifier.load(opts.models / "clinc", device="cpu")
    test = scored(clf, clinc.test)
    val = scored(clf, clinc.val or [])
    candidates = np.unique(np.concatenate([[0.0], val[0]]))
    feasible = [(at(t, *val)[0], -t, t) for t in candidates if at(t, *val)[1] >= MIN_OOS_RECALL]
    chosen = max(feasible)[2] if feasible else clf.oos_threshold
    for t, how in [
        (clf.oos_threshold, "model's own (Youden on val)"),
        (0.0, "none (argmax)"),
        (chosen, f"best val in-scope acc with val OOS recall >= {MIN_OOS_RECALL:.0%}"),
    ]:
        acc, rec = at(t, *test)
        lines.append(f"| CLINC150 | {t:.3f} | {how} | {acc:.2%} | {rec:.2%} |")
    bitext = load_bitext(opts.data_root, None)
    clf = TextClassifier.load(opts.models / "bitext", device="cpu")
    test = scored(clf, bitext.test)
    for t, how in [(clf.oos_threshold, "model's own (no oos rows: 2% cap)"), (0.0, "none")]:
        acc, _ = at(t, *test)
        lines.append(f"| bitext | {t:.3f} | {how} | {acc:.2%} | - |")
    body = "\n".join(lines)
    print(body)
    if not opts.no_write:
        cmd = "python bench/intents_thresholds.py " + " ".join(sys.argv[1:])
        append_section(
            "Intents: the out-of-scope threshold's share of the error", cmd.strip(), body
        )


if __name__ == "__main__":
    main()
