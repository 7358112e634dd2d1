"""create_app: defaults, environment variables, explicit overrides."""

from __future__ import annotations

from sandbox import DEFAULTS, create_app


def test_defaults_without_env(monkeypatch):
    for key in DEFAULTS:
        monkeypatch.delenv(key, raising=False)
    app = create_app()
    assert app.config["SANDBOX_GOOGLE_CLIENT_ID"] == "sandbox-google-client"
    assert app.extensions["sandbox_state"].redirect_uris == {
        "https://localhost:8443/oauth/google/callback",
        "https://localhost:8443/oauth/zoom/callback",
    }


def test_env_then_explicit_override(monkeypatch):
    monkeypatch.setenv("SANDBOX_ZOOM_CLIENT_SECRET", "from-env")
    monkeypatch.setenv("SANDBOX_REDIRECT_URIS", "https://a.test/cb, https://b.test/cb")
    app = create_app()
    assert app.config["SANDBOX_ZOOM_CLIENT_SECRET"] == "from-env"
    assert app.extensions["sandbox_state"].redirect_uris == {"https://a.test/cb", "https://b.test/cb"}
    app = create_app({"SANDBOX_ZOOM_CLIENT_SECRET": "explicit"})
    assert app.config["SANDBOX_ZOOM_CLIENT_SECRET"] == "explicit"


def test_configured_client_is_the_one_accepted(monkeypatch):
    app = create_app({"SANDBOX_ZOOM_CLIENT_ID": "cid", "SANDBOX_ZOOM_CLIENT_SECRET": "csec"})
    client = app.test_client()
    ok = client.post(
        "/zoom/oauth/token", data={"grant_type": "refresh_token", "refresh_token": "x"}, auth=("cid", "csec")
    )
    assert ok.status_code == 400 and ok.json["error"] == "invalid_grant"
    default = client.post(
        "/zoom/oauth/token",
        data={"grant_type": "refresh_token"},
        auth=("sandbox-zoom-client", "sandbox-zoom-secret"),
    )
    assert default.status_code == 401
