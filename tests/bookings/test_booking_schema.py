"""Booking event validation: the contract example, each rule naming its field, and a never-crash property."""

from __future__ import annotations

import copy
import json
import time
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from service.bookings.booking_schema import (
    EVENT_SCHEMA,
    Event,
    SchemaError,
    parse_time,
    validate_event,
)

EXAMPLE: dict[str, Any] = json.loads(
    """{"type": "booking.created",
 "booking": {"id": "123", "revision": 1, "title": "Intro call",
             "start": "2030-12-01T10:00:00+01:00", "end": "2030-12-01T10:30:00+01:00",
             "timezone": "Europe/Berlin",
             "staff": {"id": "7", "email": "staff@example.com", "name": "Sam Staff"},
             "customer": {"email": "cus@example.com", "name": "Cat Customer"},
             "video": "zoom", "location": null}}"""
)


def event(**changes: Any) -> dict[str, Any]:
    """The example with dotted-path changes; the value `...` deletes the field."""
    data = copy.deepcopy(EXAMPLE)
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        target = data
        for part in parents:
            target = target[part]
        if value is ...:
            del target[last]
        else:
            target[last] = value
    return data


def error_of(data: object) -> tuple[str, str]:
    with pytest.raises(SchemaError) as info:
        validate_event(data)
    return info.value.field, info.value.message


def test_contract_example_is_valid():
    result = validate_event(EXAMPLE)
    assert isinstance(result, Event)
    booking = result.booking
    assert result.type == "booking.created"
    assert (booking.id, booking.revision, booking.title) == ("123", 1, "Intro call")
    assert booking.start == datetime(2030, 12, 1, 9, 0, tzinfo=UTC)
    assert booking.end - booking.start == timedelta(minutes=30)
    assert booking.start.utcoffset() == timedelta(hours=1)
    assert booking.timezone == "Europe/Berlin" and booking.video == "zoom" and booking.location is None
    assert (booking.staff.id, booking.staff.email, booking.staff.name) == (
        "7",
        "staff@example.com",
        "Sam Staff",
    )
    assert booking.customer is not None and booking.customer.email == "cus@example.com"


def test_repr_leaves_personal_data_out():
    text = repr(validate_event(event(booking__location="Room 1")))
    for personal in (
        "Intro call",
        "staff@example.com",
        "Sam Staff",
        "cus@example.com",
        "Cat Customer",
        "Room 1",
    ):
        assert personal not in text
    assert "'123'" in text


def test_schema_is_valid_draft_2020_12_and_json_serializable():
    Draft202012Validator.check_schema(EVENT_SCHEMA)
    assert json.loads(json.dumps(EVENT_SCHEMA)) == EVENT_SCHEMA
    assert EVENT_SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


@pytest.mark.parametrize(
    "changes",
    [
        {"type": "booking.updated"},
        {"booking__revision": 2**53},
        {"booking__revision": 2.0},
        {"booking__id": "wc_order:123.4-a_b"},
        {"booking__id": "x" * 64},
        {"booking__title": "t" * 200},
        {"booking__start": "2030-12-01T09:00:00Z", "booking__end": "2030-12-01T09:30:00.123456789Z"},
        {"booking__start": "2030-12-01T10:00:00-23:59", "booking__end": "2030-12-02T10:00:00-23:59"},
        {"booking__end": "2030-12-01T09:30:00Z"},  # same instant zone as start, different offset
        {"booking__timezone": "UTC"},
        {"booking__timezone": "America/Argentina/Buenos_Aires"},
        {"booking__timezone": "Etc/GMT+5"},
        {"booking__video": "none"},
        {"booking__location": "Room 4, 2nd floor"},
        {"booking__location": ...},
        {"booking__staff__name": ...},
        {"booking__staff__name": ""},
        {"booking__customer__name": ...},
        {"booking__customer__email": "first.last+tag@mail.example.co.uk"},
        {"booking__staff__email": "e" * 240 + "@example.com"},
    ],
)
def test_valid_variants(changes):
    validate_event(event(**changes))


def test_revision_is_an_int_even_when_sent_as_float():
    assert validate_event(event(booking__revision=3.0)).booking.revision == 3
    assert isinstance(validate_event(event(booking__revision=3.0)).booking.revision, int)


def test_minimal_cancellation_is_valid():
    data = {"type": "booking.cancelled", "booking": {"id": "123", "revision": 5, "staff": {"id": "7"}}}
    result = validate_event(data)
    assert result.booking.start is None and result.booking.customer is None and result.booking.video is None
    assert result.booking.staff.email is None


def test_cancellation_still_checks_what_it_carries():
    base = {"type": "booking.cancelled", "booking": {"id": "123", "revision": 5, "staff": {"id": "7"}}}
    for name, value, field in [
        ("start", "yesterday", "booking.start"),
        ("video", None, "booking.video"),
        ("notes", "x", "booking.notes"),
        ("customer", {"email": "nope"}, "booking.customer.email"),
    ]:
        data = copy.deepcopy(base)
        data["booking"][name] = value
        assert error_of(data)[0] == field
    data = copy.deepcopy(base)
    data["booking"].update(start="2030-12-01T10:00:00Z", end="2030-12-01T09:00:00Z")
    assert error_of(data) == ("booking.end", "must be after booking.start")
    for missing in ("id", "revision", "staff"):
        data = copy.deepcopy(base)
        del data["booking"][missing]
        assert error_of(data) == (f"booking.{missing}", "is required")
    data = copy.deepcopy(base)
    data["booking"]["staff"] = {}
    assert error_of(data) == ("booking.staff.id", "is required")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ([], "(root)", "must be a JSON object"),
        ("booking", "(root)", "must be a JSON object"),
        (None, "(root)", "must be a JSON object"),
        ({}, "type", "is required"),
        ({"type": "booking.created"}, "booking", "is required"),
        (event(extra=1), "extra", "is not allowed"),
        (
            event(type="booking.deleted"),
            "type",
            'must be one of "booking.created", "booking.updated", "booking.cancelled"',
        ),
        (
            event(type=None),
            "type",
            'must be one of "booking.created", "booking.updated", "booking.cancelled"',
        ),
        (event(booking=[]), "booking", "must be a JSON object"),
        (event(booking__notes="hi"), "booking.notes", "is not allowed"),
        (event(booking__id=...), "booking.id", "is required"),
        (event(booking__id=""), "booking.id", "must not be empty"),
        (event(booking__id="x" * 65), "booking.id", "must be at most 64 characters"),
        (event(booking__id="12 3"), "booking.id", "may only contain letters, digits and . _ : -"),
        (event(booking__id="12/3"), "booking.id", "may only contain letters, digits and . _ : -"),
        (event(booking__id=123), "booking.id", "must be a string"),
        (event(booking__id="123\n"), "booking.id", "may only contain letters, digits and . _ : -"),
        (event(booking__staff__id="7\n"), "booking.staff.id", "may only contain letters, digits and . _ : -"),
        (event(booking__revision=...), "booking.revision", "is required"),
        (event(booking__revision=0), "booking.revision", "must be at least 1"),
        (event(booking__revision=2**53 + 1), "booking.revision", "must be at most 9007199254740992"),
        (event(booking__revision=1.5), "booking.revision", "must be an integer"),
        (event(booking__revision="1"), "booking.revision", "must be an integer"),
        (event(booking__revision=True), "booking.revision", "must be an integer"),
        (event(booking__title=...), "booking.title", "is required"),
        (event(booking__title=""), "booking.title", "must not be empty"),
        (event(booking__title="t" * 201), "booking.title", "must be at most 200 characters"),
        (event(booking__start=...), "booking.start", "is required"),
        (event(booking__end=...), "booking.end", "is required"),
        (event(booking__timezone=...), "booking.timezone", "is required"),
        (event(booking__video=...), "booking.video", "is required"),
        (event(booking__video=None), "booking.video", 'must be one of "zoom", "none"'),
        (event(booking__video="google_meet"), "booking.video", 'must be one of "zoom", "none"'),
        (event(booking__location=5), "booking.location", "must be a string or null"),
        (event(booking__location="l" * 501), "booking.location", "must be at most 500 characters"),
        (event(booking__staff=...), "booking.staff", "is required"),
        (event(booking__staff="7"), "booking.staff", "must be a JSON object"),
        (event(booking__staff__id=...), "booking.staff.id", "is required"),
        (event(booking__staff__id=7), "booking.staff.id", "must be a string"),
        (event(booking__staff__email=...), "booking.staff.email", "is required"),
        (event(booking__staff__role="host"), "booking.staff.role", "is not allowed"),
        (event(booking__staff__name="n" * 201), "booking.staff.name", "must be at most 200 characters"),
        (event(booking__customer=...), "booking.customer", "is required"),
        (event(booking__customer=None), "booking.customer", "must be a JSON object"),
        (event(booking__customer__email=...), "booking.customer.email", "is required"),
        (event(booking__customer__phone="1"), "booking.customer.phone", "is not allowed"),
        (event(booking__customer__name=None), "booking.customer.name", "must be a string"),
    ],
)
def test_each_rule_names_its_field(data, field, message):
    assert error_of(data) == (field, message)


@pytest.mark.parametrize(
    "email",
    [
        "",
        "plain",
        "@example.com",
        "a@",
        "a@b",
        "a@b.",
        "a@.com",
        "a b@example.com",
        "a@b@example.com",
        "a@exa mple.com",
        "a@example..com",
        "a@example.com\n",
        "a@example.com ",
        "x" * 243 + "@example.com",
        5,
    ],
)
def test_bad_emails(email):
    field, _ = error_of(event(booking__customer__email=email))
    assert field == "booking.customer.email"


RFC3339_MESSAGE = "must be an RFC 3339 date-time with a UTC offset, e.g. 2026-12-01T10:00:00+01:00"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2030-12-01T10:00:00", RFC3339_MESSAGE),  # no offset
        ("2030-12-01 10:00:00+01:00", RFC3339_MESSAGE),
        ("2030-12-01t10:00:00+01:00", RFC3339_MESSAGE),
        ("2030-12-01T10:00:00z", RFC3339_MESSAGE),
        ("2030-12-01T10:00+01:00", RFC3339_MESSAGE),
        ("2030-12-01T10:00:00+0100", RFC3339_MESSAGE),
        ("2030-12-01T10:00:00+01", RFC3339_MESSAGE),
        ("2030-12-01T10:00:00.+01:00", RFC3339_MESSAGE),
        ("2030-12-01T10:00:00.1234567890Z", RFC3339_MESSAGE),
        ("20261201T100000+01:00", RFC3339_MESSAGE),
        ("2030-12-01", RFC3339_MESSAGE),
        ("1764579600", RFC3339_MESSAGE),
        ("2030-12-01T10:00:00+01:00\n", RFC3339_MESSAGE),
        ("２０２６-12-01T10:00:00Z", RFC3339_MESSAGE),
        (1764579600, "must be a string"),
        (None, "must be a string"),
        ("2026-13-01T10:00:00+01:00", "must be a real calendar date and time"),
        ("2026-02-29T10:00:00+01:00", "must be a real calendar date and time"),
        ("2030-12-01T24:00:00+01:00", "must be a real calendar date and time"),
        ("2030-12-31T23:59:60Z", "must be a real calendar date and time"),
        ("2030-12-01T10:00:00+24:00", "must be a real calendar date and time"),
        ("1999-12-31T23:59:59Z", "must be between the years 2000 and 2199"),
        ("2200-01-01T00:00:00Z", "must be between the years 2000 and 2199"),
    ],
)
def test_start_must_be_rfc3339_with_offset(value, message):
    assert error_of(event(booking__start=value)) == ("booking.start", message)


def test_end_after_start_and_at_most_a_day():
    assert error_of(event(booking__end="2030-12-01T10:00:00+01:00")) == (
        "booking.end",
        "must be after booking.start",
    )
    # 09:00Z is the same instant as the start (10:00+01:00): not strictly after.
    assert error_of(event(booking__end="2030-12-01T09:00:00Z"))[1] == "must be after booking.start"
    assert error_of(event(booking__end="2030-12-01T09:59:59+01:00"))[1] == "must be after booking.start"
    validate_event(event(booking__end="2030-12-02T10:00:00+01:00"))  # exactly 24 h
    assert error_of(event(booking__end="2030-12-02T10:00:01+01:00")) == (
        "booking.end",
        "must be at most 24 hours after booking.start",
    )
    assert error_of(event(booking__end="2030-12-01T10:30:00")) == ("booking.end", RFC3339_MESSAGE)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Mars/Olympus_Mons", "must be an IANA time zone name, e.g. Europe/Berlin"),
        ("europe/berlin", "must be an IANA time zone name, e.g. Europe/Berlin"),
        ("localtime", "must be an IANA time zone name, e.g. Europe/Berlin"),
        ("../../etc/passwd", "must be an IANA time zone name, e.g. Europe/Berlin"),
        ("Europe/Berlin ", "must be an IANA time zone name, e.g. Europe/Berlin"),
        ("Europe/Berlin\n", "must be an IANA time zone name, e.g. Europe/Berlin"),
        ("+01:00", "must be an IANA time zone name, e.g. Europe/Berlin"),
        ("", "must not be empty"),
        ("A" * 65, "must be at most 64 characters"),
        (1, "must be a string"),
    ],
)
def test_timezone_must_be_iana(value, message):
    assert error_of(event(booking__timezone=value)) == ("booking.timezone", message)


def test_first_offending_field_is_deterministic():
    # Several faults: a shallower field wins over a deeper one, and the choice is stable.
    data = event(type="nope", booking__start="bad", booking__staff__email="bad")
    assert error_of(data) == error_of(copy.deepcopy(data)) == error_of(data)
    assert error_of(data)[0] == "type"
    data = event(booking__title=..., booking__start="bad")
    assert error_of(data) == ("booking.title", "is required")
    # Schema faults are reported before date and time zone checks.
    data = event(booking__end="2030-12-01T09:00:00+01:00", booking__timezone="Mars/Base", booking__video="x")
    assert error_of(data)[0] == "booking.video"


def test_hostile_strings_are_rejected_quickly():
    started = time.perf_counter()
    for email in ("a@" + "b." * 30_000 + "@", "a" * 60_000 + "@" + "b." * 2_000, "@" * 60_000):
        assert error_of(event(booking__customer__email=email))[0] == "booking.customer.email"
    assert error_of(event(booking__start="2" * 60_000))[0] == "booking.start"
    assert time.perf_counter() - started < 1.0


def test_messages_do_not_echo_the_submitted_value():
    secretish = "leaky-value-123"
    for changes in (
        {"booking__customer__email": secretish},
        {"booking__title": secretish * 20},
        {"booking__staff__" + secretish: 1},
        {"booking__timezone": secretish},
        {"type": secretish},
    ):
        field, message = error_of(event(**changes))
        assert secretish not in message


def test_long_unknown_field_names_are_shortened():
    data = event()
    data["booking"]["n" * 10_000] = 1
    field, message = error_of(data)
    assert field == "booking." + "n" * 64 + "..." and message == "is not allowed"


def test_schema_error_is_a_value_error_with_readable_str():
    with pytest.raises(ValueError, match=r"^booking\.id: is required$"):
        validate_event(event(booking__id=...))


def test_parse_time():
    assert parse_time("2030-12-01T10:00:00+01:00") == datetime(
        2030, 12, 1, 10, tzinfo=timezone(timedelta(hours=1))
    )
    assert parse_time("2030-12-01T09:00:00Z").tzinfo is not None
    assert parse_time("2030-12-01T09:00:00.5Z").microsecond == 500_000
    for bad in ("2030-12-01T10:00:00", "2026-02-30T10:00:00Z", "", "now", 5, None):
        with pytest.raises(ValueError):
            parse_time(bad)  # type: ignore[arg-type]


# --- never anything but an Event or a SchemaError ----------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(["booking.created", "booking.cancelled", "zoom", "2030-12-01T10:00:00Z", "UTC"]),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)

FIELD_PATHS = [
    ("type",),
    ("booking",),
    *[("booking", name) for name in EXAMPLE["booking"]],
    *[("booking", "staff", name) for name in EXAMPLE["booking"]["staff"]],
    *[("booking", "customer", name) for name in EXAMPLE["booking"]["customer"]],
]


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """The example with a few fields replaced by arbitrary JSON, deleted, or joined by unknown ones."""
    data = copy.deepcopy(EXAMPLE)
    data["type"] = draw(st.sampled_from(["booking.created", "booking.updated", "booking.cancelled"]))
    for path in draw(st.lists(st.sampled_from(FIELD_PATHS), max_size=3)):
        target: Any = data
        for part in path[:-1]:
            if not isinstance(target, dict) or part not in target:
                break
            target = target[part]
        else:
            if isinstance(target, dict):
                action = draw(st.sampled_from(["replace", "delete", "add"]))
                if action == "replace":
                    target[path[-1]] = draw(json_values)
                elif action == "delete":
                    target.pop(path[-1], None)
                else:
                    target[draw(st.text(min_size=1, max_size=8))] = draw(json_values)
    return data


def _check(data: object) -> None:
    try:
        result = validate_event(data)
    except SchemaError as exc:
        assert isinstance(exc.field, str) and exc.field
        assert isinstance(exc.message, str) and exc.message
    else:
        assert isinstance(result, Event)


@settings(max_examples=300, database=None, deadline=None)
@given(json_values)
def test_arbitrary_json_returns_or_raises_schema_error(data):
    _check(data)


@settings(max_examples=500, database=None, deadline=None)
@given(mutated_events())
def test_mutated_examples_return_or_raise_schema_error(data):
    _check(data)


def _agree(data: object) -> None:
    from service.bookings.booking_schema import _VALIDATOR, _fast_valid

    assert _fast_valid(data) == _VALIDATOR.is_valid(data)


@settings(max_examples=500, database=None, deadline=None)
@given(mutated_events())
def test_fast_path_agrees_with_jsonschema_on_mutated_events(data):
    _agree(data)


@settings(max_examples=300, database=None, deadline=None)
@given(json_values)
def test_fast_path_agrees_with_jsonschema_on_arbitrary_json(data):
    _agree(data)


@pytest.mark.parametrize(
    "change",
    [{"revision": 1.0}, {"revision": True}, {"revision": 2**53 + 1}, {"id": "123\n"}, {"title": ""}],
)
def test_fast_path_agrees_on_edge_values(change):
    _agree({"type": "booking.created", "booking": {**EXAMPLE["booking"], **change}})
