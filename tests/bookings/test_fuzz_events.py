"""Fuzzing the site-facing endpoints through the app and the real Redis (hypothesis).

Whatever arrives, the answer is never a 5xx, its status is one the OpenAPI document lists for the route,
its body is JSON matching the schema documented for that status (tests.test_openapi.Spec), and, where
the outcome is predictable, it is the right one:

- `test_any_request_to_events`: arbitrary bodies (bytes, text, JSON, deep nesting, around 64 KiB),
  content types, signature headers (missing, garbage, wrong key, stale, several entries) and site ids.
- `test_signed_plausible_events`: mutations of tests.signing.EXAMPLE_BOOKING, correctly signed, so they
  reach the JSON and schema checks and the Redis script; 422 exactly when `validate_event` refuses (same
  field), else accepted or ignored exactly as the stored revision says, and a retry answers 200 with
  the same body.
- `test_any_booking_status_request`: arbitrary `site_id`/`booking_id` path parameters and queries.

About 300 examples each; the Redis is the session's real server, emptied when the module starts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import string
import time
import uuid
from datetime import datetime, timedelta
from urllib.parse import quote

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from werkzeug.http import parse_options_header

from service import create_app, vault_keys
from service.bookings import booking_schema, events
from service.sites import registry, webhooks
from service.storage import keys, redis_client
from tests import signing
from tests.test_openapi import BOOKING, EVENTS, SPEC

FUZZ = settings(
    max_examples=300,
    deadline=None,  # requests hit a real Redis; timings vary on a loaded machine
    database=None,
    suppress_health_check=[HealthCheck.too_slow],  # the 64 KiB bodies are slow to generate on purpose
)
MAX_BODY = 64 * 1024
WRONG_SECRET = webhooks.generate_secret()
SITE_CHARS = string.ascii_letters + string.digits


class Target:
    def __init__(self, app, site):
        self.app = app
        self.client = app.test_client()
        self.site = site
        self.site_id = site["site_id"]
        self.redis = redis_client.get(app)


@pytest.fixture(scope="module")
def target(redis_server, tmp_path_factory):
    redis_server.client().flushall()
    app = create_app(
        {
            "TESTING": True,
            "REDIS_URL": redis_server.url,
            "MEETBRIDGE_DATA_DIR": str(tmp_path_factory.mktemp("fuzz")),
        }
    )
    with app.app_context():
        site = registry.create(redis_client.get(), vault_keys.get(), "Shop", "https://shop.example.com")
    return Target(app, site)


def _checked(answer, path: str, method: str):
    """The decoded body, after asserting the answer is documented, JSON and schema-conformant."""
    assert answer.status_code < 500, answer.data[:300]
    assert answer.status_code in SPEC.statuses(path, method), (answer.status_code, answer.data[:300])
    return SPEC.check(path, method, answer.status_code, answer.content_type, answer.data, answer.headers)


def _note(answer, body) -> None:
    """Label the example for `--hypothesis-show-statistics`."""
    outcome = body.get("error") or body.get("status") or body.get("state")
    hypothesis.event(f"{answer.status_code} {outcome} {body.get('field', '')}".strip())


# --- strategies -------------------------------------------------------------------------------------------

header_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=80
)
json_leaves = (
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20) | st.just(2**53 + 1)
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def nested(draw) -> bytes:
    depth = draw(st.integers(1, 30_000))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'{"booking":', b"}")]))
    inner = b"1" if opener != b"[" else b""
    return opener * depth + inner + closer * draw(st.sampled_from([depth, 0, depth // 2]))


arbitrary_bodies = st.one_of(
    st.binary(max_size=512),
    st.text(max_size=200).map(str.encode),
    json_values.map(lambda value: json.dumps(value).encode()),
    nested(),
    st.integers(MAX_BODY - 64, MAX_BODY + 64).map(lambda size: b'{"type": "' + b"x" * (size - 12) + b'"}'),
    st.sampled_from([b"", b"null", b"{}", b"[]", b'"x"', b"NaN", b"\xef\xbb\xbf{}", b'{"type": 1e999}']),
)
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/json;",
        "application/jsonx",
        "text/json",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=xyz",
        "",
    ]
) | header_text.filter(lambda value: value.strip() == value)
site_ids = st.one_of(
    st.just("REAL"),
    st.just("REAL"),
    st.just("REAL"),
    st.text(SITE_CHARS, min_size=1, max_size=20).map(lambda rest: "site_" + rest),
    st.text(max_size=30),
)
timestamps = st.one_of(
    st.just("now"),
    st.integers(-400, 400).map(lambda skew: str(int(time.time()) + skew)),
    header_text,
    st.sampled_from(["", "0", "-1", "¹²³", "1e9", " 1", "99999999999999999999"]),
)
signature_modes = st.sampled_from(["signed", "signed", "rotation", "wrong_key", "garbage", "missing"])

ids = st.one_of(
    st.just("123"),
    st.from_regex(r"[A-Za-z0-9._:-]{1,70}", fullmatch=True),
    st.text(max_size=12),
)
offsets = st.sampled_from(["Z", "+00:00", "+01:00", "-05:30", "+14:00", "-12:00", "z", "+24:00", "+0100", ""])
time_strings = st.one_of(
    st.from_regex(
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}:[0-9]{2}"
        r"(\.[0-9]{1,10})?(Z|z|[+-][0-9]{2}:[0-9]{2})?",
        fullmatch=True,
    ),
    st.text(max_size=30),
)
zones = st.sampled_from(
    ["Europe/Berlin", "UTC", "America/New_York", "Mars/Olympus", "", "localtime", "Factory"]
)
emails = st.one_of(st.sampled_from(["staff@example.com", "a@b.co", "a@b", "a b@c.de", ""]), st.emails())
names = st.text(max_size=210)


def _stamp(moment: datetime, offset: str) -> str:
    text = moment.replace(tzinfo=None).isoformat()
    return text + offset


@st.composite
def schedule(draw) -> tuple[str, str]:
    """A start and an end: mostly a plausible slot, sometimes inverted, too long or odd offsets."""
    start = draw(st.datetimes(datetime(1995, 1, 1), datetime(2205, 1, 1)))
    minutes = draw(st.one_of(st.integers(1, 24 * 60), st.integers(-120, 3 * 24 * 60)))
    offset = draw(offsets)
    return _stamp(start, offset), _stamp(start + timedelta(minutes=minutes), draw(offsets | st.just(offset)))


def _plausible(draw, name: str, slot: tuple[str, str]):
    match name:
        case "id":
            return draw(ids)
        case "revision":
            return draw(
                st.one_of(st.integers(1, 50), st.integers(-2, 2**53 + 2), st.sampled_from([1.0, 2.5]))
            )
        case "title":
            return draw(st.text(min_size=0, max_size=210))
        case "start":
            return draw(st.just(slot[0]) | time_strings)
        case "end":
            return draw(st.just(slot[1]) | time_strings)
        case "timezone":
            return draw(zones | st.text(max_size=20))
        case "staff":
            return draw(st.fixed_dictionaries({"id": ids}, optional={"email": emails, "name": names}))
        case "customer":
            return draw(st.fixed_dictionaries({}, optional={"email": emails, "name": names}))
        case "video":
            return draw(st.sampled_from(["zoom", "none", None, "Zoom"]))
        case "location":
            return draw(st.none() | st.text(max_size=510))
    raise AssertionError(name)


valid_ids = st.sampled_from(["123", "a", "b-1", "x:y.z_9"]) | st.from_regex(
    r"[A-Za-z0-9._:-]{1,64}", fullmatch=True
)
valid_zones = st.sampled_from(["Europe/Berlin", "UTC", "America/New_York", "Asia/Kolkata", "Pacific/Chatham"])


@st.composite
def valid_slot(draw) -> tuple[str, str]:
    start = draw(st.datetimes(datetime(2000, 1, 1), datetime(2199, 12, 30)))
    offset = draw(st.sampled_from(["Z", "+00:00", "+01:00", "-05:30", "+14:00", "-12:00"]))
    return _stamp(start, offset), _stamp(start + timedelta(minutes=draw(st.integers(1, 24 * 60))), offset)


@st.composite
def plausible_events(draw):
    """A valid event (varied ids, revisions, times, zones), then up to three of its booking fields
    replaced by a plausible value, dropped or replaced by junk, and sometimes the envelope broken."""
    start, end = draw(valid_slot())
    booking = {
        **signing.EXAMPLE_BOOKING,
        "id": draw(valid_ids),
        "revision": draw(st.integers(1, 20)),
        "start": start,
        "end": end,
        "timezone": draw(valid_zones),
    }
    slot = draw(schedule())
    for name in draw(st.lists(st.sampled_from(list(signing.EXAMPLE_BOOKING)), max_size=3, unique=True)):
        choice = draw(st.sampled_from(["plausible", "plausible", "drop", "junk"]))
        if choice == "plausible":
            booking[name] = _plausible(draw, name, slot)
        elif choice == "drop":
            del booking[name]
        else:
            booking[name] = draw(json_values)
    if draw(st.integers(0, 19)) == 0:
        booking[draw(st.text(max_size=100))] = draw(json_values)
    event = {"type": draw(st.sampled_from(booking_schema.EVENT_TYPES)), "booking": booking}
    mutation = draw(st.integers(0, 39))
    if mutation == 1:
        del event["type"]
    elif mutation == 2:
        event["type"] = draw(st.sampled_from(["booking.deleted", None, "Booking.Created"]) | json_values)
    elif mutation == 3:
        event["booking"] = draw(json_values)
    elif mutation == 4:
        event[draw(st.text(max_size=10))] = draw(json_values)
    return event


# --- helpers ----------------------------------------------------------------------------------------------


def _signature_headers(mode: str, secret: str, payload: bytes, stamp: str, msg_id: str) -> dict[str, str]:
    if mode == "missing":
        return {}
    timestamp = str(int(time.time())) if stamp == "now" else stamp
    if mode == "garbage":
        return {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": "v1,garbage"}
    key = webhooks.secret_bytes(WRONG_SECRET if mode == "wrong_key" else secret)
    digest = _sign(key, msg_id, timestamp, payload)
    if mode == "rotation":  # an unrelated entry first, as while a secret is rotated
        digest = f"v1,{_sign(webhooks.secret_bytes(WRONG_SECRET), msg_id, timestamp, payload)[3:]} {digest}"
    return {"webhook-id": msg_id, "webhook-timestamp": timestamp, "webhook-signature": digest}


def _sign(key: bytes, msg_id: str, timestamp: str, payload: bytes) -> str:
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode("latin-1") + payload, hashlib.sha256)
    return "v1," + base64.b64encode(mac.digest()).decode()


def _fresh(stamp: str) -> bool | None:
    """Whether the server will find the timestamp fresh; None within 10 s of the 300 s edge."""
    if stamp == "now":
        return True
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        return False
    skew = abs(time.time() - int(stamp))
    return None if 290 <= skew <= 310 else skew < 300


def _path_site(target: Target, site_id: str) -> str:
    return target.site_id if site_id == "REAL" else site_id


# --- the properties ---------------------------------------------------------------------------------------


@FUZZ
@given(
    body=arbitrary_bodies,
    content_type=content_types | st.none(),
    site_id=site_ids,
    mode=signature_modes,
    stamp=timestamps,
    msg_id=st.one_of(st.uuids().map(lambda value: f"msg_{value.hex}"), header_text),
)
def test_any_request_to_events(target, body, content_type, site_id, mode, stamp, msg_id):
    headers = _signature_headers(mode, target.site["secret"], body, stamp, msg_id)
    if content_type is not None:
        headers["Content-Type"] = content_type
    path = f"/v1/sites/{quote(_path_site(target, site_id), safe='')}/events"
    # The body as a stream: given as `data`, an empty body with a multipart type would be replaced by
    # the test client with a form of its own (and the signature would no longer match).
    answer = target.client.post(
        path, input_stream=io.BytesIO(body), content_length=len(body), headers=headers
    )
    answered = _checked(answer, EVENTS, "post")
    _note(answer, answered)

    fresh = _fresh(stamp)
    if site_id != "REAL":
        assert answer.status_code in (404, 413)
    elif len(body) > MAX_BODY:
        assert answer.status_code == 413
    elif fresh is None:
        return  # too close to the 5-minute edge to say
    elif mode not in ("signed", "rotation") or not fresh or not webhooks._valid_id(msg_id):
        assert answer.status_code == 401, answered
    elif parse_options_header(content_type or "")[0].lower() != "application/json":
        assert answer.status_code == 415, answered
    else:
        try:
            json.loads(body)
        except ValueError:
            assert answer.status_code == 400, answered
        except RecursionError:
            assert answer.status_code == 422, answered
        else:
            assert answer.status_code in (200, 202, 422), answered


@FUZZ
@given(
    event=plausible_events(),
    content_type=st.sampled_from(["application/json", "application/json; charset=utf-8"]),
)
def test_signed_plausible_events(target, event, content_type):
    body = json.dumps(event).encode()
    headers = {**signing.headers(target.site["secret"], body), "Content-Type": content_type}
    booking = event.get("booking")
    stored_before = None
    if isinstance(booking, dict) and isinstance(booking.get("id"), str):
        stored_before = target.redis.hget(keys.booking(target.site_id, booking["id"]), "rev")

    answer = target.client.post(f"/v1/sites/{target.site_id}/events", data=body, headers=headers)
    answered = _checked(answer, EVENTS, "post")
    _note(answer, answered)

    try:
        expected = booking_schema.validate_event(event)
    except booking_schema.SchemaError as exc:
        assert answer.status_code == 422, answered
        assert (answered["field"], answered["message"]) == (exc.field, exc.message)
        return
    assert _DOCUMENTED_EVENT.is_valid(event), "the app accepted an event its documented schema refuses"
    assert answer.status_code == 202, answered
    newer = expected.booking.revision > int(stored_before or 0)
    assert answered["status"] == ("accepted" if newer else "ignored")
    assert (answered["booking_id"], answered["revision"]) == (expected.booking.id, expected.booking.revision)
    record = target.redis.hgetall(keys.booking(target.site_id, expected.booking.id))
    assert int(record[b"rev"]) == max(expected.booking.revision, int(stored_before or 0))

    retry = target.client.post(f"/v1/sites/{target.site_id}/events", data=body, headers=headers)
    _checked(retry, EVENTS, "post")
    assert retry.status_code == 200 and retry.data == answer.data


_DOCUMENTED_EVENT = Draft202012Validator(SPEC.doc["components"]["schemas"]["BookingEvent"])


@FUZZ
@given(
    site_id=site_ids,
    booking_id=st.one_of(st.just("123"), ids, st.text(max_size=40)),
    query=st.none() | st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    mode=signature_modes,
    stamp=timestamps,
)
def test_any_booking_status_request(target, site_id, booking_id, query, mode, stamp):
    if not target.redis.exists(keys.booking(target.site_id, "123")):
        post = signing.body_of(signing.event())
        answer = target.client.post(
            f"/v1/sites/{target.site_id}/events",
            data=post,
            headers=signing.headers(target.site["secret"], post),
        )
        assert answer.status_code in (200, 202)
    raw_site = _path_site(target, site_id)
    # Sent and signed in the canonical form: every segment percent-encoded (service.sites.site_auth).
    path = f"/v1/sites/{quote(raw_site, safe='')}/bookings/{quote(booking_id, safe='')}"
    query_string = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in (query or {}).items())
    signed = f"GET {path}" + (f"?{query_string}" if query_string else "")
    headers = _signature_headers(
        mode, target.site["secret"], signed.encode(), stamp, f"msg_{uuid.uuid4().hex}"
    )
    answer = target.client.get(path + (f"?{query_string}" if query_string else ""), headers=headers)
    answered = _checked(answer, BOOKING, "get")
    _note(answer, answered)

    routable = "/" not in raw_site and "/" not in booking_id and raw_site and booking_id
    if site_id != "REAL":
        assert answer.status_code == 404
    elif not routable:
        assert answer.status_code == 404 and answered["error"] == "not_found"
    elif _fresh(stamp) is None:
        return  # too close to the 5-minute edge to say
    elif mode in ("missing", "garbage", "wrong_key") or not _fresh(stamp):
        assert answer.status_code == 401, answered
    elif target.redis.exists(keys.booking(target.site_id, booking_id)):
        assert answer.status_code == 200, answered
        assert answered["booking_id"] == booking_id and answered["state"] == "pending"
    else:
        assert answer.status_code == 404 and answered["error"] == "unknown_booking", answered


def test_a_5xx_would_be_caught(target, monkeypatch):
    """The properties fail on a server error: make the schema check blow up and see `_checked` refuse."""

    def explode(data):
        raise RuntimeError("boom")

    monkeypatch.setattr(booking_schema, "validate_event", explode)
    body = signing.body_of(signing.event())
    answer = target.client.post(
        f"/v1/sites/{target.site_id}/events", data=body, headers=signing.headers(target.site["secret"], body)
    )
    with pytest.raises(AssertionError):
        _checked(answer, EVENTS, "post")


# --- what the fuzzing found, pinned ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 17 + b"]" * 17,
        b"[" * 900 + b"]" * 900,  # parses, but jsonschema's messages repr() it recursively
        b"[" * 30_000 + b"]" * 30_000,  # deeper than the JSON decoder's recursion allows
        b'{"type": "booking.created", "booking": ' + b'{"a":' * 5000 + b"1" + b"}" * 5001,
        b"[" * 30_000,  # deep and unterminated
    ],
    ids=["17", "900", "30000", "object-5000", "unterminated"],
)
def test_deeply_nested_bodies_are_422_not_500(target, body):
    answer = target.client.post(
        f"/v1/sites/{target.site_id}/events", data=body, headers=signing.headers(target.site["secret"], body)
    )
    answered = _checked(answer, EVENTS, "post")
    assert answer.status_code == 422 and answered["field"] == "(root)", answered


def test_sixteen_levels_still_get_field_level_errors(target):
    staff: object = 1
    for _level in range(events.MAX_DEPTH - 2):  # with the root and `booking`: exactly MAX_DEPTH levels
        staff = [staff]
    body = json.dumps(signing.event(staff=staff)).encode()
    answer = target.client.post(
        f"/v1/sites/{target.site_id}/events", data=body, headers=signing.headers(target.site["secret"], body)
    )
    assert _checked(answer, EVENTS, "post")["field"] == "booking.staff"


@pytest.mark.parametrize("path", ["/v1/sites/{site}//events", "/v1/sites//{site}/events", "//healthz"])
def test_doubled_slashes_are_a_json_404_not_a_redirect(target, path):
    body = signing.body_of(signing.event())
    path = path.format(site=target.site_id)
    answer = target.client.post(path, data=body, headers=signing.headers(target.site["secret"], body))
    assert answer.status_code == 404 and answer.get_json()["error"] == "not_found"
