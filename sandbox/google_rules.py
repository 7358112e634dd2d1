"""Google Calendar's own rules for Event bodies, beyond the discovery document's types.

Checks ids (base32hex, 5-1024 chars), start/end (one of `date`/`dateTime`, RFC 3339 with an offset
unless `timeZone` is given, valid IANA zones, end not before start), attendees' e-mails and enum-like
string fields. Every failure is a Google 400 response.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from flask import Response

from sandbox import timeutil
from sandbox.errors import google_bad_request
from sandbox.schemas import first_error, google_validator

EVENT_ID = re.compile(r"^[a-v0-9]{5,1024}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_ENUMS = {
    "status": {"confirmed", "tentative", "cancelled"},
    "transparency": {"opaque", "transparent"},
    "visibility": {"default", "public", "private", "confidential"},
}


def check_id(event_id: Any) -> Response | None:
    """Client-chosen event ids must be base32hex (a-v, 0-9), 5 to 1024 characters."""
    if not isinstance(event_id, str) or not EVENT_ID.match(event_id):
        return google_bad_request("Invalid resource id value.")
    return None


def instant(when: dict[str, Any]) -> dt.datetime:
    """The moment an already-validated EventDateTime starts (all-day: midnight in its zone or UTC)."""
    zone = timeutil.zone(when.get("timeZone", "")) or timeutil.UTC
    if "dateTime" in when:
        parsed = timeutil.parse_rfc3339(when["dateTime"], require_offset=False)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
    day = timeutil.parse_date(when["date"])
    return dt.datetime.combine(day, dt.time(), tzinfo=zone)


def _check_when(name: str, when: Any) -> Response | None:
    if not isinstance(when, dict) or ("date" in when) == ("dateTime" in when):
        return google_bad_request(f"Missing {name} time.", "required")
    if "timeZone" in when and timeutil.zone(when["timeZone"]) is None:
        return google_bad_request(f"Invalid time zone definition for {name} time.")
    if "date" in when:
        if timeutil.parse_date(when["date"]) is None:
            return google_bad_request(f"Invalid {name} time.")
        return None
    if timeutil.parse_rfc3339(when["dateTime"], require_offset=False) is None:
        return google_bad_request(f"Invalid {name} time.")
    if "timeZone" not in when and timeutil.parse_rfc3339(when["dateTime"]) is None:
        return google_bad_request(f"Missing time zone definition for {name} time.", "required")
    return None


def check_times(event: dict[str, Any]) -> Response | None:
    """start and end present, well-formed, of the same kind, and end not before start."""
    for name in ("start", "end"):
        if name not in event or event[name] is None:
            return google_bad_request(f"Missing {name} time.", "required")
        error = _check_when(name, event[name])
        if error is not None:
            return error
    if ("date" in event["start"]) != ("date" in event["end"]):
        return google_bad_request("Invalid end time.")
    start, end = instant(event["start"]), instant(event["end"])
    if end < start or ("date" in event["start"] and end == start):
        return google_bad_request("The specified time range is empty.", "timeRangeEmpty")
    return None


def check_body(body: Any) -> Response | None:
    """Types from the discovery document's Event schema, then Google's field rules."""
    if not isinstance(body, dict):
        return google_bad_request("Invalid JSON payload received. Expected an object.", "parseError")
    path = first_error(google_validator("Event"), body)
    if path is not None:
        return google_bad_request(f"Invalid value for field '{path}'.")
    for field, allowed in _ENUMS.items():
        if field in body and body[field] not in allowed:
            return google_bad_request(f"Invalid value for: {field}")
    for attendee in body.get("attendees") or []:
        if not attendee.get("email"):
            return google_bad_request("Missing attendee email.", "required")
        if not _EMAIL.match(attendee["email"]):
            return google_bad_request("Invalid attendee email.")
    return None


def check_send_updates(value: str | None) -> Response | None:
    """The `sendUpdates` query parameter is an enum."""
    if value is not None and value not in ("all", "externalOnly", "none"):
        return google_bad_request(f"Invalid value for sendUpdates: {value}", "invalidParameter")
    return None
