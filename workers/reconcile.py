"""The reconciler: owed work whose job vanished is put back, so progress never rests on one job.

`run()` looks only at ledger entries past their lease (service.storage.ledger), so it costs O(work
owed), never O(all bookings). Each entry is claimed first (its next look moved one lease on, only if
it is still due), so two reconcilers at once never act on the same entry. For a booking:

- nothing to do: erased, or its newest revision settled -> off the ledger;
- a job is working on it (the booking lock is held; the job renews it) -> left alone;
- its job waits in its queue, or is scheduled for a time not yet past -> left alone;
- otherwise (the job was handed to a dead connection, its worker was killed, the scheduler that
  should have moved it is gone) -> the same job, by its id, is put back in its queue. The sync job's
  own checks (lock, revision, `applied`) make a second run harmless;
- its job is gone or failed for good without settling -> the booking is failed with a reason, never
  left `pending`. So is a booking put back `MAX_HEALS` times (a job that kills its worker every time).

Results owed to a site are handled alike (no lock: a delivery attempt that started longer ago than
it could take counts as dead); a result whose delivery gave up for good leaves the ledger.
It runs in the cron process every `INTERVAL` seconds and once when a worker pool starts.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass

import redis
from rq import Queue
from rq.exceptions import NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from service.sites import results
from service.storage import keys, ledger
from service.storage.queues import DELIVER, SYNC
from workers import meeting, sync

log = logging.getLogger(__name__)

#: Seconds between passes in the cron process.
INTERVAL = 5.0
#: Entries looked at per batch.
BATCH = 200
#: Times a booking's job is put back before the booking is failed instead.
MAX_HEALS = 10
#: A delivery attempt started longer ago than this is dead: RQ stops a live one at its job timeout. A
#: killed delivery is put back within about DELIVERY_STALE + INTERVAL (30 s) of its start.
DELIVERY_STALE = results.JOB_TIMEOUT + 5


@dataclass
class Report:
    """What one pass did (ids never leave the process; the log gets counts)."""

    looked_at: int = 0
    settled: int = 0
    running: int = 0
    waiting: int = 0
    requeued: int = 0
    failed: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def run(r: redis.Redis, now: float | None = None) -> Report:
    """One pass over what is due in the ledger."""
    report = Report()
    claims = ledger.Claims(r)
    waiting = _Queued(r)
    for kind, handle in (("bookings", _booking), ("results", _result)):
        moment = now if now is not None else time.time()
        for raw in ledger.due(r, kind, moment, BATCH):
            if not claims.claim(kind, raw, moment):
                continue  # another reconciler has it
            report.looked_at += 1
            site_id, item_id = ledger.split(raw)
            outcome = handle(r, site_id, item_id, moment, waiting)
            setattr(report, outcome, getattr(report, outcome) + 1)
    if report.looked_at:
        log.info("reconcile: %s", report.as_dict())
    return report


def _booking(r: redis.Redis, site_id: str, booking_id: str, now: float, waiting: _Queued) -> str:
    record = r.hmget(keys.booking(site_id, booking_id), "rev", "applied", "job", "heals")
    rev, applied, job_id, heals = record
    if rev is None or int(applied or 0) >= int(rev):
        r.zrem(ledger.BOOKINGS, ledger.member(site_id, booking_id))
        return "settled"
    if r.exists(keys.booking_lock(site_id, booking_id)):
        return "running"
    job = _fetch(r, job_id)
    state = _job_state(r, job, SYNC, now, waiting)
    if state == "waiting":
        return "waiting"
    if state in ("none", "failed") or int(heals or 0) >= MAX_HEALS:
        return _fail_booking(r, site_id, booking_id, int(rev), state)
    r.hincrby(keys.booking(site_id, booking_id), "heals", 1)
    _requeue(r, job, SYNC)
    log.warning(
        "reconcile: booking %s/%s rev %d put back (its job was %s)", site_id, booking_id, int(rev), state
    )
    return "requeued"


def _fail_booking(r: redis.Redis, site_id: str, booking_id: str, revision: int, state: str) -> str:
    reason = "internal error (the sync job was lost); the operator has been told"
    log.error("reconcile: booking %s/%s rev %s failed: its job is %s", site_id, booking_id, revision, state)
    sync.settle(r, site_id, booking_id, revision, meeting.Outcome.failure(reason), final=True)
    r.zrem(ledger.BOOKINGS, ledger.member(site_id, booking_id))
    return "failed"


def _result(r: redis.Redis, site_id: str, message_id: str, now: float, waiting: _Queued) -> str:
    job = _fetch(r, message_id)
    state = _job_state(r, job, DELIVER, now, waiting, stale_after=DELIVERY_STALE)
    if state == "running":  # look again when it would count as dead, not a whole lease from now
        ledger.look_again(r, "results", site_id, message_id, at=job.started_at.timestamp() + DELIVERY_STALE)
    if state in ("waiting", "running"):
        return state
    if state in ("none", "finished", "failed"):  # delivered, given up for good, or erased with its site
        r.zrem(ledger.RESULTS, ledger.member(site_id, message_id))
        return "settled"
    _requeue(r, job, DELIVER)
    log.warning("reconcile: result %s for site %s put back (its job was %s)", message_id, site_id, state)
    return "requeued"


def _fetch(r: redis.Redis, job_id: bytes | str | None) -> Job | None:
    if not job_id:
        return None
    try:
        return Job.fetch(job_id.decode() if isinstance(job_id, bytes) else job_id, connection=r)
    except NoSuchJobError:
        return None


class _Queued:
    """The job ids waiting in each queue's list, read once per pass (one LRANGE, not a search per job)."""

    def __init__(self, r: redis.Redis):
        self._r = r
        self._ids: dict[str, set[bytes]] = {}

    def __contains__(self, where: tuple[str, str]) -> bool:
        queue, job_id = where
        if queue not in self._ids:
            self._ids[queue] = set(self._r.lrange(Queue(queue, connection=self._r).key, 0, -1))
        return job_id.encode() in self._ids[queue]


def _job_state(
    r: redis.Redis, job: Job | None, queue: str, now: float, waiting: _Queued, stale_after: float = 0
) -> str:
    """`waiting` (queued in its list, or scheduled for later), `running` (a live delivery attempt),
    `none` (no such job), `finished`, `failed` (for good), or why it vanished: `lost` (queued but in
    no list), `abandoned` (started, its worker gone), `overdue` (scheduled, and no scheduler moved it)."""
    if job is None:
        return "none"
    status = job.get_status(refresh=False)
    if status == JobStatus.FINISHED:
        return "finished"  # a sync job that ended without settling (Redis failed under it) runs again
    if status in (JobStatus.FAILED, JobStatus.CANCELED, JobStatus.STOPPED):
        return "failed"
    if status == JobStatus.QUEUED:
        return "waiting" if (queue, job.id) in waiting else "lost"
    if status == JobStatus.SCHEDULED:
        at = r.zscore(ScheduledJobRegistry(queue, connection=r).key, job.id)
        return "waiting" if at is not None and at + ledger.LEASE > now else "overdue"
    if status == JobStatus.STARTED and stale_after:
        started = job.started_at.timestamp() if job.started_at else 0
        return "running" if now - started < stale_after else "abandoned"
    return "abandoned"  # started (its lock lapsed: its worker is gone), deferred, or unknown


def _requeue(r: redis.Redis, job: Job, queue_name: str) -> None:
    """Put the same job back at the end of its queue, out of the registries that still name it."""
    started = StartedJobRegistry(queue_name, connection=r)
    executions = [m for m in r.zrange(started.key, 0, -1) if m.decode().partition(":")[0] == job.id]
    with r.pipeline() as pipe:
        Queue(queue_name, connection=r).enqueue_job(job, pipeline=pipe)  # first: it starts the MULTI
        ScheduledJobRegistry(queue_name, connection=r).remove(job, pipeline=pipe)
        if executions:
            pipe.zrem(started.key, *executions)
        pipe.execute()


def loop(app, interval: float = INTERVAL, stop=None) -> None:
    """Run passes every `interval` seconds until `stop` (a threading.Event) is set (the cron process)."""
    from service.storage import redis_client

    while not (stop is not None and stop.is_set()):
        with app.app_context():
            try:
                run(redis_client.get())
            except redis.exceptions.RedisError as exc:
                log.warning("reconcile pass failed: %s: %s", type(exc).__name__, str(exc)[:200])
        if stop is not None:
            stop.wait(interval)
        else:
            time.sleep(interval)
