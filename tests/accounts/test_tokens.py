"""Worker-side tokens and result delivery through the app and a real Redis, providers mocked by
`responses` (the 50-worker race and the real sandbox are in tests/accounts/test_tokens_stack.py)."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs

import pytest
import requests
import responses
from rq import Queue
from rq.job import Job

from service import vault_keys
from service.accounts import tokens, vault
from service.exceptions import AccountNotLinked, NeedsRelink, ProviderUnavailable
from service.sites import registry, results, webhooks
from service.storage import keys, redis_client
from service.storage.queues import DELIVER
from workers import deliver

ZOOM_TOKEN_URL = "https://localhost:8444/zoom/oauth/token"


@pytest.fixture
def ctx(app):
    with app.app_context():
        yield app


@pytest.fixture
def site(ctx):
    return registry.create(redis_client.get(), vault_keys.get(), "Shop", "https://shop.example.com")


def link(site, expires_in: int, provider="zoom"):
    token = {
        "access_token": "old-at",
        "refresh_token": "old-rt",
        "token_type": "bearer",
        "expires_in": expires_in,
    }
    vault.save(redis_client.get(), vault_keys.get(), site["site_id"], provider, "7", token, ["s"], "uid")


def stored(site, provider="zoom"):
    return vault.load(redis_client.get(), vault_keys.get(), site["site_id"], provider, "7")


def delivery_jobs():
    return [
        Job.fetch(i, connection=redis_client.get())
        for i in Queue(DELIVER, connection=redis_client.get()).job_ids
    ]


@responses.activate
def test_a_fresh_token_is_used_as_it_is(site):
    link(site, 3600)
    session = tokens.session_for(site["site_id"], "zoom", "7")
    assert session.token["access_token"] == "old-at" and not responses.calls


@responses.activate
def test_a_token_expiring_within_a_minute_is_refreshed_and_the_rotated_one_stored(site):
    link(site, 50)
    responses.post(
        ZOOM_TOKEN_URL,
        json={
            "access_token": "new-at",
            "refresh_token": "new-rt",
            "token_type": "bearer",
            "expires_in": 3599,
        },
    )
    session = tokens.session_for(site["site_id"], "zoom", "7")
    assert session.token["access_token"] == "new-at"
    request = responses.calls[0].request
    assert parse_qs(request.body) == {"grant_type": ["refresh_token"], "refresh_token": ["old-rt"]}
    assert request.headers["Authorization"].startswith("Basic ")
    token = stored(site).token
    assert (token["access_token"], token["refresh_token"]) == ("new-at", "new-rt")
    assert token["expires_at"] > time.time() + 3500
    assert not redis_client.get().exists(keys.account_lock(site["site_id"], "zoom", "7"))


@responses.activate
def test_google_keeps_its_refresh_token_when_the_answer_has_none(site):
    link(site, 10, "google")
    responses.post(
        "https://localhost:8444/google/token",
        json={"access_token": "g2", "expires_in": 3599, "token_type": "Bearer"},
    )
    tokens.session_for(site["site_id"], "google", "7")
    assert stored(site, "google").token["refresh_token"] == "old-rt"


@responses.activate
def test_invalid_grant_marks_needs_relink_tells_the_site_once_and_keeps_the_account(site):
    link(site, 10)
    responses.post(ZOOM_TOKEN_URL, status=400, json={"reason": "Invalid Token!", "error": "invalid_grant"})
    with pytest.raises(NeedsRelink):
        tokens.session_for(site["site_id"], "zoom", "7")
    with pytest.raises(NeedsRelink):
        tokens.session_for(site["site_id"], "zoom", "7")
    assert len(responses.calls) == 1
    account = stored(site)
    assert account.status == "needs_relink" and account.token["refresh_token"] == "old-rt"
    jobs = delivery_jobs()
    assert len(jobs) == 1
    assert jobs[0].func_name == "workers.deliver.deliver_result"
    site_id, message_id, event_type, sealed = jobs[0].args
    assert (site_id, event_type) == (site["site_id"], "account.needs_relink")
    data, _stale = vault_keys.get().open_json(sealed, results.result_aad(site_id, message_id))
    assert data == {"provider": "zoom", "staff_id": "7", "reason": "invalid_grant"}
    assert sum(jobs[0].retry_intervals) >= 24 * 3600 and jobs[0].retries_left == len(results.RETRY_INTERVALS)


@responses.activate
def test_other_refresh_failures_are_retryable_and_change_nothing(site):
    link(site, 10)
    responses.post(ZOOM_TOKEN_URL, body=requests.ConnectionError("down"))
    with pytest.raises(ProviderUnavailable):
        tokens.session_for(site["site_id"], "zoom", "7")
    assert stored(site).status == "active" and not delivery_jobs()


@responses.activate
def test_after_a_401_only_the_token_that_failed_is_refreshed(site):
    link(site, 3600)
    responses.post(
        ZOOM_TOKEN_URL, json={"access_token": "new-at", "refresh_token": "new-rt", "expires_in": 3599}
    )
    assert (
        tokens.refresh_after_unauthorized(site["site_id"], "zoom", "7", "old-at").token["access_token"]
        == "new-at"
    )
    # a second worker that saw the same 401 finds the new token and does not refresh again
    assert (
        tokens.refresh_after_unauthorized(site["site_id"], "zoom", "7", "old-at").token["access_token"]
        == "new-at"
    )
    assert len(responses.calls) == 1


def _meanwhile(site, provider: str, answer: tuple[int, dict], newer: dict):
    """A token endpoint that answers `answer`, after another process (whose refresh started once this
    one's lock had lapsed) stored `newer` while this refresh was on its way."""

    def callback(request):
        vault.update_token(redis_client.get(), vault_keys.get(), site["site_id"], provider, "7", newer)
        return answer[0], {"Content-Type": "application/json"}, json.dumps(answer[1])

    return callback


NEWER = {"access_token": "newer-at", "refresh_token": "newer-rt", "token_type": "bearer", "expires_in": 3599}


@responses.activate
def test_a_refresh_that_outlived_its_lock_never_marks_a_healthy_account_needs_relink(site):
    link(site, 10)
    refused = (400, {"reason": "Invalid Token!", "error": "invalid_grant"})  # the other one rotated it
    responses.add_callback(responses.POST, ZOOM_TOKEN_URL, callback=_meanwhile(site, "zoom", refused, NEWER))
    session = tokens.session_for(site["site_id"], "zoom", "7")
    assert session.token["access_token"] == "newer-at"
    account = stored(site)
    assert account.status == "active" and account.token["refresh_token"] == "newer-rt"
    assert not delivery_jobs()  # the site is not told to relink a healthy account


@responses.activate
def test_a_refresh_that_outlived_its_lock_never_overwrites_a_newer_token(site):
    link(site, 10, "google")
    late = (200, {"access_token": "late-at", "expires_in": 3599, "token_type": "Bearer"})
    responses.add_callback(
        responses.POST,
        "https://localhost:8444/google/token",
        callback=_meanwhile(site, "google", late, NEWER),
    )
    session = tokens.session_for(site["site_id"], "google", "7")
    assert session.token["access_token"] == "newer-at"
    assert stored(site, "google").token["access_token"] == "newer-at"


@responses.activate
def test_invalid_grant_for_the_stored_token_still_marks_needs_relink_after_a_key_rotation(site, app):
    # The same token, only sealed again with another key meanwhile, is still the refused one.
    link(site, 10)
    responses.post(ZOOM_TOKEN_URL, status=400, json={"reason": "Invalid Token!", "error": "invalid_grant"})
    account = stored(site)
    key = keys.account(site["site_id"], "zoom", "7")
    resealed = vault_keys.get().seal_json(account.token, vault.token_aad(site["site_id"], "zoom", "7"))
    redis_client.get().hset(key, "token", resealed)
    with pytest.raises(NeedsRelink):
        tokens._needs_relink(app, redis_client.get(), account, "invalid_grant")
    assert stored(site).status == "needs_relink" and len(delivery_jobs()) == 1


@responses.activate
def test_a_refresh_error_text_is_not_repeated(site, caplog):
    link(site, 10)
    responses.post(ZOOM_TOKEN_URL, status=400, json={"error": "Bad thing for cus@example.com", "reason": "x"})
    with pytest.raises(ProviderUnavailable) as raised:
        tokens.session_for(site["site_id"], "zoom", "7")
    assert "cus@example.com" not in str(raised.value) and "cus@example.com" not in caplog.text
    assert "unexpected_error" in str(raised.value)


def test_unlinked_account(site):
    with pytest.raises(AccountNotLinked):
        tokens.session_for(site["site_id"], "zoom", "7")


# --- result delivery ---------------------------------------------------------------------------------


@responses.activate
def test_deliver_result_posts_a_signed_body_with_the_current_secret(site):
    callback = "https://shop.example.com/wp-json/meetbridge/v1/results"
    responses.post(callback, status=204)
    data = {"provider": "zoom", "staff_id": "7", "reason": "invalid_grant"}
    sealed = vault_keys.get().seal_json(data, results.result_aad(site["site_id"], "msg_abc"))
    assert deliver.deliver_result(site["site_id"], "msg_abc", "account.needs_relink", sealed) == 204
    request = responses.calls[0].request
    secret = webhooks.secret_bytes(site["secret"])
    assert webhooks.verify([secret], request.headers, request.body) == "msg_abc"
    body = json.loads(request.body)
    assert body["type"] == "account.needs_relink" and body["data"] == data and body["timestamp"].endswith("Z")


@responses.activate
def test_deliver_result_is_signed_with_every_secret_the_site_may_still_hold(site):
    callback = "https://shop.example.com/wp-json/meetbridge/v1/results"
    responses.post(callback, status=204)
    r, keyring = redis_client.get(), vault_keys.get()
    rotated = registry.rotate_secret(r, keyring, site["site_id"], 3600)
    sealed = keyring.seal_json({}, results.result_aad(site["site_id"], "msg_abc"))
    deliver.deliver_result(site["site_id"], "msg_abc", "account.needs_relink", sealed)
    request = responses.calls[0].request
    assert len(request.headers["webhook-signature"].split()) == 2
    for secret in (site["secret"], rotated["secret"]):  # a WordPress with either secret verifies it
        assert webhooks.verify([webhooks.secret_bytes(secret)], request.headers, request.body) == "msg_abc"

    registry.rotate_secret(r, keyring, site["site_id"], 0)  # no grace: the old secrets are revoked
    deliver.deliver_result(site["site_id"], "msg_abc", "account.needs_relink", sealed)
    request = responses.calls[1].request
    assert len(request.headers["webhook-signature"].split()) == 1
    with pytest.raises(webhooks.BadSignature):
        webhooks.verify([webhooks.secret_bytes(rotated["secret"])], request.headers, request.body)


@pytest.mark.parametrize(
    "answer", [{"status": 500}, {"status": 302, "headers": {"Location": "/x"}}, {"body": requests.Timeout()}]
)
@responses.activate
def test_deliver_result_raises_for_rq_to_retry(site, answer):
    responses.post("https://shop.example.com/wp-json/meetbridge/v1/results", **answer)
    with pytest.raises(deliver.DeliveryFailed):
        sealed = vault_keys.get().seal_json({}, results.result_aad(site["site_id"], "msg_abc"))
        deliver.deliver_result(site["site_id"], "msg_abc", "account.needs_relink", sealed)


def test_delivery_to_a_removed_site_ends_quietly(ctx):
    assert deliver.deliver_result("site_gone000000000000", "msg_x", "account.needs_relink", b"") == 0


def test_retry_schedule_covers_more_than_a_day():
    assert sum(results.RETRY_INTERVALS) > 24 * 3600
    assert list(results.RETRY_INTERVALS) == sorted(results.RETRY_INTERVALS)
