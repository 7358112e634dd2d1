"""Zoom's rules for meeting bodies beyond the OpenAPI types: lengths, password charset, time zones,
and the two `start_time` forms Zoom documents (`yyyy-MM-ddTHH:mm:ssZ` in UTC, or
`yyyy-MM-ddTHH:mm:ss` local to `timezone`)."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from flask import Response, request

from sandbox import timeutil
from sandbox.errors import zoom_error, zoom_validation_failed
from sandbox.schemas import first_error, zoom_body_validator

_UTC_FORM = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_LOCAL_FORM = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}$")
_PASSWORD = re.compile(r"^[A-Za-z0-9@_*-]{1,10}$")
MAX_TOPIC = 200
MAX_AGENDA = 2000


def read_body(path: str, method: str) -> tuple[dict[str, Any] | None, Response | None]:
    """Parse and validate a JSON body against the operation's schema and Zoom's field rules."""
    try:
        body = json.loads(request.get_data() or b"")
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        return None, zoom_error(400, 300, "Request Body should be a valid JSON object.")
    field = first_error(zoom_body_validator(path, method), body)
    if field is not None:
        return None, zoom_validation_failed(field)
    return body, check_fields(body)


def check_fields(body: dict[str, Any]) -> Response | None:
    """Lengths, password charset, time zone and start_time form."""
    if len(body.get("topic", "")) > MAX_TOPIC:
        return zoom_validation_failed("topic")
    if len(body.get("agenda", "")) > MAX_AGENDA:
        return zoom_validation_failed("agenda")
    if "password" in body and not _PASSWORD.match(body["password"]):
        return zoom_error(400, 300, "Invalid parameter: password.")
    if "timezone" in body and timeutil.zone(body["timezone"]) is None:
        return zoom_validation_failed("timezone")
    if body.get("duration", 0) < 0:
        return zoom_validation_failed("duration")
    if "start_time" in body and parse_start(body["start_time"], "UTC") is None:
        return zoom_validation_failed("start_time")
    return None


def parse_start(value: str, timezone: str) -> dt.datetime | None:
    """A Zoom start_time as an aware datetime (local form uses `timezone`)."""
    try:
        if _UTC_FORM.match(value):
            return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        if _LOCAL_FORM.match(value):
            zone = timeutil.zone(timezone) or dt.UTC
            return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=zone)
    except ValueError:
        return None
    return None
