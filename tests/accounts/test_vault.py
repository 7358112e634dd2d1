"""The token vault against a real Redis: sealed records, context binding, re-seal on read, `vault rotate`."""

from __future__ import annotations

import json

import pytest

from service import create_app, vault_keys
from service.accounts import vault
from service.crypto import DecryptError, generate_key
from service.sites import registry, site_auth
from service.storage import keys, redis_client
from tests import signing

TOKEN = {
    "access_token": "at-secret-1",
    "refresh_token": "rt-secret-1",
    "token_type": "bearer",
    "expires_in": 3600,
}


def make_app(redis_url, tmp_path, vault_keys_value):
    return create_app(
        {
            "TESTING": True,
            "REDIS_URL": redis_url,
            "MEETBRIDGE_DATA_DIR": str(tmp_path),
            "VAULT_KEYS": vault_keys_value,
        }
    )


def link(app, site_id, provider="zoom", staff_id="7", token=TOKEN, user_id="zoomUser1"):
    with app.app_context():
        redis_client.get().hsetnx(keys.site(site_id), "name", "Shop")  # accounts are saved for sites only
        assert vault.save(
            redis_client.get(), vault_keys.get(), site_id, provider, staff_id, token, ["s1", "s2"], user_id
        )


def load(app, site_id, provider="zoom", staff_id="7"):
    with app.app_context():
        return vault.load(redis_client.get(), vault_keys.get(), site_id, provider, staff_id)


def test_record_holds_a_sealed_token_and_no_plain_secret(app):
    link(app, "site_a")
    r = redis_client.get(app)
    record = r.hgetall(keys.account("site_a", "zoom", "7"))
    assert set(record) == {
        b"status", b"scopes", b"token", b"created_at", b"updated_at", b"provider_user_id",
    }  # fmt: skip
    assert record[b"status"] == b"active" and record[b"scopes"] == b"s1 s2"
    assert b"at-secret-1" not in record[b"token"] and b"rt-secret-1" not in record[b"token"]
    assert r.smembers(keys.accounts("site_a")) == {b"zoom:7"}
    assert r.smembers(keys.zoom_user("zoomUser1")) == {keys.account("site_a", "zoom", "7").encode()}
    account = load(app, "site_a")
    assert account.token["refresh_token"] == "rt-secret-1" and account.token["expires_at"] > 0
    assert "rt-secret-1" not in repr(account)


def test_a_token_copied_to_another_account_does_not_open(app):
    link(app, "site_a")
    r = redis_client.get(app)
    blob = r.hget(keys.account("site_a", "zoom", "7"), "token")
    link(app, "site_b", token={**TOKEN, "access_token": "other"})
    r.hset(keys.account("site_b", "zoom", "7"), "token", blob)
    with pytest.raises(DecryptError):
        load(app, "site_b")


def test_list_shows_public_fields_only(app):
    link(app, "site_a", "google", "9", user_id=None)
    link(app, "site_a", "zoom", "7")
    with app.app_context():
        listed = vault.list_site(redis_client.get(), "site_a")
    assert [(a["provider"], a["staff_id"], a["status"]) for a in listed] == [
        ("google", "9", "active"),
        ("zoom", "7", "active"),
    ]  # noqa: E501
    assert set(listed[0]) == {"provider", "staff_id", "status", "scopes", "created_at", "updated_at"}
    assert "secret" not in json.dumps(listed)


def test_needs_relink_and_delete(app):
    link(app, "site_a")
    r = redis_client.get(app)
    assert vault.mark_needs_relink(r, "site_a", "zoom", "7") is True
    assert vault.mark_needs_relink(r, "site_a", "zoom", "7") is False  # only the transition counts
    assert load(app, "site_a").status == "needs_relink"
    assert vault.delete(r, "site_a", "zoom", "7") is True
    assert vault.delete(r, "site_a", "zoom", "7") is False
    assert not r.exists(
        keys.account("site_a", "zoom", "7"), keys.accounts("site_a"), keys.zoom_user("zoomUser1")
    )
    assert (
        vault.update_token(r, vault_keys.get(app), "site_a", "zoom", "7", TOKEN) is False
    )  # not resurrected


def test_relinking_as_another_zoom_user_moves_the_index(app):
    link(app, "site_a", user_id="zoomUser1")
    link(app, "site_a", user_id="zoomUser2")
    r = redis_client.get(app)
    assert not r.exists(keys.zoom_user("zoomUser1"))
    assert r.smembers(keys.zoom_user("zoomUser2")) == {keys.account("site_a", "zoom", "7").encode()}


def test_reading_an_old_key_blob_reseals_it_with_the_current_key(redis_url, tmp_path):
    old, new = generate_key("old"), generate_key("new")
    link(make_app(redis_url, tmp_path, old), "site_a")
    both = make_app(redis_url, tmp_path, f"{new},{old}")
    assert load(both, "site_a").token["access_token"] == "at-secret-1"
    assert load(make_app(redis_url, tmp_path, new), "site_a").token["access_token"] == "at-secret-1"


def test_vault_rotate_rewraps_tokens_and_site_secrets_then_the_old_key_can_go(redis_url, tmp_path):
    old, new = generate_key("old"), generate_key("new")
    before = make_app(redis_url, tmp_path, old)
    with before.app_context():
        site = registry.create(redis_client.get(), vault_keys.get(), "Shop", "https://shop.example.com")
    link(before, site["site_id"], "google", "1", user_id=None)
    link(before, site["site_id"], "zoom", "2")

    rotating = make_app(redis_url, tmp_path, f"{new},{old}")
    result = rotating.test_cli_runner().invoke(args=["vault", "rotate"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert (counts["scanned"], counts["rewrapped"], counts["failed"], counts["pending_jobs"]) == (3, 3, 0, 0)
    assert counts["by_kind"]["site_secrets"]["rewrapped"] == 1
    assert counts["by_kind"]["account_tokens"]["rewrapped"] == 2
    again = json.loads(rotating.test_cli_runner().invoke(args=["vault", "rotate"]).output)
    assert (again["scanned"], again["rewrapped"]) == (3, 0)

    after = make_app(redis_url, tmp_path, new)  # the old key is gone
    assert load(after, site["site_id"], "zoom", "2").token["refresh_token"] == "rt-secret-1"
    path = f"/v1/sites/{site['site_id']}/accounts"
    answer = after.test_client().get(path, headers=signing.request_headers(site["secret"], "GET", path))
    assert answer.status_code == 200
    assert [a["provider"] for a in answer.get_json()["accounts"]] == ["google", "zoom"]


def test_vault_rotate_reports_values_no_key_opens(redis_url, tmp_path):
    lost = make_app(redis_url, tmp_path, generate_key("lost"))
    with lost.app_context():
        registry.create(redis_client.get(), vault_keys.get(), "Shop", "https://shop.example.com")
    result = (
        make_app(redis_url, tmp_path, generate_key("new")).test_cli_runner().invoke(args=["vault", "rotate"])
    )
    assert result.exit_code != 0
    assert '"failed": 1' in result.output and "keep the old key" in result.output


def test_vault_rotate_rewraps_the_bookings_join_and_event_links(redis_url, tmp_path):
    from service.bookings import records

    old, new = generate_key("old"), generate_key("new")
    before = make_app(redis_url, tmp_path, old)
    with before.app_context():
        r, keyring = redis_client.get(), vault_keys.get()
        site = registry.create(r, keyring, "Shop", "https://shop.example.com")
        site_id = site["site_id"]
        for booking_id, fields in (("b:1", ("join", "glink")), ("b2", ("join",)), ("b3", ())):
            record = {"rev": 1, "state": "synced", "zoom_id": "81234567890", "end": 1_900_000_000}
            if "join" in fields:
                record["join"] = keyring.seal(
                    b"https://zoom.us/j/1", records.join_url_aad(site_id, booking_id)
                )
            if "glink" in fields:
                record["glink"] = keyring.seal(b"https://cal/e", records.link_aad(site_id, booking_id))
            r.hset(keys.booking(site_id, booking_id), mapping=record)
            r.sadd(keys.site_bookings(site_id), booking_id)  # as the intake indexes it

    rotating = make_app(redis_url, tmp_path, f"{new},{old}")
    counts = json.loads(rotating.test_cli_runner().invoke(args=["vault", "rotate"]).output)
    assert counts["by_kind"]["booking_join_urls"] == {"scanned": 2, "rewrapped": 2, "failed": 0}
    assert counts["by_kind"]["booking_event_links"] == {"scanned": 1, "rewrapped": 1, "failed": 0}
    assert counts["failed"] == 0

    after = make_app(redis_url, tmp_path, new)  # the old key is gone: the bookings still read and export
    client = after.test_client()
    path = f"/v1/sites/{site_id}/bookings/b:1"
    signed = site_auth.canonical_path(path)  # what sites sign: each segment percent-encoded
    answer = client.get(path, headers=signing.request_headers(site["secret"], "GET", signed))
    assert answer.status_code == 200, answer.get_data()
    assert answer.get_json()["zoom"]["join_url"] == "https://zoom.us/j/1"
    assert answer.get_json()["google"]["html_link"] == "https://cal/e"
    path = f"/v1/sites/{site_id}/export"
    exported = client.get(path, headers=signing.request_headers(site["secret"], "GET", path)).get_json()
    assert sorted(b["booking_id"] for b in exported["bookings"]) == ["b2", "b3", "b:1"]
