"""`/openapi.json` kept true: a valid OpenAPI 3.1 document, exactly the app's routes, and every
documented answer produced for real (test client + real Redis, then a few through gunicorn over TLS)
and validated against the schema documented for its status code and content type.

`Spec` (the validator) is also used by tests/bookings/test_fuzz_events.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
import requests
from flask import Flask
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import OpenAPIV31SpecValidator, validate
from referencing import Registry
from referencing.jsonschema import DRAFT202012

from service import create_app, vault_keys
from service.accounts import vault
from service.availability import availability_api
from service.bookings import booking_schema
from service.bookings.records import join_url_aad
from service.exceptions import ProviderUnavailable, RateLimited
from service.linking import connect_links, connect_pages
from service.openapi import document
from service.providers.google_calendar import MissingScope
from service.sites import registry
from service.storage import keys, redis_client
from tests import processes, signing

EVENTS = "/v1/sites/{site_id}/events"
BOOKING = "/v1/sites/{site_id}/bookings/{booking_id}"
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_DOC_URI = "urn:meetbridge:openapi"


class Spec:
    """Checks real answers against an OpenAPI document's response schemas."""

    def __init__(self, doc: dict[str, Any]):
        self.doc = doc
        self.registry = Registry().with_resource(_DOC_URI, DRAFT202012.create_resource(doc))

    def statuses(self, path: str, method: str) -> set[int]:
        return {int(status) for status in self.doc["paths"][path][method]["responses"]}

    def check(
        self, path: str, method: str, status: int, content_type: str | None, body: bytes, headers
    ) -> Any:
        """Assert the answer is documented and matches its schema; return the decoded body."""
        responses = self.doc["paths"][path][method]["responses"]
        assert str(status) in responses, f"{method.upper()} {path} answered {status}: not documented"
        response = responses[str(status)]
        mimetype = (content_type or "").split(";")[0].strip().lower()
        assert mimetype in response["content"], (
            f"{status} answered {content_type!r}, documented: " + ", ".join(response["content"])
        )
        for name in response.get("headers", {}):
            assert headers.get(name), f"{status} lacks the documented header {name}"
        instance = json.loads(body) if mimetype == "application/json" else body.decode()
        pointer = "/".join(
            quote(segment.replace("~", "~0").replace("/", "~1"), safe="")
            for segment in ("paths", path, method, "responses", str(status), "content", mimetype, "schema")
        )
        validator = Draft202012Validator(
            {"$ref": f"{_DOC_URI}#/{pointer}"}, registry=self.registry, format_checker=FormatChecker()
        )
        errors = [
            f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(instance)
        ]
        assert not errors, f"{method.upper()} {path} {status} body breaks its documented schema: {errors}"
        return instance


SPEC = Spec(document("https://localhost:8443"))


def app_operations(app: Flask) -> set[tuple[str, str]]:
    """(OpenAPI path, method) for every route of `app`; HEAD and OPTIONS come with GET and any route."""
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:[^<>:]+:)?([^<>]+)>", r"{\1}", rule.rule)
        found |= {(path, method.lower()) for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}}
    return found


def documented_operations(doc: dict[str, Any]) -> set[tuple[str, str]]:
    return {
        (path, method) for path, item in doc["paths"].items() for method in item if method in HTTP_METHODS
    }


# --- (a) a valid OpenAPI 3.1 document -----------------------------------------------------------------


def test_document_is_valid_openapi_3_1():
    doc = document("https://meet.example.org")
    validate(doc, cls=OpenAPIV31SpecValidator)
    assert doc["openapi"].startswith("3.1.")
    assert doc["servers"] == [{"url": "https://meet.example.org"}]


def test_the_validator_rejects_a_broken_document():
    doc = document("https://meet.example.org")
    doc["paths"]["/healthz"]["get"]["responses"]["200"].pop("description")
    with pytest.raises(Exception, match="description"):
        validate(doc, cls=OpenAPIV31SpecValidator)


def test_event_schema_is_embedded_not_copied():
    doc = document("https://meet.example.org")
    assert doc["components"]["schemas"]["BookingEvent"] is booking_schema.EVENT_SCHEMA
    body = doc["paths"][EVENTS]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/BookingEvent"}


def test_signing_is_documented():
    doc = document("https://meet.example.org")
    prose = doc["info"]["description"]
    for needed in ("Standard Webhooks", "5 minutes", "v1,", "rotation", "GET {path}"):
        assert needed in prose
    schemes = doc["components"]["securitySchemes"]
    assert doc["paths"][EVENTS]["post"]["security"] == [{"SiteSignature": []}]
    assert doc["paths"][BOOKING]["get"]["security"] == [{"SiteRequestSignature": []}]
    assert "GET {path}" in schemes["SiteRequestSignature"]["description"]
    headers = {p["$ref"].rsplit("/", 1)[1] for p in doc["paths"][EVENTS]["post"]["parameters"]}
    assert headers == {"WebhookId", "WebhookTimestamp", "WebhookSignature"}


def test_served_document_is_document_for_the_public_url(redis_url, tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "REDIS_URL": redis_url,
            "MEETBRIDGE_DATA_DIR": str(tmp_path),
            "MEETBRIDGE_PUBLIC_URL": "https://meet.example.org",
        }
    )
    answer = app.test_client().get("/openapi.json")
    assert answer.status_code == 200 and answer.mimetype == "application/json"
    served = json.loads(answer.data)
    assert served == document("https://meet.example.org")
    assert list(served["paths"]) == list(document("https://meet.example.org")["paths"])  # not sorted
    assert served["servers"] == [{"url": "https://meet.example.org"}]


# --- (b) every route documented, and nothing else -------------------------------------------------------


def test_every_route_is_documented_and_vice_versa(app):
    assert app_operations(app) == documented_operations(document("https://localhost:8443"))


def test_an_undocumented_route_is_noticed(app):
    app.add_url_rule("/v1/sites/<site_id>/secret-thing", "secret_thing", lambda site_id: "", methods=["PUT"])
    missing = app_operations(app) - documented_operations(document("https://localhost:8443"))
    assert missing == {("/v1/sites/{site_id}/secret-thing", "put")}


# --- (c) real answers through the app, checked against the document --------------------------------------


@dataclass
class Harness:
    """A site on the test app (real Redis), and an app whose Redis is unreachable."""

    app: Flask
    site: dict
    down: Flask
    extra: dict = field(default_factory=dict)

    @property
    def client(self):
        return self.app.test_client()

    def post_event(self, payload, *, client=None, path=None, secret=None, content_type=None, **options):
        body = signing.body_of(payload)
        headers = signing.headers(secret or self.site["secret"], body, **options)
        if content_type:
            headers["Content-Type"] = content_type
        return (client or self.client).post(
            path or f"/v1/sites/{self.site['site_id']}/events", data=body, headers=headers
        )

    def get_booking(self, booking_id, *, client=None, site_id=None, secret=None, timestamp=None):
        path = f"/v1/sites/{site_id or self.site['site_id']}/bookings/{booking_id}"
        headers = signing.headers(secret or self.site["secret"], f"GET {path}".encode(), timestamp=timestamp)
        return (client or self.client).get(path, headers=headers)


Driver = Callable[[Harness], Any]
CASES: dict[tuple[str, str, int, str], tuple[Driver, dict]] = {}


def case(path: str, method: str, status: int, name: str, /, **expect):
    """Register a driver that makes the app answer `status` on `method path`; `expect`: body items."""

    def register(driver: Driver) -> Driver:
        CASES[(path, method, status, name)] = (driver, expect)
        return driver

    return register


@case(EVENTS, "post", 202, "accepted", status="accepted")
def _accepted(h):
    return h.post_event(signing.event())


@case(EVENTS, "post", 202, "ignored", status="ignored")
def _ignored(h):
    assert h.post_event(signing.event("booking.cancelled", revision=5)).status_code == 202
    return h.post_event(signing.event("booking.updated", revision=4))


@case(EVENTS, "post", 202, "erased", status="ignored", reason="this booking was erased")
def _ignored_erased(h):
    assert h.post_event(signing.event(revision=1)).status_code == 202
    erased = _signed(h, "DELETE", f"/v1/sites/{h.site['site_id']}/bookings/123")
    assert erased.status_code == 200, erased.data
    return h.post_event(signing.event(revision=1))  # the same event again, with a new webhook-id


@case(EVENTS, "post", 200, "seen", status="accepted")
def _seen(h):
    assert h.post_event(signing.event(), msg_id="msg_twice").status_code == 202
    return h.post_event(signing.event(), msg_id="msg_twice")


@case(EVENTS, "post", 200, "seen_ignored", status="ignored")
def _seen_ignored(h):
    assert h.post_event(signing.event(revision=3)).status_code == 202
    assert h.post_event(signing.event(revision=2), msg_id="msg_late").status_code == 202
    return h.post_event(signing.event(revision=2), msg_id="msg_late")


@case(EVENTS, "post", 400, "malformed", error="malformed_json")
def _malformed(h):
    return h.post_event(b'{"type": ')


@case(EVENTS, "post", 401, "unsigned", error="bad_signature")
def _unsigned(h):
    return h.client.post(f"/v1/sites/{h.site['site_id']}/events", data=b"{}", content_type="application/json")


@case(EVENTS, "post", 401, "wrong_secret", error="bad_signature")
def _wrong_secret(h):
    return h.post_event(signing.event(), secret="whsec_" + "A" * 44)


@case(EVENTS, "post", 401, "stale", error="timestamp_out_of_tolerance")
def _stale(h):
    return h.post_event(signing.event(), timestamp=int(time.time()) - 301)


@case(EVENTS, "post", 404, "unknown_site", error="unknown_site")
def _unknown_site(h):
    return h.post_event(signing.event(), path="/v1/sites/site_doesnotexist0000/events")


@case(EVENTS, "post", 404, "no_route", error="not_found")
def _event_no_route(h):
    return h.post_event(signing.event(), path="/v1/sites/a%2Fb/events")


@case(EVENTS, "post", 413, "too_large", error="request_entity_too_large")
def _too_large(h):
    return h.post_event(signing.event(title="x" * (65 * 1024)))


@case(EVENTS, "post", 415, "form", error="unsupported_media_type")
def _not_json(h):
    return h.post_event(b"type=booking.created", content_type="application/x-www-form-urlencoded")


@case(EVENTS, "post", 422, "bad_start", error="invalid_event", field="booking.start")
def _invalid(h):
    return h.post_event(signing.event(start="2030-12-01 10:00"))


@case(EVENTS, "post", 422, "not_an_object", error="invalid_event", field="(root)")
def _not_an_object(h):
    return h.post_event(b"[]")


@case(EVENTS, "post", 503, "redis_down", error="storage_unavailable")
def _events_redis_down(h):
    return h.post_event(signing.event(), client=h.down.test_client())


@case(EVENTS, "post", 503, "redis_full", error="not_queued")
def _redis_full(h):
    assert h.post_event(signing.event(id="warm")).status_code == 202  # the site is cached
    r = redis_client.get(h.app)
    r.config_set("maxmemory", 1)
    try:
        return h.post_event(signing.event(id="full"))
    finally:
        r.config_set("maxmemory", 0)


@case(BOOKING, "get", 200, "pending", state="pending", booking_id="123", revision=1)
def _pending(h):
    assert h.post_event(signing.event()).status_code == 202
    return h.get_booking("123")


@case(BOOKING, "get", 200, "synced", state="synced", last_error=None)
def _synced(h):
    site_id = h.site["site_id"]
    join = vault_keys.get(h.app).seal(b"https://zoom.us/j/81234567890?pwd=x", join_url_aad(site_id, "b-9"))
    now = time.time()
    redis_client.get(h.app).hset(
        keys.booking(site_id, "b-9"),
        mapping={
            "state": "synced", "rev": "2", "event": "booking.updated", "zoom_id": "81234567890",
            "join": join, "gcal_id": "evt123", "gcal_link": "https://www.google.com/calendar/event?eid=x",
            "start": "1796115600", "end": "1796117400", "created": repr(now - 60), "updated": repr(now),
        },
    )  # fmt: skip
    answer = h.get_booking("b-9")
    assert answer.get_json()["zoom"]["join_url"].startswith("https://zoom.us/j/")
    return answer


@case(BOOKING, "get", 401, "wrong_secret", error="bad_signature")
def _booking_wrong_secret(h):
    return h.get_booking("123", secret="whsec_" + "A" * 44)


@case(BOOKING, "get", 401, "stale", error="timestamp_out_of_tolerance")
def _booking_stale(h):
    return h.get_booking("123", timestamp=int(time.time()) + 400)


@case(BOOKING, "get", 404, "unknown_booking", error="unknown_booking")
def _unknown_booking(h):
    return h.get_booking("nope")


@case(BOOKING, "get", 404, "bad_booking_id", error="unknown_booking")
def _bad_booking_id(h):
    return h.get_booking("a%20b")  # signed as sent: the canonical form of "a b"


@case(BOOKING, "get", 404, "unknown_site", error="unknown_site")
def _booking_unknown_site(h):
    return h.get_booking("123", site_id="site_doesnotexist0000")


@case(BOOKING, "get", 404, "no_route", error="not_found")
def _booking_no_route(h):
    return h.get_booking("a%2Fb")


@case(BOOKING, "get", 503, "redis_down", error="storage_unavailable")
def _booking_redis_down(h):
    return h.get_booking("123", client=h.down.test_client())


@case("/healthz", "get", 200, "ok", status="ok")
def _healthz(h):
    return h.client.get("/healthz")


@case("/readyz", "get", 200, "ready", status="ready")
def _ready(h):
    return h.client.get("/readyz")


@case("/readyz", "get", 503, "redis_down", status="not_ready")
def _not_ready(h):
    return h.down.test_client().get("/readyz")


@case("/metrics", "get", 200, "text")
def _metrics(h):
    return h.client.get("/metrics")


@case("/openapi.json", "get", 200, "document", openapi="3.1.0")
def _openapi(h):
    return h.client.get("/openapi.json")


# --- linking accounts (issue 4) ---------------------------------------------------------------------------

CONNECT_LINKS = "/v1/sites/{site_id}/connect-links"
CONNECT = "/connect/{token}"
CALLBACK = "/oauth/{provider}/callback"
ACCOUNTS = "/v1/sites/{site_id}/accounts"
ACCOUNT = "/v1/sites/{site_id}/accounts/{provider}/{staff_id}"


def _link_body(h, **changes):
    return {
        "provider": "zoom",
        "staff_id": "7",
        "return_url": "https://shop.example.com/wp-admin/",
        **changes,
    }


def _post_link(h, payload=None, **options):
    path = f"/v1/sites/{h.site['site_id']}/connect-links"
    return h.post_event(
        _link_body(h) if payload is None else payload, path=options.pop("path", path), **options
    )


def _browser(h, app=None):
    return (app or h.app).test_client(use_cookies=True)


def _connect_path(h):
    answer = _post_link(h)
    assert answer.status_code == 201, answer.data
    return "/connect/" + answer.get_json()["url"].rsplit("/", 1)[1]


def _open_page(h, client, path):
    page = client.get(path, base_url="https://localhost")
    assert page.status_code == 200, page.data[:300]
    return re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)


def _started_consent(h, client):
    """A consent started in `client`'s browser; returns the OAuth `state`."""
    path = _connect_path(h)
    answer = client.post(path, data={"csrf": _open_page(h, client, path)}, base_url="https://localhost")
    assert answer.status_code == 303, answer.data[:300]
    return re.search(r"[?&]state=([^&]+)", answer.headers["Location"]).group(1)


def _signed(h, method, path, *, client=None, secret=None):
    headers = signing.request_headers(secret or h.site["secret"], method, path)
    return (client or h.client).open(path, method=method, headers=headers)


def _linked_account(h):
    with h.app.app_context():
        token = {"access_token": "at", "refresh_token": "rt", "token_type": "bearer", "expires_in": 3600}
        vault.save(redis_client.get(), vault_keys.get(), h.site["site_id"], "google", "7", token, ["s"])


@case(CONNECT_LINKS, "post", 201, "created")
def _link_created(h):
    return _post_link(h)


@case(CONNECT_LINKS, "post", 400, "malformed", error="malformed_json")
def _link_malformed(h):
    return _post_link(h, b'{"provider": ')


@case(CONNECT_LINKS, "post", 401, "wrong_secret", error="bad_signature")
def _link_wrong_secret(h):
    return _post_link(h, secret="whsec_" + "A" * 44)


@case(CONNECT_LINKS, "post", 404, "unknown_site", error="unknown_site")
def _link_unknown_site(h):
    return _post_link(h, path="/v1/sites/site_doesnotexist0000/connect-links")


@case(CONNECT_LINKS, "post", 409, "replayed", error="replayed_request")
def _link_replayed(h):
    assert _post_link(h, msg_id="msg_link").status_code == 201
    return _post_link(h, msg_id="msg_link")


@case(CONNECT_LINKS, "post", 415, "form", error="unsupported_media_type")
def _link_form(h):
    return _post_link(h, b"provider=zoom", content_type="application/x-www-form-urlencoded")


@case(CONNECT_LINKS, "post", 422, "foreign_return_url", error="invalid_request", field="return_url")
def _link_foreign(h):
    return _post_link(h, _link_body(h, return_url="https://evil.example.net/"))


@case(CONNECT_LINKS, "post", 503, "redis_down", error="storage_unavailable")
def _link_redis_down(h):
    return _post_link(h, client=h.down.test_client())


@case(CONNECT, "get", 200, "page")
def _connect_page(h):
    return _browser(h).get(_connect_path(h), base_url="https://localhost")


def _site_record_gone(h):
    """The moment inside a site's erasure after its record is deleted and before its connect links and
    OAuth states are (a page opened then says the site was removed)."""
    redis_client.get(h.app).delete(keys.site(h.site["site_id"]))


@case(CONNECT, "get", 404, "site_removed")
def _connect_page_site_gone(h):
    path = _connect_path(h)
    _site_record_gone(h)
    return _browser(h).get(path, base_url="https://localhost")


@case(CONNECT, "get", 410, "unknown")
def _connect_page_unknown(h):
    return _browser(h).get("/connect/" + "A" * 43, base_url="https://localhost")


@case(CONNECT, "get", 503, "redis_down", error="storage_unavailable")
def _connect_page_redis_down(h):
    return h.down.test_client().get("/connect/" + "A" * 43, base_url="https://localhost")


@case(CONNECT, "post", 303, "to_provider")
def _connect_continue(h):
    client, path = _browser(h), _connect_path(h)
    return client.post(path, data={"csrf": _open_page(h, client, path)}, base_url="https://localhost")


@case(CONNECT, "post", 403, "no_csrf")
def _connect_no_csrf(h):
    return _browser(h).post(_connect_path(h), data={}, base_url="https://localhost")


@case(CONNECT, "post", 404, "site_removed")
def _connect_continue_site_gone(h):
    client, path = _browser(h), _connect_path(h)
    csrf = _open_page(h, client, path)
    _site_record_gone(h)
    return client.post(path, data={"csrf": csrf}, base_url="https://localhost")


@case(CONNECT, "post", 410, "used")
def _connect_used(h):
    client, path = _browser(h), _connect_path(h)
    csrf = _open_page(h, client, path)
    assert client.post(path, data={"csrf": csrf}, base_url="https://localhost").status_code == 303
    return client.post(path, data={"csrf": csrf}, base_url="https://localhost")


@case(CONNECT, "post", 503, "redis_down", error="storage_unavailable")
def _connect_continue_redis_down(h):
    client, path = _browser(h, h.down), _connect_path(h)
    with h.down.test_request_context():
        csrf = connect_pages.csrf_token(connect_links.digest(path.rsplit("/", 1)[1]), "n" * 32)
    client.set_cookie(connect_pages.COOKIE, "n" * 32, domain="localhost", secure=True)
    return client.post(path, data={"csrf": csrf}, base_url="https://localhost")


@case(CALLBACK, "get", 303, "denied")
def _callback_denied(h):
    client = _browser(h)
    state = _started_consent(h, client)
    answer = client.get(
        f"/oauth/zoom/callback?error=access_denied&state={state}", base_url="https://localhost"
    )
    assert "meetbridge_status=error" in answer.headers["Location"]
    return answer


@case(CALLBACK, "get", 400, "unknown_state")
def _callback_unknown_state(h):
    return _browser(h).get("/oauth/google/callback?code=x&state=" + "B" * 43, base_url="https://localhost")


@case(CALLBACK, "get", 404, "site_removed")
def _callback_site_gone(h):
    client = _browser(h)
    state = _started_consent(h, client)
    _site_record_gone(h)
    return client.get(f"/oauth/zoom/callback?code=x&state={state}", base_url="https://localhost")


@case(CALLBACK, "get", 503, "redis_down", error="storage_unavailable")
def _callback_redis_down(h):
    return h.down.test_client().get("/oauth/zoom/callback?state=" + "B" * 43, base_url="https://localhost")


@case(ACCOUNTS, "get", 200, "list")
def _accounts(h):
    _linked_account(h)
    answer = _signed(h, "GET", f"/v1/sites/{h.site['site_id']}/accounts")
    assert [a["provider"] for a in answer.get_json()["accounts"]] == ["google"]
    return answer


@case(ACCOUNTS, "get", 401, "wrong_secret", error="bad_signature")
def _accounts_wrong_secret(h):
    return _signed(h, "GET", f"/v1/sites/{h.site['site_id']}/accounts", secret="whsec_" + "A" * 44)


@case(ACCOUNTS, "get", 404, "unknown_site", error="unknown_site")
def _accounts_unknown_site(h):
    return _signed(h, "GET", "/v1/sites/site_doesnotexist0000/accounts")


@case(ACCOUNTS, "get", 503, "redis_down", error="storage_unavailable")
def _accounts_redis_down(h):
    return _signed(h, "GET", f"/v1/sites/{h.site['site_id']}/accounts", client=h.down.test_client())


@case(ACCOUNT, "delete", 200, "unlinked", deleted=True)
def _unlink(h):
    _linked_account(h)
    return _signed(h, "DELETE", f"/v1/sites/{h.site['site_id']}/accounts/google/7")


@case(ACCOUNT, "delete", 401, "wrong_secret", error="bad_signature")
def _unlink_wrong_secret(h):
    return _signed(
        h, "DELETE", f"/v1/sites/{h.site['site_id']}/accounts/google/7", secret="whsec_" + "A" * 44
    )


@case(ACCOUNT, "delete", 404, "not_linked", error="not_linked")
def _unlink_not_linked(h):
    return _signed(h, "DELETE", f"/v1/sites/{h.site['site_id']}/accounts/zoom/7")


@case(ACCOUNT, "delete", 503, "redis_down", error="storage_unavailable")
def _unlink_redis_down(h):
    path = f"/v1/sites/{h.site['site_id']}/accounts/zoom/7"
    return _signed(h, "DELETE", path, client=h.down.test_client())


# --- availability (issue 8) -------------------------------------------------------------------------------

AVAILABILITY = "/v1/sites/{site_id}/availability"
_WINDOW = "from=2030-12-01T00:00:00Z&to=2030-12-02T00:00:00%2B01:00"


class _GoogleDouble:
    """Stands in for the per-thread Google Calendar clients: answers `outcome` (or raises it)."""

    def __init__(self, outcome):
        self.outcome = outcome

    def get(self):
        return self

    def freebusy(self, token, time_min, time_max, calendar_id="primary"):
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


def _get_availability(h, outcome=None, *, query=f"staff_id=7&{_WINDOW}", client=None, **options):
    if outcome is not None:
        h.app.extensions[availability_api._EXTENSION] = _GoogleDouble(outcome)
    return _signed(h, "GET", f"/v1/sites/{options.pop('site_id', h.site['site_id'])}/availability?{query}",
                   client=client, **options)  # fmt: skip


_BUSY = [{"start": "2030-12-01T09:00:00Z", "end": "2030-12-01T09:30:00Z"}]


@case(AVAILABILITY, "get", 200, "fetched", cached=False, busy=_BUSY, to="2030-12-01T23:00:00Z")
def _availability_fetched(h):
    _linked_account(h)
    return _get_availability(h, _BUSY)


@case(AVAILABILITY, "get", 200, "cached", cached=True, busy=_BUSY)
def _availability_cached(h):
    _linked_account(h)
    assert _get_availability(h, _BUSY).get_json()["cached"] is False
    return _get_availability(h, ProviderUnavailable("not asked: the answer is cached"))


@case(AVAILABILITY, "get", 401, "wrong_secret", error="bad_signature")
def _availability_wrong_secret(h):
    return _get_availability(h, secret="whsec_" + "A" * 44)


@case(AVAILABILITY, "get", 404, "unknown_site", error="unknown_site")
def _availability_unknown_site(h):
    return _get_availability(h, site_id="site_doesnotexist0000")


@case(AVAILABILITY, "get", 404, "not_linked", error="not_linked")
def _availability_not_linked(h):
    return _get_availability(h, _BUSY)


@case(AVAILABILITY, "get", 409, "needs_relink", error="needs_relink")
def _availability_needs_relink(h):
    _linked_account(h)
    vault.mark_needs_relink(redis_client.get(h.app), h.site["site_id"], "google", "7")
    return _get_availability(h, _BUSY)


@case(AVAILABILITY, "get", 409, "missing_scope", error="missing_scope")
def _availability_missing_scope(h):
    _linked_account(h)
    return _get_availability(h, MissingScope("403 insufficientPermissions"))


@case(AVAILABILITY, "get", 422, "bad_from", error="invalid_request", field="from")
def _availability_bad_from(h):
    return _get_availability(h, query="staff_id=7&from=2030-12-01T00:00:00&to=2030-12-02T00:00:00Z")


@case(AVAILABILITY, "get", 422, "too_long", error="invalid_request", field="to")
def _availability_too_long(h):
    return _get_availability(h, query="staff_id=7&from=2030-12-01T00:00:00Z&to=2031-03-01T00:00:01Z")


@case(AVAILABILITY, "get", 503, "rate_limited", error="rate_limited")
def _availability_rate_limited(h):
    _linked_account(h)
    answer = _get_availability(h, RateLimited("429", 7))
    assert answer.headers["Retry-After"] == "7"
    return answer


@case(AVAILABILITY, "get", 503, "redis_down", error="storage_unavailable")
def _availability_redis_down(h):
    return _get_availability(h, client=h.down.test_client())


# --- privacy, settings and Zoom's webhooks (issue 6) ------------------------------------------------------

EXPORT = "/v1/sites/{site_id}/export"
SETTINGS = "/v1/sites/{site_id}/settings"
ZOOM_EVENTS = "/v1/zoom/events"


def _pending_booking(h, booking_id="gone-1"):
    redis_client.get(h.app).hset(
        keys.booking(h.site["site_id"], booking_id),
        mapping={"rev": 1, "state": "pending", "event": "booking.created", "created": "1796115600.5"},
    )
    redis_client.get(h.app).sadd(keys.site_bookings(h.site["site_id"]), booking_id)  # as the intake does


def _over_the_limit(h, method, path, kind):
    from service.privacy import privacy_api

    for _ in range(privacy_api.LIMITS[kind][0]):
        assert _signed(h, method, path).status_code != 429
    answer = _signed(h, method, path)
    assert 0 < int(answer.headers["Retry-After"]) <= privacy_api.LIMITS[kind][1]
    return answer


def _put_settings(h, payload, *, client=None, site_id=None, content_type=None, **options):
    body = signing.body_of(payload)
    headers = signing.headers(h.site["secret"], body, **options)
    if content_type:
        headers["Content-Type"] = content_type
    path = f"/v1/sites/{site_id or h.site['site_id']}/settings"
    return (client or h.client).put(path, data=body, headers=headers)


ZOOM_SECRET = "sandbox-zoom-webhook"  # noqa: S105 - development mode's value


def _zoom_sign(secret, message):
    from service.privacy import zoom_webhooks

    return zoom_webhooks.sign(secret, message)


def _zoom_event(h, payload, *, client=None, secret=ZOOM_SECRET, timestamp=None):
    body = signing.body_of(payload)
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = "v0=" + _zoom_sign(secret, b"v0:" + stamp.encode() + b":" + body)
    headers = {"x-zm-signature": signature, "x-zm-request-timestamp": stamp}
    headers["Content-Type"] = "application/json"
    return (client or h.client).post("/v1/zoom/events", data=body, headers=headers)


@case(EXPORT, "get", 200, "export")
def _export(h):
    _pending_booking(h)
    _linked_account(h)
    answer = _signed(h, "GET", f"/v1/sites/{h.site['site_id']}/export")
    body = answer.get_json()
    assert [b["booking_id"] for b in body["bookings"]] == ["gone-1"] and len(body["accounts"]) == 1
    assert h.site["secret"] not in answer.text and "access_token" not in answer.text
    return answer


@case(EXPORT, "get", 401, "wrong_secret", error="bad_signature")
def _export_wrong_secret(h):
    return _signed(h, "GET", f"/v1/sites/{h.site['site_id']}/export", secret="whsec_" + "A" * 44)


@case(EXPORT, "get", 404, "unknown_site", error="unknown_site")
def _export_unknown_site(h):
    return _signed(h, "GET", "/v1/sites/site_doesnotexist0000/export")


@case(EXPORT, "get", 429, "rate_limited", error="rate_limited")
def _export_rate_limited(h):
    return _over_the_limit(h, "GET", f"/v1/sites/{h.site['site_id']}/export", "export")


@case(EXPORT, "get", 503, "redis_down", error="storage_unavailable")
def _export_redis_down(h):
    return _signed(h, "GET", f"/v1/sites/{h.site['site_id']}/export", client=h.down.test_client())


@case(BOOKING, "delete", 200, "erased", deleted=True, zoom_meeting="none", google_event="none")
def _erase(h):
    _pending_booking(h)
    answer = _signed(h, "DELETE", f"/v1/sites/{h.site['site_id']}/bookings/gone-1")
    assert not redis_client.get(h.app).exists(keys.booking(h.site["site_id"], "gone-1"))
    return answer


@case(BOOKING, "delete", 401, "wrong_secret", error="bad_signature")
def _erase_wrong_secret(h):
    return _signed(h, "DELETE", f"/v1/sites/{h.site['site_id']}/bookings/1", secret="whsec_" + "A" * 44)


@case(BOOKING, "delete", 404, "unknown_booking", error="unknown_booking")
def _erase_unknown(h):
    return _signed(h, "DELETE", f"/v1/sites/{h.site['site_id']}/bookings/nothing")


@case(BOOKING, "delete", 429, "rate_limited", error="rate_limited")
def _erase_rate_limited(h):
    return _over_the_limit(h, "DELETE", f"/v1/sites/{h.site['site_id']}/bookings/nothing", "erase")


@case(BOOKING, "delete", 503, "busy", error="busy")
def _erase_busy(h):
    from service.privacy import erasure

    _pending_booking(h)
    r = redis_client.get(h.app)
    r.set(keys.booking_lock(h.site["site_id"], "gone-1"), "a-sync", ex=60)  # a sync job holds it
    wait, erasure.LOCK_WAIT = erasure.LOCK_WAIT, 0.2
    try:
        return _signed(h, "DELETE", f"/v1/sites/{h.site['site_id']}/bookings/gone-1")
    finally:
        erasure.LOCK_WAIT = wait


@case(BOOKING, "delete", 503, "redis_down", error="storage_unavailable")
def _erase_redis_down(h):
    path = f"/v1/sites/{h.site['site_id']}/bookings/1"
    return _signed(h, "DELETE", path, client=h.down.test_client())


@case(SETTINGS, "put", 200, "changed", retention_days=7, grace_minutes=60)
def _settings(h):
    return _put_settings(h, {"retention_days": 7})


@case(SETTINGS, "put", 400, "malformed", error="malformed_json")
def _settings_malformed(h):
    return _put_settings(h, b'{"retention_days": ')


@case(SETTINGS, "put", 401, "wrong_secret", error="bad_signature")
def _settings_wrong_secret(h):
    body = b'{"retention_days": 7}'
    headers = signing.headers("whsec_" + "A" * 44, body)
    return h.client.put(f"/v1/sites/{h.site['site_id']}/settings", data=body, headers=headers)


@case(SETTINGS, "put", 404, "unknown_site", error="unknown_site")
def _settings_unknown_site(h):
    return _put_settings(h, {"retention_days": 7}, site_id="site_doesnotexist0000")


@case(SETTINGS, "put", 409, "replayed", error="replayed_request")
def _settings_replayed(h):
    assert _put_settings(h, {"grace_minutes": 5}, msg_id="msg_set").status_code == 200
    return _put_settings(h, {"grace_minutes": 5}, msg_id="msg_set")


@case(SETTINGS, "put", 415, "form", error="unsupported_media_type")
def _settings_form(h):
    return _put_settings(h, b"retention_days=7", content_type="application/x-www-form-urlencoded")


@case(SETTINGS, "put", 422, "out_of_range", error="invalid_settings", field="retention_days")
def _settings_out_of_range(h):
    return _put_settings(h, {"retention_days": 0})


@case(SETTINGS, "put", 422, "unknown", error="invalid_settings", field="colour")
def _settings_unknown(h):
    return _put_settings(h, {"grace_minutes": 10, "colour": "red"})


@case(SETTINGS, "put", 503, "redis_down", error="storage_unavailable")
def _settings_redis_down(h):
    return _put_settings(h, {"retention_days": 7}, client=h.down.test_client())


@case(ZOOM_EVENTS, "post", 200, "url_validation", plainToken="qgg8vlvZRS6UYooatFL8Aw")
def _zoom_validation(h):
    plain = "qgg8vlvZRS6UYooatFL8Aw"
    answer = _zoom_event(h, {"event": "endpoint.url_validation", "payload": {"plainToken": plain}})
    expected = _zoom_sign(ZOOM_SECRET, plain.encode())
    assert answer.get_json()["encryptedToken"] == expected
    return answer


def _zoom_meeting_ended_for(h, end: float):
    r = redis_client.get(h.app)
    member = f"{h.site['site_id']}|b-1"
    record = {"zoom_id": "81234567890", "state": "synced", "end": int(end)}
    r.hset(keys.booking(h.site["site_id"], "b-1"), mapping=record)
    r.hset(keys.ZOOM_MEETINGS, "81234567890", member)
    r.zadd(keys.MEETINGS_DUE, {member: time.time() + 3600})
    return r, member, _zoom_event(h, {"event": "meeting.ended", "payload": {"object": {"id": 81234567890}}})


@case(ZOOM_EVENTS, "post", 200, "ended", status="scheduled")
def _zoom_meeting_ended(h):
    r, member, answer = _zoom_meeting_ended_for(h, time.time() - 60)
    assert r.zscore(keys.MEETINGS_DUE, member) <= time.time()
    return answer


@case(ZOOM_EVENTS, "post", 200, "ended_early", status="kept")
def _zoom_meeting_ended_early(h):
    r, member, answer = _zoom_meeting_ended_for(h, time.time() + 86400)
    assert r.zscore(keys.MEETINGS_DUE, member) > time.time()
    return answer


@case(ZOOM_EVENTS, "post", 200, "deauthorized", status="deleted", accounts=0)
def _zoom_deauthorized(h):
    return _zoom_event(h, {"event": "app_deauthorized", "payload": {"user_id": "z8yCx", "account_id": "a"}})


@case(ZOOM_EVENTS, "post", 400, "malformed", error="malformed_json")
def _zoom_malformed(h):
    return _zoom_event(h, b'{"event": ')


@case(ZOOM_EVENTS, "post", 401, "wrong_secret", error="bad_signature")
def _zoom_wrong_secret(h):
    return _zoom_event(h, {"event": "meeting.ended", "payload": {}}, secret="not-the-secret")


@case(ZOOM_EVENTS, "post", 401, "stale", error="timestamp_out_of_tolerance")
def _zoom_stale(h):
    return _zoom_event(h, {"event": "meeting.ended", "payload": {}}, timestamp=int(time.time()) - 301)


@case(ZOOM_EVENTS, "post", 422, "no_meeting_id", error="invalid_event", field="payload.object.id")
def _zoom_no_meeting(h):
    return _zoom_event(h, {"event": "meeting.ended", "payload": {"object": {}}})


@case(ZOOM_EVENTS, "post", 503, "redis_down", error="storage_unavailable")
def _zoom_redis_down(h):
    payload = {"event": "meeting.ended", "payload": {"object": {"id": 1}}}
    return _zoom_event(h, payload, client=h.down.test_client())


@case(ZOOM_EVENTS, "post", 200, "meeting_moved", status="queued")
def _zoom_meeting_updated(h):
    r = redis_client.get(h.app)
    r.hset(keys.booking(h.site["site_id"], "b-2"), mapping={"zoom_id": "81234567891", "state": "synced"})
    r.hset(keys.ZOOM_MEETINGS, "81234567891", f"{h.site['site_id']}|b-2")
    meeting = {"id": 81234567891, "uuid": "u", "start_time": "2030-01-01T10:00:00Z", "duration": 30}
    return _zoom_event(h, {"event": "meeting.updated", "event_ts": 1, "payload": {"object": meeting}})


GOOGLE_PUSH = "/v1/google/notifications"


def _google_push(h, client=None, **headers):
    return (client or h.client).post(GOOGLE_PUSH, headers=headers)


@case(GOOGLE_PUSH, "post", 200, "accepted")
def _google_push_accepted(h):
    from service.changes import watches

    r = redis_client.get(h.app)
    site_id = h.site["site_id"]
    r.hset(keys.google_watch(site_id, "7"), mapping={"ch": "mbch-1", "rid": "res-1", "exp": 1})
    r.set(keys.google_channel("mbch-1"), f"{site_id}|7")
    with h.app.app_context():
        token = watches.channel_token("mbch-1")
    answer = _google_push(
        h,
        **{"X-Goog-Channel-ID": "mbch-1", "X-Goog-Channel-Token": token, "X-Goog-Resource-ID": "res-1",
           "X-Goog-Resource-State": "exists", "X-Goog-Message-Number": "2"},
    )  # fmt: skip
    assert r.exists(keys.google_sync_pending(site_id, "7"))
    return answer


@case(GOOGLE_PUSH, "post", 200, "unknown_channel")
def _google_push_unknown(h):
    answer = _google_push(h, **{"X-Goog-Channel-ID": "mbch-x", "X-Goog-Channel-Token": "t"})
    assert answer.data == b"" and redis_client.get(h.app).hget(keys.STATS, "google_notifications_ignored")
    return answer


@case(GOOGLE_PUSH, "post", 400, "no_channel", error="missing_channel")
def _google_push_no_channel(h):
    return _google_push(h, **{"X-Goog-Resource-State": "exists"})


@case(GOOGLE_PUSH, "post", 503, "redis_down", error="storage_unavailable")
def _google_push_redis_down(h):
    return _google_push(h, client=h.down.test_client(), **{"X-Goog-Channel-ID": "mbch-1"})


@pytest.fixture
def harness(app, tmp_path):
    with app.app_context():
        site = registry.create(redis_client.get(), vault_keys.get(), "Shop", "https://shop.example.com")
    down = create_app(
        {
            "TESTING": True,
            "REDIS_URL": f"redis://127.0.0.1:{processes.free_port()}/0",
            "MEETBRIDGE_DATA_DIR": str(tmp_path),  # same vault keys as `app`
        }
    )
    return Harness(app, site, down)


def test_every_documented_status_has_a_case():
    documented = {
        (path, method, int(status))
        for path, item in SPEC.doc["paths"].items()
        for method in item
        if method in HTTP_METHODS
        for status in item[method]["responses"]
    }
    driven = {(path, method, status) for path, method, status, _name in CASES}
    assert documented == driven


@pytest.mark.parametrize("key", list(CASES), ids=lambda key: f"{key[1].upper()} {key[0]} {key[2]} {key[3]}")
def test_real_answer_matches_the_document(harness, key):
    path, method, status, _name = key
    driver, expect = CASES[key]
    answer = driver(harness)
    assert answer.status_code == status, answer.data[:500]
    body = SPEC.check(path, method, status, answer.content_type, answer.data, answer.headers)
    for name, value in expect.items():
        assert body[name] == value


def test_spec_check_can_fail():
    accepted = {"status": "accepted", "booking_id": "1", "revision": 1, "webhook_id": "m"}
    SPEC.check(EVENTS, "post", 202, "application/json", json.dumps(accepted).encode(), {"X-Request-ID": "r"})
    failures = [
        (202, "application/json", {**accepted, "extra": 1}),  # undocumented field
        (202, "application/json", {**accepted, "revision": "1"}),  # wrong type
        (422, "application/json", {"error": "invalid_event", "message": "m"}),  # no `field`
        (401, "application/json", {"error": "unknown_site", "message": "m"}),  # code of another status
        (500, "application/json", {"error": "internal_error", "message": "m"}),  # undocumented status
        (202, "text/html", accepted),  # wrong content type
    ]
    for status, content_type, body in failures:
        with pytest.raises(AssertionError):
            SPEC.check(EVENTS, "post", status, content_type, json.dumps(body).encode(), {"X-Request-ID": "r"})
    with pytest.raises(AssertionError, match="X-Request-ID"):
        SPEC.check(EVENTS, "post", 202, "application/json", json.dumps(accepted).encode(), {})


# --- (d) a handful of answers through gunicorn over TLS --------------------------------------------------


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("openapi-stack")
    redis = processes.RedisServer(folder / "redis")
    redis.start()
    stack = processes.Stack(folder, redis.url, workers=0)
    try:
        stack.start(sandbox=False)
        created = subprocess.run(
            [str(processes.BIN / "flask"), "--app", "service", "sites", "create",
             "--name", "Shop", "--url", "https://shop.example.com"],
            env=stack.env, cwd=processes.ROOT, capture_output=True, text=True, timeout=60, check=True,
        )  # fmt: skip
        stack.site = json.loads(created.stdout)
        yield stack
    finally:
        stack.stop()
        redis.stop()


def _stack_post(stack, payload, content_type="application/json", **options):
    body = signing.body_of(payload)
    headers = {**signing.headers(stack.site["secret"], body, **options), "Content-Type": content_type}
    url = f"{stack.base_url}/v1/sites/{stack.site['site_id']}/events"
    return requests.post(url, data=body, headers=headers, verify=str(stack.certs.bundle), timeout=10)


def _stack_get(stack, path, secret=None):
    headers = signing.request_headers(secret, "GET", path) if secret else {}
    return requests.get(stack.base_url + path, headers=headers, verify=str(stack.certs.bundle), timeout=10)


@pytest.mark.stack
def test_answers_through_gunicorn_match_the_document(stack):
    site_id, secret = stack.site["site_id"], stack.site["secret"]
    booking = f"/v1/sites/{site_id}/bookings/123"
    answers = [
        (EVENTS, "post", 202, _stack_post(stack, signing.event(), msg_id="msg_stack")),
        (EVENTS, "post", 200, _stack_post(stack, signing.event(), msg_id="msg_stack")),
        (EVENTS, "post", 202, _stack_post(stack, signing.event(revision=1))),  # ignored
        (EVENTS, "post", 400, _stack_post(stack, b"{")),
        (EVENTS, "post", 401, _stack_post(stack, signing.event(), timestamp=int(time.time()) - 3600)),
        (EVENTS, "post", 413, _stack_post(stack, signing.event(title="x" * (70 * 1024)))),
        (EVENTS, "post", 415, _stack_post(stack, b"a=b", content_type="text/plain")),
        (EVENTS, "post", 422, _stack_post(stack, signing.event(timezone="Mars/Olympus"))),
        (BOOKING, "get", 200, _stack_get(stack, booking, secret)),
        (BOOKING, "get", 401, _stack_get(stack, booking)),
        (BOOKING, "get", 404, _stack_get(stack, f"/v1/sites/{site_id}/bookings/none", secret)),
        ("/healthz", "get", 200, _stack_get(stack, "/healthz")),
        ("/readyz", "get", 200, _stack_get(stack, "/readyz")),
        ("/metrics", "get", 200, _stack_get(stack, "/metrics")),
        ("/openapi.json", "get", 200, _stack_get(stack, "/openapi.json")),
    ]
    for path, method, status, answer in answers:
        assert answer.status_code == status, (path, answer.status_code, answer.text[:300])
        SPEC.check(path, method, status, answer.headers.get("Content-Type"), answer.content, answer.headers)
    assert answers[2][3].json()["status"] == "ignored"
    assert answers[-1][3].json() == document(stack.base_url)
