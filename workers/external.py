"""What a change made outside MeetBridge does to one booking: a staff member moved or deleted the event
in Google Calendar or the meeting in Zoom.

Under the booking's lock (the one the sync job holds, so a change racing a booking event from the site
is applied before or after it, never in between), against the booking's record:

- Only a booking that is `synced` or `partial`, and an item MeetBridge recorded, is acted on; one whose
  sync is owed (`pending`), failed, cancelled or being recreated belongs to the site's own flow.
- MeetBridge's own writes never loop back: a Google event whose `updated` time is not after the one
  MeetBridge last wrote (`gupd`), a Zoom event older than MeetBridge's last Zoom write (`zupd`), and an
  item whose times already equal the recorded ones, change nothing.
- A move updates the other item (Zoom follows Google and the reverse), records the new times (cleanup
  follows them) and tells the site `booking.changed` (`moved`).
- A delete applies the site's `external_delete` policy: `report` keeps the other item (`partial`),
  `cancel` deletes it too (`cancelled`), `recreate` asks the site to send the booking again
  (`recreating`, `resend: true`); the site is told `booking.changed` (`deleted`).

The record, the cleanup index and the result are written in one transaction.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import redis

from service import vault_keys
from service.bookings.records import join_url_aad, link_aad
from service.exceptions import AccountNotLinked, Gone, NeedsRelink, ProviderRejected
from service.providers import clients
from service.providers.google_calendar import event_id
from service.sites import results, site_settings
from service.storage import keys
from workers import leases

log = logging.getLogger(__name__)

CALENDAR = "primary"
#: Longest wait for a booking's lock held by its sync job before the change is tried again later.
LOCK_WAIT = 20.0
ACTIVE = (b"synced", b"partial")


class Busy(Exception):
    """The booking's lock stayed taken: try the change again later."""


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def instant(value: str | None) -> float | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def google_event(r: redis.Redis, site_id: str, staff_id: str, booking_id: str, item: dict[str, Any]) -> str:
    """Apply what an incremental sync found of the booking's Google event; returns what was done."""
    with _locked(r, site_id, booking_id) as record:
        if not _acts(record, b"gcal", staff_id):
            return "ignored"
        updated, written = item.get("updated"), _text(record, b"gupd")
        if updated and written and updated <= written:
            return "own"  # what MeetBridge wrote, or older
        if item.get("status") == "cancelled":
            return _deleted(r, site_id, booking_id, record, "google")
        start = instant((item.get("start") or {}).get("dateTime"))
        end = instant((item.get("end") or {}).get("dateTime"))
        if start is None or end is None or end <= start:
            return "ignored"  # an all-day or malformed event: nothing MeetBridge can follow
        if (int(start), int(end)) == (_int(record, b"start"), _int(record, b"end")):
            r.hset(keys.booking(site_id, booking_id), "gupd", updated or "")
            return "unchanged"
        return _moved(r, site_id, booking_id, record, "google", int(start), int(end), updated)


def zoom_updated(
    r: redis.Redis, site_id: str, booking_id: str, zoom_id: str, start_time: str | None, duration: int | None,
    event_ts: int,
) -> str:  # fmt: skip
    """Apply Zoom's `meeting.updated` (new `start_time` and/or `duration`) to the booking."""
    with _locked(r, site_id, booking_id) as record:
        if not _acts(record, b"zoom_id", None) or _text(record, b"zoom_id") != zoom_id:
            return "ignored"
        if event_ts and event_ts <= _int(record, b"zupd"):
            return "own"
        old_start, old_end = _int(record, b"start"), _int(record, b"end")
        start = int(instant(start_time)) if start_time else old_start
        minutes = duration if duration else max(1, math.ceil((old_end - old_start) / 60))
        end = start + 60 * minutes
        if (start, end) == (old_start, old_end) or (start_time is None and duration is None):
            return "unchanged"
        return _moved(r, site_id, booking_id, record, "zoom", start, end, None)


def zoom_deleted(r: redis.Redis, site_id: str, booking_id: str, zoom_id: str) -> str:
    """Apply Zoom's `meeting.deleted` to the booking."""
    with _locked(r, site_id, booking_id) as record:
        if not _acts(record, b"zoom_id", None) or _text(record, b"zoom_id") != zoom_id:
            return "ignored"
        return _deleted(r, site_id, booking_id, record, "zoom")


# -- the lock and the record -------------------------------------------------------------------------


class _locked:  # noqa: N801 - used as a context manager
    """The booking's lock held around reading its record (raises `Busy` when it stays taken)."""

    def __init__(self, r: redis.Redis, site_id: str, booking_id: str):
        self.r, self.site_id, self.booking_id = r, site_id, booking_id
        # The sync job's lock (leases.booking_lock), tried every 10 ms: a change is short work.
        self.lock = r.lock(
            keys.booking_lock(site_id, booking_id),
            timeout=leases.LOCK_SECONDS,
            blocking_timeout=LOCK_WAIT,
            thread_local=False,
            sleep=0.01,
        )
        self.renewed = None

    def __enter__(self) -> dict[bytes, bytes]:
        if not self.lock.acquire():
            raise Busy(f"{self.site_id}/{self.booking_id}")
        self.renewed = leases.renewed(self.lock, self.site_id, self.booking_id)
        self.renewed.__enter__()
        if not self.r.exists(keys.site(self.site_id)):
            return {}
        return self.r.hgetall(keys.booking(self.site_id, self.booking_id))

    def __exit__(self, *exc) -> None:
        self.renewed.__exit__(*exc)
        try:
            self.lock.release()
        except redis.exceptions.LockError:
            log.warning("booking lock of %s/%s had expired", self.site_id, self.booking_id)


def _acts(record: dict[bytes, bytes], item: bytes, staff_id: str | None) -> bool:
    """Whether a change of the booking's `item` is MeetBridge's to act on."""
    if not record or record.get(b"state") not in ACTIVE or not record.get(item):
        return False
    return staff_id is None or record.get(b"staff") == staff_id.encode()


def _text(record: dict[bytes, bytes], name: bytes) -> str | None:
    raw = record.get(name)
    return raw.decode() if raw else None


def _int(record: dict[bytes, bytes], name: bytes) -> int:
    raw = record.get(name)
    return int(float(raw)) if raw else 0


# -- a move ------------------------------------------------------------------------------------------


def _moved(
    r, site_id: str, booking_id: str, record: dict, provider: str, start: int, end: int, updated: str | None
) -> str:
    settings = site_settings.load(r, site_id)
    staff_id = _text(record, b"staff") or ""
    fields: dict[str, Any] = {"start": start, "end": end}
    if provider == "google":
        fields["gupd"] = updated or ""
        zoom_id = _text(record, b"zoom_id")
        if zoom_id:
            zoom = clients.zoom()
            body = {"start_time": rfc3339(start), "duration": max(1, math.ceil((end - start) / 60))}
            fields["zupd"] = int(time.time() * 1000)
            move = lambda token: zoom.update(token, zoom_id, body)  # noqa: E731
            _follow(site_id, booking_id, lambda: clients.call(site_id, "zoom", staff_id, move))
            fields["zupd"] = int(time.time() * 1000)
    elif record.get(b"gcal"):
        calendar = clients.calendar()
        eid = event_id(site_id, booking_id)
        body = {"start": {"dateTime": rfc3339(start)}, "end": {"dateTime": rfc3339(end)}}
        send = "all" if settings["send_invites"] else "none"
        fields["zupd"] = int(time.time() * 1000)
        patch = lambda token: calendar.patch(token, CALENDAR, eid, body, send)  # noqa: E731
        event = _follow(site_id, booking_id, lambda: clients.call(site_id, "google", staff_id, patch))
        if event:
            fields["gupd"] = event.get("updated") or ""
    change = {"provider": provider, "kind": "moved", "start": rfc3339(start), "end": rfc3339(end)}
    state = "partial" if record.get(b"state") == b"partial" else "synced"  # a moved booking keeps its gap
    _record(r, site_id, booking_id, record, fields, [], state, change, settings)
    log.info("booking %s/%s: moved in %s; the other side follows", site_id, booking_id, provider)
    return "moved"


# -- a delete ----------------------------------------------------------------------------------------


def _deleted(r, site_id: str, booking_id: str, record: dict, provider: str) -> str:
    settings = site_settings.load(r, site_id)
    policy = str(settings["external_delete"])
    staff_id = _text(record, b"staff") or ""
    cleared = ["gcal", "glink", "gupd"] if provider == "google" else ["zoom_id", "join", "zintent"]
    state = {"report": "partial", "cancel": "cancelled", "recreate": "recreating"}[policy]
    if policy == "cancel":
        if provider == "google" and record.get(b"zoom_id"):
            zoom_id = _text(record, b"zoom_id")
            zoom = clients.zoom()
            _gone_ok(
                lambda: clients.call(site_id, "zoom", staff_id, lambda token: zoom.delete(token, zoom_id))
            )
            cleared += ["zoom_id", "join", "zintent"]
        elif provider == "zoom" and record.get(b"gcal"):
            calendar = clients.calendar()
            eid = event_id(site_id, booking_id)
            send = "all" if settings["send_invites"] else "none"
            _gone_ok(
                lambda: clients.call(
                    site_id, "google", staff_id, lambda token: calendar.delete(token, CALENDAR, eid, send)
                )
            )
            cleared += ["gcal", "glink", "gupd"]
    change = {"provider": provider, "kind": "deleted"}
    _record(r, site_id, booking_id, record, {}, cleared, state, change, settings)
    log.info("booking %s/%s: %s item deleted outside; policy %s", site_id, booking_id, provider, policy)
    return "deleted"


def _gone_ok(fn) -> None:
    _follow("", "", fn)


def _follow(site_id: str, booking_id: str, fn):
    """`fn()` (the other item following a change), or None when it cannot for good (gone, the account
    unlinked or refused, the provider refused): the change is recorded and reported all the same.
    Transient failures (Postpone, TokenBusy, ...) are raised: the whole change is tried again later."""
    try:
        return fn()
    except (Gone, AccountNotLinked, NeedsRelink, ProviderRejected) as exc:
        log.warning("booking %s/%s: the other item could not follow (%s)", site_id, booking_id,
                    type(exc).__name__)  # fmt: skip
        return None


# -- recording and telling the site ------------------------------------------------------------------


def _record(
    r, site_id: str, booking_id: str, record: dict, fields: dict[str, Any], cleared: list[str], state: str,
    change: dict[str, Any], settings: dict,
) -> None:  # fmt: skip
    key = keys.booking(site_id, booking_id)
    member = f"{site_id}|{booking_id}"
    staff_id = _text(record, b"staff") or ""
    after = {**record, **{k.encode(): str(v).encode() for k, v in fields.items()}}
    for name in cleared:
        after.pop(name.encode(), None)
    with r.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(key, keys.site(site_id))
                if pipe.exists(key, keys.site(site_id)) < 2:
                    return  # erased meanwhile
                sequence = int(pipe.hget(key, "chg_seq") or 0) + 1
                pipe.multi()
                pipe.hset(
                    key, mapping={**fields, "state": state, "chg_seq": sequence, "updated": int(time.time())}
                )
                if cleared:
                    pipe.hdel(key, *cleared)
                zoom_id = _text(record, b"zoom_id")
                if zoom_id and "zoom_id" in cleared:
                    pipe.hdel(keys.ZOOM_MEETINGS, zoom_id)
                if "end" in fields:
                    due = int(fields["end"]) + 60 * int(settings["grace_minutes"])
                    pipe.zadd(keys.MEETINGS_DUE, {member: due})
                    pipe.zadd(
                        keys.google_watched(site_id, staff_id), {booking_id: int(fields["end"])}, xx=True
                    )
                if "gcal" in cleared:
                    pipe.zrem(keys.google_watched(site_id, staff_id), booking_id)
                data = _result(site_id, booking_id, after, state, change, settings, sequence)
                results.enqueue_result(
                    r, site_id, "booking.changed", data, booking_id=booking_id, pipeline=pipe
                )
                pipe.execute()
                return
            except redis.WatchError:
                continue


def _result(
    site_id: str, booking_id: str, record: dict, state: str, change: dict, settings: dict, sequence: int
) -> dict[str, Any]:
    """The `data` of `booking.changed` (see README: "Changes made in Google Calendar or Zoom")."""
    keyring = vault_keys.get()
    zoom = google = None
    if record.get(b"zoom_id"):
        join = record.get(b"join")
        join_url = keyring.open(join, join_url_aad(site_id, booking_id))[0].decode() if join else None
        zoom = {"meeting_id": record[b"zoom_id"].decode(), "join_url": join_url}
    if record.get(b"gcal"):
        link = record.get(b"glink")
        html_link = keyring.open(link, link_aad(site_id, booking_id))[0].decode() if link else None
        google = {"event_id": event_id(site_id, booking_id), "html_link": html_link}
    policy = str(settings["external_delete"])
    return {
        "booking_id": booking_id,
        "revision": int(record.get(b"applied") or 0),
        "change_id": "chg_" + secrets.token_urlsafe(16)[:22],
        "sequence": sequence,
        **change,
        "policy": policy,
        "state": state,
        "resend": change["kind"] == "deleted" and policy == "recreate",
        "zoom": zoom,
        "google": google,
        "changed_at": rfc3339(time.time()),
    }
