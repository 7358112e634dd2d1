"""Google Calendar v3 `POST /google/calendar/v3/freeBusy` (freebusy.query).

Busy periods come from the user's non-cancelled, non-transparent events, clipped to the window
and merged. Windows longer than Google's 90 days answer 400 `timeRangeTooLong`; calendars other
than the user's own answer a per-calendar `notFound` error, as Google does.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import Blueprint, Response, jsonify

from sandbox import google_rules, timeutil
from sandbox.errors import google_bad_request
from sandbox.google_bearer import authenticate
from sandbox.google_calendar import calendar_key, read_json
from sandbox.schemas import first_error, google_validator
from sandbox.state import get_state

logger = logging.getLogger(__name__)

bp = Blueprint("google_freebusy", __name__, url_prefix="/google/calendar/v3")

MAX_WINDOW = dt.timedelta(days=90)
"""Longest timeMin..timeMax span Google accepts."""

MAX_CALENDARS = 50
"""Most calendars one query may name."""


def _window(body: dict[str, Any]) -> tuple[dt.datetime | None, dt.datetime | None, Response | None]:
    bounds = []
    for name in ("timeMin", "timeMax"):
        if name not in body:
            return None, None, google_bad_request(f"Missing {name} parameter.", "required")
        parsed = timeutil.parse_rfc3339(body[name])
        if parsed is None:
            return None, None, google_bad_request(f"Invalid value for: {name}", "invalid")
        bounds.append(parsed)
    start, end = bounds
    if end <= start:
        return None, None, google_bad_request("The specified time range is empty.", "timeRangeEmpty")
    if end - start > MAX_WINDOW:
        return None, None, google_bad_request("The requested time range is too long.", "timeRangeTooLong")
    return start, end, None


def _busy(events: list[dict[str, Any]], start: dt.datetime, end: dt.datetime) -> list[list[dt.datetime]]:
    periods = []
    for event in events:
        if event["status"] == "cancelled" or event.get("transparency") == "transparent":
            continue
        begin, finish = google_rules.instant(event["start"]), google_rules.instant(event["end"])
        if finish > start and begin < end:
            periods.append([max(begin, start), min(finish, end)])
    periods.sort()
    merged: list[list[dt.datetime]] = []
    for period in periods:
        if merged and period[0] <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], period[1])
        else:
            merged.append(period)
    return merged


@bp.post("/freeBusy")
def query() -> Response:
    """freebusy.query."""
    user, error = authenticate("freebusy", "query")
    body, parse_error = read_json()
    error = error or parse_error
    if error is None and not isinstance(body, dict):
        error = google_bad_request("Invalid JSON payload received. Expected an object.", "parseError")
    if error is None and (path := first_error(google_validator("FreeBusyRequest"), body)) is not None:
        error = google_bad_request(f"Invalid value for field '{path}'.")
    if error is not None:
        return error
    start, end, error = _window(body)
    if error is not None:
        return error
    zone = timeutil.zone(body.get("timeZone", "UTC"))
    if zone is None:
        return google_bad_request("Invalid time zone definition.", "invalid")
    items = body.get("items") or []
    if len(items) > MAX_CALENDARS:
        return google_bad_request(
            "The number of calendars requested is too large.", "tooManyCalendarsRequested"
        )
    state = get_state()
    calendars: dict[str, Any] = {}
    with state.lock:
        for item in items:
            calendar_id = item.get("id", "")
            key = calendar_key(user, calendar_id)
            if key is None:
                calendars[calendar_id] = {"errors": [{"domain": "global", "reason": "notFound"}], "busy": []}
                continue
            periods = _busy(list(state.google_events.get(key, {}).values()), start, end)
            calendars[calendar_id] = {
                "busy": [{"start": _fmt(a, zone), "end": _fmt(b, zone)} for a, b in periods],
            }
    return jsonify(
        {
            "kind": "calendar#freeBusy",
            "timeMin": _fmt(start, zone),
            "timeMax": _fmt(end, zone),
            "calendars": calendars,
        }
    )


def _fmt(moment: dt.datetime, zone: dt.tzinfo) -> str:
    local = moment.astimezone(zone)
    if local.utcoffset() == dt.timedelta(0):
        return local.strftime("%Y-%m-%dT%H:%M:%SZ")
    return local.isoformat(timespec="seconds")
