"""Jobs that read what changed outside MeetBridge and hand MeetBridge's own items to workers.external.

`google_sync(site, staff)` runs after a push notification: an incremental `events.list` of the staff
member's calendar with the stored sync token (deleted events included, every page); a 410 (the token
expired) falls back to a full list of the window (from a day ago). Only the events of the staff's
MeetBridge bookings (`keys.google_watched`, by their deterministic ids) are kept, and of those only
what a change needs (id, status, times, `updated`); every other event of the calendar is dropped in
memory as it is read: never stored, logged or counted by id. Each change of MeetBridge's own event that
is not MeetBridge's own write becomes one `google_item` job (the changes of a calendar are applied in
parallel, each under its booking's lock), queued in the same transaction that stores the new sync token
(sealed): a failure before it re-reads the same changes. One sync of a calendar runs at a time; a
notification arriving meanwhile queues one more, which waits for it.

`zoom_event(...)` applies Zoom's `meeting.updated` / `meeting.deleted` to the booking of the meeting.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import redis

from service import vault_keys
from service.changes import watches
from service.exceptions import Gone, ProviderUnavailable, RateLimited, TokenBusy
from service.providers import clients
from service.providers.google_calendar import event_id
from service.storage import keys, redis_client
from service.storage.queues import SYNC
from workers import external

log = logging.getLogger(__name__)

CALENDAR = "primary"
#: A full list reads the calendar from this long ago (bookings that ended before need nothing).
WINDOW = timedelta(days=1)
#: Failures after which the same work is simply tried again a little later.
TRANSIENT = (clients.Postpone, TokenBusy, ProviderUnavailable, RateLimited, redis.exceptions.RedisError)
#: Longest wait for another sync of the same calendar.
LOCK_WAIT = 30.0
#: How often a sync waiting for the calendar's lock tries it (redis-py's default is 0.1 s).
LOCK_POLL = 0.01


def sync_token_aad(site_id: str, staff_id: str) -> bytes:
    return f"google-sync-token|{site_id}|{staff_id}".encode()


def google_sync(site_id: str, staff_id: str, full: bool = False) -> str:
    """Read the changes of the staff member's calendar since the last sync and queue MeetBridge's."""
    r = redis_client.get()
    lock = r.lock(
        keys.google_sync_lock(site_id, staff_id), timeout=300, blocking_timeout=LOCK_WAIT, sleep=LOCK_POLL
    )
    if not lock.acquire():
        _again(r, site_id, staff_id)
        return "busy"
    try:
        r.delete(keys.google_sync_pending(site_id, staff_id))  # a notification from now on queues another
        return _sync(r, site_id, staff_id, full)
    except (external.Busy, *TRANSIENT) as exc:
        log.info("google sync of %s/%s: %s; again shortly", site_id, staff_id, type(exc).__name__)
        _again(r, site_id, staff_id)
        return "again"
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("calendar sync lock of %s/%s had expired", site_id, staff_id)


def _again(r: redis.Redis, site_id: str, staff_id: str) -> None:
    """Queue this calendar's sync again in a few seconds (the stored token still names the changes)."""
    r.set(keys.google_sync_pending(site_id, staff_id), 1, ex=60)
    watches.enqueue(r, SYNC, "workers.changes.google_sync", (site_id, staff_id), site_id=site_id,
                    delay=5, description=f"google changes {site_id}/{staff_id} (again)")  # fmt: skip


def _sync(r: redis.Redis, site_id: str, staff_id: str, full: bool) -> str:
    watch_key = keys.google_watch(site_id, staff_id)
    sealed = r.hget(watch_key, "sync")
    if not r.exists(keys.site(site_id)) or not r.hget(watch_key, "ch"):
        return "no channel"
    keyring = vault_keys.get()
    token = (
        None if full or not sealed else keyring.open(sealed, sync_token_aad(site_id, staff_id))[0].decode()
    )
    mine = {
        event_id(site_id, b.decode()): b.decode()
        for b in r.zrange(keys.google_watched(site_id, staff_id), 0, -1)
    }
    try:
        next_token, seen, found = _read(r, site_id, _pages(site_id, staff_id, token), mine)
    except Gone:
        if token is None:
            raise
        log.info("google sync of %s/%s: the sync token expired (410); full resync", site_id, staff_id)
        r.hincrby(keys.STATS, "google_full_resyncs", 1)
        next_token, seen, found = _read(r, site_id, _pages(site_id, staff_id, None), mine)
    acted = len(found)
    with r.pipeline(transaction=True) as pipe:
        for booking_id, item in found:
            watches.enqueue(r, SYNC, "workers.changes.google_item", (site_id, staff_id, booking_id, item),
                            site_id=site_id, booking_id=booking_id, pipeline=pipe,
                            description="google change")  # fmt: skip
        if next_token:
            sealed = keyring.seal(next_token.encode(), sync_token_aad(site_id, staff_id))
            pipe.hset(watch_key, mapping={"sync": sealed, "synced_at": int(time.time())})
        pipe.execute()
    log.info("google sync of %s/%s: %d changed event(s) read, %d of MeetBridge's queued",
             site_id, staff_id, seen, acted)  # fmt: skip
    return f"read {seen}, queued {acted}"


def _pages(site_id: str, staff_id: str, token: str | None):
    """Every page of the list (a generator: the first call happens on the first `next`)."""
    calendar = clients.calendar()
    time_min = (datetime.now(UTC) - WINDOW).strftime("%Y-%m-%dT%H:%M:%SZ")
    page_token = None
    while True:
        page = clients.call(
            site_id,
            "google",
            staff_id,
            lambda t, p=page_token: calendar.changes(t, CALENDAR, token, time_min, p),
        )
        yield page
        page_token = page.get("nextPageToken")
        if not page_token:
            return


def _read(r, site_id: str, pages, mine: dict[str, str]) -> tuple[str | None, int, list[tuple[str, dict]]]:
    """(the next sync token, events read, [(booking id, what its change needs)]) of MeetBridge's events
    changed by someone else."""
    next_token, seen, found = None, 0, []
    for page in pages:
        for item in page.get("items") or []:
            seen += 1
            booking_id = mine.get(item.get("id"))
            if booking_id is None:
                continue  # not MeetBridge's: dropped here, never kept or logged
            needed = _needed(item)
            written = r.hget(keys.booking(site_id, booking_id), "gupd")
            if needed["updated"] and written and needed["updated"] <= written.decode():
                continue  # MeetBridge's own write (checked again under the booking's lock)
            found.append((booking_id, needed))
        next_token = page.get("nextSyncToken") or next_token
    return next_token, seen, found


def _needed(item: dict) -> dict:
    """What a change of MeetBridge's event needs: never its title, description or attendees."""
    return {
        "id": item.get("id"),
        "status": item.get("status"),
        "updated": item.get("updated"),
        "start": {"dateTime": (item.get("start") or {}).get("dateTime")},
        "end": {"dateTime": (item.get("end") or {}).get("dateTime")},
    }


def google_item(site_id: str, staff_id: str, booking_id: str, item: dict) -> str:
    """Apply one change of a booking's Google event (found by `google_sync`)."""
    r = redis_client.get()
    try:
        return external.google_event(r, site_id, staff_id, booking_id, item)
    except (external.Busy, *TRANSIENT) as exc:
        log.info("google change of %s/%s: %s; again shortly", site_id, booking_id, type(exc).__name__)
        watches.enqueue(r, SYNC, "workers.changes.google_item", (site_id, staff_id, booking_id, item),
                        site_id=site_id, booking_id=booking_id, delay=5,
                        description="google change (again)")  # fmt: skip
        return "again"


def zoom_event(
    site_id: str, booking_id: str, zoom_id: str, event: str, start_time: str | None = None,
    duration: int | None = None, event_ts: int = 0,
) -> str:  # fmt: skip
    """Apply Zoom's `meeting.updated` or `meeting.deleted` to the booking of the meeting."""
    r = redis_client.get()
    try:
        if event == "meeting.deleted":
            return external.zoom_deleted(r, site_id, booking_id, zoom_id)
        return external.zoom_updated(r, site_id, booking_id, zoom_id, start_time, duration, event_ts)
    except (external.Busy, *TRANSIENT) as exc:
        log.info("zoom %s of %s/%s: %s; again shortly", event, site_id, booking_id, type(exc).__name__)
        args = (site_id, booking_id, zoom_id, event, start_time, duration, event_ts)
        watches.enqueue(r, SYNC, "workers.changes.zoom_event", args, site_id=site_id, booking_id=booking_id,
                        delay=5, description=f"zoom {event} (again)")  # fmt: skip
        return "busy"
