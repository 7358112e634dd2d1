"""A booking update that changes nothing at the providers: its times already equal the recorded ones
(e.g. the site applied a move made in Google Calendar or Zoom) and nothing else of it changed since it
was last applied. Then the sync writes nothing, so a change never loops between the site and MeetBridge.

"Nothing else changed" is a keyed digest (HMAC-SHA256 with the server's secret key) of the booking
without its revision and times, recorded with each applied revision: no title, name or e-mail is kept.
"""

from __future__ import annotations

import hashlib
import hmac
import json

from flask import current_app

from service import vault_keys
from service.bookings.records import join_url_aad, link_aad
from service.providers.google_calendar import event_id
from workers.outcome import Outcome

_TIMES = ("revision", "start", "end")


def booking_digest(booking: dict) -> str:
    """The keyed digest of everything in the booking but its revision and times."""
    rest = {name: value for name, value in booking.items() if name not in _TIMES}
    key = f"booking-digest|{current_app.config['SECRET_KEY']}".encode()
    canonical = json.dumps(rest, sort_keys=True, separators=(",", ":")).encode()
    return hmac.new(key, canonical, hashlib.sha256).hexdigest()[:32]


def already_applied(record: dict[bytes, bytes], booking: dict, outcome: Outcome) -> bool:
    """Whether both items already say what the booking says (see the module's doc)."""
    if not record.get(b"bsum") or record[b"bsum"].decode() != outcome.digest:
        return False  # never applied in full (a failed sync forgets the digest), or something else changed
    if record.get(b"staff", b"").decode() != outcome.staff_id or not record.get(b"gcal"):
        return False
    if booking.get("video") == "zoom" and not record.get(b"zoom_id"):
        return False
    recorded = (int(float(record.get(b"start") or 0)), int(float(record.get(b"end") or 0)))
    return recorded == (outcome.start, outcome.end)


def fill(record: dict[bytes, bytes], site_id: str, booking_id: str, outcome: Outcome) -> Outcome:
    """The outcome of an update that wrote nothing: the items as recorded."""
    keyring = vault_keys.get()
    if record.get(b"zoom_id"):
        outcome.zoom_id = record[b"zoom_id"].decode()
        join = record.get(b"join")
        outcome.join_url = keyring.open(join, join_url_aad(site_id, booking_id))[0].decode() if join else None
    outcome.event_id = event_id(site_id, booking_id)
    link = record.get(b"glink")
    outcome.html_link = keyring.open(link, link_aad(site_id, booking_id))[0].decode() if link else None
    return outcome
