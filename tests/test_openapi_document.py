"""openapi.yaml and booking_event.schema.json as files: plain JSON values, the event schema embedded (not
copied) when the document is loaded, and the literal values that mirror Python constants still equal them.

What the document says about each route is tested against the real app in tests/test_openapi.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from service import openapi
from service.bookings import booking_schema
from service.openapi import document
from service.sites.settings_api import BOUNDS

EVENTS = "/v1/sites/{site_id}/events"
BOOKING = "/v1/sites/{site_id}/bookings/{booking_id}"


@pytest.fixture(scope="module")
def written() -> dict[str, Any]:
    """openapi.yaml as PyYAML reads it, before anything is embedded."""
    return yaml.safe_load(openapi.DOCUMENT_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def schema_file() -> dict[str, Any]:
    return json.loads(booking_schema.SCHEMA_FILE.read_text(encoding="utf-8"))


def _walk(node: Any, path: str = ""):
    """(path, value) for `node` and everything inside it."""
    yield path, node
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield from _walk(value, f"{path}/{key}")


@pytest.mark.parametrize("name", ["openapi.yaml", "booking_event.schema.json"])
def test_files_hold_only_json_values(name, written, schema_file):
    """No YAML-only values (dates, non-string keys such as an unquoted `200:`) sneak into the document."""
    for path, value in _walk(written if name == "openapi.yaml" else schema_file):
        assert value is None or isinstance(value, str | int | float | bool | list | dict), path
        if isinstance(value, dict):
            assert all(isinstance(key, str) for key in value), path


SCHEMA_REF = "../bookings/booking_event.schema.json"


def test_the_yaml_refers_to_the_schema_file(written):
    assert written["components"]["schemas"]["BookingEvent"] == {"$ref": SCHEMA_REF}
    refs = [value for path, value in _walk(written) if path.endswith("/$ref")]
    assert [ref for ref in refs if not ref.startswith("#/")] == [SCHEMA_REF]


def test_the_served_schema_is_the_file_the_validators_use(schema_file):
    embedded = document("https://meet.example.org")["components"]["schemas"]["BookingEvent"]
    assert embedded is booking_schema.EVENT_SCHEMA
    assert embedded == schema_file


def test_document_is_a_fresh_tree_each_time():
    first, second = document("https://a.example.org/"), document("https://b.example.org")
    assert first["servers"] == [{"url": "https://a.example.org"}]
    assert second["servers"] == [{"url": "https://b.example.org"}]
    first["paths"][EVENTS]["post"]["responses"]["401"]["description"] = "changed"
    assert second["paths"][EVENTS]["post"]["responses"]["401"]["description"] != "changed"
    # An answer written once in the YAML (anchor and aliases) is a separate object at each place.
    assert second["paths"][BOOKING]["get"]["responses"]["401"]["description"] != "changed"
    assert first["paths"][BOOKING]["get"]["responses"]["401"]["description"] != "changed"


def test_a_reference_to_an_unknown_file_is_refused():
    with pytest.raises(ValueError, match="other.schema.json"):
        openapi._embed({"schemas": {"Other": {"$ref": "other.schema.json"}}})


# --- literal values that mirror Python constants ------------------------------------------------------


def test_settings_bounds_are_settings_api_bounds():
    schemas = document("https://meet.example.org")["components"]["schemas"]
    for name in ("SiteSettings", "SettingsUpdate"):
        properties = schemas[name]["properties"]
        for setting, (low, high) in BOUNDS.items():
            assert (properties[setting]["minimum"], properties[setting]["maximum"]) == (low, high), name
    assert set(BOUNDS) <= set(schemas["SiteSettings"]["required"])


def test_staff_ids_use_the_id_pattern():
    doc = document("https://meet.example.org")
    staff_ids = [value for path, value in _walk(doc["components"]["schemas"]) if path.endswith("/staff_id")]
    query = doc["paths"]["/v1/sites/{site_id}/availability"]["get"]["parameters"]
    staff_ids += [param["schema"] for param in query if param.get("name") == "staff_id"]
    assert len(staff_ids) == 5
    for schema in staff_ids:
        assert schema["pattern"] == booking_schema.ID_PATTERN
        assert (schema["minLength"], schema["maxLength"]) == (1, 64)


def test_booking_status_names_the_event_types():
    schemas = document("https://meet.example.org")["components"]["schemas"]
    assert schemas["BookingStatus"]["properties"]["last_event"]["enum"] == [*booking_schema.EVENT_TYPES, None]


def test_the_schema_file_uses_the_python_patterns_and_types(schema_file):
    booking = schema_file["properties"]["booking"]["properties"]
    assert schema_file["properties"]["type"]["enum"] == list(booking_schema.EVENT_TYPES)
    assert set(schema_file["if"]["properties"]["type"]["enum"]) < set(booking_schema.EVENT_TYPES)
    expected = {
        "id": booking_schema.ID_PATTERN,
        "start": booking_schema.TIME_PATTERN,
        "end": booking_schema.TIME_PATTERN,
        "timezone": booking_schema.TIMEZONE_PATTERN,
    }
    for name, pattern in expected.items():
        assert booking[name]["pattern"] == pattern, name
    assert booking["staff"]["properties"]["id"]["pattern"] == booking_schema.ID_PATTERN
    for person in ("staff", "customer"):
        assert booking[person]["properties"]["email"]["pattern"] == booking_schema.EMAIL_PATTERN
    patterns = {value for path, value in _walk(schema_file) if path.endswith("/pattern")}
    assert patterns == set(expected.values()) | {booking_schema.EMAIL_PATTERN}
