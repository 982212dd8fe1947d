"""Load: N concurrent clients against the real server on loopback, with the default models.

    python bench/load.py [--clients 1,4,16,32] [--duration 60] [--warmup 5]
                         [--data-dir var] [--workers 1] [--label NAME] [--no-write]

Starts `assistant serve` as a subprocess on a free loopback port (data dir default var/,
prepared with `assistant demo prepare`, which this runs first: a check when already done),
waits for /healthz, then for each client count runs that many async httpx clients for
--warmup s (not measured) and --duration s. Each client plays multi-turn conversations
of the demo shop: texts of every intent from assistant/demo/intents.jsonl, order numbers,
answers to the bot's questions, new and continuing conversations. Reports the end-to-end
latency (request sent to response read) p50/p95/p99, turns/s, errors (any non-200 or
transport error) and the server's CPU use, and appends a dated section to bench/RESULTS.md
with the target (p50 <= 30 ms, >= 100 turns/s, 0 errors) marked met or missed.

The server runs with the rate limits off (CSA_RATE_LIMIT_PER_IP_PER_MIN=0,
CSA_RATE_LIMIT_PER_CONVERSATION_PER_MIN=0: one IP sends everything) and no access log;
--env KEY=VALUE passes more settings to it (e.g. --env CSA_BATCH_WINDOW_MS=0).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shlex
import signal
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import cpu_model, free_port, pct  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ASSISTANT = str(Path(sys.executable).with_name("assistant"))
TARGET_P50_MS = 30.0
TARGET_TURNS_S = 100.0
# The rate limiter (assistant/api/ratelimit.py) would refuse a load test: off here.
SERVER_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "CSA_RATE_LIMIT_PER_IP_PER_MIN": "0",
    "CSA_RATE_LIMIT_PER_CONVERSATION_PER_MIN": "0",
    "CSA_ACCESS_LOG": "false",
}
ORDER_NUMBERS = ["48213", "55120", "77341", "10294", "63007", "91852", "30416", "72265"]
FOLLOW_UPS = [
    "it's {order}",
    "order {order}",
    "{order}",
    "the number is {order}",
]
CLOSERS = ["thanks", "thank you, that's all", "ok great", "bye", "perfect, cheers"]


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and its live descendants (uvicorn's workers)
    on Linux; 0 when /proc is not there."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(fields[1])
    total = 0.0
    for p in parents:
        q = p
        while q not in (pid, 0, 1) and q in parents:
            q = parents[q]
        if q == pid and (fields := _stat(p)) is not None:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def load_texts() -> dict[str, list[str]]:
    by_intent: dict[str, list[str]] = {}
    path = ROOT / "assistant" / "demo" / "intents.jsonl"
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            by_intent.setdefault(row["intent"], []).append(row["text"])
    return by_intent


def conversation(rng: random.Random, texts: dict[str, list[str]]) -> list[str]:
    """One scripted conversation: 1 to 4 customer messages."""
    order = rng.choice(ORDER_NUMBERS)
    intents = sorted(texts)
    kind = rng.random()
    if kind < 0.3:  # an order question, the number given when asked, then thanks
        ask = rng.choice(
            texts["order_status"] + texts["cancel_order"] + texts["damaged_item"]
        ).rstrip("?. ")
        script = [ask, rng.choice(FOLLOW_UPS).format(order=order)]
        if rng.random() < 0.5:
            script.append(rng.choice(CLOSERS))
        return script
    if kind < 0.5:  # the number in the first message
        return [f"{rng.choice(texts['order_status']).rstrip('?. ')} {order}"]
    if kind < 0.6:  # greeting, then a question
        return [rng.choice(texts["greeting"]), rng.choice(texts[rng.choice(intents)])]
    # anything from the demo data, one to three messages
    return [rng.choice(texts[rng.choice(intents)]) for _ in range(rng.randint(1, 3))]


@dataclass
class Run:
    clients: int
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    turns: int = 0
    conversations: int = 0
    seconds: float = 0.0
    server_cpu: float = 0.0  # cores used by the server (all its processes) on average
    client_cpu: float = 0.0  # cores used by this load generator on average

    def error(self, kind: str) -> None:
        self.errors += 1
        self.error_kinds[kind] = self.error_kinds.get(kind, 0) + 1

    @property
    def turns_per_s(self) -> float:
        return self.turns / self.seconds if self.seconds else 0.0

    @property
    def p50(self) -> float:
        return statistics.median(self.latencies_ms) if self.latencies_ms else float("nan")

    def met(self) -> bool:
        return self.p50 <= TARGET_P50_MS and self.turns_per_s >= TARGET_TURNS_S and self.errors == 0


async def client_loop(
    http: httpx.AsyncClient,
    rng: random.Random,
    texts: dict[str, list[str]],
    measure_from: float,
    stop_at: float,
    run: Run,
) -> None:
    while time.perf_counter() < stop_at:
        conversation_id: str | None = None
        for message in conversation(rng, texts):
            if time.perf_counter() >= stop_at:
                return
            body = {"message": message, "conversation_id": conversation_id}
            t0 = time.perf_counter()
            try:
                r = await http.post("/v1/chat", json=body)
                ok = r.status_code == 200
                kind = f"HTTP {r.status_code}"
            except httpx.HTTPError as err:
                ok, kind = False, type(err).__name__
            t1 = time.perf_counter()
            if t0 >= measure_from and t1 <= stop_at:
                if ok:
                    run.turns += 1
                    run.latencies_ms.append((t1 - t0) * 1000)
                else:
                    run.error(kind)
            if not ok:
                break  # a failed turn ends the conversation
            conversation_id = r.json()["conversation_id"]
        run.conversations += 1


async def measure(
    url: str, clients: int, warmup: float, duration: float, seed: int, server_pid: int
) -> Run:
    texts = load_texts()
    run = Run(clients)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=30, limits=limits) as http:
        start = time.perf_counter()
        measure_from, stop_at = start + warmup, start + warmup + duration
        loops = [
            client_loop(http, random.Random(seed * 1000 + i), texts, measure_from, stop_at, run)
            for i in range(clients)
        ]

        async def cpu_sample() -> None:
            await asyncio.sleep(max(0.0, measure_from - time.perf_counter()))
            before, t = cpu_seconds(server_pid), time.perf_counter()
            mine = time.process_time()
            await asyncio.sleep(max(0.0, stop_at - time.perf_counter()))
            elapsed = time.perf_counter() - t
            run.server_cpu = (cpu_seconds(server_pid) - before) / elapsed
            run.client_cpu = (time.process_time() - mine) / elapsed

        await asyncio.gather(cpu_sample(), *loops)
    run.seconds = duration
    return run


def start_server(
    data_dir: Path, workers: int, extra_env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "CSA_DATA_DIR": str(data_dir), **SERVER_ENV, **extra_env}
    log = open(ROOT / "var" / "bench-load-server.log", "w")  # noqa: SIM115 - closed with the run
    server = subprocess.Popen(
        [ASSISTANT, "serve", "--port", str(port), "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    with httpx.Client(base_url=url, timeout=10) as client:
        while True:
            if server.poll() is not None:
                sys.exit(f"the server exited during start-up; see {log.name}")
            if time.monotonic() > deadline:
                server.terminate()
                sys.exit(f"the server did not answer /healthz in 180 s; see {log.name}")
            try:
                if client.get("/healthz").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
    return server, url


def table(runs: list[Run]) -> str:
    head = (
        "| clients | turns | turns/s | p50 ms | p95 ms | p99 ms | errors | server CPU (cores) "
        "| load generator CPU (cores) | turns per server CPU-second | target |\n"
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n"
    )
    rows = []
    for r in runs:
        lat = r.latencies_ms or [float("nan")]
        errors = str(r.errors) + (
            " (" + ", ".join(f"{k}: {v}" for k, v in sorted(r.error_kinds.items())) + ")"
            if r.errors
            else ""
        )
        rows.append(
            f"| {r.clients} | {r.turns} | {r.turns_per_s:.1f} | {r.p50:.1f} | "
            f"{pct(lat, 0.95):.1f} | {pct(lat, 0.99):.1f} | {errors} | {r.server_cpu:.2f} | "
            f"{r.client_cpu:.2f} | "
            f"{r.turns_per_s / r.server_cpu if r.server_cpu else float('nan'):.1f} | "
            f"{'met' if r.met() else 'missed'} |"
        )
    return head + "\n".join(rows)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data-dir", type=Path, default=ROOT / "var", help="default: var/")
    ap.add_argument(
        "--clients", default="1,4,16,32", help="comma-separated client counts (default 1,4,16,32)"
    )
    ap.add_argument("--duration", type=float, default=60.0, help="measured seconds per count")
    ap.add_argument("--warmup", type=float, default=5.0, help="unmeasured seconds per count")
    ap.add_argument("--workers", type=int, default=1, help="server worker processes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--label", default="", help="a name for this run in RESULTS.md")
    ap.add_argument(
        "--env", action="append", default=[], metavar="KEY=VALUE", help="more server settings"
    )
    ap.add_argument("--no-write", action="store_true", help="do not append to RESULTS.md")
    args = ap.parse_args()
    counts = [int(c) for c in args.clients.split(",") if c.strip()]
    if not counts or min(counts) < 1:
        ap.error("--clients must list positive integers, e.g. 1,4,16")
    extra_env = dict(kv.split("=", 1) for kv in args.env)

    data_dir = args.data_dir.resolve()
    load_before = os.getloadavg()[0]
    env = {**os.environ, "CSA_DATA_DIR": str(data_dir), **SERVER_ENV, **extra_env}
    (ROOT / "var").mkdir(exist_ok=True)
    subprocess.run([ASSISTANT, "demo", "prepare"], env=env, check=True)
    # a kill of the bench stops the server too (the finally below)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    server, url = start_server(data_dir, args.workers, extra_env)
    runs: list[Run] = []
    try:
        for n in counts:
            run = asyncio.run(measure(url, n, args.warmup, args.duration, args.seed, server.pid))
            runs.append(run)
            print(
                f"{n} clients: {run.turns_per_s:.1f} turns/s, p50 {run.p50:.1f} ms, "
                f"errors {run.errors}",
                file=sys.stderr,
            )
    finally:
        server.terminate()
        server.wait(timeout=30)
    result = table(runs)
    print(result)
    met = [r.clients for r in runs if r.met()]
    verdict = (
        f"target (p50 <= {TARGET_P50_MS:.0f} ms, >= {TARGET_TURNS_S:.0f} turns/s, 0 errors): "
        + (f"met at {', '.join(map(str, met))} clients" if met else "missed")
    )
    print(verdict)
    if not args.no_write:
        cmd = shlex.join(["python", "bench/load.py", *sys.argv[1:]])
        settings = ", ".join(f"{k}={v}" for k, v in {**SERVER_ENV, **extra_env}.items())
        title = f"Load: concurrent clients over HTTP{f' ({args.label})' if args.label else ''}"
        section = (
            f"\n## {title}\n\n"
            f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC\n"
            f"- machine: {os.cpu_count()} cores (nproc), {cpu_model()}, no GPU\n"
            f"- command: `{cmd}`\n"
            f"- server: `assistant serve --workers {args.workers}`, default demo models, "
            f"SQLite in {args.data_dir}; {settings} (rate limit off for the bench)\n"
            f"- clients: async httpx in one process on the same machine, "
            f"{args.warmup:.0f} s warm-up then {args.duration:.0f} s measured per row; "
            f"latency = request sent to response read\n"
            f"- load average (1 min) before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f} "
            f"(above ~0.5 before, other work shared the cores)\n"
            f"- {verdict}\n\n{result}\n"
        )
        results = ROOT / "bench" / "RESULTS.md"
        with results.open("a") as f:
            f.write(section)


if __name__ == "__main__":
    main()
