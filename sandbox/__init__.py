"""MeetBridge sandbox: a strict local emulator of Google OAuth + Calendar v3 and Zoom OAuth + API v2.

Run it as ONE process (state is in memory), with threads:
    gunicorn -w 1 --threads 8 -b 127.0.0.1:8444 'sandbox:create_app()'
"""

from __future__ import annotations

import logging
import os
from typing import Any

from flask import Flask

from sandbox.state import SandboxState

logger = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "SANDBOX_GOOGLE_CLIENT_ID": "sandbox-google-client",
    "SANDBOX_GOOGLE_CLIENT_SECRET": "sandbox-google-secret",
    "SANDBOX_ZOOM_CLIENT_ID": "sandbox-zoom-client",
    "SANDBOX_ZOOM_CLIENT_SECRET": "sandbox-zoom-secret",
    "SANDBOX_REDIRECT_URIS": (
        "https://localhost:8443/oauth/google/callback,https://localhost:8443/oauth/zoom/callback"
    ),
}
"""Configuration keys and their defaults; each may also come from an environment variable."""


def _settings(config: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults, then environment variables of the same names, then the explicit mapping."""
    settings = dict(DEFAULTS)
    for key in DEFAULTS:
        if os.environ.get(key):
            settings[key] = os.environ[key]
    settings.update(config or {})
    return settings


def parse_redirect_uris(value: str | list[str]) -> list[str]:
    """Split the comma-separated redirect URI setting (a list passes through)."""
    items = value if isinstance(value, list) else value.split(",")
    return [item.strip() for item in items if item.strip()]


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the sandbox app.

    Args:
        config: overrides for the `SANDBOX_*` keys (and any Flask setting such as TESTING).

    Returns:
        The Flask app, with fresh in-memory state.
    """
    from sandbox import (
        consent,
        google_calendar,
        google_freebusy,
        google_oauth,
        google_push,
        hooks,
        knobs,
        staff_knobs,
        zoom_api,
        zoom_oauth,
    )

    app = Flask(__name__, static_folder=None)
    app.config.update(_settings(config))
    app.json.sort_keys = False
    app.extensions["sandbox_state"] = SandboxState(parse_redirect_uris(app.config["SANDBOX_REDIRECT_URIS"]))
    hooks.init_app(app)
    for module in (
        knobs,
        staff_knobs,
        consent,
        google_oauth,
        google_push,
        google_calendar,
        google_freebusy,
        zoom_oauth,
        zoom_api,
    ):
        app.register_blueprint(module.bp)
    return app
