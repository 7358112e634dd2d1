"""The availability query: `staff_id`, `from` and `to` read and checked, and RFC 3339 instants read (an
offset required; a space where an unencoded `+` was) and written (UTC, `Z`)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from service.bookings import booking_schema

MAX_WINDOW = dt.timedelta(days=90)
"""Longest window, as Google's freebusy.query allows."""

_PARAMS = ("staff_id", "from", "to")
_STAFF_ID = re.compile(booking_schema.ID_PATTERN)
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+\- ]\d{2}:\d{2})$"
)


class BadRequest(Exception):
    """A query parameter is missing or wrong (422 naming `field`)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Query:
    staff_id: str
    start: dt.datetime
    end: dt.datetime

    @property
    def digest(self) -> str:
        """Names the cache entry without naming the staff member or the window."""
        text = f"{self.staff_id}|{rfc3339(self.start)}|{rfc3339(self.end)}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]


def parse_instant(raw: str) -> dt.datetime | None:
    """An RFC 3339 date-time with an offset (`Z` or `±hh:mm`), as an aware datetime; None if it is not one.
    A space in place of the offset's `+` (an unencoded `+` in a query) reads as `+`."""
    match = _RFC3339.match(raw)
    if not match:
        return None
    day, clock, fraction, offset = match.groups()
    offset = "+00:00" if offset in ("Z", "z") else "+" + offset[1:] if offset[0] == " " else offset
    micro = f".{(fraction or '')[:6].ljust(6, '0')}" if fraction else ""
    try:
        return dt.datetime.fromisoformat(f"{day}T{clock}{micro}{offset}")
    except ValueError:  # month 13, 24:00, offset +25:00, ...
        return None


def rfc3339(moment: dt.datetime) -> str:
    """UTC, `Z`, with a fraction of a second only when there is one."""
    utc = moment.astimezone(dt.UTC)
    fraction = f".{utc.microsecond:06d}".rstrip("0") if utc.microsecond else ""
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def parse_query(args) -> Query:
    """The query's three parameters, checked in the order `staff_id`, `from`, `to`.

    Raises:
        BadRequest: naming the first wrong field.
    """
    for name, values in args.lists():
        if name not in _PARAMS:
            raise BadRequest(name, f"unknown parameter {name!r}; expected staff_id, from and to")
        if len(values) > 1:
            raise BadRequest(name, f"{name} is given more than once")
    staff_id = args.get("staff_id", "")
    if not (0 < len(staff_id) <= 64 and _STAFF_ID.match(staff_id)):
        raise BadRequest("staff_id", "staff_id is required: 1-64 letters, digits and . _ : -")
    bounds = []
    for name in ("from", "to"):
        raw = args.get(name)
        if not raw:
            raise BadRequest(name, f"{name} is required (RFC 3339 with an offset, e.g. 2026-12-01T00:00:00Z)")
        moment = parse_instant(raw)
        if moment is None:
            raise BadRequest(
                name, f"{name} must be an RFC 3339 date-time with an offset, e.g. 2026-12-01T00:00:00Z"
            )
        bounds.append(moment)
    start, end = bounds
    if end <= start:
        raise BadRequest("to", "to must be after from")
    if end - start > MAX_WINDOW:
        raise BadRequest("to", "the window from..to is longer than 90 days")
    return Query(staff_id, start, end)
