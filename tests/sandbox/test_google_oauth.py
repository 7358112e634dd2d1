"""Google OAuth emulation: code + PKCE flows, consent page, and what Google rejects."""

from __future__ import annotations

import re

import requests
from authlib.common.security import generate_token
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.sandbox.conftest import CAL_SCOPE, GOOGLE_ID, GOOGLE_REDIRECT, GOOGLE_SECRET, STAFF, query_of

AUTH = "/google/o/oauth2/v2/auth"


def _params(**extra: str) -> dict[str, str]:
    verifier = generate_token(48)
    params = {
        "client_id": GOOGLE_ID,
        "redirect_uri": GOOGLE_REDIRECT,
        "response_type": "code",
        "scope": CAL_SCOPE,
        "state": "xyz",
        "access_type": "offline",
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    params.update(extra)
    params["_verifier"] = verifier
    return params


def _code(sb, **extra: str) -> tuple[str, str]:
    params = _params(**extra)
    verifier = params.pop("_verifier")
    response = requests.get(sb.url(AUTH), params=params, allow_redirects=False, timeout=10)
    assert response.status_code == 302, response.text
    return query_of(response.headers["Location"])["code"], verifier


def _redeem(sb, code: str, verifier: str | None, **extra: str) -> requests.Response:
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": GOOGLE_REDIRECT,
        "client_id": GOOGLE_ID,
        "client_secret": GOOGLE_SECRET,
    }
    if verifier is not None:
        form["code_verifier"] = verifier
    form.update(extra)
    return requests.post(sb.url("/google/token"), data=form, timeout=10)


def test_full_flow_with_authlib_auto_approve(sb):
    token = sb.google_token()
    assert token["access_token"].startswith("ya29.")
    assert token["refresh_token"]
    assert token["scope"] == CAL_SCOPE
    assert token["token_type"] == "Bearer" and token["expires_in"] == 3599
    grants = sb.state()["grants"]
    assert [(g["provider"], g["user"], g["has_refresh_token"]) for g in grants] == [("google", STAFF, True)]
    assert "ya29" not in str(sb.state())


def test_consent_form_submitted_by_hand_and_state_echoed(sb):
    params = _params()
    verifier = params.pop("_verifier")
    page = requests.get(sb.url(AUTH), params=params, timeout=10)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    assert GOOGLE_ID in page.text and CAL_SCOPE in page.text and STAFF in page.text
    consent_id = re.search(r'name="consent_id" value="([^"]+)"', page.text).group(1)
    form = {"consent_id": consent_id, "email": "Other.Person@example.com", "decision": "allow"}
    answer = requests.post(sb.url("/google/consent"), data=form, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    query = query_of(answer.headers["Location"])
    assert answer.headers["Location"].startswith(GOOGLE_REDIRECT) and query["state"] == "xyz"
    assert _redeem(sb, query["code"], verifier).status_code == 200
    assert sb.state()["grants"][0]["user"] == "other.person@example.com"
    # the consent form's token is single use
    again = requests.post(sb.url("/google/consent"), data=form, allow_redirects=False, timeout=10)
    assert again.status_code == 400


def test_denied_consent_redirects_with_access_denied(sb):
    params = _params()
    params.pop("_verifier")
    page = requests.get(sb.url(AUTH), params=params, timeout=10)
    consent_id = re.search(r'name="consent_id" value="([^"]+)"', page.text).group(1)
    answer = requests.post(
        sb.url("/google/consent"),
        data={"consent_id": consent_id, "decision": "deny"},
        allow_redirects=False,
        timeout=10,
    )
    assert query_of(answer.headers["Location"]) == {"error": "access_denied", "state": "xyz"}
    sb.knob("consent", {"mode": "deny"})
    response = requests.get(sb.url(AUTH), params=params, allow_redirects=False, timeout=10)
    assert query_of(response.headers["Location"]) == {"error": "access_denied", "state": "xyz"}


def test_wrong_and_missing_verifier_are_invalid_grant(sb):
    sb.knob("consent", {"mode": "approve"})
    code, _ = _code(sb)
    response = _redeem(sb, code, generate_token(48))
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"
    code, _ = _code(sb)
    response = _redeem(sb, code, None)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_reused_code_is_invalid_grant_and_revokes_its_tokens(sb):
    sb.knob("consent", {"mode": "approve"})
    code, verifier = _code(sb)
    first = _redeem(sb, code, verifier)
    assert first.status_code == 200
    second = _redeem(sb, code, verifier)
    assert second.status_code == 400 and second.json()["error"] == "invalid_grant"
    assert sb.state()["grants"][0]["revoked"] is True
    api = requests.get(
        sb.url("/google/calendar/v3/calendars/primary/events"),
        headers={"Authorization": "Bearer " + first.json()["access_token"]},
        timeout=10,
    )
    assert api.status_code == 401


def test_expired_code_is_rejected(sb):
    sb.knob("consent", {"mode": "approve"})
    code, verifier = _code(sb)
    sb.knob("clock", {"advance_seconds": 601})
    assert _redeem(sb, code, verifier).json()["error"] == "invalid_grant"


def test_bad_redirect_uri_and_unknown_client_show_error_page_without_redirect(sb):
    sb.knob("consent", {"mode": "approve"})
    for extra in ({"redirect_uri": "https://evil.example/cb"}, {"client_id": "nope"}):
        params = _params(**extra)
        params.pop("_verifier")
        response = requests.get(sb.url(AUTH), params=params, allow_redirects=False, timeout=10)
        assert response.status_code == 400 and "Location" not in response.headers


def test_redirect_uri_knob_registers_more(sb):
    sb.knob("consent", {"mode": "approve"})
    sb.knob("redirect-uris", {"add": ["https://app.test/cb"]})
    code, verifier = _code(sb, redirect_uri="https://app.test/cb")
    assert _redeem(sb, code, verifier, redirect_uri="https://app.test/cb").status_code == 200


def test_plain_pkce_and_unknown_scope_rejected(sb):
    sb.knob("consent", {"mode": "approve"})
    params = _params(code_challenge_method="plain")
    params.pop("_verifier")
    response = requests.get(sb.url(AUTH), params=params, allow_redirects=False, timeout=10)
    assert query_of(response.headers["Location"])["error"] == "invalid_request"
    params = _params(scope="https://www.googleapis.com/auth/not-a-scope")
    params.pop("_verifier")
    assert requests.get(sb.url(AUTH), params=params, allow_redirects=False, timeout=10).status_code == 400


def test_token_redirect_uri_must_match(sb):
    sb.knob("consent", {"mode": "approve"})
    code, verifier = _code(sb)
    response = _redeem(sb, code, verifier, redirect_uri="https://localhost:8443/other")
    assert response.status_code == 400 and response.json()["error"] == "redirect_uri_mismatch"


def test_client_authentication_basic_or_post_but_secret_must_match(sb):
    sb.knob("consent", {"mode": "approve"})
    code, verifier = _code(sb)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": GOOGLE_REDIRECT,
        "code_verifier": verifier,
    }
    response = requests.post(sb.url("/google/token"), data=form, auth=(GOOGLE_ID, GOOGLE_SECRET), timeout=10)
    assert response.status_code == 200
    code, verifier = _code(sb)
    assert _redeem(sb, code, verifier, client_secret="wrong").status_code == 401


def test_refresh_token_only_offline_and_first_consent_unless_prompt_consent(sb):
    sb.knob("consent", {"mode": "approve"})
    code, verifier = _code(sb, access_type="online")
    assert "refresh_token" not in _redeem(sb, code, verifier).json()
    assert "refresh_token" in sb.google_token()
    assert "refresh_token" not in sb.google_token()
    assert "refresh_token" in sb.google_token(prompt="consent")


def test_refresh_does_not_rotate_and_revoke_kills_grant(sb):
    token = sb.google_token()
    form = {"grant_type": "refresh_token", "refresh_token": token["refresh_token"]}
    for _ in range(2):
        response = requests.post(
            sb.url("/google/token"), data=form, auth=(GOOGLE_ID, GOOGLE_SECRET), timeout=10
        )
        assert response.status_code == 200
        assert (
            "refresh_token" not in response.json()
            and response.json()["access_token"] != token["access_token"]
        )
    assert sb.state()["token_refreshes"]["google"] == 2
    assert (
        requests.post(sb.url("/google/revoke"), data={"token": token["access_token"]}, timeout=10).status_code
        == 200
    )
    response = requests.post(sb.url("/google/token"), data=form, auth=(GOOGLE_ID, GOOGLE_SECRET), timeout=10)
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "Token has been expired or revoked.",
    }
    again = requests.post(sb.url("/google/revoke"), data={"token": token["refresh_token"]}, timeout=10)
    assert again.status_code == 400 and again.json()["error"] == "invalid_token"
