"""`flask --app service sites …`: create, list, rotate-secret, delete."""

from __future__ import annotations

import json

from service.storage import keys, redis_client


def _json(result):
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def create(runner, name="Shop", url="https://shop.example.com"):
    return _json(runner.invoke(args=["sites", "create", "--name", name, "--url", url]))


def test_create_prints_id_and_a_standard_webhooks_secret(runner):
    site = create(runner)
    assert site["site_id"].startswith("site_")
    assert site["secret"].startswith("whsec_")
    assert site["callback_url"] == "https://shop.example.com/wp-json/meetbridge/v1/results"


def test_secret_is_stored_encrypted(runner, app):
    site = create(runner)
    raw = redis_client.get(app).hgetall(keys.site(site["site_id"]))
    secret_body = site["secret"].removeprefix("whsec_").encode()
    assert all(secret_body not in value for value in raw.values())
    assert b"secrets" in raw


def test_create_rejects_bad_urls(runner):
    result = runner.invoke(args=["sites", "create", "--name", "Shop", "--url", "ftp://shop"])
    assert result.exit_code != 0
    assert "--url must be an http(s) URL" in result.output


def test_list_never_shows_secrets(runner):
    site = create(runner)
    listed = _json(runner.invoke(args=["sites", "list"]))
    assert [entry["site_id"] for entry in listed] == [site["site_id"]]
    assert "secret" not in json.dumps(listed)


def test_rotate_prints_a_new_secret(runner):
    site = create(runner)
    rotated = _json(runner.invoke(args=["sites", "rotate-secret", site["site_id"]]))
    assert rotated["secret"] != site["secret"] and rotated["secret"].startswith("whsec_")
    assert rotated["previous_secrets_valid_until"] is not None


def test_rotate_unknown_site_fails_clearly(runner):
    result = runner.invoke(args=["sites", "rotate-secret", "site_nope"])
    assert result.exit_code != 0 and "no site" in result.output


def test_delete_erases_every_key_of_the_site(runner, app):
    site = create(runner)
    other = create(runner, name="Other", url="https://other.example.com")
    r = redis_client.get(app)
    for site_id in (site["site_id"], other["site_id"]):  # written as the intake's script writes them
        r.set(keys.idempotency(site_id, "msg_1"), "x")
        r.hset(keys.booking(site_id, "b1"), "rev", 1)
        r.sadd(keys.site_bookings(site_id), "b1")
        r.sadd(keys.booking_index(site_id, "b1"), "w:msg_1")
    result = _json(runner.invoke(args=["sites", "delete", site["site_id"], "--yes"]))
    assert result["bookings"] == 1 and result["deleted_keys"] >= 3
    assert not [k for k in r.scan_iter() if site["site_id"].encode() in k]
    assert r.sismember(keys.SITES, other["site_id"]) and r.exists(keys.booking(other["site_id"], "b1"))
    assert (
        r.exists(keys.idempotency(other["site_id"], "msg_1"), keys.booking_index(other["site_id"], "b1")) == 2
    )


def test_delete_unknown_site_fails_clearly(runner):
    result = runner.invoke(args=["sites", "delete", "site_nope", "--yes"])
    assert result.exit_code != 0 and "no site" in result.output
