"""`flask --app service sites …`: create, list, rotate-secret, delete."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

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


# --- callback URLs must be https ---------------------------------------------------------------------


def _production(app, monkeypatch):
    monkeypatch.setitem(app.config, "MEETBRIDGE_ENV", "production")


@pytest.mark.parametrize(
    "args",
    [
        ["--url", "https://shop.example.com", "--callback-url", "http://shop.example.com/results"],
        ["--url", "http://shop.example.com"],  # the default callback is the plugin's route under it
        ["--url", "https://shop.example.com", "--callback-url", "http://10.0.0.5/results"],
        ["--url", "https://shop.example.com", "--callback-url", "http://localhost.example.com/results"],
    ],
)
def test_a_plain_http_callback_url_is_refused_outside_development(runner, app, monkeypatch, args):
    _production(app, monkeypatch)
    result = runner.invoke(args=["sites", "create", "--name", "Shop", *args])
    assert result.exit_code == 2, result.output
    assert "must be https://" in result.output and "loopback" in result.output
    assert not redis_client.get(app).smembers(keys.SITES)  # nothing written


@pytest.mark.parametrize(
    "callback",
    [
        "https://shop.example.com/wp-json/meetbridge/v1/results",
        "http://127.0.0.1:8080/wp-json/meetbridge/v1/results",
        "http://127.8.9.10/results",
        "http://[::1]:8080/results",
        "http://localhost/results",
        "http://LOCALHOST:81/results",
    ],
)
def test_https_or_a_loopback_callback_url_is_accepted_outside_development(runner, app, monkeypatch, callback):
    _production(app, monkeypatch)
    args = [
        "sites",
        "create",
        "--name",
        "Shop",
        "--url",
        "https://shop.example.com",
        "--callback-url",
        callback,
    ]
    assert _json(runner.invoke(args=args))["callback_url"] == callback


def test_development_accepts_a_plain_http_callback_url(runner):
    site = create(runner, url="http://shop.example.com")
    assert site["callback_url"] == "http://shop.example.com/wp-json/meetbridge/v1/results"


def test_the_real_command_in_production_mode_refuses_plain_http(redis_url, tmp_path):
    from service.crypto import generate_key
    from tests import processes

    env = {
        **os.environ,
        "MEETBRIDGE_ENV": "production",
        "REDIS_URL": redis_url,
        "MEETBRIDGE_DATA_DIR": str(tmp_path),
        "MEETBRIDGE_PUBLIC_URL": "https://meetbridge.example.com",
        "MEETBRIDGE_SECRET_KEY": "k" * 40,
        "MEETBRIDGE_VAULT_KEYS": generate_key(),
        "GOOGLE_CLIENT_ID": "g",
        "GOOGLE_CLIENT_SECRET": "gs",
        "ZOOM_CLIENT_ID": "z",
        "ZOOM_CLIENT_SECRET": "zs",
        "ZOOM_WEBHOOK_SECRET_TOKEN": "zw",
    }

    def flask(*args: str) -> subprocess.CompletedProcess:
        argv = [str(processes.BIN / "flask"), "--app", "service", "sites", "create", "--name", "Shop", *args]
        return subprocess.run(argv, env=env, cwd=processes.ROOT, capture_output=True, text=True, timeout=60)

    refused = flask("--url", "http://shop.example.com")
    assert refused.returncode == 2 and "must be https://" in refused.stderr, refused.stderr
    local = flask("--url", "http://127.0.0.1:8080")
    assert local.returncode == 0, local.stderr
    assert json.loads(local.stdout)["callback_url"] == "http://127.0.0.1:8080/wp-json/meetbridge/v1/results"
