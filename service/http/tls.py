"""The web server's TLS settings (gunicorn's `ssl_context` hook, gunicorn.conf.py)."""

from __future__ import annotations

import ssl


def server_context(default: ssl.SSLContext) -> ssl.SSLContext:
    """Harden a server context: TLS 1.3 is the minimum (and so the only) version offered."""
    default.minimum_version = ssl.TLSVersion.TLSv1_3
    return default
