"""Run every benchmark in turn (`make bench`); each appends its section to RESULTS.md.

Long on a CPU machine (about an hour on 2 cores, most of it fine-tuning on CLINC150
and airline tweets). Needs ../shared/data for the data-set benchmarks. Run on a quiet
machine: the latency figures are only as good as the machine is idle.

    .venv/bin/python bench/run_all.py [--skip NAME ...]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent
RUNS: list[tuple[str, list[str]]] = [
    ("intents", ["intents_bench.py", "--keep-models", "var/bench-models"]),
    ("inference_backends", ["inference_backends.py", "--models", "var/bench-models"]),
    ("retrain", ["retrain_time.py"]),
    ("retrieval_quality", ["retrieval_quality.py"]),
    ("retrieval_scale", ["retrieval_scale.py"]),
    ("turn_quality", ["turn_quality.py"]),
    ("serve_latency", ["serve_latency.py", "--first-start"]),
    ("load", ["load.py"]),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skip", nargs="*", default=[], choices=[name for name, _ in RUNS])
    opts = ap.parse_args()
    failed = []
    for name, argv in RUNS:
        if name in opts.skip or not (BENCH / argv[0]).is_file():
            continue
        print(f"== {name}: python bench/{' '.join(argv)}", flush=True)
        code = subprocess.call([sys.executable, str(BENCH / argv[0]), *argv[1:]], cwd=BENCH.parent)
        if code:
            failed.append(f"{name} (exit {code})")
    if failed:
        sys.exit("failed: " + ", ".join(failed))


if __name__ == "__main__":
    main()
