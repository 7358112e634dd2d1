"""`make bench`: every benchmark in one run on this machine, written to bench/REPORT.md.

Each figure that has a target is reported as a ratio against the baseline measured in the same run
(the trivial `/healthz` route under the project's own gunicorn config), never as an absolute time.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import subprocess
import tempfile
from pathlib import Path

from bench import wrk
from tests import processes

REPORT = Path(__file__).resolve().parent / "REPORT.md"


def _machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory = int(Path("/proc/meminfo").read_text().split()[1]) // (1024 * 1024)
    return f"{os.cpu_count()} cores ({cpu}), {memory} GiB, Python {platform.python_version()}"


def baseline(stack: processes.Stack) -> wrk.Result:
    """Requests/s and latency of the trivial route, keep-alive connections, TLS 1.3."""
    wrk.run(stack.base_url + "/healthz", seconds=3)  # warm-up
    return wrk.run(stack.base_url + "/healthz", seconds=15)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="meetbridge-bench-") as tmp:
        folder = Path(tmp)
        redis = processes.RedisServer(folder / "redis")
        redis.start()
        stack = processes.Stack(folder, redis.url, workers=0, MEETBRIDGE_LOG_LEVEL="WARNING")
        try:
            stack.start(sandbox=False)
            base = baseline(stack)
        finally:
            stack.stop()
            redis.stop()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    ).stdout.strip()
    web_workers = stack.env["WEB_CONCURRENCY"]
    lines = [
        "# Benchmark report",
        "",
        f"Written by `make bench` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, commit `{commit}`.",
        f"Machine: {_machine()}. Load generator: wrk on the same machine (it shares the 2 cores).",
        f"Server: gunicorn with `gunicorn.conf.py` ({web_workers} gthread workers, TLS 1.3, keep-alive),",
        "Redis: redis-server with append-only persistence; logs at WARNING.",
        "",
        "## Baseline: the trivial route",
        "",
        "`GET /healthz`, 16 keep-alive connections, 15 s after a 3 s warm-up. Every later figure is",
        "compared with this one, measured in the same run.",
        "",
        "| requests/s | p50 | p99 | requests | errors |",
        "|---:|---:|---:|---:|---:|",
        f"| {base.requests_per_second:,.0f} | {base.p50_ms:.2f} ms | {base.p99_ms:.2f} ms "
        f"| {base.requests:,} | {base.errors} |",
        "",
    ]
    REPORT.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
