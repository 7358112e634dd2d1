"""The keyring built from `MEETBRIDGE_VAULT_KEYS`, attached to the app once (see `service.crypto`)."""

from __future__ import annotations

from flask import Flask, current_app

from service.config import ConfigError
from service.crypto import Keyring

_EXTENSION = "meetbridge.keyring"


def init_app(app: Flask) -> None:
    """Parse the configured keys; a malformed value stops start-up with a clear message."""
    try:
        app.extensions[_EXTENSION] = Keyring.from_config(app.config["VAULT_KEYS"])
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def get(app: Flask | None = None) -> Keyring:
    """The keyring of `app` (default: the current app)."""
    return (app or current_app).extensions[_EXTENSION]
