"""Zoom OAuth emulation: code + PKCE, Basic-only client auth, rotating refresh tokens, revoke."""

from __future__ import annotations

import re

import requests

from tests.sandbox.conftest import STAFF, ZOOM_ID, ZOOM_REDIRECT, ZOOM_SECRET, query_of


def _refresh(sb, refresh_token: str, **kwargs) -> requests.Response:
    form = {"grant_type": "refresh_token", "refresh_token": refresh_token}
    kwargs.setdefault("auth", (ZOOM_ID, ZOOM_SECRET))
    return requests.post(sb.url("/zoom/oauth/token"), data=form, timeout=10, **kwargs)


def test_full_flow_with_authlib(sb):
    token = sb.zoom_token()
    assert token["token_type"] == "bearer" and token["expires_in"] == 3599 and token["refresh_token"]
    me = requests.get(
        sb.url("/zoom/v2/users/me"), headers={"Authorization": "Bearer " + token["access_token"]}, timeout=10
    )
    assert me.status_code == 200 and me.json()["email"] == STAFF and len(me.json()["id"]) == 22


def test_consent_page_form_zoom_branding(sb):
    session = sb.zoom_session()
    url, _ = session.create_authorization_url(
        sb.url("/zoom/oauth/authorize"), code_verifier="v" * 50, state="s1"
    )
    page = requests.get(url, timeout=10)
    assert page.status_code == 200 and "Zoom" in page.text and 'action="/zoom/consent"' in page.text
    consent_id = re.search(r'name="consent_id" value="([^"]+)"', page.text).group(1)
    answer = requests.post(
        sb.url("/zoom/consent"),
        data={"consent_id": consent_id, "email": "not-an-email", "decision": "allow"},
        allow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 400  # form shown again with an error
    answer = requests.post(
        sb.url("/zoom/consent"),
        data={"consent_id": consent_id, "email": "zed@example.com", "decision": "allow"},
        allow_redirects=False,
        timeout=10,
    )
    assert (
        answer.headers["Location"].startswith(ZOOM_REDIRECT)
        and query_of(answer.headers["Location"])["state"] == "s1"
    )


def test_refresh_rotates_and_old_token_dies(sb):
    token = sb.zoom_token()
    first = _refresh(sb, token["refresh_token"])
    assert first.status_code == 200
    new_refresh = first.json()["refresh_token"]
    assert new_refresh != token["refresh_token"]
    old = _refresh(sb, token["refresh_token"])
    assert old.status_code == 400 and old.json() == {"reason": "Invalid Token!", "error": "invalid_grant"}
    assert _refresh(sb, new_refresh).status_code == 200
    assert sb.state()["token_refreshes"] == {"google": 0, "zoom": 2}


def test_client_credentials_in_body_are_rejected(sb):
    token = sb.zoom_token()
    form = {
        "grant_type": "refresh_token",
        "refresh_token": token["refresh_token"],
        "client_id": ZOOM_ID,
        "client_secret": ZOOM_SECRET,
    }
    response = requests.post(sb.url("/zoom/oauth/token"), data=form, timeout=10)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert _refresh(sb, token["refresh_token"], auth=(ZOOM_ID, "wrong")).status_code == 401
    assert _refresh(sb, token["refresh_token"]).status_code == 200  # the refresh token survived


def test_wrong_verifier_reused_code_and_bad_redirect(sb):
    sb.knob("consent", {"mode": "approve"})
    session = sb.zoom_session()
    location, verifier = sb.authorize(session, "/zoom/oauth/authorize")[:2]
    code = query_of(location)["code"]
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": ZOOM_REDIRECT,
        "code_verifier": "x" * 43,
    }
    bad = requests.post(sb.url("/zoom/oauth/token"), data=form, auth=(ZOOM_ID, ZOOM_SECRET), timeout=10)
    assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"
    form["code_verifier"] = verifier
    reused = requests.post(sb.url("/zoom/oauth/token"), data=form, auth=(ZOOM_ID, ZOOM_SECRET), timeout=10)
    assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
    url, _ = session.create_authorization_url(
        sb.url("/zoom/oauth/authorize"), redirect_uri="https://evil.example/cb"
    )
    page = requests.get(url, allow_redirects=False, timeout=10)
    assert page.status_code == 400 and "Location" not in page.headers


def test_revoke_needs_basic_auth_and_kills_tokens(sb):
    token = sb.zoom_token()
    url = sb.url("/zoom/oauth/revoke")
    assert requests.post(url, params={"token": token["access_token"]}, timeout=10).status_code == 401
    response = requests.post(
        url, params={"token": token["access_token"]}, auth=(ZOOM_ID, ZOOM_SECRET), timeout=10
    )
    assert response.json() == {"status": "success"}
    assert _refresh(sb, token["refresh_token"]).status_code == 400
    me = requests.get(
        sb.url("/zoom/v2/users/me"), headers={"Authorization": "Bearer " + token["access_token"]}, timeout=10
    )
    assert me.status_code == 401 and me.json() == {"code": 124, "message": "Invalid access token."}
    assert all("token=" not in call["path"] for call in sb.state()["calls"])
