"""Connect links, the connect screen and the OAuth callbacks through the app and a real Redis, with the
providers' HTTP answers mocked by `responses` (the stack tests use the real sandbox)."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from service import create_app, vault_keys
from service.accounts import vault
from service.sites import registry
from service.storage import keys, redis_client
from tests import signing

HTTPS = "https://localhost"
RETURN = "https://shop.example.com/wp-admin/admin.php?page=meetbridge"


@pytest.fixture
def site(app):
    with app.app_context():
        return registry.create(
            redis_client.get(), vault_keys.get(), "Shop <&> Co", "https://shop.example.com"
        )


def post_link(client, site, payload=None, **changes):
    body = signing.body_of(
        payload
        if payload is not None
        else {"provider": "zoom", "staff_id": "7", "return_url": RETURN, **changes}
    )  # noqa: E501
    headers = signing.headers(site["secret"], body)
    return client.post(f"/v1/sites/{site['site_id']}/connect-links", data=body, headers=headers)


def link_path(client, site, **changes) -> str:
    answer = post_link(client, site, **changes)
    assert answer.status_code == 201, answer.get_json()
    return urlsplit(answer.get_json()["url"]).path


def press_continue(client, path):
    page = client.get(path, base_url=HTTPS)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    return client.post(path, data={"csrf": csrf}, base_url=HTTPS)


def started(client, site, provider="zoom") -> dict[str, str]:
    answer = press_continue(client, link_path(client, site, provider=provider))
    assert answer.status_code == 303
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def callback(client, provider, **query):
    return client.get(f"/oauth/{provider}/callback", query_string=query, base_url=HTTPS)


def outcome(answer) -> dict[str, str]:
    assert answer.status_code == 303, answer.data[:300]
    location = answer.headers["Location"]
    assert location.startswith("https://shop.example.com/wp-admin/admin.php?page=meetbridge&")
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def nothing_linked(app) -> bool:
    r = redis_client.get(app)
    return not any(r.scan_iter(match="mb:s:*:acct*")) and not any(r.scan_iter(match="mb:zu:*"))


# --- POST /v1/sites/{site_id}/connect-links --------------------------------------------------------------


def test_link_answer_and_storage(client, app, site):
    answer = post_link(client, site)
    assert answer.status_code == 201
    body = answer.get_json()
    assert re.fullmatch(r"https://localhost:8443/connect/[A-Za-z0-9_-]{43}", body["url"])
    expires = time.mktime(time.strptime(body["expires_at"], "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    assert 590 <= expires - time.time() <= 600
    token = body["url"].rsplit("/", 1)[1]
    r = redis_client.get(app)
    stored = list(r.scan_iter(match="mb:connect:*"))
    assert len(stored) == 1 and token.encode() not in stored[0] and token.encode() not in r.get(stored[0])
    assert 0 < r.ttl(stored[0]) <= 600


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"provider": "teams", "staff_id": "7", "return_url": RETURN}, "provider"),
        ({"provider": "zoom", "staff_id": "7 8", "return_url": RETURN}, "staff_id"),
        ({"provider": "zoom", "staff_id": "", "return_url": RETURN}, "staff_id"),
        ({"provider": "zoom", "staff_id": 7, "return_url": RETURN}, "staff_id"),
        ({"provider": "zoom", "return_url": RETURN}, "staff_id"),
        ({"provider": "zoom", "staff_id": "7", "return_url": "https://evil.example.net/"}, "return_url"),
        (
            {"provider": "zoom", "staff_id": "7", "return_url": "https://shop.example.com.evil.net/"},
            "return_url",
        ),
        ({"provider": "zoom", "staff_id": "7", "return_url": "http://shop.example.com/"}, "return_url"),
        ({"provider": "zoom", "staff_id": "7", "return_url": "https://shop.example.com:444/"}, "return_url"),
        ({"provider": "zoom", "staff_id": "7", "return_url": "https://x@shop.example.com/"}, "return_url"),
        ({"provider": "zoom", "staff_id": "7", "return_url": "javascript:alert(1)"}, "return_url"),
        (
            {"provider": "zoom", "staff_id": "7", "return_url": "https://shop.example.com/\\@evil"},
            "return_url",
        ),
        ({"provider": "zoom", "staff_id": "7", "return_url": RETURN, "scope": "all"}, "scope"),
        ({"provider": "zoom", "staff_id": "7", "return_url": RETURN, "staff_name": ""}, "staff_name"),
        ({"provider": "zoom", "staff_id": "7", "return_url": RETURN, "staff_name": "  "}, "staff_name"),
        ({"provider": "zoom", "staff_id": "7", "return_url": RETURN, "staff_name": "x" * 101}, "staff_name"),
        ({"provider": "zoom", "staff_id": "7", "return_url": RETURN, "staff_name": "A\nB"}, "staff_name"),
        ({"provider": "zoom", "staff_id": "7", "return_url": RETURN, "staff_name": 7}, "staff_name"),
        ([], "(root)"),
    ],
)
def test_invalid_body_is_422_naming_the_field(client, app, site, payload, field):
    answer = post_link(client, site, payload)
    assert answer.status_code == 422
    assert answer.get_json()["field"] == field
    assert not list(redis_client.get(app).scan_iter(match="mb:connect:*"))


def test_return_url_on_the_origin_with_default_port_is_accepted(client, site):
    assert post_link(client, site, return_url="https://SHOP.example.com:443/x").status_code == 201


def test_link_needs_a_signature(client, site):
    body = json.dumps({"provider": "zoom", "staff_id": "7", "return_url": RETURN}).encode()
    answer = client.post(
        f"/v1/sites/{site['site_id']}/connect-links", data=body, content_type="application/json"
    )
    assert answer.status_code == 401


# --- GET/POST /connect/<token> -----------------------------------------------------------------------


def test_connect_page_explains_and_works_without_javascript(client, site):
    page = client.get(link_path(client, site), base_url=HTTPS)
    assert page.status_code == 200 and page.mimetype == "text/html"
    text = page.text
    assert "Shop &lt;&amp;&gt; Co" in text and "<&>" not in text  # the site's name, escaped
    assert "Continue to Zoom" in text and 'method="post"' in text and "<script" not in text
    assert 'lang="en"' in text and "What happens next" in text and "staff member" in text
    csp = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert "form-action 'self' https://localhost:8444 https://shop.example.com;" in csp
    cookie = page.headers["Set-Cookie"]
    for attribute in ("__Host-mb_connect=", "Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in cookie


def test_the_connect_screen_names_the_staff_member_the_site_sent(client, app, site):
    path = link_path(client, site, staff_name="Sam <b>Staff</b> Ünal")
    page = client.get(path, base_url=HTTPS)
    assert page.status_code == 200
    assert '<strong class="staff">Sam &lt;b&gt;Staff&lt;/b&gt; Ünal</strong> (staff member 7' in page.text
    assert "MeetBridge\nStaff accounts page of Shop" in page.text and "settings" not in page.text
    # Only sealed in the link's record: not in the clear, and not carried into the OAuth state.
    r = redis_client.get(app)
    [record] = [r.get(key) for key in r.scan_iter(match="mb:connect:*")]
    assert b"Sam" not in record and "Ünal".encode() not in record and b'"name": "' in record
    assert press_continue(client, path).status_code == 303
    assert not list(r.scan_iter(match="mb:connect:*"))
    [state] = [r.get(key) for key in r.scan_iter(match="mb:oauth:*")]
    assert b"Sam" not in state and b"staff_name" not in state and b'"name"' not in state


def test_without_a_name_the_screen_says_which_staff_id_on_which_page(client, site):
    page = client.get(link_path(client, site), base_url=HTTPS)
    said = 'staff member <strong class="staff">7</strong> on the\nMeetBridge Staff accounts page of Shop'
    assert said in page.text


def test_continue_redirects_to_the_provider_with_pkce_and_the_right_parameters(client, site):
    query = started(client, site, "google")
    assert query["code_challenge_method"] == "S256" and len(query["code_challenge"]) == 43
    assert query["access_type"] == "offline" and query["prompt"] == "consent"
    assert query["redirect_uri"] == "https://localhost:8443/oauth/google/callback"
    assert query["scope"].split() == [
        "https://www.googleapis.com/auth/calendar.events.owned",
        "https://www.googleapis.com/auth/calendar.freebusy",
    ]
    assert len(query["state"]) == 43


def test_a_link_works_once(client, site):
    path = link_path(client, site)
    assert press_continue(client, path).status_code == 303
    again = client.get(path, base_url=HTTPS)
    assert again.status_code == 410 and "can no longer be used" in again.text


def test_continue_without_the_cookie_or_csrf_is_refused_and_keeps_the_link(client, app, site):
    path = link_path(client, site)
    page = client.get(path, base_url=HTTPS)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    other_browser = app.test_client()
    assert other_browser.post(path, data={"csrf": csrf}, base_url=HTTPS).status_code == 403
    assert client.post(path, data={"csrf": "0" * 64}, base_url=HTTPS).status_code == 403
    assert client.post(path, data={"csrf": csrf}, base_url=HTTPS).status_code == 303


def test_an_expired_link_is_refused(redis_url, tmp_path, site):
    short = create_app(
        {"TESTING": True, "REDIS_URL": redis_url, "MEETBRIDGE_DATA_DIR": str(tmp_path), "CONNECT_LINK_TTL": 1}
    )
    browser = short.test_client()
    path = link_path(browser, site)
    page = browser.get(path, base_url=HTTPS)
    assert page.status_code == 200
    time.sleep(1.2)
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page.text).group(1)
    answer = browser.post(path, data={"csrf": csrf}, base_url=HTTPS)
    assert answer.status_code == 410 and "expired" in answer.text
    assert nothing_linked(short)


# --- the callback (providers mocked) --------------------------------------------------------------------


@responses.activate
def test_zoom_callback_stores_the_tokens_and_the_zoom_user_id(client, app, site):
    responses.post(
        "https://localhost:8444/zoom/oauth/token",
        json={"access_token": "zat-1", "refresh_token": "zrt-1", "token_type": "bearer", "expires_in": 3599,
              "scope": "meeting:read:meeting user:read:user"},
    )  # fmt: skip
    responses.get(
        "https://localhost:8444/zoom/v2/users/me", json={"id": "ZoomId123", "email": "staff@example.com"}
    )
    query = started(client, site)
    assert outcome(callback(client, "zoom", code="c0de", state=query["state"])) == {
        "page": "meetbridge", "meetbridge_status": "connected", "provider": "zoom", "staff_id": "7",
    }  # fmt: skip
    exchange = responses.calls[0].request
    assert exchange.headers["Authorization"].startswith("Basic ")
    form = parse_qs(exchange.body)
    assert form["code"] == ["c0de"] and len(form["code_verifier"][0]) == 86 and "client_secret" not in form
    assert responses.calls[1].request.headers["Authorization"] == "Bearer zat-1"
    r = redis_client.get(app)
    record = r.hgetall(keys.account(site["site_id"], "zoom", "7"))
    assert record[b"provider_user_id"] == b"ZoomId123"
    assert record[b"scopes"] == b"meeting:read:meeting user:read:user"
    assert r.smembers(keys.zoom_user("ZoomId123")) == {keys.account(site["site_id"], "zoom", "7").encode()}
    dump = b"".join(v for key in r.scan_iter() if r.type(key) == b"hash" for v in r.hgetall(key).values())
    assert b"staff@example.com" not in dump and b"zrt-1" not in dump
    with app.app_context():
        assert vault.load(r, vault_keys.get(), site["site_id"], "zoom", "7").token["refresh_token"] == "zrt-1"
    assert callback(client, "zoom", code="c0de", state=query["state"]).status_code == 400  # state used up


@responses.activate
def test_google_callback_authenticates_in_the_body(client, app, site):
    responses.post(
        "https://localhost:8444/google/token",
        json={"access_token": "ya29.x", "refresh_token": "1//r", "expires_in": 3599, "token_type": "Bearer"},
    )
    query = started(client, site, "google")
    assert (
        outcome(callback(client, "google", code="4/c", state=query["state"]))["meetbridge_status"]
        == "connected"
    )
    form = parse_qs(responses.calls[0].request.body)
    assert form["client_id"] == ["sandbox-google-client"] and form["client_secret"] == [
        "sandbox-google-secret"
    ]
    assert len(responses.calls) == 1  # no user lookup for Google


@pytest.mark.parametrize(
    ("provider_answer", "reason"),
    [
        (
            {"status": 400, "json": {"error": "invalid_grant", "reason": "Invalid code verifier."}},
            "provider_error",
        ),
        ({"status": 500, "body": "oops"}, "provider_error"),
        ({"body": requests.ConnectionError("down")}, "provider_unreachable"),
    ],
)
@responses.activate
def test_a_failed_exchange_links_nothing(client, app, site, provider_answer, reason):
    responses.post("https://localhost:8444/zoom/oauth/token", **provider_answer)
    query = started(client, site)
    result = outcome(callback(client, "zoom", code="c", state=query["state"]))
    assert result["meetbridge_status"] == "error" and result["reason"] == reason
    assert nothing_linked(app)


@responses.activate
def test_a_provider_error_text_is_not_logged(client, app, site, caplog):
    echo = "no user sam.staff@example.com"
    responses.post("https://localhost:8444/zoom/oauth/token", status=400, json={"error": echo})
    query = started(client, site)
    result = outcome(callback(client, "zoom", code="c", state=query["state"]))
    assert result["reason"] == "provider_error" and nothing_linked(app)
    assert "unexpected_error" in caplog.text and echo not in caplog.text


@responses.activate
def test_denied_consent_and_provider_errors_link_nothing(client, app, site):
    query = started(client, site)
    result = outcome(callback(client, "zoom", error="access_denied", state=query["state"]))
    assert (result["meetbridge_status"], result["reason"]) == ("error", "access_denied")
    query = started(client, site)
    result = outcome(callback(client, "zoom", error="server_error<script>", state=query["state"]))
    assert result["reason"] == "provider_error"
    assert not responses.calls and nothing_linked(app)


def test_another_browser_or_provider_cannot_complete_the_consent(client, app, site):
    query = started(client, site)
    stranger = app.test_client()
    assert outcome(callback(stranger, "zoom", code="c", state=query["state"]))["reason"] == "browser_mismatch"
    query = started(client, site, "zoom")
    assert outcome(callback(client, "google", code="c", state=query["state"]))["reason"] == "state_mismatch"
    assert nothing_linked(app)


@pytest.mark.parametrize("state", ["", "short", "A" * 43, "A" * 42 + "!"])
def test_unknown_or_tampered_state_gets_a_page(client, app, site, state):
    started(client, site)
    answer = callback(client, "zoom", code="c", state=state)
    assert answer.status_code == 400 and answer.mimetype == "text/html"
    assert "could not be completed" in answer.text and "Nothing was linked" in answer.text
    assert nothing_linked(app)
