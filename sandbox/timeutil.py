"""RFC 3339 parsing and formatting shared by the Google and Zoom emulations."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?$",
)
UTC = dt.UTC


def parse_rfc3339(value: str, *, require_offset: bool = True) -> dt.datetime | None:
    """Parse an RFC 3339 date-time; None if malformed (or offset missing when required)."""
    match = _RFC3339.match(value) if isinstance(value, str) else None
    if not match or (require_offset and not match.group(8)):
        return None
    text = value.replace("z", "Z").replace("t", "T")
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed


def parse_date(value: str) -> dt.date | None:
    """Parse a `yyyy-mm-dd` date; None if malformed."""
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def zone(name: str) -> zoneinfo.ZoneInfo | None:
    """The IANA zone called `name`, or None if there is no such zone."""
    if not isinstance(name, str) or not name or name.startswith("/") or ".." in name:
        return None
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return None


def from_epoch(seconds: float) -> dt.datetime:
    """Epoch seconds as an aware UTC datetime."""
    return dt.datetime.fromtimestamp(seconds, UTC)


def google_time(moment: dt.datetime) -> str:
    """Google's timestamp style for created/updated: UTC with milliseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def zoom_time(moment: dt.datetime) -> str:
    """Zoom's timestamp style: UTC to the second with `Z`."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
