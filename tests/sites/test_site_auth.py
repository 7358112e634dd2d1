"""Site authentication as one decorator (`site_auth.signed`, `site_auth.signed_json`): what the view
is given, and that every `/v1/sites/...` route refuses exactly as it did when each wrote the check
itself (same status, same bytes), in the same order, with the same replay rules."""

from __future__ import annotations

import time

import pytest
from flask import Blueprint, jsonify

from service import create_app, vault_keys
from service.http import web
from service.http.web import error_body
from service.sites import registry, site_auth
from service.storage import redis_client
from tests import signing
from tests.processes import free_port

probe = Blueprint("probe", __name__)
CALLS: list[tuple] = []


@probe.get("/v1/sites/<site_id>/probe/<thing>")
@site_auth.signed
def probe_get(site, thing):
    CALLS.append(("get", site.id, thing))
    return jsonify({"site": site.id, "name": site.name, "thing": thing})


@probe.get("/v1/sites/<site_id>/probe-unversioned")
@site_auth.signed(check_version=False)
def probe_unversioned(site):
    CALLS.append(("unversioned", site.id))
    return jsonify({"site": site.id})


@probe.get("/v1/sites/<site_id>/probe-raises")
@site_auth.signed
def probe_raises(site):
    CALLS.append(("raises", site.id))
    raise site_auth.AuthError(401, "bad_signature", "refused by the view")


@probe.post("/v1/sites/<site_id>/probe-json/<thing>")
@site_auth.signed_json
def probe_json(site, webhook_id, data, thing):
    CALLS.append(("json", site.id))
    return jsonify({"site": site.id, "webhook_id": webhook_id, "data": data, "thing": thing})


@probe.post("/v1/sites/<site_id>/probe-deep")
@site_auth.signed_json(too_deep=lambda: error_body(422, "too_deep", "nested too deep"))
def probe_deep(site, webhook_id, data):
    CALLS.append(("deep", site.id))
    return jsonify({"depth": "fine"})


@pytest.fixture
def app(redis_url, tmp_path):
    app = create_app({"TESTING": True, "REDIS_URL": redis_url, "MEETBRIDGE_DATA_DIR": str(tmp_path)})
    app.register_blueprint(probe)
    CALLS.clear()
    return app


@pytest.fixture
def site(app):
    with app.app_context():
        return registry.create(redis_client.get(), vault_keys.get(), "Shop", "https://shop.example.com")


def get(client, site, path, *, secret=None, timestamp=None, msg_id=None):
    headers = signing.headers(
        secret or site["secret"], f"GET {path}".encode(), timestamp=timestamp, msg_id=msg_id
    )
    return client.get(path, headers=headers)


def send(client, site, method, path, body, *, secret=None, msg_id=None, timestamp=None, **header_changes):
    """A request signed as the site: over the body, or over `METHOD path` when there is none."""
    signed = body if body is not None else f"{method} {path}".encode()
    headers = signing.headers(secret or site["secret"], signed, msg_id=msg_id, timestamp=timestamp)
    return client.open(path, method=method, data=body, headers={**headers, **header_changes})


def _event(booking_id="123"):
    return signing.body_of(signing.event(id=booking_id))


CONNECT = b'{"provider": "google", "staff_id": "7", "return_url": "https://shop.example.com/"}'
AVAILABILITY = "availability?staff_id=7&from=2030-12-01T00:00:00Z&to=2030-12-02T00:00:00Z"
#: Every route authenticated as the site: method, path under the site, signed body (None: `METHOD path`).
ROUTES = [
    ("POST", "events", _event()),
    ("GET", "bookings/123", None),
    ("GET", "accounts", None),
    ("DELETE", "accounts/google/7", None),
    ("GET", "export", None),
    ("DELETE", "bookings/123", None),
    ("PUT", "settings", b'{"grace_minutes": 30}'),
    ("POST", "connect-links", CONNECT),
    ("GET", AVAILABILITY, None),
]
ROUTE_IDS = [f"{method} {path.partition('?')[0]}" for method, path, _ in ROUTES]

MISSING = b'{"error":"bad_signature","message":"webhook-id, webhook-timestamp and webhook-signature are required"}\n'  # noqa: E501
BAD = b'{"error":"bad_signature","message":"no valid v1 signature for this message"}\n'
LATE = b'{"error":"timestamp_out_of_tolerance","message":"webhook-timestamp is more than 300 seconds from the server time"}\n'  # noqa: E501
UNKNOWN = b'{"error":"unknown_site","message":"no such site"}\n'
NOT_JSON = (
    b'{"error":"unsupported_media_type","message":"the body must be JSON (Content-Type: application/json)"}\n'  # noqa: E501
)
MALFORMED = b'{"error":"malformed_json","message":"the body is not valid JSON"}\n'


def _assert_refusal(answer, status: int, body: bytes) -> None:
    assert (answer.status_code, answer.data) == (status, body)
    assert answer.headers["Content-Type"] == "application/json"
    for name, value in web.SECURITY_HEADERS.items():
        assert answer.headers[name] == value


# --- what the view gets ---------------------------------------------------------------------------------


def test_a_signed_request_reaches_the_view_with_the_site_in_place_of_site_id(client, site):
    answer = get(client, site, f"/v1/sites/{site['site_id']}/probe/lamp")
    assert answer.status_code == 200
    assert answer.get_json() == {"site": site["site_id"], "name": "Shop", "thing": "lamp"}


def test_a_signed_json_view_gets_the_site_the_webhook_id_and_the_decoded_body(client, site):
    path = f"/v1/sites/{site['site_id']}/probe-json/lamp"
    answer = send(client, site, "POST", path, b'{"a": [1, 2]}', msg_id="msg_probe")
    assert answer.status_code == 200
    assert answer.get_json() == {
        "site": site["site_id"], "webhook_id": "msg_probe", "data": {"a": [1, 2]}, "thing": "lamp",
    }  # fmt: skip


# --- refusals: the view never runs ----------------------------------------------------------------------


def test_a_path_is_signed_in_its_canonical_percent_encoded_form(client, site):
    # A segment with ':' (allowed in booking ids) is signed as the plugin's rawurlencode() writes it,
    # whether the request line carries it escaped or not; the decoded form is refused.
    encoded = f"/v1/sites/{site['site_id']}/probe/a%3Ab~c"
    assert site_auth.canonical_path(f"/v1/sites/{site['site_id']}/probe/a:b~c") == encoded
    for sent in (encoded, encoded.replace("%3A", ":")):
        headers = signing.request_headers(site["secret"], "GET", encoded)
        answer = client.get(sent, headers=headers)
        assert answer.status_code == 200, answer.data
        assert answer.get_json()["thing"] == "a:b~c"
    decoded = signing.request_headers(site["secret"], "GET", encoded.replace("%3A", ":"))
    _assert_refusal(client.get(encoded, headers=decoded), 401, BAD)


def test_the_query_is_signed_as_sent(client, site):
    path = f"/v1/sites/{site['site_id']}/probe/q?staff_id=a%3Ab&x=1"
    assert client.get(path, headers=signing.request_headers(site["secret"], "GET", path)).status_code == 200
    other = signing.request_headers(site["secret"], "GET", path.replace("%3A", ":"))
    _assert_refusal(client.get(path, headers=other), 401, BAD)


def test_no_signature_is_the_old_401_and_the_view_never_runs(client, site):
    answer = client.get(f"/v1/sites/{site['site_id']}/probe/lamp")
    _assert_refusal(answer, 401, MISSING)
    answer = get(client, site, f"/v1/sites/{site['site_id']}/probe/lamp", secret="whsec_" + "A" * 44)
    _assert_refusal(answer, 401, BAD)
    answer = get(client, site, f"/v1/sites/{site['site_id']}/probe/lamp", timestamp=int(time.time()) - 301)
    _assert_refusal(answer, 401, LATE)
    assert CALLS == []


def test_an_unknown_site_is_404_and_the_view_never_runs(client, site):
    answer = get(client, site, "/v1/sites/site_nosuchsite0000/probe/lamp")
    _assert_refusal(answer, 404, UNKNOWN)
    answer = send(client, site, "POST", "/v1/sites/site_nosuchsite0000/probe-json/x", b"{}")
    _assert_refusal(answer, 404, UNKNOWN)
    assert CALLS == []


def test_an_auth_error_raised_by_the_view_is_answered_as_a_refusal(client, site):
    answer = get(client, site, f"/v1/sites/{site['site_id']}/probe-raises")
    _assert_refusal(answer, 401, b'{"error":"bad_signature","message":"refused by the view"}\n')
    assert CALLS == [("raises", site["site_id"])]


def test_by_default_a_cached_site_is_checked_against_redis(client, app, site):
    path = f"/v1/sites/{site['site_id']}/probe/lamp"
    assert get(client, site, path).status_code == 200  # caches the site
    registry.delete(redis_client.get(app), site["site_id"])
    _assert_refusal(get(client, site, path), 404, UNKNOWN)


def test_check_version_false_trusts_the_cached_site_for_the_view_to_check(client, app, site, monkeypatch):
    path = f"/v1/sites/{site['site_id']}/probe-unversioned"
    assert get(client, site, path).status_code == 200  # caches the site
    checked = []
    monkeypatch.setattr(site_auth, "_current", lambda cached: checked.append(cached) or True)
    assert get(client, site, path).status_code == 200
    assert checked == []
    assert get(client, site, f"/v1/sites/{site['site_id']}/probe/lamp").status_code == 200
    assert [cached.id for cached in checked] == [site["site_id"]]


def test_signed_json_checks_signature_then_media_type_then_json(client, site):
    path = f"/v1/sites/{site['site_id']}/probe-json/x"
    unsigned = client.post(path, data=b"{", headers={"Content-Type": "text/plain"})
    _assert_refusal(unsigned, 401, MISSING)
    not_json = send(client, site, "POST", path, b"{}", **{"Content-Type": "text/plain"})
    _assert_refusal(not_json, 415, NOT_JSON)
    _assert_refusal(send(client, site, "POST", path, b'{"a": '), 400, MALFORMED)
    assert CALLS == []


def test_a_body_deeper_than_the_parser_gets_the_routes_own_answer_or_400(client, site):
    deep = b"[" * 60000
    mine = send(client, site, "POST", f"/v1/sites/{site['site_id']}/probe-deep", deep)
    _assert_refusal(mine, 422, b'{"error":"too_deep","message":"nested too deep"}\n')
    default = send(client, site, "POST", f"/v1/sites/{site['site_id']}/probe-json/x", deep)
    _assert_refusal(default, 400, MALFORMED)
    assert CALLS == []


# --- every real route refuses as before -----------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=ROUTE_IDS)
def test_every_site_route_refuses_a_bad_signature_with_the_old_401(client, app, site, method, path, body):
    full = f"/v1/sites/{site['site_id']}/{path}"
    before = redis_client.get(app).dbsize()
    unsigned = client.open(full, method=method, data=body, headers={"Content-Type": "application/json"})
    _assert_refusal(unsigned, 401, MISSING)
    _assert_refusal(send(client, site, method, full, body, secret="whsec_" + "A" * 44), 401, BAD)
    _assert_refusal(send(client, site, method, full, body, timestamp=int(time.time()) - 301), 401, LATE)
    assert redis_client.get(app).dbsize() == before  # nothing done


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=ROUTE_IDS)
def test_every_site_route_answers_an_unknown_site_with_the_old_404(client, app, site, method, path, body):
    full = f"/v1/sites/site_nosuchsite0000/{path}"
    before = redis_client.get(app).dbsize()
    _assert_refusal(send(client, site, method, full, body), 404, UNKNOWN)
    assert redis_client.get(app).dbsize() == before


@pytest.mark.parametrize(("method", "path", "body"), ROUTES, ids=ROUTE_IDS)
def test_every_site_route_refuses_a_rotated_out_secret_despite_the_cache(
    client, app, site, method, path, body
):
    full = f"/v1/sites/{site['site_id']}/{path}"
    assert send(client, site, method, full, body).status_code < 500  # caches the site
    registry.rotate_secret(redis_client.get(app), vault_keys.get(app), site["site_id"], grace_seconds=0)
    _assert_refusal(send(client, site, method, full, body), 401, BAD)


# --- replays ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "ok", "replayed"),
    [
        ("settings", b'{"grace_minutes": 30}', 200,
         b'{"error":"replayed_request","message":"this webhook-id was already used"}\n'),
        ("connect-links", CONNECT, 201,
         b'{"error":"replayed_request","message":"this webhook-id was already used; sign a new request"}\n'),
    ],
    ids=["PUT settings", "POST connect-links"],
)  # fmt: skip
def test_a_replayed_webhook_id_is_refused_where_it_was_before(client, site, path, body, ok, replayed):
    method = "PUT" if path == "settings" else "POST"
    full = f"/v1/sites/{site['site_id']}/{path}"
    # An invalid body is refused before its webhook-id is recorded, so it does not use the id up.
    invalid = send(client, site, method, full, b'{"nope": 1}', msg_id="msg_once")
    assert invalid.status_code == 422
    assert send(client, site, method, full, body, msg_id="msg_once").status_code == ok
    _assert_refusal(send(client, site, method, full, body, msg_id="msg_once"), 409, replayed)


def test_a_replayed_event_is_answered_200_with_the_first_answer(client, site):
    full = f"/v1/sites/{site['site_id']}/events"
    first = send(client, site, "POST", full, _event(), msg_id="msg_event")
    again = send(client, site, "POST", full, _event(), msg_id="msg_event")
    assert (first.status_code, again.status_code) == (202, 200) and again.data == first.data


@pytest.mark.parametrize("path", ["bookings/123", "accounts", "export"])
def test_a_signed_get_may_be_repeated_within_the_tolerance(client, site, path):
    full = f"/v1/sites/{site['site_id']}/{path}"
    first, again = (get(client, site, full, msg_id="msg_same") for _ in range(2))
    assert first.status_code in (200, 404) and again.status_code == first.status_code  # not a 409


# --- the order of checks the routes rely on -------------------------------------------------------------


def test_events_leave_the_site_version_to_their_redis_script(client, site, monkeypatch):
    full = f"/v1/sites/{site['site_id']}/events"
    assert send(client, site, "POST", full, _event("warm")).status_code == 202  # caches the site
    checked = []
    monkeypatch.setattr(site_auth, "_current", lambda cached: checked.append(cached) or True)
    # Broken events are the route's (not the fast path's): the route authenticates them itself.
    answer = send(client, site, "POST", full, signing.body_of(signing.event(start="tomorrow")))
    assert answer.status_code == 422 and checked == []


def test_availability_answers_redis_down_during_authentication_with_its_retry_after(tmp_path, site):
    app = create_app(
        {
            "TESTING": True,
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "MEETBRIDGE_DATA_DIR": str(tmp_path),
        }
    )
    full = f"/v1/sites/{site['site_id']}/{AVAILABILITY}"
    answer = get(app.test_client(), site, full)
    assert answer.status_code == 503 and answer.get_json()["error"] == "storage_unavailable"
    assert int(answer.headers["Retry-After"]) >= 1
