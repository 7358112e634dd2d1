"""Jobs that keep the Google watch channels (service.changes.watches) open while they are needed.

- `ensure(site, staff)`: queued after a booking's Google event is written, when the staff member has no
  channel yet: opens one, then lists the calendar once to get the first sync token.
- `renew_due()`: the cron's run (every minute) over the channels due to be looked at (at their renewal
  time, a day before they expire, or when the last booking they watch ends, if sooner): one due for
  renewal is replaced by a new one, and the old one stopped; one that no booking needs any more (none
  of the staff's bookings with a Google event ends in the future), or whose site or account is gone, is
  stopped and forgotten. A failure leaves it due again a minute later. Google does not promise to
  deliver every notification, so a calendar not synced for 15 minutes is synced anyway.
"""

from __future__ import annotations

import logging
import time

import redis

from service.changes import watches
from service.exceptions import AccountNotLinked, NeedsRelink
from service.providers import clients
from service.storage import keys, redis_client
from service.storage.queues import MAINTENANCE, SYNC
from workers import changes

log = logging.getLogger(__name__)

#: Channels renewed or stopped per cron run at most (the rest stay due for the next run).
BATCH = 200
RETRY_SECONDS = 60
#: A calendar whose last sync is older than this is synced by the cron even without a notification.
POLL_AFTER = 15 * 60


def ensure_soon(r: redis.Redis, site_id: str, staff_id: str) -> None:
    """Queue `ensure` unless the staff member has a channel or one is being opened."""
    if r.hexists(keys.google_watch(site_id, staff_id), "ch"):
        return
    if r.set(keys.google_watch_opening(site_id, staff_id), 1, nx=True, ex=watches.ENSURE_HOLD):
        watches.enqueue(r, MAINTENANCE, "workers.google_watch.ensure", (site_id, staff_id), site_id=site_id,
                        description=f"open google watch {site_id}/{staff_id}")  # fmt: skip


def ensure(site_id: str, staff_id: str) -> str:
    """Open the staff member's channel if a booking needs one and none is open; then a first full list."""
    r = redis_client.get()
    if r.hexists(keys.google_watch(site_id, staff_id), "ch"):
        return "open"
    if not r.exists(keys.site(site_id)) or not watches.needed(r, site_id, staff_id):
        return "not needed"
    try:
        watches.open_channel(r, site_id, staff_id)
    except (AccountNotLinked, NeedsRelink) as exc:
        log.info("google watch of %s/%s not opened: %s", site_id, staff_id, type(exc).__name__)
        return "no account"
    changes.google_sync(site_id, staff_id, full=True)
    return "opened"


def renew_due() -> dict[str, int]:
    """The cron's run over the channels due (see the module's doc)."""
    r = redis_client.get()
    now = time.time()
    counts = {"renewed": 0, "stopped": 0, "kept": 0, "failed": 0}
    for raw in r.zrangebyscore(keys.WATCHES_DUE, "-inf", now, start=0, num=BATCH):
        site_id, _, staff_id = raw.decode().partition("|")
        try:
            counts[_renew_one(r, site_id, staff_id, now)] += 1
        except (clients.Postpone, Exception) as exc:  # noqa: BLE001 - one account never stops the run
            log.warning("google watch of %s/%s not renewed (%s); due again soon",
                        site_id, staff_id, type(exc).__name__)  # fmt: skip
            r.zadd(keys.WATCHES_DUE, {raw: now + RETRY_SECONDS})
            counts["failed"] += 1
    counts["polled"] = _poll_quiet_calendars(r, now)
    return counts


def _poll_quiet_calendars(r, now: float) -> int:
    """Google does not promise to deliver every notification: a calendar not synced for `POLL_AFTER`
    gets an incremental sync anyway (it reads nothing when nothing changed)."""
    queued = 0
    for raw in r.zrange(keys.WATCHES_DUE, 0, -1):
        site_id, _, staff_id = raw.decode().partition("|")
        synced_at = r.hget(keys.google_watch(site_id, staff_id), "synced_at")
        if synced_at is None or now - int(synced_at) < POLL_AFTER:
            continue
        if r.set(keys.google_sync_pending(site_id, staff_id), 1, nx=True, ex=60):
            watches.enqueue(r, SYNC, "workers.changes.google_sync", (site_id, staff_id), site_id=site_id,
                            description=f"google changes {site_id}/{staff_id} (poll)")  # fmt: skip
            queued += 1
    return queued


def _renew_one(r: redis.Redis, site_id: str, staff_id: str, now: float) -> str:
    r.zremrangebyscore(keys.google_watched(site_id, staff_id), "-inf", now)  # bookings that ended
    linked = r.exists(keys.account(site_id, "google", staff_id))
    if not r.exists(keys.site(site_id)) or not linked or not watches.needed(r, site_id, staff_id, now):
        watches.forget(r, site_id, staff_id, stop=bool(linked))
        log.info("google watch of %s/%s stopped: no booking needs it", site_id, staff_id)
        return "stopped"
    expires = int(r.hget(keys.google_watch(site_id, staff_id), "exp") or 0) / 1000
    if watches.renew_at(expires, now) > now:  # looked at when a booking ended; still needed, not due
        r.zadd(
            keys.WATCHES_DUE,
            {watches.member(site_id, staff_id): watches.next_look(r, site_id, staff_id, expires)},
        )
        return "kept"
    opened = watches.open_channel(r, site_id, staff_id)
    old_channel, old_resource = opened["old"]
    if old_channel and old_resource and old_channel != opened["ch"]:
        r.delete(keys.google_channel(old_channel))
        watches.stop_channel(site_id, staff_id, old_channel, old_resource)
    changes.google_sync(site_id, staff_id)  # what changed while an expired channel was silent
    return "renewed"
