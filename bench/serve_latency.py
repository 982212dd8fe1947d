"""First start, later start and per-turn latency through HTTP, on the demo shop.

    python bench/serve_latency.py [--data-dir DIR] [--turns 300] [--first-start]

--first-start uses a fresh data dir and times `assistant demo prepare` (knowledge base,
fine-tuning both classifiers, index), as `make run` does on a fresh clone. Then it starts
`assistant serve` and times until /healthz answers 200 (a later start: models from disk),
sends --turns sequential turns over real HTTP on loopback and prints p50/p95/p99. The
table is appended to bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import cpu_model, free_port, pct  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ASSISTANT = str(Path(sys.executable).with_name("assistant"))
MESSAGES = [
    "where is my order 48213?",
    "hi there",
    "can I return a lamp I bought last week",
    "how long does delivery take to Lyon",
    "my card was charged twice for order 55120",
    "I forgot my password",
    "let me talk to a real person",
    "thanks, that's all",
    "the mug arrived broken, order 77341",
    "do you ship to Canada and how much is it",
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--data-dir", type=Path, default=None, help="default: var/ (or fresh with --first-start)"
    )
    ap.add_argument("--turns", type=int, default=300)
    ap.add_argument("--first-start", action="store_true")
    ap.add_argument("--no-write", action="store_true", help="do not append to RESULTS.md")
    args = ap.parse_args()

    tmp = None
    if args.first_start:
        tmp = Path(tempfile.mkdtemp(prefix="csa-first-start-"))
        data_dir = args.data_dir or tmp
    else:
        data_dir = args.data_dir or ROOT / "var"
    env = {
        **os.environ,
        "CSA_DATA_DIR": str(data_dir),
        "HF_HUB_OFFLINE": "1",
        "CSA_RATE_LIMIT_PER_IP_PER_MIN": "0",  # one client sends every turn
        "CSA_RATE_LIMIT_PER_CONVERSATION_PER_MIN": "0",
    }
    rows: list[tuple[str, str]] = []

    t = time.perf_counter()
    subprocess.run([ASSISTANT, "demo", "prepare"], env=env, check=True)
    prepare = time.perf_counter() - t
    rows.append(
        (
            "first start: `assistant demo prepare` (fresh)"
            if args.first_start
            else "demo prepare (already prepared: check only)",
            f"{prepare:.1f} s",
        )
    )

    port = free_port()
    t = time.perf_counter()
    server = subprocess.Popen(
        [ASSISTANT, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            while True:
                if server.poll() is not None:
                    sys.exit("the server exited during start-up")
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
            start = time.perf_counter() - t
            rows.append(("later start: `assistant serve` to /healthz 200", f"{start:.1f} s"))
            for m in MESSAGES[:3]:  # warm-up
                client.post("/v1/chat", json={"message": m})
            latencies, errors = [], 0
            for i in range(args.turns):
                t0 = time.perf_counter()
                r = client.post("/v1/chat", json={"message": MESSAGES[i % len(MESSAGES)]})
                latencies.append((time.perf_counter() - t0) * 1000)
                errors += r.status_code != 200
    finally:
        server.terminate()
        server.wait(timeout=30)
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
    rows += [
        (
            f"one turn over HTTP, p50 ({args.turns} sequential turns)",
            f"{statistics.median(latencies):.1f} ms",
        ),
        ("one turn over HTTP, p95", f"{pct(latencies, 0.95):.1f} ms"),
        ("one turn over HTTP, p99", f"{pct(latencies, 0.99):.1f} ms"),
        ("errors", str(errors)),
    ]
    table = "| measure | value |\n| --- | --- |\n" + "\n".join(f"| {a} | {b} |" for a, b in rows)
    print(table)
    if not args.no_write:
        cmd = "python bench/serve_latency.py " + " ".join(sys.argv[1:])
        section = (
            f"\n## Demo start-up and turn latency\n\n"
            f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n"
            f"- machine: {os.cpu_count()} cores, {cpu_model()}, no GPU\n"
            f"- command: `{cmd.strip()}`\n\n{table}\n"
        )
        results = ROOT / "bench" / "RESULTS.md"
        if not results.exists():
            results.write_text("# Benchmark results\n")
        with results.open("a") as f:
            f.write(section)


if __name__ == "__main__":
    main()
