"""Per-site settings that shape syncing and cleanup, stored in the site's record with defaults."""

from __future__ import annotations

import redis

from service.storage import keys

#: Every setting and its default.
DEFAULTS: dict[str, int | bool | str] = {
    "grace_minutes": 60,  # Zoom meetings are deleted this long after their end
    "retention_days": 30,  # booking metadata is purged this long after the end
    "send_invites": True,  # Google e-mails the customer the invitation and its updates
    "waiting_room": True,  # Zoom meeting setting
    "join_before_host": False,  # Zoom meeting setting
    # A staff member deleted the event or the meeting outside MeetBridge: report it and keep the other
    # item, cancel the booking (delete the other item too), or ask the site to send it again to recreate
    "external_delete": "report",
}

#: The values a text setting may take.
CHOICES: dict[str, tuple[str, ...]] = {"external_delete": ("report", "cancel", "recreate")}


def _parse(name: str, raw: bytes | None) -> int | bool | str:
    default = DEFAULTS[name]
    if raw is None:
        return default
    if isinstance(default, str):
        value = raw.decode()
        return value if value in CHOICES[name] else default
    if isinstance(default, bool):
        return raw == b"1"
    return int(raw)


def load(r: redis.Redis, site_id: str) -> dict[str, int | bool | str]:
    """The site's settings, defaults filled in."""
    names = list(DEFAULTS)
    values = r.hmget(keys.site(site_id), [f"set_{name}" for name in names])
    return {name: _parse(name, raw) for name, raw in zip(names, values, strict=True)}
