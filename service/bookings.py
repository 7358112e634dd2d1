"""`GET /v1/sites/{site_id}/bookings/{booking_id}`: a booking's sync state, for its site only.

The request is signed like an event; having no body, it signs `GET {path}` (see service.site_auth).
"""

from __future__ import annotations

import re

from flask import Blueprint, jsonify

from service import keys, redis_client, site_auth, vault_keys
from service.google_calendar import event_id
from service.web import error_body

bp = Blueprint("bookings", __name__)

_BOOKING_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")


def _number(raw: bytes | None) -> float | None:
    return float(raw) if raw else None


def _text(raw: bytes | None) -> str | None:
    return raw.decode() if raw else None


def join_url_aad(site_id: str, booking_id: str) -> bytes:
    """Associated data of a booking's sealed join URL."""
    return f"join-url|{site_id}|{booking_id}".encode()


def link_aad(site_id: str, booking_id: str) -> bytes:
    """Associated data of a booking's sealed Google event link (the link encodes the organizer's e-mail)."""
    return f"event-link|{site_id}|{booking_id}".encode()


def _unseal(sealed: bytes | None, aad: bytes) -> str | None:
    if not sealed:
        return None
    plain, _stale = vault_keys.get().open(sealed, aad)
    return plain.decode()


def describe(site_id: str, booking_id: str, record: dict[bytes, bytes]) -> dict:
    """The public view of a booking's metadata hash (join URL and event link unsealed)."""
    field = record.get
    join_url = _unseal(field(b"join"), join_url_aad(site_id, booking_id))
    html_link = _unseal(field(b"glink"), link_aad(site_id, booking_id))
    google_id = event_id(site_id, booking_id) if field(b"gcal") or html_link else None
    return {
        "booking_id": booking_id,
        "state": _text(field(b"state")),
        "revision": int(field(b"rev") or 0),
        "last_event": _text(field(b"event")),
        "zoom": {"meeting_id": _text(field(b"zoom_id")), "join_url": join_url},
        "google": {"event_id": google_id, "html_link": html_link},
        "last_error": _text(field(b"error")),
        "start": _number(field(b"start")),
        "end": _number(field(b"end")),
        "created_at": _number(field(b"created")),
        "updated_at": _number(field(b"updated")),
    }


@bp.get("/v1/sites/<site_id>/bookings/<booking_id>")
def status(site_id: str, booking_id: str):
    try:
        site_auth.authenticate(site_id)
    except site_auth.AuthError as exc:
        return error_body(exc.status, exc.code, exc.message)
    if not _BOOKING_ID.match(booking_id):
        return error_body(404, "unknown_booking", "no such booking")
    record = redis_client.get().hgetall(keys.booking(site_id, booking_id))
    if not record:
        return error_body(404, "unknown_booking", "no such booking")
    return jsonify(describe(site_id, booking_id, record))
