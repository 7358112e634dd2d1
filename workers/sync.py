"""The sync job: turn an accepted booking event into the right Zoom meeting and Google Calendar event,
exactly once on RQ's at-least-once delivery, and tell the site what happened.

One job at a time per booking (a Redis lock); an event older than the newest accepted one, or one
already applied, is skipped (each event carries the booking's whole state, so applying the newest is
enough). Side effects are idempotent: the Zoom meeting is created only after an intent is recorded,
and a retry after a crash finds the meeting it may have created by the marker in its agenda; the
Google event has a deterministic id, and a 409 is answered by reading the event. The outcome, the
booking's metadata and the result for the site are written in one Redis transaction.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import timedelta

import redis
from flask import current_app
from rq import Queue, get_current_job

from service import vault_keys
from service.bookings import intake, lifecycle
from service.bookings.records import event_aad
from service.exceptions import AccountNotLinked, Conflict, Gone, NeedsRelink, ProviderRejected, TokenBusy
from service.providers import clients
from service.sites import results, site_settings
from service.storage import keys, ledger, redis_client
from service.storage.queues import SYNC
from workers import faults, google_watch, leases, meeting

log = logging.getLogger(__name__)

#: A booking whose job was postponed this many times (about a day of backoff) is given up as failed.
MAX_POSTPONES = 60
PERMANENT = (NeedsRelink, AccountNotLinked, ProviderRejected)


def job_timeout() -> int:
    """Seconds a sync job may run (MEETBRIDGE_SYNC_JOB_TIMEOUT)."""
    return int(current_app.config["SYNC_JOB_TIMEOUT"])


def sync_booking(
    site_id: str, booking_id: str, revision: int, event_type: str, sealed: bytes, attempt: int = 0
) -> str:
    """Apply one booking event. Returns what happened (`synced`, `failed`, `cancelled`, `superseded`, …).

    A Redis error anywhere ends this attempt, not the worker: the booking stays owed in the ledger and
    the reconciler puts its job back once the lease lapses.
    """
    try:
        outcome = _sync(site_id, booking_id, revision, event_type, sealed, attempt)
    except redis.exceptions.RedisError as exc:
        log.warning(
            "booking %s/%s rev %s: Redis failed (%s); left for the reconciler",
            site_id, booking_id, revision, type(exc).__name__,
        )  # fmt: skip
        _keep(intake.UNSETTLED_JOB_TTL)
        return "interrupted"
    _keep(0)
    return outcome


def _keep(seconds: int) -> None:
    """How long the finished job stays: a sync job is deleted, payload and all, as soon as it finishes,
    except one that ended without settling its booking: the reconciler puts that one back by its id, so
    it is kept (and deleted when a later run of it finishes)."""
    job = get_current_job()  # the worker's own Job object: it reads `result_ttl` when the job returns
    if job is not None:
        job.result_ttl = seconds


def _sync(site_id: str, booking_id: str, revision: int, event_type: str, sealed: bytes, attempt: int) -> str:
    r = redis_client.get()
    lock = leases.booking_lock(r, keys.booking_lock(site_id, booking_id), wait=job_timeout() / 2)
    if not lock.acquire():
        _postpone(r, site_id, booking_id, revision, event_type, sealed, attempt, "another sync is running", 5)
        return "busy"
    try:
        with leases.renewed(lock, site_id, booking_id):
            return _sync_locked(r, site_id, booking_id, revision, event_type, sealed, attempt)
    finally:
        _release(lock, site_id, booking_id)


def _release(lock, site_id: str, booking_id: str) -> None:
    """Release the booking lock; if Redis fails here, the lock lapses on its own within seconds."""
    try:
        faults.redis_error_point("release_booking_lock")
        lock.release()
    except redis.exceptions.LockError:
        log.warning("booking lock of %s/%s had expired", site_id, booking_id)
    except redis.exceptions.RedisError as exc:
        log.warning(
            "booking lock of %s/%s not released (%s); it lapses", site_id, booking_id, type(exc).__name__
        )


def _sync_locked(
    r: redis.Redis, site_id: str, booking_id: str, revision: int, event_type: str, sealed: bytes, attempt: int
) -> str:
    key = keys.booking(site_id, booking_id)
    record = r.hgetall(key)
    if not record or not r.exists(keys.site(site_id)):
        log.info("booking %s/%s rev %s: erased, nothing to do", site_id, booking_id, revision)
        r.zrem(ledger.BOOKINGS, ledger.member(site_id, booking_id))
        return "erased"
    newest, applied = int(record.get(b"rev", 0)), int(record.get(b"applied", 0))
    if revision < newest or revision <= applied:
        log.info("booking %s/%s rev %s: superseded or already applied", site_id, booking_id, revision)
        if applied >= newest:
            r.zrem(ledger.BOOKINGS, ledger.member(site_id, booking_id))
        return "superseded"
    plain, _stale = vault_keys.get().open(sealed, event_aad(site_id, booking_id, revision))
    booking = json.loads(plain)
    settings = site_settings.load(r, site_id)
    work = meeting.Work(r, site_id, booking_id, booking, record, settings)
    try:
        outcome = work.cancel() if event_type == "booking.cancelled" else work.apply()
    except lifecycle.Erased:
        log.info("booking %s/%s rev %s: erased during the sync; stopped", site_id, booking_id, revision)
        r.zrem(ledger.BOOKINGS, ledger.member(site_id, booking_id))
        return "erased"
    except clients.Postpone as exc:
        _postpone(r, site_id, booking_id, revision, event_type, sealed, attempt, exc.reason, exc.delay)
        return "postponed"
    except TokenBusy as exc:
        _postpone(r, site_id, booking_id, revision, event_type, sealed, attempt, str(exc), 10)
        return "postponed"
    except (*PERMANENT, Gone, Conflict) as exc:
        outcome = work.failed(str(exc))
    settle(r, site_id, booking_id, revision, outcome, settings)
    log.info("booking %s/%s rev %s: %s", site_id, booking_id, revision, outcome.state)
    if outcome.state == "synced" and outcome.event_id and outcome.staff_id:
        google_watch.ensure_soon(r, site_id, outcome.staff_id)
    return outcome.state


def _postpone(
    r, site_id, booking_id, revision, event_type, sealed, attempt, reason: str, delay: float
) -> None:
    if attempt >= MAX_POSTPONES:
        settle(
            r,
            site_id,
            booking_id,
            revision,
            meeting.Outcome.failure(f"gave up after {attempt} attempts: {reason}"),
        )
        return
    delay = max(1.0, delay)
    key = keys.booking(site_id, booking_id)
    with r.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(key, keys.site(site_id))  # erasure deletes one of them: nothing is written
                if pipe.exists(key, keys.site(site_id)) < 2 or int(pipe.hget(key, "rev") or 0) != revision:
                    return  # erased, or a newer revision's job owns the booking now
                pipe.multi()
                job = Queue(SYNC, connection=r).enqueue_in(
                    timedelta(seconds=delay),
                    "workers.sync.sync_booking",
                    args=(site_id, booking_id, revision, event_type, sealed, attempt + 1),
                    description=f"sync {event_type} (attempt {attempt + 2})",
                    pipeline=pipe,
                    **intake.sync_job_options(job_timeout(), enqueue_in=True),
                )
                pipe.hset(key, mapping={"error": f"retrying in {delay:.0f}s: {reason}"[:500], "job": job.id})
                lifecycle.index_job(pipe, site_id, booking_id, job.id)
                ledger.owe(pipe, "bookings", site_id, booking_id, at=time.time() + delay)
                pipe.execute()
                break
            except redis.WatchError:
                continue
    log.info("booking %s/%s rev %s postponed %.0fs: %s", site_id, booking_id, revision, delay, reason)


def settle(
    r: redis.Redis,
    site_id: str,
    booking_id: str,
    revision: int,
    outcome: meeting.Outcome,
    settings: dict | None = None,
    *,
    final: bool = False,
) -> None:
    """Write the outcome, the cleanup indices and the site's result in one transaction; settling the
    newest revision takes the booking off the ledger. `final`: a failure decided outside the job (RQ's
    failure callback), ignored when an attempt already settled this revision."""
    settings = settings or site_settings.load(r, site_id)
    key = keys.booking(site_id, booking_id)
    member = f"{site_id}|{booking_id}"
    keyring = vault_keys.get()
    with r.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(key, keys.site(site_id))
                if pipe.exists(key, keys.site(site_id)) < 2:
                    return  # the booking or its site was erased meanwhile
                newest = int(pipe.hget(key, "rev") or 0)
                recorded_end = pipe.hget(key, "end")
                if final and int(pipe.hget(key, "applied") or 0) >= revision:
                    return  # a crashed attempt's late failure: another attempt settled this revision
                fields = {"applied": revision, "updated": int(time.time()), "error": outcome.error or ""}
                if revision >= newest:
                    fields["state"] = outcome.state
                fields.update(outcome.metadata(keyring, site_id, booking_id))
                pipe.multi()
                if revision >= newest:
                    ledger.settle(pipe, "bookings", site_id, booking_id)
                    pipe.hdel(key, "heals")
                pipe.hset(key, mapping=fields)
                pipe.hincrby(keys.STATS, f"bookings_{outcome.state}", 1)
                if outcome.cleared:
                    pipe.hdel(key, *outcome.cleared)
                _index(pipe, key, member, outcome, settings, int(recorded_end) if recorded_end else None)
                results.enqueue_result(
                    r,
                    site_id,
                    outcome.result_type,
                    outcome.result(site_id, booking_id, revision),
                    booking_id=booking_id,
                    pipeline=pipe,
                )
                faults.redis_error_point("before_settle")
                pipe.execute()
                return
            except redis.WatchError:
                continue


def _index(
    pipe, key: str, member: str, outcome: meeting.Outcome, settings: dict, recorded_end: int | None
) -> None:
    """Every settled booking is due for cleanup at its end plus the site's grace period (a booking that
    never got times: from now); cleanup deletes its meeting and sets its record to expire. Until then
    the record does not expire (a booking moved to the future after a cleanup lives on)."""
    end = outcome.end if outcome.end is not None else recorded_end
    due = (end if end is not None else int(time.time())) + 60 * int(settings["grace_minutes"])
    pipe.zadd(keys.MEETINGS_DUE, {member: due})
    pipe.persist(key)
    if outcome.zoom_id:  # a live meeting, of a synced booking or of one that failed after making it
        pipe.hset(keys.ZOOM_MEETINGS, outcome.zoom_id, member)
    if outcome.old_zoom_id and outcome.old_zoom_id != outcome.zoom_id:
        pipe.hdel(keys.ZOOM_MEETINGS, outcome.old_zoom_id)
    site_id, _, booking_id = member.partition("|")
    if outcome.staff_id and outcome.event_id and outcome.end is not None:  # its calendar is watched
        pipe.zadd(keys.google_watched(site_id, outcome.staff_id), {booking_id: outcome.end})
    elif outcome.staff_id and outcome.state == "cancelled":
        pipe.zrem(keys.google_watched(site_id, outcome.staff_id), booking_id)


def on_sync_failure(job, connection, exc_type, exc_value, traceback) -> None:
    """RQ's failure callback: once a crashed job has no retries left, the booking is failed, not lost."""
    if job.retries_left:
        return
    site_id, booking_id, revision = job.args[0], job.args[1], job.args[2]
    reason = f"internal error ({exc_type.__name__}); the operator has been told"
    log.error(
        "booking %s/%s rev %s: job %s failed for good: %s",
        site_id,
        booking_id,
        revision,
        job.id,
        exc_type.__name__,
    )
    settle(connection, site_id, booking_id, revision, meeting.Outcome.failure(reason), final=True)
