"""Erasure: a booking or a whole site forgotten now, at the providers and in Redis, for good.

`erase_booking` (the site's `DELETE /v1/sites/{site_id}/bookings/{booking_id}`) works under the
booking's lock, renewed while it works (however long the providers' retries take), so no sync job of
the booking runs meanwhile: it deletes the Zoom meeting (404 counts as done) and the Google Calendar
event (without e-mailing attendees), then, in one transaction, the record, its index entries, the
idempotency records of its events and every job of it that is not running (queued, scheduled, failed
or finished: their payloads carry sealed personal data), and writes its tombstone
(service.bookings.lifecycle): no later event, postponed job or worker write brings it back. A
provider that fails transiently erases nothing: `ProviderBusy`, try again. An account that is no
longer linked or must be relinked cannot reach its meeting or event any more; the booking is erased
anyway and the answer says so. Its cost is what the booking holds: jobs and records are found through
the booking's index, never by a scan.

`erase_site` (`flask --app service sites delete`) removes the site record first (from then on no
event is accepted and every job's write is refused: the missing record is the site's tombstone), then
erases every booking the same way (found through the site's index; a booking whose sync is still
running is waited for, as that sync stops at its next write), the site's other jobs, its linked
accounts (revoked at the providers, then forgotten), its connect links and OAuth states, and its
members in the global indexes.

`forget_zoom_user` is Zoom's `app_deauthorized`: the user's tokens and the Zoom data of their bookings.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from flask import current_app, has_app_context
from rq import Queue
from rq.job import Job, JobStatus

from service.accounts import revoke, vault
from service.bookings import lifecycle, meetings
from service.changes import watches
from service.exceptions import (
    AccountNotLinked,
    Gone,
    NeedsRelink,
    ProviderRejected,
    ProviderUnavailable,
    TokenBusy,
)
from service.providers import clients
from service.providers.google_calendar import event_id
from service.providers.zoom_meetings import marker
from service.sites import registry
from service.storage import keys, ledger

log = logging.getLogger(__name__)

#: Longest wait for a running sync of the booking before answering busy.
LOCK_WAIT = 15.0
#: Lifetime of the booking lock held by an erasure between two renewals.
LOCK_SECONDS = 30
#: How often an erasure renews its lock while it works.
RENEW_EVERY = 10.0
#: In a site's erasure, the first wait for a booking's running sync (busy ones are waited for at the end).
FIRST_PASS_WAIT = 1.0
#: A queued job is taken out of its queue's list when it is among this many at the list's end (where
#: a booking's newest job sits); deeper in a backlog its id is left for the worker to skip (RQ skips
#: ids whose job is gone), so erasing costs the same however long the queue is.
UNQUEUE_REACH = 1000


class ProviderBusy(Exception):
    """A provider could not be reached or a sync of the booking is running: nothing was erased."""


class BookingBusy(ProviderBusy):
    """A sync of the booking held its lock for longer than the erasure waits."""


def erase_booking(
    r: redis.Redis, site_id: str, booking_id: str, *, lock_wait: float | None = None, in_site: bool = False
) -> dict[str, Any] | None:
    """Erase one booking; None when there is nothing of it.

    Args:
        lock_wait: longest wait for a running sync (default `LOCK_WAIT`).
        in_site: part of a site's erasure: no tombstone is written and an old one is deleted (the site's
            missing record stands for all of them).

    Raises:
        BookingBusy: a sync of the booking still runs. ProviderBusy: a provider could not be reached.
    """
    wait = LOCK_WAIT if lock_wait is None else lock_wait
    lock_key = keys.booking_lock(site_id, booking_id)
    lock = r.lock(lock_key, timeout=LOCK_SECONDS, blocking_timeout=wait, thread_local=False)
    if not lock.acquire():
        raise BookingBusy("a sync of this booking is running; try again")
    try:
        with _renewed(lock):
            record = r.hgetall(keys.booking(site_id, booking_id))
            if not record:
                removed = forget_booking(r, site_id, booking_id, bury=False, in_site=in_site)
                return {"booking_id": booking_id, "jobs_removed": removed} if removed else None
            zoom = _zoom(site_id, booking_id, record)
            google = _google(site_id, booking_id, record)
            removed = forget_booking(r, site_id, booking_id, bury=not in_site, in_site=in_site)
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("erasure: booking lock of %s/%s had expired", site_id, booking_id)
    log.info(
        "booking %s/%s erased (zoom: %s, google: %s, jobs: %d)", site_id, booking_id, zoom, google, removed
    )
    return {"booking_id": booking_id, "zoom_meeting": zoom, "google_event": google, "jobs_removed": removed}


@contextmanager
def _renewed(lock) -> Iterator[None]:
    """Keep `lock` alive (every `RENEW_EVERY` s) while the block runs, however long the providers take."""
    done = threading.Event()

    def renew() -> None:
        while not done.wait(RENEW_EVERY):
            try:
                lock.reacquire()
            except redis.exceptions.LockError:
                log.warning("erasure: the booking lock was lost; no longer renewing it")
                return
            except redis.exceptions.RedisError as exc:
                log.warning("erasure: booking lock not renewed (%s)", type(exc).__name__)

    thread = threading.Thread(target=renew, name="erasure-lock", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


def forget_booking(
    r: redis.Redis, site_id: str, booking_id: str, *, bury: bool = True, in_site: bool = False
) -> int:
    """In one transaction: the record, its index and global index entries, its events' idempotency
    records and its jobs that are not running, and (`bury`) its tombstone written (`in_site`: an old
    tombstone deleted instead). Returns how many jobs were removed. The index, the record and the jobs are
    watched: an event accepted, a sync postponed or a job started meanwhile makes the transaction run
    again."""
    key, index = keys.booking(site_id, booking_id), keys.booking_index(site_id, booking_id)
    member = ledger.member(site_id, booking_id)
    with r.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(key, index)
                zoom_id, staff_id = pipe.hmget(key, "zoom_id", "staff")
                job_ids, idempotency = lifecycle.read_index(pipe, site_id, booking_id)
                jobs = [job for job in Job.fetch_many(job_ids, connection=r) if _removable(job)]
                if jobs:
                    pipe.watch(*(job.key for job in jobs))  # one that starts meanwhile is then left alone
                unqueue = [job for job in jobs if _near_the_end(r, job)]
                pipe.multi()
                pipe.delete(key, index, *idempotency)
                if bury:
                    lifecycle.bury(pipe, site_id, booking_id)
                elif in_site:
                    pipe.delete(keys.booking_tombstone(site_id, booking_id))
                pipe.zrem(keys.MEETINGS_DUE, member)
                pipe.zrem(keys.RETENTION_DUE, member)
                ledger.settle(pipe, "bookings", site_id, booking_id)
                if zoom_id:
                    pipe.hdel(keys.ZOOM_MEETINGS, zoom_id)
                if staff_id:
                    pipe.zrem(keys.google_watched(site_id, staff_id.decode()), booking_id)
                for job in jobs:
                    _delete_job(pipe, job, unqueue=job in unqueue)
                pipe.execute()
                return len(jobs)
            except redis.WatchError:
                continue


def _zoom(site_id: str, booking_id: str, record: dict[bytes, bytes]) -> str:
    """`deleted`, `already_gone`, `none` (no meeting) or `unreachable` (the account is not usable).
    A meeting whose id was never recorded (a crash between the create call and the record; `zintent`)
    is found by the booking's marker in its agenda, as a sync does."""
    zoom_id, staff = record.get(b"zoom_id"), record.get(b"staff")
    if record.get(b"state") == b"cancelled" or not (zoom_id or record.get(b"zintent")):
        return "none"
    if not staff:
        return "unreachable"
    if not zoom_id:
        reference = marker(site_id, booking_id)
        try:
            found = _provider_call(
                site_id, "zoom", staff.decode(), lambda token, zoom: zoom.find(token, reference)
            )
        except (AccountNotLinked, NeedsRelink):
            return "unreachable"
        if found is None:
            return "none"
        zoom_id = str(found["id"]).encode()
    outcome = meetings.delete_zoom_meeting(site_id, booking_id, staff.decode(), zoom_id.decode())
    if outcome == "retry":
        raise ProviderBusy("Zoom could not be reached; nothing was erased, try again")
    return {"deleted": "deleted", "gone": "already_gone", "relink": "unreachable"}[outcome]


def _google(site_id: str, booking_id: str, record: dict[bytes, bytes]) -> str:
    """The event is deleted by its deterministic id even when none was recorded (a crash between the
    insert and the record); then a 404, or no Google account, means there was none."""
    staff = record.get(b"staff")
    recorded = bool(record.get(b"gcal") or record.get(b"glink"))
    if record.get(b"state") == b"cancelled":
        return "none"  # the cancellation deleted it
    if not staff:
        return "unreachable" if recorded else "none"
    eid = event_id(site_id, booking_id)
    try:
        _provider_call(
            site_id,
            "google",
            staff.decode(),
            lambda token, calendar: calendar.delete(token, "primary", eid, "none"),
        )
    except Gone:
        return "already_gone" if recorded else "none"
    except AccountNotLinked:
        return "unreachable" if recorded else "none"
    except NeedsRelink:
        return "unreachable"
    return "deleted"


def _provider_call(site_id: str, provider: str, staff_id: str, fn):
    """`fn(token, client)` with the staff member's account; a transient failure erases nothing."""
    client = clients.zoom() if provider == "zoom" else clients.calendar()
    try:
        return clients.call(site_id, provider, staff_id, lambda token: fn(token, client))
    except (clients.Postpone, TokenBusy, ProviderUnavailable, ProviderRejected) as exc:
        log.warning("erasure: %s item of %s not deleted: %s", provider, site_id, type(exc).__name__)
        label = "Zoom" if provider == "zoom" else "Google Calendar"
        raise ProviderBusy(f"{label} could not be reached; try again") from None


# -- jobs ---------------------------------------------------------------------------------------------


def _removable(job: Job | None) -> bool:
    """A job that exists and is not running (a running sync waits for the booking lock and then finds
    nothing; a running delivery checks the tombstone before each attempt)."""
    return job is not None and job.get_status(refresh=False) != JobStatus.STARTED


def _near_the_end(r: redis.Redis, job: Job) -> bool:
    """Whether a queued job is among the last `UNQUEUE_REACH` of its queue's list."""
    if job.get_status(refresh=False) != JobStatus.QUEUED or not job.origin:
        return False
    queue_key = Queue(job.origin, connection=r).key
    return r.lpos(queue_key, job.id, rank=-1, maxlen=UNQUEUE_REACH) is not None


def _delete_job(pipe, job: Job, *, unqueue: bool) -> None:
    """Delete a job, its registry entries and its results on `pipe` (RQ's own `delete`; a queued job's
    id leaves its list only when it is near the end: the scan from the end stops there)."""
    job.delete(pipeline=pipe, remove_from_queue=False)
    if unqueue:
        pipe.lrem(Queue(job.origin, connection=job.connection).key, -1, job.id)
    pipe.delete(f"rq:results:{job.id}")


def remove_site_jobs(r: redis.Redis, site_id: str) -> int:
    """The site's jobs that belong to no booking (e.g. `account.needs_relink` results)."""
    index = keys.site_jobs(site_id)
    ids = sorted(raw.decode() for raw in r.smembers(index))
    jobs = [job for job in Job.fetch_many(ids, connection=r) if _removable(job)]
    with r.pipeline(transaction=True) as pipe:
        for job in jobs:
            _delete_job(pipe, job, unqueue=_near_the_end(r, job))
        pipe.delete(index)
        pipe.execute()
    return len(jobs)


# -- sites --------------------------------------------------------------------------------------------


def erase_site(r: redis.Redis, site_id: str) -> dict[str, Any]:
    """Erase a site and everything of it (see the module's doc). Counts what was done."""
    deleted_keys = r.delete(keys.site(site_id))  # no event is accepted, no job writes, from here on
    r.srem(keys.SITES, site_id)
    report: dict[str, Any] = {"site_id": site_id, **dict.fromkeys(_COUNTS, 0)}
    busy: list[str] = []
    for booking_id in _booking_ids(r, site_id):
        _erase_in_site(r, site_id, booking_id, FIRST_PASS_WAIT, report, busy)
    for booking_id in busy:  # each running sync stops at its next write, within its job's timeout
        _erase_in_site(r, site_id, booking_id, _sync_wait(), report, None)
    report["jobs_removed"] += remove_site_jobs(r, site_id)
    report["google_channels_stopped"] = watches.forget_site(r, site_id)  # before the tokens are revoked
    revoked = 0
    members = sorted(m.decode() for m in r.smembers(keys.accounts(site_id)))
    for member in members:
        provider, _, staff_id = member.partition(":")
        revoked += _revoke(r, site_id, provider, staff_id)
        r.zrem(keys.ACCOUNTS_DUE, f"{site_id}|{provider}|{staff_id}")
        r.delete(keys.availability_hold(site_id, staff_id))
    report["accounts"] = len(members)
    report["accounts_revoked_at_provider"] = revoked
    report["other_keys_deleted"] = registry.delete(r, site_id)
    ledger.forget_site(r, site_id)
    report["deleted_keys"] = deleted_keys + report["bookings"] + len(members) + report["other_keys_deleted"]
    log.info("site %s erased: %s", site_id, report)
    return report


_COUNTS = ("bookings", "zoom_meetings_deleted", "google_events_deleted", "provider_failures", "jobs_removed")


def _erase_in_site(
    r: redis.Redis, site_id: str, booking_id: str, wait: float, report: dict, busy: list[str] | None
) -> None:
    """One booking of an erased site; a busy one goes to `busy` (or, the second time, is forgotten)."""
    try:
        outcome = erase_booking(r, site_id, booking_id, lock_wait=wait, in_site=True) or {}
    except BookingBusy:
        if busy is not None:
            busy.append(booking_id)
            return
        log.error("site erasure: a sync of %s/%s kept running; forgetting the booking", site_id, booking_id)
        outcome = {"zoom_meeting": "unreachable"}
        report["provider_failures"] += 1
        forget_booking(r, site_id, booking_id, bury=False, in_site=True)
    except ProviderBusy:
        outcome = {"zoom_meeting": "unreachable"}
        report["provider_failures"] += 1
        forget_booking(r, site_id, booking_id, bury=False, in_site=True)
    report["bookings"] += "zoom_meeting" in outcome  # a record was there
    report["jobs_removed"] += outcome.get("jobs_removed", 0)
    report["zoom_meetings_deleted"] += outcome.get("zoom_meeting") == "deleted"
    report["google_events_deleted"] += outcome.get("google_event") == "deleted"


def _sync_wait() -> float:
    """How long a site erasure waits for a booking's running sync: at most the job's timeout."""
    timeout = current_app.config.get("SYNC_JOB_TIMEOUT", 120) if has_app_context() else 120
    return float(timeout) + LOCK_SECONDS


def _revoke(r: redis.Redis, site_id: str, provider: str, staff_id: str) -> bool:
    try:
        _found, revoked = revoke.revoke_and_forget(r, site_id, provider, staff_id)
    except Exception:  # noqa: BLE001 - the account is forgotten whatever the provider says
        log.exception("erasure: revoking the %s account %s/%s failed", provider, site_id, staff_id)
        vault.delete(r, site_id, provider, staff_id)
        return False
    return revoked


def _booking_ids(r: redis.Redis, site_id: str) -> list[str]:
    """The site's booking ids, from its index (erased ones included while their tombstone lives)."""
    return sorted(raw.decode() for raw in r.smembers(keys.site_bookings(site_id)))


# -- Zoom's app_deauthorized --------------------------------------------------------------------------


def forget_zoom_user(r: redis.Redis, zoom_user_id: str) -> list[tuple[str, str]]:
    """Delete the tokens of every account linked to this Zoom user and the Zoom data (meeting id, join
    link, webhook index entry) of their bookings; returns the (site, staff) pairs affected."""
    affected = []
    index = keys.zoom_user(zoom_user_id)
    for raw in sorted(r.smembers(index)):
        key = raw.decode()
        parts = key.split(":")  # mb:s:{site}:acct:zoom:{staff}
        if len(parts) < 6 or parts[3] != "acct" or parts[4] != "zoom":
            continue
        site_id, staff_id = parts[2], ":".join(parts[5:])
        if r.hget(key, "provider_user_id") not in (zoom_user_id.encode(), None):
            continue  # relinked to another Zoom user since
        vault.delete(r, site_id, "zoom", staff_id)
        r.zrem(keys.ACCOUNTS_DUE, f"{site_id}|zoom|{staff_id}")
        _strip_zoom_data(r, site_id, staff_id)
        affected.append((site_id, staff_id))
    r.delete(index)
    return affected


def _strip_zoom_data(r: redis.Redis, site_id: str, staff_id: str) -> None:
    for booking_id in _booking_ids(r, site_id):
        key = keys.booking(site_id, booking_id)
        zoom_id, staff = r.hmget(key, "zoom_id", "staff")
        if not zoom_id or (staff or b"").decode() != staff_id:
            continue
        with r.pipeline(transaction=True) as pipe:
            pipe.hdel(key, "zoom_id", "join", "zintent")
            pipe.hdel(keys.ZOOM_MEETINGS, zoom_id)
            pipe.execute()
