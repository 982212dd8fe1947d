"""The real server (`assistant serve`) as a subprocess for process-level tests.

Started in its own process group so that stop()/kill() reach uvicorn's worker processes
too; always use it as a context manager (or call stop() in a finally).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_env(demo_settings: Any, data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    """CSA_* for a server on a copy of the demo: the trained demo models (read only), the
    data dir `data_dir` (SQLite file and index copied from the demo fixture unless it
    exists), and `database_url` when given. Rate limits off: the tests send bursts."""
    if not data_dir.exists():
        shutil.copytree(demo_settings.data_dir, data_dir)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CSA_")} | {
        "CSA_DATA_DIR": str(data_dir),
        "CSA_INTENT_MODEL_PATH": str(demo_settings.intent_model_dir),
        "CSA_SENTIMENT_MODEL_PATH": str(demo_settings.sentiment_model_dir),
        "CSA_RATE_LIMIT_PER_IP_PER_MIN": "0",
        "CSA_RATE_LIMIT_PER_CONVERSATION_PER_MIN": "0",
        "CSA_RATE_LIMIT_POLL_PER_IP_PER_MIN": "0",
        "CSA_OUTBOX_WORKER": "false",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "1",  # 2-core CI machine, several workers
    }
    if database_url:
        env["CSA_DATABASE_URL"] = database_url
    return env


class ServerProcess:
    """`assistant serve --port P --workers N` with `env`; logs go to `log_path`."""

    def __init__(self, env: dict[str, str], log_path: Path, workers: int = 1) -> None:
        self.env, self.log_path, self.workers = env, log_path, workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        cmd = [sys.executable, "-m", "assistant.cli", "serve", "--port", str(self.port)]
        cmd += ["--workers", str(self.workers)]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: workers die with it
            )
        return self

    def wait_ready(self, timeout_s: float = 180.0) -> dict[str, Any]:
        """Until /healthz says ok (every worker answers the same port; one is enough)."""
        deadline = time.monotonic() + timeout_s
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                r = httpx.get(f"{self.url}/healthz", timeout=2.0)
                if r.status_code == 200:
                    return dict(r.json())
                last = f"{r.status_code} {r.text[:200]}"
            except httpx.HTTPError as e:
                last = repr(e)
            time.sleep(0.3)
        raise TimeoutError(f"server not ready after {timeout_s}s ({last}):\n{self.log()}")

    def wait_exit(self, timeout_s: float) -> int:
        assert self.proc is not None
        return self.proc.wait(timeout_s)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (the uvicorn supervisor and its workers)."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.kill(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(15)
        self.kill(signal.SIGKILL)  # whatever is left of the group
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(10)

    def log(self, tail: int = 6000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def group_pids(server: ServerProcess) -> set[int]:
    """The live processes of the server's process group (supervisor and workers)."""
    assert server.proc is not None
    out = subprocess.run(
        ["ps", "-o", "pid=", "-g", str(server.proc.pid)], capture_output=True, text=True
    ).stdout
    return {int(p) for p in out.split()}


def tag(*numbers: int) -> str:
    """Letters only (the redactor leaves them alone): tag(3, 12) == 'd-bc'."""
    return "-".join("".join(chr(97 + int(d)) for d in str(n)) for n in numbers)


@dataclass
class Sent:
    conversation_id: str
    text: str
    status: int  # 0: no HTTP answer (connection refused or reset)
    turn_id: int | None


def send_turns(
    url: str,
    conversations: list[str],
    clients: int,
    turns: int,
    stop: threading.Event | None = None,
    timeout_s: float = 60.0,
    sent: list[Sent] | None = None,
) -> list[Sent]:
    """`clients` threads, each with its own httpx client, send `turns` messages each; client
    c writes to conversations[c % len]. Stops early once `stop` is set. Every attempt is
    returned (and appended to `sent` as they happen), with its HTTP status (0 when none
    came back)."""
    sent = [] if sent is None else sent
    lock = threading.Lock()

    def client(c: int) -> None:
        conv = conversations[c % len(conversations)]
        with httpx.Client(base_url=url, timeout=timeout_s) as http:
            for t in range(turns):
                if stop is not None and stop.is_set():
                    return
                text = f"where is my order please, note {tag(c, t)}"
                try:
                    r = http.post("/v1/chat", json={"conversation_id": conv, "message": text})
                    status = r.status_code
                    turn_id = r.json().get("turn_id") if status == 200 else None
                except httpx.HTTPError:
                    status, turn_id = 0, None
                with lock:
                    sent.append(Sent(conv, text, status, turn_id))
                if status == 0 and stop is not None:
                    time.sleep(0.05)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout_s * turns)
    return sent


def stored_customer_turns(
    database_url: str, conversations: list[str]
) -> list[tuple[int, str, str]]:
    """(turn id, conversation id, text) of every customer turn in those conversations."""
    from sqlalchemy import create_engine, select

    from assistant.store import Turn

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Turn.id, Turn.conversation_id, Turn.text).where(
                    Turn.conversation_id.in_(conversations), Turn.role == "customer"
                )
            ).all()
    finally:
        engine.dispose()
    return [(int(i), str(c), str(t)) for i, c, t in rows]


def check_every_200_stored_once(sent: list[Sent], stored: list[tuple[int, str, str]]) -> None:
    """Each answered turn is in SQL exactly once, in its conversation, with its text and
    the id the API returned; turn ids are unique."""
    ids = [i for i, _, _ in stored]
    assert len(ids) == len(set(ids)), "duplicate turn ids"
    by_key = Counter((c, t) for _, c, t in stored)
    by_id = {i: (c, t) for i, c, t in stored}
    ok = [s for s in sent if s.status == 200]
    missing = [s for s in ok if by_key[(s.conversation_id, s.text)] == 0]
    assert not missing, f"{len(missing)} answered turns not stored: {missing[:3]}"
    twice = [k for k, n in by_key.items() if n > 1]
    assert not twice, f"turns stored more than once: {twice[:3]}"
    for s in ok:
        assert by_id.get(s.turn_id or -1) == (s.conversation_id, s.text), s


def dump(obj: Any) -> str:
    return json.dumps(obj, indent=1, default=str)[:4000]
