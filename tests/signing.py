"""Signing test requests the way the WordPress plugin does (Standard Webhooks)."""

from __future__ import annotations

import json
import time
import uuid

from service.sites import webhooks

EXAMPLE_BOOKING = {
    "id": "123",
    "revision": 1,
    "title": "Intro call",
    "start": "2030-12-01T10:00:00+01:00",
    "end": "2030-12-01T10:30:00+01:00",
    "timezone": "Europe/Berlin",
    "staff": {"id": "7", "email": "staff@example.com", "name": "Sam Staff"},
    "customer": {"email": "cus@example.com", "name": "Cat Customer"},
    "video": "zoom",
    "location": None,
}

#: Strings that must never appear in Redis or in a log line in the clear.
PERSONAL = ("staff@example.com", "Sam Staff", "cus@example.com", "Cat Customer", "Intro call")


def event(event_type: str = "booking.created", **changes) -> dict:
    return {"type": event_type, "booking": {**EXAMPLE_BOOKING, **changes}}


def headers(secret: str, body: bytes, *, msg_id: str | None = None, timestamp: int | None = None) -> dict:
    """The three signature headers plus the JSON content type."""
    signed = webhooks.signature_headers(
        webhooks.secret_bytes(secret),
        msg_id or f"msg_{uuid.uuid4().hex}",
        int(time.time()) if timestamp is None else timestamp,
        body,
    )
    return {**signed, "Content-Type": "application/json"}


def body_of(payload) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def request_headers(secret: str, method: str, path_and_query: str) -> dict:
    """Headers for a request without a body: the signature covers `METHOD path`."""
    return headers(secret, f"{method} {path_and_query}".encode())
