"""Prometheus metrics: request counts and latencies, the depth of each work queue, and the ledger.

Under gunicorn, `PROMETHEUS_MULTIPROC_DIR` (set by gunicorn.conf.py) makes every worker write its
samples to files that `/metrics` merges; without it (tests, the Flask dev server) the default
in-process registry is used.
"""

from __future__ import annotations

import os

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from service.storage import keys, ledger
from service.storage.queues import HEARTBEAT_KEY

REQUESTS = Counter(
    "meetbridge_http_requests_total", "HTTP requests answered", ["method", "endpoint", "status"]
)
LATENCY = Histogram(
    "meetbridge_http_request_duration_seconds",
    "Time to answer an HTTP request",
    ["method", "endpoint"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
)


class OpsCollector:
    """Read at scrape time from Redis: jobs waiting per queue, and when cron last ran."""

    def __init__(self, queues, connection):
        self._queues = queues
        self._connection = connection

    def collect(self):
        depth = GaugeMetricFamily("meetbridge_queue_depth", "Jobs waiting in each queue", labels=["queue"])
        failed = GaugeMetricFamily(
            "meetbridge_failed_jobs",
            "Jobs that gave up (kept 7 days; `flask --app service failed-jobs`)",
            labels=["queue"],
        )
        for queue in self._queues():
            depth.add_metric([queue.name], queue.count)
            failed.add_metric([queue.name], queue.failed_job_registry.count)
        yield depth
        yield failed
        if self._connection is not None:
            raw = self._connection.get(HEARTBEAT_KEY)
            beat = GaugeMetricFamily(
                "meetbridge_cron_heartbeat_timestamp_seconds", "When the cron heartbeat job last ran"
            )
            beat.add_metric([], float(raw) if raw else 0.0)
            yield beat
            yield from _ledger(self._connection)
            yield from _stats(self._connection)
        up = GaugeMetricFamily("meetbridge_redis_up", "1 when this process reached Redis for this scrape")
        up.add_metric([], 0.0 if self._connection is None else 1.0)
        yield up


def _stats(connection):
    """Counters kept in Redis (service.storage.keys.STATS), so every process reports the same totals."""
    counts = {field.decode(): int(value) for field, value in connection.hgetall(keys.STATS).items()}
    settled = CounterMetricFamily(
        "meetbridge_bookings_settled", "Booking revisions settled, by outcome", labels=["state"]
    )
    for state in ("synced", "failed", "cancelled"):
        settled.add_metric([state], counts.get(f"bookings_{state}", 0))
    relink = CounterMetricFamily(
        "meetbridge_accounts_needs_relink", "Linked accounts marked needs_relink (the provider refused them)"
    )
    relink.add_metric([], counts.get("accounts_needs_relink", 0))
    yield settled
    yield relink
    pushes = CounterMetricFamily(
        "meetbridge_google_notifications",
        "Google push notifications: acted on (`accepted`), or `ignored` (unknown channel, wrong token)",
        labels=["outcome"],
    )
    pushes.add_metric(["accepted"], counts.get("google_notifications", 0))
    pushes.add_metric(["ignored"], counts.get("google_notifications_ignored", 0))
    yield pushes
    resyncs = CounterMetricFamily(
        "meetbridge_google_full_resyncs",
        "Full resyncs of a calendar after Google expired its sync token (410)",
    )
    resyncs.add_metric([], counts.get("google_full_resyncs", 0))
    yield resyncs


def _ledger(connection):
    """The work owed (service.storage.ledger): how much, and how long the oldest is past its lease."""
    size = GaugeMetricFamily(
        "meetbridge_ledger_owed", "Work owed, not yet settled or delivered", labels=["kind"]
    )
    overdue = GaugeMetricFamily(
        "meetbridge_ledger_past_lease",
        "Owed work past its lease (the reconciler puts it back)",
        labels=["kind"],
    )
    oldest = GaugeMetricFamily(
        "meetbridge_ledger_oldest_past_lease_seconds",
        "How long the most overdue owed item has been past its lease",
        labels=["kind"],
    )
    for kind in ledger.KINDS:
        summary = ledger.summary(connection, kind)
        size.add_metric([kind], summary.size)
        overdue.add_metric([kind], summary.overdue)
        oldest.add_metric([kind], summary.oldest_due_seconds)
    yield from (size, overdue, oldest)


def render(queues, connection) -> bytes:
    """The metrics page: this process's (or all gunicorn workers') samples plus queue state.

    Args:
        queues: a callable returning the RQ queues whose depth to report.
        connection: Redis, for the cron heartbeat (None when Redis is unreachable).
    """
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    depth = CollectorRegistry()
    depth.register(OpsCollector(queues, connection))
    return generate_latest(registry) + generate_latest(depth)
