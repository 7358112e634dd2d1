"""Benchmarks of the sync engine, end to end: a booking event POSTed to the service until its signed
`booking.synced` result reaches the (stand-in) WordPress site.

- Overhead: at a steady 10 bookings/s, time from the event's arrival to the result's delivery minus
  the latency the sandbox adds along the critical path (the Zoom create and the Google insert).
- Throughput: bookings/s completed end to end with 100 ms added to every provider call, and the
  memory (RSS) of the worker processes.
"""

from __future__ import annotations

import statistics
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests

from service.sites import registry
from tests import processes, signing
from tests.site_double import SiteDouble
from tests.site_stack import Linker, Sandbox, stack_keyring

STAFF = "7"


@dataclass(frozen=True)
class Overhead:
    rate: float
    bookings: int
    latency_ms: float
    calls_per_booking: float
    p50_ms: float
    p99_ms: float
    max_ms: float


@dataclass(frozen=True)
class Throughput:
    offered_rate: float
    bookings: int
    seconds: float
    rate: float
    worker_processes: int
    worker_rss_mib: float
    worker_pss_mib: float
    p50_ms: float
    p99_ms: float


class SyncBench:
    """A stack with the sandbox, a worker pool and a site whose staff has both accounts linked."""

    def __init__(self, folder: Path, worker_processes: int):
        self.folder = folder
        self.redis = processes.RedisServer(folder / "redis")
        self.worker_processes = worker_processes
        self.stack = processes.Stack(
            folder / "stack",
            "",
            workers=1,
            MEETBRIDGE_LOG_LEVEL="WARNING",
            MEETBRIDGE_WORKER_PROCESSES=str(worker_processes),
            SANDBOX_THREADS="128",
        )
        self.double = SiteDouble()
        self.counter = 0

    def __enter__(self) -> SyncBench:
        self.redis.start()
        self.stack.env["REDIS_URL"] = self.redis.url
        self.double.__enter__()
        self.stack.start()
        self.site = registry.create(self.redis.client(), stack_keyring(self.stack), "Bench", self.double.url)
        self.double.secret = self.site["secret"]
        self.linker = Linker(self.stack, self.site, self.double.return_url())
        self.sandbox = Sandbox(self.stack)
        self.sandbox.post("consent", {"mode": "approve"})
        for provider in ("zoom", "google"):
            assert self.linker.link(provider, STAFF)["meetbridge_status"] == "connected"
        self.sandbox.post("daily-limit", {"limit": 1_000_000})
        return self

    def __exit__(self, *exc) -> None:
        self.stack.stop()
        self.double.__exit__(*exc)
        self.redis.stop()

    def _post(self, session: requests.Session, booking_id: str) -> float:
        body = signing.body_of(signing.event(id=booking_id))
        sent = time.monotonic()
        answer = session.post(
            f"{self.stack.base_url}/v1/sites/{self.site['site_id']}/events",
            data=body,
            headers=signing.headers(self.site["secret"], body),
            verify=str(self.stack.certs.ca),
            timeout=30,
        )
        assert answer.status_code == 202, answer.text
        return sent

    def run(self, rate: float, count: int, latency_ms: int, senders: int = 4) -> tuple[dict, dict, float]:
        """Offer `count` bookings at `rate`/s (open loop); returns send times, result times, duration."""
        self.sandbox.post("latency", {"ms": latency_ms})
        prefix = f"b{self.counter}-"
        self.counter += 1
        ids = [f"{prefix}{n}" for n in range(count)]
        sent: dict[str, float] = {}
        start = time.monotonic() + 0.2
        lock = threading.Lock()

        def sender(offset: int) -> None:
            session = requests.Session()
            for index in range(offset, count, senders):
                delay = start + index / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                moment = self._post(session, ids[index])
                with lock:
                    sent[ids[index]] = moment

        threads = [threading.Thread(target=sender, args=(n,)) for n in range(senders)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wanted = set(ids)

        def arrived():
            got = {
                r["data"]["booking_id"]: r["received_at"]
                for r in list(self.double.results)
                if r["type"] == "booking.synced" and r["data"]["booking_id"] in wanted
            }
            return got if len(got) == count else None

        received = processes.wait_for(arrived, timeout=300, interval=0.2, what="every booking.synced result")
        duration = max(received.values()) - min(sent.values())
        return sent, received, duration

    def calls_total(self) -> int:
        return self.sandbox.state()["calls_total"]

    def worker_memory_mib(self) -> tuple[float, float]:
        """RSS and PSS (shared pages divided among the processes sharing them) of the worker pool."""
        master = self.stack.services["worker0"].proc.pid
        children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
        rss = pss = 0
        for pid in [master, *map(int, children)]:
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        return rss / 1024, pss / 1024


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * fraction) - 1)]


def overhead(bench: SyncBench, rate: float = 10, count: int = 200, latency_ms: int = 50) -> Overhead:
    bench.run(rate=5, count=20, latency_ms=latency_ms)  # warm-up: connections, tokens, clients built
    calls_before = bench.calls_total()
    sent, received, _ = bench.run(rate=rate, count=count, latency_ms=latency_ms)
    calls = (bench.calls_total() - calls_before) / count
    critical = 2 * latency_ms  # the Zoom create, then the Google insert that carries its link
    spans = [(received[b] - sent[b]) * 1000 - critical for b in sent]
    return Overhead(
        rate, count, latency_ms, calls, statistics.median(spans), _percentile(spans, 0.99), max(spans)
    )


def throughput(bench: SyncBench, rate: float = 60, count: int = 1200, latency_ms: int = 100) -> Throughput:
    sent, received, duration = bench.run(rate=rate, count=count, latency_ms=latency_ms, senders=8)
    spans = [(received[b] - sent[b]) * 1000 for b in sent]
    return Throughput(
        rate,
        count,
        duration,
        count / duration,
        bench.worker_processes,
        *bench.worker_memory_mib(),
        statistics.median(spans),
        _percentile(spans, 0.99),
    )
