"""Validation of the booking event body that WordPress sites POST to `/v1/sites/{site_id}/events`.

The shape is DESIGN section 3. It is stated as JSON Schema (Draft 2020-12) in one file,
`booking_event.schema.json` next to this module, loaded here as `EVENT_SCHEMA`; the OpenAPI document
(service/openapi/openapi.yaml) refers to the same file. `validate_event()` applies it and then the checks
JSON Schema cannot express, and returns an `Event` or raises `SchemaError(field, message)` naming the
first offending field as a dotted path (`booking.start`; `(root)` when the body is not an object).

Rules and limits:

- Every object is closed (`additionalProperties: false`), so a misspelt or unknown field is rejected
  rather than silently ignored. New optional fields are added to the schema file first (the OpenAPI
  document embeds it).
- `type` is `booking.created`, `booking.updated` or `booking.cancelled`.
- `booking.id` and `booking.staff.id`: 1-64 characters of `A-Z a-z 0-9 . _ : -`.
- `booking.revision`: an integer from 1 to 2**53.
- `booking.title`: 1-200 characters; names: 0-200; `booking.location`: a string of at most 500 or null.
- E-mail addresses: at most 254 characters, `local@domain.tld`, no spaces.
- `booking.start` / `booking.end`: RFC 3339 date-times with an explicit offset (`Z` or `+hh:mm`/`-hh:mm`;
  upper-case `T` and `Z`; up to 9 fractional digits), a real calendar date, in the years 2000-2199; the
  end strictly after the start and at most 24 hours later.
- `booking.timezone`: an IANA time zone name known to `zoneinfo` (e.g. `Europe/Berlin`). It is the zone
  the calendar shows; it is not required to agree with the offsets of start and end.
- `booking.video`: `"zoom"` or `"none"` (null is not accepted: the site must say which it means).
- `booking.created` / `booking.updated` need `title`, `start`, `end`, `timezone`, `video`, `staff.email`
  and `customer.email`; names and `location` are optional. `booking.cancelled` needs only `id`,
  `revision` and `staff.id` (to find the linked accounts); anything else it carries is checked the same way.

This module has no Flask in it.
"""

from __future__ import annotations

import functools
import json
import re
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, cast

import fastjsonschema
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match

EVENT_TYPES = ("booking.created", "booking.updated", "booking.cancelled")
"""The event types a site may send."""

MAX_DURATION = timedelta(hours=24)
"""Longest booking accepted (end minus start)."""

MIN_YEAR, MAX_YEAR = 2000, 2199
"""Years a booking's start and end must fall in (local time as sent)."""

ROOT = "(root)"
"""The `SchemaError.field` used when the body as a whole is wrong (e.g. not a JSON object)."""

# Patterns are valid both as ECMA-262 (for OpenAPI readers) and as Python `re` (what jsonschema runs,
# with `re.search`). `$(?!\n)` is end of input in both: Python's bare `$` also matches before a trailing
# newline. `[0-9]` rather than `\d`, which in Python matches any Unicode digit. The schema file and
# openapi.yaml spell them out; tests/test_openapi_document.py checks they still equal these.
ID_PATTERN = r"^[A-Za-z0-9._:-]+$(?!\n)"
EMAIL_PATTERN = r"^[^@\s]+@[^@\s.]+(\.[^@\s.]+)+$(?!\n)"  # no nested ambiguity: linear on hostile input
TIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?(Z|[+-][0-9]{2}:[0-9]{2})$(?!\n)"
)
TIMEZONE_PATTERN = r"^[A-Za-z0-9_+/-]+$(?!\n)"

SCHEMA_FILE = Path(__file__).with_name("booking_event.schema.json")
"""The event body as JSON Schema (Draft 2020-12); service/openapi/openapi.yaml refers to it too."""

EVENT_SCHEMA: dict[str, Any] = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
"""`SCHEMA_FILE` loaded: what both validators below apply, and what the OpenAPI document embeds."""

Draft202012Validator.check_schema(EVENT_SCHEMA)
_VALIDATOR = Draft202012Validator(EVENT_SCHEMA)


def _compiled_fast_path() -> Callable[[object], object]:
    """The same schema compiled to Python code by fastjsonschema: about 20 times faster than
    jsonschema on a valid event, which is the common case on the hot path. It speaks Draft 7 (the
    schema uses nothing newer) and, like jsonschema here, does not check `format`."""
    draft7 = json.loads(json.dumps(EVENT_SCHEMA).replace(_DRAFT_2020_12, _DRAFT_7))
    return fastjsonschema.compile(draft7, formats={"email": _any_string, "date-time": _any_string})


_DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
_DRAFT_7 = "http://json-schema.org/draft-07/schema#"


def _any_string(_value: str) -> bool:
    return True


_FAST_VALIDATE = _compiled_fast_path()

_TIME_RE = re.compile(TIME_PATTERN)
_PATTERN_MESSAGES = {
    ID_PATTERN: "may only contain letters, digits and . _ : -",
    EMAIL_PATTERN: "must be an e-mail address",
    TIME_PATTERN: "must be an RFC 3339 date-time with a UTC offset, e.g. 2026-12-01T10:00:00+01:00",
    TIMEZONE_PATTERN: "must be an IANA time zone name, e.g. Europe/Berlin",
}
_MAX_ECHOED_NAME = 64
_TYPE_NAMES = {"object": "a JSON object", "string": "a string", "integer": "an integer", "null": "null"}


class SchemaError(ValueError):
    """The event is valid JSON but breaks the schema (HTTP 422).

    Attributes:
        field: dotted path of the offending field, e.g. `booking.start`, or `(root)`.
        message: what is wrong, in plain English, without echoing the submitted value.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Staff:
    """The staff member whose linked accounts host the meeting."""

    id: str
    email: str | None = field(default=None, repr=False)
    name: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Customer:
    """The person who booked."""

    email: str | None = field(default=None, repr=False)
    name: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Booking:
    """A booking as sent by the site; personal fields are left out of `repr()` so logs stay clean."""

    id: str
    revision: int
    staff: Staff
    title: str | None = field(default=None, repr=False)
    start: datetime | None = None
    end: datetime | None = None
    timezone: str | None = None
    customer: Customer | None = None
    video: str | None = None
    location: str | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class Event:
    """A validated booking event."""

    type: str
    booking: Booking


def parse_time(value: str) -> datetime:
    """Parse an RFC 3339 date-time that carries an explicit UTC offset.

    Args:
        value: e.g. `2026-12-01T10:00:00+01:00` or `2026-12-01T09:00:00Z`.

    Returns:
        A timezone-aware datetime (fractional seconds beyond microseconds are truncated).

    Raises:
        ValueError: not in that format, or not a real date and time.
    """
    if not isinstance(value, str) or _TIME_RE.match(value) is None:
        raise ValueError("not an RFC 3339 date-time with a UTC offset")
    return datetime.fromisoformat(value)  # ValueError for impossible dates such as 2026-02-30


def validate_event(data: object, *, explain: bool = True) -> Event:
    """Check a decoded event body and turn it into an `Event`.

    Args:
        data: the body after `json.loads`.
        explain: find the field to blame when the schema is broken (jsonschema, slow); without it
            such a body raises `SchemaError` for the root at once.

    Returns:
        The event, with `start`/`end` as aware datetimes.

    Raises:
        SchemaError: the first offending field (jsonschema's `best_match`, then the date and time zone
            checks in a fixed order) and what is wrong with it.
    """
    if not _fast_valid(data):
        if not explain:
            raise SchemaError(ROOT, "does not match the event schema")
        # Only an invalid body pays for jsonschema, which names the best field to blame.
        error = best_match(_VALIDATOR.iter_errors(data))
        if error is not None:
            raise SchemaError(*_describe(error))
    event = cast(Mapping[str, Any], data)  # the schema guarantees an object from here on
    booking: Mapping[str, Any] = event["booking"]
    start = _time(booking, "start")
    end = _time(booking, "end")
    if start is not None and end is not None:
        if end <= start:
            raise SchemaError("booking.end", "must be after booking.start")
        if end - start > MAX_DURATION:
            raise SchemaError("booking.end", "must be at most 24 hours after booking.start")
    zone = booking.get("timezone")
    if zone is not None and zone not in _timezones():
        raise SchemaError("booking.timezone", "must be an IANA time zone name, e.g. Europe/Berlin")
    return Event(type=event["type"], booking=_booking(booking, start, end))


def _fast_valid(data: object) -> bool:
    try:
        _FAST_VALIDATE(data)
    except fastjsonschema.JsonSchemaException:
        return False
    return True


def _time(booking: Mapping[str, Any], name: str) -> datetime | None:
    if name not in booking:
        return None
    try:
        value = parse_time(booking[name])
    except ValueError:
        raise SchemaError(f"booking.{name}", "must be a real calendar date and time") from None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise SchemaError(f"booking.{name}", f"must be between the years {MIN_YEAR} and {MAX_YEAR}")
    return value


def _booking(raw: Mapping[str, Any], start: datetime | None, end: datetime | None) -> Booking:
    staff = raw["staff"]
    customer = raw.get("customer")
    return Booking(
        id=raw["id"],
        revision=int(raw["revision"]),  # JSON 1.0 is an integer to JSON Schema
        staff=Staff(id=staff["id"], email=staff.get("email"), name=staff.get("name")),
        title=raw.get("title"),
        start=start,
        end=end,
        timezone=raw.get("timezone"),
        customer=None
        if customer is None
        else Customer(email=customer.get("email"), name=customer.get("name")),
        video=raw.get("video"),
        location=raw.get("location"),
    )


def _describe(error: ValidationError) -> tuple[str, str]:
    """The dotted field path and a plain-English message for one jsonschema error."""
    path = [str(part) for part in error.absolute_path]
    keyword, expected = error.validator, error.validator_value
    if keyword == "required":
        missing = next(name for name in expected if name not in error.instance)
        return _dotted([*path, missing]), "is required"
    if keyword == "additionalProperties":
        allowed = error.schema.get("properties", {})
        extra = next(str(name) for name in error.instance if name not in allowed)
        if len(extra) > _MAX_ECHOED_NAME:  # the name is the sender's; keep what we echo and log short
            extra = extra[:_MAX_ECHOED_NAME] + "..."
        return _dotted([*path, extra]), "is not allowed"
    return _dotted(path), _message(keyword, expected)


def _message(keyword: str, expected: Any) -> str:
    if keyword == "type":
        kinds = [expected] if isinstance(expected, str) else expected
        return "must be " + " or ".join(_TYPE_NAMES.get(kind, kind) for kind in kinds)
    if keyword == "enum":
        return "must be one of " + ", ".join(json.dumps(option) for option in expected)
    if keyword == "minLength":
        return "must not be empty" if expected == 1 else f"must be at least {expected} characters"
    if keyword == "maxLength":
        return f"must be at most {expected} characters"
    if keyword == "minimum":
        return f"must be at least {expected}"
    if keyword == "maximum":
        return f"must be at most {expected}"
    if keyword == "pattern":
        return _PATTERN_MESSAGES.get(expected, "has an invalid format")
    return "is invalid"


def _dotted(path: list[str]) -> str:
    return ".".join(path) or ROOT


@functools.cache
def _timezones() -> frozenset[str]:
    """IANA names known to zoneinfo (system database or the `tzdata` package), minus non-zone files."""
    return frozenset(zoneinfo.available_timezones() - {"localtime", "posixrules", "Factory"})
