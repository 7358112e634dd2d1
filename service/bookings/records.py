"""A booking's record in Redis: the sealing contexts of what it keeps encrypted, and its public view.

The record is the hash `mb:s:{site}:b:{booking}` (service.storage.keys). What it holds sealed (the join
URL, the Google event link) and what a queued job carries sealed (the event payload) are bound to the
site and booking by these associated-data strings, so a blob copied elsewhere does not open.
"""

from __future__ import annotations

from service import vault_keys
from service.providers.google_calendar import event_id


def event_aad(site_id: str, booking_id: str, revision: int) -> bytes:
    """Associated data binding a sealed event payload to its site, booking and revision."""
    return f"event|{site_id}|{booking_id}|{revision}".encode()


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
