"""The provider side of one booking sync: the Zoom meeting and the Google Calendar event it needs.

`Work.apply()` makes both match a created or updated booking; `Work.cancel()` deletes both. Each
returns an `Outcome` that `workers.sync.settle` records. Exactly once:

- Zoom: an intent (`zintent`) is written before the create call, and the meeting id and sealed join
  URL right after it; a retry that finds an intent but no meeting id lists the user's upcoming
  meetings and adopts the one whose agenda carries this booking's marker, instead of creating a
  second one.
- Google: the event id is derived from site and booking (base32hex); insert, and on 409 read the
  event (a deleted one answers 409 too) and update it only if it differs, so a retry sends the
  customer no second invitation.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis

from service import vault_keys
from service.bookings.booking_schema import parse_time
from service.bookings.records import join_url_aad, link_aad
from service.exceptions import AccountNotLinked, Conflict, Gone, ProviderRejected
from service.providers import clients
from service.providers.google_calendar import event_id
from service.storage import keys, redis_client
from workers import faults

CALENDAR = "primary"


@dataclass
class Outcome:
    """What one sync settled on, and what must be recorded and told."""

    state: str  # synced | failed | cancelled
    error: str | None = None
    zoom_id: str | None = None
    join_url: str | None = None
    event_id: str | None = None
    html_link: str | None = None
    start: int | None = None
    end: int | None = None
    cleared: list[str] = field(default_factory=list)
    staff_id: str | None = None  # recorded so cleanup and erasure can reach the meeting and the event
    old_zoom_id: str | None = None  # a meeting deleted by this sync (its webhook index entry goes)

    @classmethod
    def failure(cls, reason: str) -> Outcome:
        return cls(state="failed", error=reason[:500])

    @property
    def result_type(self) -> str:
        return {"synced": "booking.synced", "cancelled": "booking.cancelled"}.get(
            self.state, "booking.sync_failed"
        )

    def metadata(self, keyring, site_id: str, booking_id: str) -> dict[str, Any]:
        """The booking hash fields to set (personal data sealed)."""
        fields: dict[str, Any] = {}
        if self.start is not None:
            fields.update(start=self.start, end=self.end)
        if self.staff_id:
            fields["staff"] = self.staff_id
        if self.zoom_id:
            fields["zoom_id"] = self.zoom_id
        if self.join_url:
            fields["join"] = keyring.seal(self.join_url.encode(), join_url_aad(site_id, booking_id))
        if self.event_id:
            fields["gcal"] = 1
        if self.html_link:
            fields["glink"] = keyring.seal(self.html_link.encode(), link_aad(site_id, booking_id))
        return fields

    def result(self, site_id: str, booking_id: str, revision: int) -> dict[str, Any]:
        """The `data` of the result sent to the site."""
        data: dict[str, Any] = {"booking_id": booking_id, "revision": revision, "state": self.state}
        if self.state == "synced":
            data["zoom"] = {"meeting_id": self.zoom_id, "join_url": self.join_url}
            data["google"] = {"event_id": self.event_id, "html_link": self.html_link}
        if self.error:
            data["reason"] = self.error
        return data


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
        self.key = keys.booking(site_id, booking_id)
        self.marker = "mb-" + hashlib.sha256(f"{site_id}|{booking_id}".encode()).hexdigest()[:20]
        self.keyring = vault_keys.get()

    # -- entry points -------------------------------------------------------------------------

    def apply(self) -> Outcome:
        """Create or move the meeting and the event of a created or updated booking."""
        start, end = parse_time(self.booking["start"]), parse_time(self.booking["end"])
        outcome = Outcome(
            state="synced", start=int(start.timestamp()), end=int(end.timestamp()), staff_id=self.staff_id
        )
        if self.booking.get("video") == "zoom":
            outcome.zoom_id, outcome.join_url = self._ensure_meeting(start, end)
        elif self._zoom_id():
            outcome.old_zoom_id = self._zoom_id()
            self._delete_meeting(self._zoom_id())
            outcome.cleared += ["zoom_id", "join", "zintent"]
        event = self._upsert_event(outcome.join_url)
        outcome.event_id, outcome.html_link = event["id"], event.get("htmlLink")
        return outcome

    def cancel(self) -> Outcome:
        """Delete the meeting and the event (already gone counts as done)."""
        zoom_id = self._zoom_id()
        if not zoom_id and self.record.get(b"zintent"):
            found = self._find_meeting()
            zoom_id = str(found["id"]) if found else None
        if zoom_id:
            self._delete_meeting(zoom_id)
        faults.crash_point("between_cancel_deletes")
        self._delete_event()
        end = self.record.get(b"end")
        return Outcome(
            state="cancelled",
            start=int(self.record[b"start"]) if self.record.get(b"start") else None,
            end=int(end) if end else None,
            cleared=["join", "glink", "zintent", "gcal"],
            staff_id=self.staff_id,
            old_zoom_id=zoom_id,
        )

    def failed(self, reason: str) -> Outcome:
        return Outcome.failure(reason)

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

    def _zoom(self, fn):
        return clients.call(self.site_id, "zoom", self.staff_id, fn)

    def _ensure_meeting(self, start, end) -> tuple[str, str | None]:
        body = self._meeting_body(start, end)
        zoom = clients.zoom()
        zoom_id = self._zoom_id()
        if zoom_id:
            try:
                self._zoom(lambda token: zoom.update(token, zoom_id, body))
            except Gone:
                raise ProviderRejected("the Zoom meeting of this booking was deleted at Zoom") from None
            return zoom_id, self._join_url()
        meeting = self._find_meeting() if self.record.get(b"zintent") else None
        if meeting is None:
            # Before the call, and confirmed by replicas when acks are durable: a crash (or a failover)
            # after the call finds the intent and adopts the meeting instead of creating a second one.
            redis_client.write_durably("HSET", self.key, "zintent", int(time.time()))
            meeting = self._zoom(lambda token: zoom.create(token, body))
            faults.crash_point("after_zoom_create")
        zoom_id, join_url = str(meeting["id"]), meeting.get("join_url")
        record = {"zoom_id": zoom_id}
        if join_url:
            record["join"] = self.keyring.seal(join_url.encode(), join_url_aad(self.site_id, self.booking_id))
        self.r.hset(self.key, mapping=record)  # at once: from here on a retry updates, never creates
        return zoom_id, join_url

    def _find_meeting(self) -> dict | None:
        """The meeting an earlier, crashed attempt created, found by this booking's marker."""
        zoom = clients.zoom()
        meetings = self._zoom(lambda token: list(zoom.upcoming(token)))
        return next((m for m in meetings if self.marker in (m.get("agenda") or "")), None)

    def _delete_meeting(self, zoom_id: str) -> None:
        zoom = clients.zoom()
        try:
            self._zoom(lambda token: zoom.delete(token, zoom_id))
        except Gone:
            pass

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

    def _google(self, fn):
        return clients.call(self.site_id, "google", self.staff_id, fn)

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
        self.r.hset(self.key, "gcal", 1)
        return event

    def _delete_event(self) -> None:
        calendar = clients.calendar()
        eid = event_id(self.site_id, self.booking_id)
        try:
            self._google(lambda token: calendar.delete(token, CALENDAR, eid, self._send_updates()))
        except Gone:
            pass
        except AccountNotLinked:
            if self.record.get(b"gcal"):
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
