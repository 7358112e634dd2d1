"""Every Redis key MeetBridge writes, in one place. Everything that belongs to a site lives under
`mb:s:{site_id}:` (besides the site record itself), so erasing a site is one prefix."""

from __future__ import annotations

#: Set of all site ids.
SITES = "mb:sites"


def site(site_id: str) -> str:
    """Hash: the site's record (name, origin, callback URL, sealed signing secrets, version, settings)."""
    return f"mb:site:{site_id}"


def site_prefix(site_id: str) -> str:
    """Prefix of every other key of the site."""
    return f"mb:s:{site_id}:"


def idempotency(site_id: str, webhook_id: str) -> str:
    """String: the answer given to an event id, kept at least 72 hours."""
    return f"mb:s:{site_id}:idem:{webhook_id}"


def booking(site_id: str, booking_id: str) -> str:
    """Hash: a booking's metadata (revision, state, timestamps, provider ids)."""
    return f"mb:s:{site_id}:bk:{booking_id}"
