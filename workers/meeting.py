"""The provider side of one booking sync: the Zoom meeting and the Google Calendar event it needs.

`Work.apply()` makes both match a created or updated booking; `Work.cancel()` deletes both. Each
returns an `Outcome` (workers/outcome.py) that `workers.sync.settle` records. Exactly once:

- Zoom: an intent (`zintent`) is written before the create call, the meeting id and sealed join URL
  right after it; a retry that finds an intent but no meeting id adopts the user's upcoming meeting
  whose agenda carries this booking's marker instead of creating a second one, and updates it to the
  revision being applied (the attempt that created it may have been applying an older one).
- Google: the event id is derived from site and booking (base32hex); insert, and on 409 read the
  event (a deleted one answers 409 too) and update it only if it differs, so a retry sends the
  customer no second invitation.

Partly linked staff: for `video: zoom`, a staff member with Zoom linked and no Google account gets the
meeting and no calendar event; the booking is `synced` and its result says `google.skipped:
"not_linked"`. Anything else missing fails the booking (Zoom for a Zoom booking, Google for one without
video). Whatever exists is always reachable: the staff id is recorded before the first provider call,
and a failure keeps it and the meeting id on the record, so a later update moves the meeting in place
and cancellation, cleanup and erasure delete it. A booking handed to another staff member first has the
previous one's meeting and event deleted with their accounts.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import redis

from service import vault_keys
from service.bookings import lifecycle
from service.bookings.booking_schema import parse_time
from service.bookings.records import join_url_aad
from service.exceptions import (
    AccountNotLinked,
    Conflict,
    Gone,
    NeedsRelink,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
)
from service.providers import clients
from service.providers.google_calendar import event_id
from service.providers.zoom_meetings import marker
from service.storage import keys, redis_client
from workers import faults, unchanged
from workers.outcome import Outcome
from workers.unchanged import booking_digest

log = logging.getLogger(__name__)

CALENDAR = "primary"


class Work:
    """One sync of one booking, with its current metadata record."""

    def __init__(
        self, r: redis.Redis, site_id: str, booking_id: str, booking: dict, record: dict, settings: dict
    ):
        self.r = r
        self.site_id = site_id
        self.booking_id = booking_id
        self.booking = booking
        self.record = record
        self.settings = settings
        self.staff_id = str(booking["staff"]["id"])
        recorded = record.get(b"staff")
        self.owner = recorded.decode() if recorded else self.staff_id  # whose accounts hold what exists
        self.key = keys.booking(site_id, booking_id)
        self.marker = marker(site_id, booking_id)
        self.keyring = vault_keys.get()
        self.live_zoom_id = self._zoom_id()  # the meeting that exists now, as this sync goes
        self.zoom_written_at: int | None = None

    # -- entry points -------------------------------------------------------------------------

    def apply(self) -> Outcome:
        """Create or move the meeting and the event of a created or updated booking; nothing is written
        when both already say what the booking says (e.g. the site applied a change made in Google)."""
        start, end = parse_time(self.booking["start"]), parse_time(self.booking["end"])
        outcome = Outcome(
            state="synced",
            start=int(start.timestamp()),
            end=int(end.timestamp()),
            staff_id=self.staff_id,
            digest=booking_digest(self.booking),
        )
        if unchanged.already_applied(self.record, self.booking, outcome):
            return unchanged.fill(self.record, self.site_id, self.booking_id, outcome)
        if self.owner != self.staff_id:
            self._release_previous_owner(outcome)
        if self.record.get(b"staff") != self.staff_id.encode():
            self._write({"staff": self.staff_id})  # before any provider call: what it creates is reachable
        if self.booking.get("video") == "zoom":
            outcome.zoom_id, outcome.join_url = self._ensure_meeting(start, end)
        elif self._zoom_id():
            outcome.old_zoom_id = self._zoom_id()
            self._delete_meeting(self._zoom_id())
            outcome.cleared += ["zoom_id", "join", "zintent"]
        try:
            event = self._upsert_event(outcome.join_url)
        except AccountNotLinked:
            if self.booking.get("video") != "zoom":
                raise
            log.info("booking %s/%s: no Google account for staff %s; no event", *self._ids())
            outcome.google_skipped = "not_linked"
            outcome.cleared += ["gcal", "glink"]
            outcome.zoom_written_at = self.zoom_written_at
            return outcome
        outcome.event_id, outcome.html_link = event["id"], event.get("htmlLink")
        outcome.google_updated = event.get("updated")
        outcome.zoom_written_at = self.zoom_written_at
        return outcome

    def cancel(self) -> Outcome:
        """Delete the meeting and the event with the accounts that made them (already gone is done)."""
        zoom_id = self._zoom_id()
        if not zoom_id and self.record.get(b"zintent"):
            found = self._find_meeting(self.owner)
            zoom_id = str(found["id"]) if found else None
        if zoom_id:
            self._delete_meeting(zoom_id, self.owner)
        faults.crash_point("between_cancel_deletes")
        self._delete_event(self.owner)
        end = self.record.get(b"end")
        return Outcome(
            state="cancelled",
            start=int(self.record[b"start"]) if self.record.get(b"start") else None,
            end=int(end) if end else None,
            cleared=["join", "glink", "zintent", "gcal"],
            staff_id=self.owner,
            old_zoom_id=zoom_id,
        )

    def failed(self, reason: str) -> Outcome:
        """A failure that keeps what exists reachable: the staff id whose accounts hold it, the live
        meeting's id and the booking's times (cleanup deletes the meeting at its end plus the grace)."""
        outcome = Outcome.failure(reason)
        outcome.staff_id = self.owner
        outcome.zoom_id = self.live_zoom_id
        if self.live_zoom_id is None and self._zoom_id():  # deleted by this sync before it failed
            outcome.old_zoom_id = self._zoom_id()
            outcome.cleared += ["zoom_id", "join", "zintent"]
        start, end = parse_time(self.booking["start"]), parse_time(self.booking["end"])
        outcome.start, outcome.end = int(start.timestamp()), int(end.timestamp())
        return outcome

    def _ids(self) -> tuple[str, str, str]:
        return self.site_id, self.booking_id, self.staff_id

    def _forget(self, *names: str) -> None:
        self.r.hdel(self.key, *names)
        for name in names:
            self.record.pop(name.encode(), None)

    def _release_previous_owner(self, outcome: Outcome) -> None:
        """The booking moved to another staff member: delete the meeting and the event made with the
        previous one's accounts (unreachable ones are left, logged), so the new owner starts afresh."""
        previous = self.owner
        zoom_id = self._zoom_id()
        if not zoom_id and self.record.get(b"zintent"):
            found = self._reach(lambda: self._find_meeting(previous))
            zoom_id = str(found["id"]) if found else None
        if zoom_id:
            self._reach(lambda: self._delete_meeting(zoom_id, previous))
            outcome.old_zoom_id = zoom_id
        self._reach(lambda: self._delete_event(previous, recorded_only=False))
        self._forget("zoom_id", "join", "zintent", "gcal", "glink")
        self.live_zoom_id = None
        self.owner = self.staff_id
        log.info("booking %s/%s: moved from staff %s to staff %s", self.site_id, self.booking_id, previous,
                 self.staff_id)  # fmt: skip

    def _reach(self, fn):
        """`fn()`, or None when the previous owner's account is no longer linked or usable."""
        try:
            return fn()
        except (AccountNotLinked, NeedsRelink) as exc:
            log.warning("booking %s/%s: the previous staff member's item is unreachable (%s)",
                        self.site_id, self.booking_id, type(exc).__name__)  # fmt: skip
            return None

    # -- the record ---------------------------------------------------------------------------

    def _write(self, fields: dict[str, Any], undo: Callable[[], None] | None = None) -> None:
        """Record `fields` while the booking lives; if it (or its site) was erased meanwhile, undo what
        was just created at the provider and raise `Erased`: a plain HSET would re-create the record."""
        if lifecycle.hset_if_live(self.r, self.site_id, self.booking_id, fields):
            return
        booking = f"{self.site_id}/{self.booking_id}"
        log.info("booking %s was erased during its sync; undoing its last provider call", booking)
        if undo is not None:
            try:
                undo()
            except Exception as exc:  # noqa: BLE001 - erased either way; say what is left behind
                log.error("booking %s: undoing after its erasure failed (%s)", booking, type(exc).__name__)
        raise lifecycle.Erased(booking)

    # -- Zoom ---------------------------------------------------------------------------------

    def _zoom_id(self) -> str | None:
        raw = self.record.get(b"zoom_id")
        return raw.decode() if raw else None

    def _join_url(self) -> str | None:
        sealed = self.record.get(b"join")
        if not sealed:
            return None
        plain, _stale = self.keyring.open(sealed, join_url_aad(self.site_id, self.booking_id))
        return plain.decode()

    def _meeting_body(self, start, end) -> dict[str, Any]:
        minutes = max(1, math.ceil((end - start).total_seconds() / 60))
        return {
            "topic": self.booking.get("title", "Meeting")[:200],
            "type": 2,
            "start_time": start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "duration": minutes,
            "timezone": self.booking["timezone"],
            "agenda": f"Booked through MeetBridge. Reference: {self.marker}",
            "settings": {
                "waiting_room": bool(self.settings["waiting_room"]),
                "join_before_host": bool(self.settings["join_before_host"]),
            },
        }

    def _zoom(self, fn, staff_id: str | None = None):
        return clients.call(self.site_id, "zoom", staff_id or self.staff_id, fn)

    def _ensure_meeting(self, start, end) -> tuple[str, str | None]:
        body = self._meeting_body(start, end)
        zoom = clients.zoom()
        zoom_id = self._zoom_id()
        if zoom_id:
            try:
                self._zoom(lambda token: zoom.update(token, zoom_id, body))
            except Gone:
                raise ProviderRejected("the Zoom meeting of this booking was deleted at Zoom") from None
            self.zoom_written_at = int(time.time() * 1000)
            return zoom_id, self._join_url()
        meeting = self._find_meeting() if self.record.get(b"zintent") else None
        if meeting is None:
            # Before the call, only while the booking lives, and confirmed by replicas when acks are
            # durable: a crash (or a failover) after the call finds the intent and adopts the meeting.
            intent = lifecycle.hset_if_live_command(
                self.site_id, self.booking_id, {"zintent": int(time.time())}
            )
            if not redis_client.write_durably(*intent):
                raise lifecycle.Erased(f"{self.site_id}/{self.booking_id}")
            meeting = self._create_once(zoom, body)
            faults.crash_point("after_zoom_create")
        else:
            # Created by an attempt killed before it recorded the meeting, perhaps for an older
            # revision (the booking was rescheduled meanwhile): bring it up to this one.
            self._adopt(zoom, str(meeting["id"]), body)
        self.zoom_written_at = int(time.time() * 1000)
        zoom_id, join_url = str(meeting["id"]), meeting.get("join_url")
        self.live_zoom_id = zoom_id
        record = {"zoom_id": zoom_id}
        if join_url:
            record["join"] = self.keyring.seal(join_url.encode(), join_url_aad(self.site_id, self.booking_id))
        # At once: from here on a retry updates, never creates. Erased meanwhile: undo the create.
        self._write(record, undo=lambda: self._delete_meeting(zoom_id))
        return zoom_id, join_url

    def _create_once(self, zoom, body: dict[str, Any]) -> dict:
        """Create the meeting without retrying in the job: a create whose answer was lost (a timeout,
        a 5xx) may have made the meeting, so the job tries again later and the intent recorded above
        makes that attempt look for it by the booking's marker first, instead of creating a second."""
        policy = clients.Policy.no_wait()
        try:
            return clients.call(
                self.site_id, "zoom", self.staff_id, lambda t: zoom.create(t, body), policy=policy
            )
        except RateLimited as exc:  # refused: nothing was made
            raise clients.Postpone(str(exc), exc.retry_after or clients.backoff(1)) from None
        except ProviderUnavailable as exc:
            raise clients.Postpone(f"{exc}; looking for the meeting before another create", 5.0) from None

    def _adopt(self, zoom, zoom_id: str, body: dict[str, Any]) -> None:
        try:
            self._zoom(lambda token: zoom.update(token, zoom_id, body))
        except Gone:
            raise ProviderRejected("the Zoom meeting of this booking was deleted at Zoom") from None

    def _find_meeting(self, staff_id: str | None = None) -> dict | None:
        """The meeting an earlier, crashed attempt created, found by this booking's marker."""
        zoom = clients.zoom()
        return self._zoom(lambda token: zoom.find(token, self.marker), staff_id)

    def _delete_meeting(self, zoom_id: str, staff_id: str | None = None) -> None:
        zoom = clients.zoom()
        try:
            self._zoom(lambda token: zoom.delete(token, zoom_id), staff_id)
        except Gone:
            pass
        if zoom_id == self.live_zoom_id:
            self.live_zoom_id = None

    # -- Google Calendar ----------------------------------------------------------------------

    def _event_body(self, join_url: str | None) -> dict[str, Any]:
        booking = self.booking
        zone = booking["timezone"]
        customer = booking.get("customer") or {}
        attendee = {"email": customer["email"]}
        if customer.get("name"):
            attendee["displayName"] = customer["name"]
        body: dict[str, Any] = {
            "summary": booking["title"],
            "start": {"dateTime": booking["start"], "timeZone": zone},
            "end": {"dateTime": booking["end"], "timeZone": zone},
            "status": "confirmed",
            "attendees": [attendee],
            "extendedProperties": {"private": {"meetbridge": self.marker}},
        }
        location = join_url or booking.get("location")
        if location:
            body["location"] = location
        if join_url:
            body["description"] = f"Join the Zoom meeting: {join_url}"
        return body

    def _send_updates(self) -> str:
        return "all" if self.settings["send_invites"] else "none"

    def _google(self, fn, staff_id: str | None = None):
        return clients.call(self.site_id, "google", staff_id or self.staff_id, fn)

    def _upsert_event(self, join_url: str | None) -> dict[str, Any]:
        calendar = clients.calendar()
        eid = event_id(self.site_id, self.booking_id)
        body = self._event_body(join_url)
        send = self._send_updates()
        if self.record.get(b"gcal"):
            try:
                return self._google(lambda token: calendar.update(token, CALENDAR, eid, body, send))
            except Gone:
                raise ProviderRejected(
                    "the Google Calendar event of this booking was deleted in Google"
                ) from None
        try:
            event = self._google(lambda token: calendar.insert(token, CALENDAR, {**body, "id": eid}, send))
        except Conflict:
            existing = self._google(lambda token: calendar.get(token, CALENDAR, eid))
            if existing.get("status") != "cancelled" and _same(existing, body):
                event = existing  # our own insert from an attempt that crashed before recording it
            else:
                event = self._google(lambda token: calendar.update(token, CALENDAR, eid, body, send))
        faults.crash_point("after_google_insert")
        self._write({"gcal": 1}, undo=self._undo_event)
        return event

    def _undo_event(self) -> None:
        """Delete the event just inserted for a booking erased meanwhile (without e-mailing, as erasure)."""
        calendar = clients.calendar()
        eid = event_id(self.site_id, self.booking_id)
        try:
            self._google(lambda token: calendar.delete(token, CALENDAR, eid, "none"))
        except Gone:
            pass

    def _delete_event(self, staff_id: str | None = None, *, recorded_only: bool = True) -> None:
        """Delete the event by its id (a crash may have made it without recording it); a staff member
        without a Google account has none, unless one was recorded (`recorded_only`: then raise)."""
        calendar = clients.calendar()
        eid = event_id(self.site_id, self.booking_id)
        try:
            self._google(lambda token: calendar.delete(token, CALENDAR, eid, self._send_updates()), staff_id)
        except Gone:
            pass
        except AccountNotLinked:
            if recorded_only and self.record.get(b"gcal"):
                raise


def _same(existing: dict[str, Any], body: dict[str, Any]) -> bool:
    """Whether an existing event already says what `body` would (times compared as instants)."""

    def instant(side: dict[str, Any]) -> float | None:
        value = (side or {}).get("dateTime")
        return datetime.fromisoformat(value).timestamp() if value else None

    return (
        existing.get("summary") == body["summary"]
        and existing.get("location") == body.get("location")
        and instant(existing.get("start")) == instant(body["start"])
        and instant(existing.get("end")) == instant(body["end"])
        and [a.get("email") for a in existing.get("attendees", [])] == [a["email"] for a in body["attendees"]]
    )
