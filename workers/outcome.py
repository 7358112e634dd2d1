"""What one booking sync settled on: the state, the provider ids and times to record, what to tell the
site. Made by `workers.meeting.Work`, recorded by `workers.sync.settle`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from service.bookings.records import join_url_aad, link_aad


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
    google_skipped: str | None = None  # `not_linked`: a Zoom booking of staff without a Google account
    google_updated: str | None = None  # the event's `updated` as MeetBridge wrote it (no loop back)
    zoom_written_at: int | None = None  # ms: when MeetBridge last wrote the meeting (no loop back)
    digest: str | None = None  # keyed digest of the applied booking but its times (service.changes)

    @classmethod
    def failure(cls, reason: str) -> Outcome:
        return cls(state="failed", error=reason[:500], cleared=["bsum"])

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
        if self.google_updated:
            fields["gupd"] = self.google_updated
        if self.zoom_written_at:
            fields["zupd"] = self.zoom_written_at
        if self.digest:
            fields["bsum"] = self.digest
        return fields

    def result(self, site_id: str, booking_id: str, revision: int) -> dict[str, Any]:
        """The `data` of the result sent to the site."""
        data: dict[str, Any] = {"booking_id": booking_id, "revision": revision, "state": self.state}
        if self.state == "synced":
            data["zoom"] = {"meeting_id": self.zoom_id, "join_url": self.join_url}
            data["google"] = {"event_id": self.event_id, "html_link": self.html_link}
            if self.google_skipped:
                data["google"]["skipped"] = self.google_skipped
        if self.error:
            data["reason"] = self.error
        return data
