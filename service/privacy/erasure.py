"""Erasure: a booking or a whole site forgotten now, at the providers and in Redis.

`erase_booking` (the site's `DELETE /v1/sites/{site_id}/bookings/{booking_id}`) works under the
booking's lock, so no sync job of it runs meanwhile: it deletes the Zoom meeting (404 counts as
done) and the Google Calendar event (without e-mailing attendees), then the record, its index
entries, and every job of the booking, queued, scheduled, failed or finished (their payloads carry
sealed personal data). A provider that fails transiently erases nothing: `ProviderBusy`, try again.
An account that is no longer linked or must be relinked cannot reach its meeting or event any more;
the booking is erased anyway and the answer says so.

`erase_site` (`flask --app service sites delete`) removes the site record first, so no event is
accepted any more, then erases every booking the same way, every job of the site, revokes its linked
accounts at the providers and forgets them, and deletes whatever else is under the site's prefix and
its members in the global indexes.

`forget_zoom_user` is Zoom's `app_deauthorized`: the user's tokens and the Zoom data of their bookings.

Idempotency records (`mb:s:{site}:idem:*`: a webhook id's answer, booking id and revision, no personal
data) are left to their 73-hour expiry, so a retried old event is still recognised and not applied again
to a booking that was just erased... unless the site is erased, which removes them too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import redis
from rq import Queue
from rq.job import Job

from service import vault_keys
from service.accounts import revoke, vault
from service.bookings import meetings
from service.crypto import DecryptError
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
from service.sites import registry, results
from service.storage import keys, ledger, queues

log = logging.getLogger(__name__)

#: Longest wait for a running sync of the booking before answering busy.
LOCK_WAIT = 15.0
#: Lifetime of the booking lock held by an erasure.
LOCK_SECONDS = 120


class ProviderBusy(Exception):
    """A provider could not be reached or a sync of the booking is running: nothing was erased."""


def erase_booking(r: redis.Redis, site_id: str, booking_id: str) -> dict[str, Any] | None:
    """Erase one booking; None when there is nothing of it. Raises `ProviderBusy`."""
    lock = r.lock(keys.booking_lock(site_id, booking_id), timeout=LOCK_SECONDS, blocking_timeout=LOCK_WAIT)
    if not lock.acquire():
        raise ProviderBusy("a sync of this booking is running; try again")
    try:
        record = r.hgetall(keys.booking(site_id, booking_id))
        if not record:
            removed = remove_jobs(r, lambda job: _of_booking(job, site_id, booking_id))
            return {"booking_id": booking_id, "jobs_removed": removed} if removed else None
        zoom = _zoom(site_id, booking_id, record)
        google = _google(site_id, booking_id, record)
        forget_booking(r, site_id, booking_id, record)
        removed = remove_jobs(r, lambda job: _of_booking(job, site_id, booking_id))
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("erasure: booking lock of %s/%s had expired", site_id, booking_id)
    log.info(
        "booking %s/%s erased (zoom: %s, google: %s, jobs: %d)", site_id, booking_id, zoom, google, removed
    )
    return {"booking_id": booking_id, "zoom_meeting": zoom, "google_event": google, "jobs_removed": removed}


def forget_booking(r: redis.Redis, site_id: str, booking_id: str, record: dict[bytes, bytes]) -> None:
    """The record and its members in the global indexes, in one transaction."""
    member = f"{site_id}|{booking_id}"
    with r.pipeline(transaction=True) as pipe:
        pipe.delete(keys.booking(site_id, booking_id))
        pipe.zrem(keys.MEETINGS_DUE, member)
        pipe.zrem(keys.RETENTION_DUE, member)
        ledger.settle(pipe, "bookings", site_id, booking_id)
        zoom_id = record.get(b"zoom_id")
        if zoom_id:
            pipe.hdel(keys.ZOOM_MEETINGS, zoom_id)
        pipe.execute()


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


def _job_ids(r: redis.Redis) -> list[str]:
    """Every job id of MeetBridge's queues that may still run or be kept: queued, scheduled, deferred,
    failed, finished. Running jobs are left alone (a sync job waits for the booking lock)."""
    ids: set[str] = set()
    for name in queues.ALL:
        queue = Queue(name, connection=r)
        ids.update(queue.get_job_ids())
        for job_registry in (
            queue.scheduled_job_registry,
            queue.deferred_job_registry,
            queue.failed_job_registry,
            queue.finished_job_registry,
        ):
            ids.update(raw.decode() for raw in r.zrange(job_registry.key, 0, -1))
    return sorted(ids)


def remove_jobs(r: redis.Redis, matches: Callable[[Job], bool], batch: int = 500) -> int:
    """Delete every job for which `matches(job)`; returns how many."""
    ids = _job_ids(r)
    removed = 0
    for start in range(0, len(ids), batch):
        for job in Job.fetch_many(ids[start : start + batch], connection=r):
            if job is None:
                continue
            try:
                hit = matches(job)
            except Exception:  # noqa: BLE001 - an unreadable job is not ours to judge
                log.warning("erasure: job %s could not be read", job.id)
                continue
            if hit:
                job.delete(remove_from_queue=True)
                r.delete(f"rq:results:{job.id}")
                removed += 1
    return removed


def _of_site(job: Job, site_id: str) -> bool:
    return job.func_name.startswith("workers.") and bool(job.args) and job.args[0] == site_id


def _of_booking(job: Job, site_id: str, booking_id: str) -> bool:
    if not _of_site(job, site_id):
        return False
    if job.func_name == "workers.sync.sync_booking":
        return job.args[1] == booking_id
    if job.func_name == results.DELIVER_JOB:
        _site, message_id, _type, sealed = job.args[:4]
        try:
            data, _stale = vault_keys.get().open_json(sealed, results.result_aad(site_id, message_id))
        except DecryptError:
            return False
        return str(data.get("booking_id")) == booking_id
    return False


# -- sites --------------------------------------------------------------------------------------------


def erase_site(r: redis.Redis, site_id: str) -> dict[str, Any]:
    """Erase a site and everything of it (see the module's doc). Counts what was done."""
    deleted_keys = r.delete(keys.site(site_id))  # no event is accepted any more from here on
    r.srem(keys.SITES, site_id)
    report: dict[str, Any] = {"site_id": site_id, "bookings": 0, "zoom_meetings_deleted": 0,
                              "google_events_deleted": 0, "provider_failures": 0}  # fmt: skip
    report["jobs_removed"] = remove_jobs(r, lambda job: _of_site(job, site_id))
    for booking_id in _booking_ids(r, site_id):
        report["bookings"] += 1
        try:
            outcome = erase_booking(r, site_id, booking_id) or {}
        except ProviderBusy:
            report["provider_failures"] += 1
            record = r.hgetall(keys.booking(site_id, booking_id))
            forget_booking(r, site_id, booking_id, record)
            continue
        report["zoom_meetings_deleted"] += outcome.get("zoom_meeting") == "deleted"
        report["google_events_deleted"] += outcome.get("google_event") == "deleted"
    report["jobs_removed"] += remove_jobs(r, lambda job: _of_site(job, site_id))
    revoked = 0
    members = sorted(m.decode() for m in r.smembers(keys.accounts(site_id)))
    for member in members:
        provider, _, staff_id = member.partition(":")
        revoked += _revoke(r, site_id, provider, staff_id)
        r.zrem(keys.ACCOUNTS_DUE, f"{site_id}|{provider}|{staff_id}")
    report["accounts"] = len(members)
    report["accounts_revoked_at_provider"] = revoked
    report["other_keys_deleted"] = registry.delete(r, site_id)
    ledger.forget_site(r, site_id)
    report["deleted_keys"] = deleted_keys + report["bookings"] + len(members) + report["other_keys_deleted"]
    log.info("site %s erased: %s", site_id, report)
    return report


def _revoke(r: redis.Redis, site_id: str, provider: str, staff_id: str) -> bool:
    try:
        _found, revoked = revoke.revoke_and_forget(r, site_id, provider, staff_id)
    except Exception:  # noqa: BLE001 - the account is forgotten whatever the provider says
        log.exception("erasure: revoking the %s account %s/%s failed", provider, site_id, staff_id)
        vault.delete(r, site_id, provider, staff_id)
        return False
    return revoked


def _booking_ids(r: redis.Redis, site_id: str) -> Iterable[str]:
    prefix = keys.booking(site_id, "")
    found = {raw.decode()[len(prefix) :] for raw in r.scan_iter(match=prefix + "*", count=1000)}
    return sorted(found)


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
