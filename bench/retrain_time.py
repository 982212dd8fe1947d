"""Full retraining time on CLINC150's training set: `retrain()` as `assistant retrain` runs it.

A fresh data dir gets a registry whose live intent model (v1) is a CLINC150 model
(default: the one `bench/intents_bench.py --keep-models var/bench-models` kept), the
CLINC150 `train` split as the original training data and `test` + `oos_test` as the
frozen regression set. Agents' corrections are logged as real turns in SQL (CLINC150
`val` rows with their labels), then one retraining runs end to end: export -> fine-tune
from the live model's encoder on train + corrections -> score live and candidate on the
regression set -> gate -> promote or reject -> index refresh. The wall time of the whole
run and of the fine-tuning step are printed and appended to bench/RESULTS.md.

    .venv/bin/python bench/retrain_time.py [--live var/bench-models/clinc] [--device auto]
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from report import append_section, machine_line  # noqa: E402

from assistant.settings import Settings  # noqa: E402
from assistant.store import CustomerTurn, Store, init_db, make_engine  # noqa: E402
from training import Example, TrainArgs  # noqa: E402
from training.registry import Registry  # noqa: E402
from training.retrain import retrain  # noqa: E402

log = logging.getLogger("retrain_time")
TARGET_CPU_S, TARGET_GPU_S = 30 * 60, 2 * 60


def clinc(root: Path) -> dict[str, list[Example]]:
    raw = json.loads((root / "clinc150" / "data_full.json").read_text(encoding="utf-8"))
    return {
        name: [Example(t, "oos" if name.startswith("oos") else lbl) for t, lbl in rows]
        for name, rows in raw.items()
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data-root", type=Path, default=REPO.parent / "shared" / "data")
    ap.add_argument("--live", type=Path, default=REPO / "var" / "bench-models" / "clinc")
    ap.add_argument("--corrections", type=int, default=300, help="agent-labelled turns logged")
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--no-write", action="store_true", help="do not append to RESULTS.md")
    opts = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    if not (opts.live / "model.safetensors").is_file():
        ap.error(
            f"no CLINC150 model in {opts.live}; run "
            "`python bench/intents_bench.py --tasks clinc --methods finetuned "
            "--keep-models var/bench-models` first"
        )
    data = clinc(opts.data_root)
    with tempfile.TemporaryDirectory(prefix="csa-retrain-bench-") as tmp:
        settings = Settings(data_dir=Path(tmp) / "var")
        registry = Registry(settings.data_dir / "models")
        registry.freeze_data("intents", data["train"], data["test"] + data["oos_test"])
        staging = registry.staging_dir("intents")
        shutil.copytree(opts.live, staging)
        registry.promote("intents", registry.register("intents", staging).version)

        engine = make_engine(settings.db_url)
        init_db(engine)
        store = Store(engine)
        rows = random.Random(0).sample(data["val"], opts.corrections)
        for ex in rows:
            turn = store.record_turn(None, CustomerTurn(ex.text), None, {}, {})
            store.add_label(turn.customer_turn_id, "intents", ex.label, "bench")

        args = TrainArgs() if opts.epochs is None else replace(TrainArgs(), epochs=opts.epochs)
        started = time.perf_counter()
        report = retrain(settings, store, ["intents"], device=opts.device, args=args)
        total = time.perf_counter() - started
    (outcome,) = report.outcomes
    cand = outcome.candidate_metrics or {}
    live_f1 = (outcome.current_metrics or {}).get("macro_f1")
    device = opts.device
    try:
        import torch

        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        gpu = torch.cuda.get_device_name(0) if device == "cuda" else "no GPU"
    except ImportError:  # pragma: no cover - torch is a dependency
        gpu = "no GPU"
    target = TARGET_GPU_S if device == "cuda" else TARGET_CPU_S
    verdict = "met" if total <= target else "missed"
    table = "\n".join(
        [
            "| measure | value |",
            "| --- | --- |",
            f"| training rows (CLINC150 train + corrections) | "
            f"{len(data['train']) + opts.corrections:,} |",
            f"| regression set (test + oos_test + held-out corrections) | {cand.get('n', '-')} |",
            f"| device | {device} ({gpu}) |",
            f"| whole `retrain` run | {total / 60:.1f} min |",
            f"| of which the intents task (fine-tune + score both + gate) | "
            f"{outcome.seconds / 60:.1f} min |",
            f"| outcome | {outcome.status} {outcome.version} (live {outcome.live}) |",
            f"| regression macro-F1 live -> candidate | "
            f"{live_f1 if live_f1 is None else round(live_f1, 4)} -> "
            f"{round(cand.get('macro_f1', float('nan')), 4)} |",
        ]
    )
    body = (
        f"{table}\n\nTarget (from the intents issue): full fine-tuning on CLINC150 within "
        f"{target // 60} min on {'one GPU' if device == 'cuda' else 'this CPU machine'}: "
        f"**{verdict}** ({total / 60:.1f} min for the whole retraining run).\n"
    )
    print(body)
    if not opts.no_write:
        command = "python bench/retrain_time.py " + " ".join(sys.argv[1:])
        append_section("Retraining time (CLINC150)", command.strip(), body, machine_line(gpu))


if __name__ == "__main__":
    main()
