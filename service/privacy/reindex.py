"""Building the indexes that erasure and export read for data written before they existed.

Once, after upgrading from a version without them (`flask --app service sites reindex`): every booking
record joins its site's index, every idempotency record and every job of a booking joins the booking's
index, and a result of no booking joins its site's. One pass over the keyspace (SCAN) and over the jobs of
MeetBridge's queues; safe to run again (sets), and while the service runs (the intake writes the same).
"""

from __future__ import annotations

import json
import logging

import redis
from rq import Queue
from rq.job import Job

from service import vault_keys
from service.bookings import lifecycle
from service.crypto import DecryptError
from service.sites import results
from service.storage import keys, queues

log = logging.getLogger(__name__)

SYNC_JOB = "workers.sync.sync_booking"


def reindex(r: redis.Redis, batch: int = 500) -> dict[str, int]:
    """Index what is stored; returns how many bookings, idempotency records and jobs were seen."""
    counts = {"bookings": 0, "idempotency_records": 0, "jobs": 0}
    for raw in r.scan_iter(match="mb:s:*", count=1000):
        _, _, site_id, rest = raw.decode().split(":", 3)
        kind, _, item = rest.partition(":")
        if kind == "bk" and item:
            r.sadd(keys.site_bookings(site_id), item)
            counts["bookings"] += 1
        elif kind == "idem" and item:
            counts["idempotency_records"] += _index_record(r, site_id, item)
    ids = _job_ids(r)
    for start in range(0, len(ids), batch):
        for job in Job.fetch_many(ids[start : start + batch], connection=r):
            counts["jobs"] += job is not None and _index_job(r, job)
    log.info("reindexed: %s", counts)
    return counts


def _index_record(r: redis.Redis, site_id: str, webhook_id: str) -> bool:
    raw = r.get(keys.idempotency(site_id, webhook_id))
    try:
        booking_id = json.loads(raw)["booking_id"] if raw else None
    except (ValueError, KeyError, TypeError):
        return False
    if booking_id is None:
        return False
    index = keys.booking_index(site_id, str(booking_id))
    r.sadd(index, lifecycle.webhook_member(webhook_id))
    r.expire(index, keys.JOB_INDEX_SECONDS)
    return True


def _job_ids(r: redis.Redis) -> list[str]:
    ids: set[str] = set()
    for name in queues.ALL:
        queue = Queue(name, connection=r)
        ids.update(queue.get_job_ids())
        for job_registry in (queue.scheduled_job_registry, queue.deferred_job_registry,
                             queue.failed_job_registry, queue.finished_job_registry):  # fmt: skip
            ids.update(raw.decode() for raw in r.zrange(job_registry.key, 0, -1))
    return sorted(ids)


def _index_job(r: redis.Redis, job: Job) -> bool:
    try:
        if job.func_name == SYNC_JOB:
            site_id, booking_id = job.args[0], str(job.args[1])
        elif job.func_name == results.DELIVER_JOB:
            site_id, message_id, _type, sealed = job.args[:4]
            data, _stale = vault_keys.get().open_json(sealed, results.result_aad(site_id, message_id))
            booking_id = str(data["booking_id"]) if "booking_id" in data else None
        else:
            return False
    except (DecryptError, ValueError, IndexError, TypeError) as exc:
        log.warning("reindex: job %s could not be read (%s)", job.id, type(exc).__name__)
        return False
    pipe = r.pipeline(transaction=False)
    lifecycle.index_job(pipe, site_id, booking_id, job.id)
    pipe.execute()
    return True
