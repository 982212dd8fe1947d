"""What every benchmark writes: the machine it ran on and a dated section in RESULTS.md."""

from __future__ import annotations

import os
import platform
from datetime import datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (or what `platform` knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_line(extra: str = "") -> str:
    """`nproc` (CPUs this process may use), all CPUs, the CPU model, and `extra`."""
    usable = len(os.sched_getaffinity(0))
    line = f"nproc {usable} (of {os.cpu_count()} CPUs), {cpu_model()}"
    return f"{line}, {extra}" if extra else line


def append_section(
    title: str, command: str, body: str, machine: str | None = None, path: Path = RESULTS
) -> None:
    """Append a dated section; the file is shared, so it is only ever appended to."""
    if not path.exists():
        path.write_text("# Benchmark results\n", encoding="utf-8")
    now = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    text = (
        f"\n## {title}\n\n- date: {now}\n- machine: {machine or machine_line()}\n"
        f"- command: `{command}`\n\n{body.rstrip()}\n"
    )
    with path.open("a", encoding="utf-8") as f:
        f.write(text)
    print(f"appended to {path}")


def free_port() -> int:
    """A free TCP port on loopback, for a server a benchmark starts."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pct(values: list[float], q: float) -> float:
    """The `q` quantile (0..1) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]
