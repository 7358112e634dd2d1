"""Linking accounts through the real stack (gunicorn over TLS, RQ worker, sandbox, redis-server):
a real Chromium links and unlinks a Zoom and a Google account; every way a link can go wrong is
rejected and links nothing; nothing secret reaches Redis or a log in the clear."""

from __future__ import annotations

import base64
import json
import re
import time

import pytest
import requests

from service.accounts import vault
from service.linking import connect_links
from service.storage import keys
from tests import browser, signing
from tests.site_stack import account_keys, assert_not_in_the_clear, outcome, site_stack, stack_keyring

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with site_stack(tmp_path_factory.mktemp("linking"), workers=1) as running:
        yield running


def linked(env, staff_id: str) -> list[bytes]:
    return [key for key in account_keys(env.r) if f":{staff_id}".encode() in key]


def shoot(page, name: str) -> None:
    folder = browser.ARTIFACTS / "linking"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


@pytest.mark.parametrize(("provider", "label"), [("zoom", "Zoom"), ("google", "Google")])
def test_a_browser_links_and_the_site_unlinks(env, provider, label):
    browser.require_chromium()
    env.sandbox.post("consent", {"mode": "ask"})
    staff = f"b-{provider}"
    url = env.linker.link_url(provider, staff)
    with browser.page() as page:
        page.goto(url)
        assert (
            page.get_by_role("heading", level=1).inner_text() == f"Link your {label} account to Example Shop"
        )
        shoot(page, f"{provider}-1-connect")
        page.get_by_role("button", name=f"Continue to {label}").click()
        page.wait_for_url(env.stack.sandbox_url + "/**")
        assert page.get_by_role("button", name="Allow").is_visible()
        shoot(page, f"{provider}-2-consent")
        page.get_by_role("button", name="Allow").click()
        page.wait_for_url(env.double.url + "/**")
        assert outcome(page.url) == {
            "page": "meetbridge", "meetbridge_status": "connected", "provider": provider, "staff_id": staff,
        }  # fmt: skip
        assert "account linked" in page.inner_text("body")
        shoot(page, f"{provider}-3-back-on-the-site")
        page.goto(url)  # the link is used up
        assert page.get_by_role("heading", level=1).inner_text() == "This link can no longer be used"
        shoot(page, f"{provider}-4-used-link")

    listed = [a for a in env.linker.accounts() if a["staff_id"] == staff]
    assert [(a["provider"], a["status"]) for a in listed] == [(provider, "active")]
    live = {g["id"] for g in env.sandbox.state()["grants"] if g["provider"] == provider and not g["revoked"]}
    answer = env.linker.unlink(provider, staff)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "provider": provider,
        "staff_id": staff,
        "deleted": True,
        "revoked_at_provider": True,
    }
    revoked = {g["id"] for g in env.sandbox.state()["grants"] if g["id"] in live and g["revoked"]}
    assert len(revoked) == 1
    assert not linked(env, staff) and env.linker.unlink(provider, staff).status_code == 404


def test_denied_consent_links_nothing(env):
    env.sandbox.post("consent", {"mode": "deny"})
    final = env.linker.press_continue(env.linker.link_url("zoom", "denied"))
    result = outcome(final.url)
    assert (result["meetbridge_status"], result["reason"], result["staff_id"]) == (
        "error",
        "access_denied",
        "denied",
    )
    assert not linked(env, "denied")


def test_a_reused_link_is_refused(env):
    env.sandbox.post("consent", {"mode": "ask"})
    url = env.linker.link_url("google", "reused")
    page = env.linker.open(url)
    first = env.linker.press_continue(url, page)
    assert first.status_code == 200 and "Allow" in first.text  # at the provider's consent screen
    again = env.linker.press_continue(url, page)
    assert again.status_code == 410 and "can no longer be used" in again.text
    assert env.linker.open(url).status_code == 410
    assert not linked(env, "reused")


def test_an_expired_link_is_refused(env):
    url = env.linker.link_url("zoom", "expired")
    page = env.linker.open(url)
    key = keys.connect_link(connect_links.digest(url.rsplit("/", 1)[1]))
    assert 590 <= env.r.ttl(key) <= 600
    env.r.pexpire(key, 1)  # what Redis does at the end of the 10 minutes
    time.sleep(0.05)
    assert env.linker.press_continue(url, page).status_code == 410
    assert env.linker.open(url).status_code == 410
    assert not linked(env, "expired")


def test_a_foreign_return_url_is_refused(env):
    before = set(env.r.scan_iter(match="mb:connect:*"))
    for foreign in (
        "https://evil.example.net/wp-admin/",
        env.double.url.replace("127.0.0.1", "localhost") + "/x",
    ):
        answer = env.linker.post_link("zoom", "foreign", return_url=foreign)
        assert answer.status_code == 422 and answer.json()["field"] == "return_url"
    assert set(env.r.scan_iter(match="mb:connect:*")) == before
    assert not linked(env, "foreign")


def _to_provider(env, staff: str) -> tuple[str, str]:
    """Press Continue and stop there: (the provider's authorization URL, the OAuth state)."""
    answer = env.linker.press_continue(env.linker.link_url("zoom", staff), allow_redirects=False)
    assert answer.status_code == 303
    location = answer.headers["Location"]
    return location, re.search(r"[?&]state=([^&]+)", location).group(1)


def test_a_tampered_state_is_refused(env):
    env.sandbox.post("consent", {"mode": "approve"})
    authorize, state = _to_provider(env, "tampered")
    back = env.linker.browser.get(authorize, allow_redirects=False, verify=env.linker.verify, timeout=10)
    callback = back.headers["Location"]
    assert callback.startswith(env.stack.base_url + "/oauth/zoom/callback?") and f"state={state}" in callback
    tampered = callback.replace(f"state={state}", f"state={state[:-1]}{'A' if state[-1] != 'A' else 'B'}")
    answer = env.linker.browser.get(tampered, verify=env.linker.verify, timeout=10)
    assert answer.status_code == 400 and "could not be completed" in answer.text
    assert not linked(env, "tampered")


def test_a_wrong_pkce_verifier_is_refused_by_the_provider(env):
    env.sandbox.post("consent", {"mode": "approve"})
    authorize, state = _to_provider(env, "pkce")
    state_hash = connect_links.digest(state)
    key = keys.oauth_state(state_hash)
    record = json.loads(env.r.get(key))
    wrong = stack_keyring(env.stack).seal(b"W" * 86, connect_links.pkce_aad(state_hash))
    env.r.set(key, json.dumps({**record, "verifier": base64.b64encode(wrong).decode()}), keepttl=True)
    final = env.linker.browser.get(authorize, verify=env.linker.verify, timeout=15)
    result = outcome(final.url)
    assert (result["meetbridge_status"], result["reason"]) == ("error", "provider_error")
    assert not linked(env, "pkce")
    assert "zoom link for staff pkce" in env.stack.logs() and "invalid_grant" in env.stack.logs()


def named_link(env, provider: str, staff_id: str, name: str) -> str:
    """A connect link asked for with the staff member's display name (what wp-bridge sends)."""
    body = json.dumps(
        {"provider": provider, "staff_id": staff_id, "return_url": env.linker.return_url, "staff_name": name}
    ).encode()
    answer = requests.post(
        f"{env.stack.base_url}/v1/sites/{env.site['site_id']}/connect-links",
        data=body,
        headers=signing.headers(env.site["secret"], body),
        verify=env.linker.verify,
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["url"]


def test_nothing_secret_is_stored_or_logged_in_the_clear(env):
    env.sandbox.post("consent", {"mode": "approve"})
    for provider in ("zoom", "google"):
        assert env.linker.link(provider, "kept")["meetbridge_status"] == "connected"
    # A display name for the connect screen: shown there, kept sealed for the link's 10 minutes only.
    url = named_link(env, "zoom", "named", "Grace Hopper-Named")
    assert '<strong class="staff">Grace Hopper-Named</strong>' in env.linker.open(url).text
    assert outcome(env.linker.press_continue(url).url)["meetbridge_status"] == "connected"
    needles = [env.site["secret"], env.site["secret"].removeprefix("whsec_"), "sam.staff@example.com"]
    needles += ["Grace Hopper-Named"]
    needles += ["sandbox-zoom-secret", "sandbox-google-secret"]
    for provider in ("zoom", "google"):
        token = _token(env, provider, "kept")
        needles += [token["access_token"], token["refresh_token"]]
    time.sleep(0.3)  # let the processes flush their last log lines
    assert_not_in_the_clear(env.r, env.stack.logs(), needles)


def _token(env, provider: str, staff: str) -> dict:
    account = vault.load(env.r, stack_keyring(env.stack), env.site["site_id"], provider, staff)
    assert account is not None
    return account.token


def test_signed_calls_need_the_site_secret(env):
    path = f"/v1/sites/{env.site['site_id']}/accounts"
    answer = requests.get(env.stack.base_url + path, verify=env.linker.verify, timeout=10)
    assert answer.status_code == 401
