"""Configuration: development defaults, production refusing to start without its secrets."""

from __future__ import annotations

import json
import os
import stat

import pytest

from service import config, create_app
from service.config import ConfigError

PRODUCTION = {
    "MEETBRIDGE_ENV": "production",
    "MEETBRIDGE_PUBLIC_URL": "https://meetbridge.example.com",
    "MEETBRIDGE_SECRET_KEY": "s" * 32,
    "MEETBRIDGE_VAULT_KEYS": "k1:" + "A" * 43,
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "GOOGLE_CLIENT_ID": "gid",
    "GOOGLE_CLIENT_SECRET": "gsecret",
    "ZOOM_CLIENT_ID": "zid",
    "ZOOM_CLIENT_SECRET": "zsecret",
    "ZOOM_WEBHOOK_SECRET_TOKEN": "zwh",
}


def test_production_is_the_default_mode(tmp_path):
    loaded = config.load({**PRODUCTION, "MEETBRIDGE_ENV": "", "MEETBRIDGE_DATA_DIR": str(tmp_path)})
    assert loaded["MEETBRIDGE_ENV"] == "production"


@pytest.mark.parametrize(
    "variable",
    [
        "MEETBRIDGE_SECRET_KEY",
        "MEETBRIDGE_VAULT_KEYS",
        "MEETBRIDGE_PUBLIC_URL",
        "GOOGLE_CLIENT_ID",
        "GOOGLE_CLIENT_SECRET",
        "ZOOM_CLIENT_ID",
        "ZOOM_CLIENT_SECRET",
        "ZOOM_WEBHOOK_SECRET_TOKEN",
    ],
)
def test_production_refuses_to_start_without_a_secret(variable, tmp_path):
    environ = {**PRODUCTION, "MEETBRIDGE_DATA_DIR": str(tmp_path)}
    del environ[variable]
    with pytest.raises(ConfigError) as info:
        config.load(environ)
    assert variable in str(info.value)


def test_production_names_every_missing_variable_at_once(tmp_path):
    with pytest.raises(ConfigError) as info:
        config.load({"MEETBRIDGE_ENV": "production", "MEETBRIDGE_DATA_DIR": str(tmp_path)})
    for name in ("MEETBRIDGE_SECRET_KEY", "MEETBRIDGE_VAULT_KEYS", "GOOGLE_CLIENT_ID", "ZOOM_CLIENT_SECRET"):
        assert name in str(info.value)


def test_production_uses_the_real_provider_endpoints(tmp_path):
    loaded = config.load({**PRODUCTION, "MEETBRIDGE_DATA_DIR": str(tmp_path)})
    assert loaded["GOOGLE_CALENDAR_API_ENDPOINT"] == "https://www.googleapis.com/calendar/v3/"
    assert loaded["ZOOM_API_BASE"] == "https://api.zoom.us/v2"
    assert loaded["GOOGLE_TOKEN_URL"] == "https://oauth2.googleapis.com/token"
    assert loaded["GOOGLE_USES_SANDBOX"] is False and loaded["ZOOM_USES_SANDBOX"] is False
    assert not (tmp_path / "dev-secrets.json").exists()


def test_development_points_providers_at_the_sandbox(tmp_path):
    loaded = config.load({"MEETBRIDGE_ENV": "development", "MEETBRIDGE_DATA_DIR": str(tmp_path)})
    assert loaded["GOOGLE_USES_SANDBOX"] and loaded["ZOOM_USES_SANDBOX"]
    assert loaded["GOOGLE_CALENDAR_API_ENDPOINT"] == "https://localhost:8444/google/calendar/v3/"
    assert loaded["ZOOM_API_BASE"] == "https://localhost:8444/zoom/v2"
    assert loaded["GOOGLE_CLIENT_ID"] == "sandbox-google-client"


def test_development_with_real_credentials_uses_the_real_provider(tmp_path):
    environ = {
        "MEETBRIDGE_ENV": "development",
        "MEETBRIDGE_DATA_DIR": str(tmp_path),
        "ZOOM_CLIENT_ID": "real-id",
        "ZOOM_CLIENT_SECRET": "real-secret",
    }
    loaded = config.load(environ)
    assert loaded["ZOOM_USES_SANDBOX"] is False
    assert loaded["ZOOM_API_BASE"] == "https://api.zoom.us/v2"
    assert loaded["ZOOM_CLIENT_ID"] == "real-id"
    assert loaded["GOOGLE_USES_SANDBOX"] is True


def test_provider_endpoints_can_be_overridden(tmp_path):
    environ = {**PRODUCTION, "MEETBRIDGE_DATA_DIR": str(tmp_path), "ZOOM_API_BASE": "https://zoom.test/v2"}
    assert config.load(environ)["ZOOM_API_BASE"] == "https://zoom.test/v2"


def test_development_secrets_are_generated_once_and_private(tmp_path):
    first = config.load({"MEETBRIDGE_ENV": "development", "MEETBRIDGE_DATA_DIR": str(tmp_path)})
    second = config.load({"MEETBRIDGE_ENV": "development", "MEETBRIDGE_DATA_DIR": str(tmp_path)})
    assert first["SECRET_KEY"] == second["SECRET_KEY"] and len(first["SECRET_KEY"]) >= 32
    assert first["VAULT_KEYS"] == second["VAULT_KEYS"]
    path = tmp_path / "dev-secrets.json"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert set(json.loads(path.read_text())) == {"MEETBRIDGE_SECRET_KEY", "MEETBRIDGE_VAULT_KEYS"}


def test_unset_redis_url_means_the_embedded_redis(tmp_path):
    loaded = config.load({"MEETBRIDGE_ENV": "development", "MEETBRIDGE_DATA_DIR": str(tmp_path)})
    assert loaded["EMBEDDED_REDIS"] is True
    assert loaded["REDIS_URL"] == f"unix://{tmp_path / 'redis' / 'redis.sock'}"


@pytest.mark.parametrize(
    ("variable", "value", "fragment"),
    [
        ("MEETBRIDGE_ENV", "staging", "MEETBRIDGE_ENV"),
        ("PORT", "eighty", "PORT"),
        ("PORT", "0", "PORT"),
        ("REDIS_URL", "localhost:6379", "REDIS_URL"),
        ("ZOOM_API_BASE", "ftp://zoom", "ZOOM_API_BASE"),
    ],
)
def test_malformed_values_are_named(variable, value, fragment, tmp_path):
    environ = {**PRODUCTION, "MEETBRIDGE_DATA_DIR": str(tmp_path), variable: value}
    with pytest.raises(ConfigError, match=fragment):
        config.load(environ)


def test_malformed_vault_keys_stop_the_app_without_echoing_them(monkeypatch, tmp_path):
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MEETBRIDGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MEETBRIDGE_VAULT_KEYS", "not-a-key-at-all")
    with pytest.raises(ConfigError) as info:
        create_app()
    assert "MEETBRIDGE_VAULT_KEYS" in str(info.value)
    assert "not-a-key-at-all" not in str(info.value)


def test_create_app_reads_the_environment(monkeypatch, tmp_path):
    for name, value in PRODUCTION.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MEETBRIDGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MEETBRIDGE_VAULT_KEYS", "k1:" + "A" * 43)
    app = create_app()
    assert app.config["PUBLIC_URL"] == "https://meetbridge.example.com"
    assert not app.testing


def test_test_config_overrides(app, redis_url):
    assert app.testing
    assert app.config["REDIS_URL"] == redis_url


def test_development_secrets_survive_processes_starting_at_once(tmp_path):
    import subprocess
    import sys

    code = (
        "import json, sys; from pathlib import Path; from service.config import dev_secrets; "
        "print(json.dumps(dev_secrets(Path(sys.argv[1]))))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    outputs = {proc.communicate(timeout=60)[0] for proc in procs}
    assert all(proc.returncode == 0 for proc in procs)
    assert len(outputs) == 1
    assert [p.name for p in tmp_path.iterdir()] == ["dev-secrets.json"]
