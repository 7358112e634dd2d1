"""The events fast path (`service.bookings.events.FastPath`): acceptable events are answered without the
Flask route, exactly as the route answers them; everything else is the route's to answer."""

from __future__ import annotations

import json

import pytest
from flask import Response
from prometheus_client import REGISTRY

from service import vault_keys
from service.http import web
from service.sites import registry
from service.storage import keys, redis_client
from tests import signing
from tests.bookings.test_events import post, sync_queue

ROUTE = "events.receive"


@pytest.fixture
def site(app):
    with app.app_context():
        return registry.create(redis_client.get(), vault_keys.get(), "Shop", "https://shop.example.com")


@pytest.fixture
def route_calls(app, monkeypatch):
    """Replace the Flask route by a recorder that answers 418, so a test sees who answered."""
    calls = []

    def recorder(site_id):
        calls.append(site_id)
        return Response(b"{}", status=418, mimetype="application/json")

    monkeypatch.setitem(app.view_functions, ROUTE, recorder)
    return calls


def _requests(status: str) -> float:
    value = REGISTRY.get_sample_value(
        "meetbridge_http_requests_total",
        {"method": "POST", "endpoint": "/v1/sites/<site_id>/events", "status": status},
    )
    return value or 0.0


def test_an_acceptable_event_never_reaches_the_route(client, app, site, route_calls):
    before = _requests("202")
    answer = post(client, site, signing.event(), msg_id="msg_fast")
    assert answer.status_code == 202 and route_calls == []
    assert answer.get_json() == {
        "status": "accepted",
        "booking_id": "123",
        "revision": 1,
        "webhook_id": "msg_fast",
    }
    assert sync_queue(app).count == 1
    assert _requests("202") == before + 1
    again = post(client, site, signing.event(), msg_id="msg_fast")
    assert again.status_code == 200 and again.data == answer.data and route_calls == []
    stale = post(client, site, signing.event(revision=1, id="123"), msg_id="msg_older")
    assert stale.status_code == 202 and stale.get_json()["status"] == "ignored" and route_calls == []


def test_fast_answers_carry_what_every_answer_carries(client, site, route_calls):
    answer = post(client, site, signing.event(), msg_id="msg_h")
    assert route_calls == []
    for name, value in web.SECURITY_HEADERS.items():
        assert answer.headers[name] == value
    assert answer.headers["Content-Type"] == "application/json"
    assert len(answer.headers["X-Request-ID"]) == 32
    mine = client.post(
        f"/v1/sites/{site['site_id']}/events",
        data=signing.body_of(signing.event(id="b2")),
        headers={
            **signing.headers(site["secret"], signing.body_of(signing.event(id="b2"))),
            "X-Request-ID": "req-7",
        },
    )
    assert mine.status_code == 202 and mine.headers["X-Request-ID"] == "req-7"


@pytest.mark.parametrize(
    "case",
    ["bad_signature", "unknown_site", "not_json_type", "malformed", "schema", "too_large", "chunked"],
)
def test_anything_else_is_answered_by_the_route(client, app, site, route_calls, case):
    body = signing.body_of(signing.event())
    headers = signing.headers(site["secret"], body)
    path = f"/v1/sites/{site['site_id']}/events"
    if case == "bad_signature":
        headers = signing.headers("whsec_" + "A" * 44, body)
    elif case == "unknown_site":
        path = "/v1/sites/site_nosuchsite0000/events"
    elif case == "not_json_type":
        headers["Content-Type"] = "text/plain"
    elif case == "malformed":
        body = b'{"type": '
        headers = signing.headers(site["secret"], body)
    elif case == "schema":
        body = signing.body_of(signing.event(start="tomorrow"))
        headers = signing.headers(site["secret"], body)
    elif case == "too_large":
        body = b" " * (64 * 1024 + 1)
        headers = signing.headers(site["secret"], body)
    elif case == "chunked":
        headers["Transfer-Encoding"] = "chunked"
    answer = client.post(path, data=body, headers=headers)
    assert answer.status_code == 418 and len(route_calls) == 1
    assert sync_queue(app).count == 0


def test_the_route_reads_the_body_the_fast_path_read(client, site):
    answer = post(client, site, signing.event(start="2026-02-30T10:00:00+01:00"))
    assert answer.status_code == 422 and answer.get_json()["field"] == "booking.start"


def test_a_stale_cached_site_goes_to_the_route_which_reloads_it(client, app, site):
    assert post(client, site, signing.event(id="warm")).status_code == 202  # site now cached
    r = redis_client.get(app)
    r.hset(keys.site(site["site_id"]), "ver", "changed-elsewhere")  # what a rotation does to `ver`
    answer = post(client, site, signing.event(id="after"))
    assert answer.status_code == 202, answer.get_json()
    assert r.hget(keys.booking(site["site_id"], "after"), "state") == b"pending"


def test_an_unexpected_error_in_the_fast_path_becomes_the_routes_json_500(client, app, site, monkeypatch):
    from service.bookings import booking_schema

    def explode(data, **options):
        raise RuntimeError("boom")

    monkeypatch.setattr(booking_schema, "validate_event", explode)
    answer = post(client, site, signing.event())
    assert answer.status_code == 500
    assert json.loads(answer.data)["error"] == "internal_error"
    assert sync_queue(app).count == 0
