"""The worker class: RQ's SimpleWorker (jobs run in the worker process itself, no fork per job), so
provider clients and their connections live as long as the process, and a pool of these processes
gives the concurrency that slow provider calls need.

A job whose worker died is put back by the reconciler (workers/reconcile.py) once the booking's lock
lapses (a delivery: once it has run longer than it can); RQ's own maintenance may also retry it later
(its `Retry`), which the jobs' checks make harmless. `ABANDONED_GRACE` shortens RQ's fixed minute of
grace after the job timeout; `DELIVERY_ABANDONED_AFTER` keeps RQ's way behind the reconciler's for
deliveries, whose job timeout is short.

A process forked from a worker (RQ's scheduler) must not keep the worker's Redis sockets open: if the
worker is then killed while it waits in `BLPOP`, Redis would still see that connection waiting and
hand it the next job, which nobody would ever read. The child closes its copies right after the fork.
"""

from __future__ import annotations

import os

from rq import SimpleWorker
from rq.defaults import DEFAULT_WORKER_TTL

from service.logs import correlation_id
from service.storage.queues import DELIVER

#: Seconds after a job's timeout before a job whose worker vanished counts as abandoned.
ABANDONED_GRACE = 15
#: A delivery, though, no sooner than this after it started: the reconciler puts a delivery whose worker
#: vanished back within about 30 s of its start, and RQ's own way would put the delivery's first retry
#: backoff (30 s), which the reconciler then waits for, in front of it.
DELIVERY_ABANDONED_AFTER = 60
#: Seconds between a worker's maintenance runs (RQ's default is 10 minutes).
MAINTENANCE_INTERVAL = int(os.environ.get("MEETBRIDGE_WORKER_MAINTENANCE_INTERVAL", "30"))


class MeetBridgeWorker(SimpleWorker):
    """SimpleWorker with prompt recovery of jobs whose worker was killed."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("maintenance_interval", MAINTENANCE_INTERVAL)
        super().__init__(*args, **kwargs)
        pool = self.connection.connection_pool
        os.register_at_fork(after_in_child=lambda: close_inherited_sockets(pool))

    @property
    def dequeue_timeout(self) -> int:
        """Wake from an idle wait at least once per maintenance interval, so an idle worker still
        notices (and retries) a job abandoned by a dead one."""
        return max(1, min(self.worker_ttl - 15, self.maintenance_interval))

    def perform_job(self, job, queue) -> bool:
        """Run the job with its id as the correlation id of every log line it writes."""
        token = correlation_id.set(job.id)
        try:
            return super().perform_job(job, queue)
        finally:
            correlation_id.reset(token)

    def handle_job_success(self, job, queue, started_job_registry):
        """Forget executions of this job whose records have expired (a killed attempt's) before RQ
        deletes the finished job: RQ keeps their ids a minute longer than their records and would fail
        the finished job on the first missing one."""
        forget_expired_executions(job)
        return super().handle_job_success(job, queue, started_job_registry)

    def get_heartbeat_ttl(self, job) -> int:
        if job.timeout == -1:
            return DEFAULT_WORKER_TTL
        ttl = int(job.timeout or DEFAULT_WORKER_TTL) + ABANDONED_GRACE
        return max(ttl, DELIVERY_ABANDONED_AFTER) if job.origin == DELIVER else ttl


def close_inherited_sockets(pool) -> None:
    """In a forked child: close the child's copies of the parent's Redis sockets (never shut them
    down: the parent's connections stay usable). redis-py's own fork check only forgets them."""
    if getattr(pool, "pid", None) == os.getpid():
        return
    for name in ("_available_connections", "_in_use_connections"):
        for connection in list(getattr(pool, name, ()) or ()):
            sock = getattr(connection, "_sock", None)
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass


def forget_expired_executions(job) -> None:
    """Drop from the job's execution registry the ids whose execution record is gone."""
    registry = job.execution_registry
    ids = [raw.decode() for raw in job.connection.zrange(registry.key, 0, -1)]
    if not ids:
        return
    with job.connection.pipeline(transaction=False) as pipe:
        for execution_id in ids:
            pipe.exists(f"rq:execution:{job.id}:{execution_id}")
        present = pipe.execute()
    gone = [execution_id for execution_id, exists in zip(ids, present, strict=True) if not exists]
    if gone:
        job.connection.zrem(registry.key, *gone)
