"""Standard Webhooks signing and verification (https://www.standardwebhooks.com/, symmetric `v1` scheme).

A message is signed as `v1,<base64 HMAC-SHA256(secret, "{webhook-id}.{webhook-timestamp}." + raw body)>`
and sent with three headers: `webhook-id`, `webhook-timestamp` (integer Unix seconds) and
`webhook-signature` (one or more space-separated `version,signature` entries, so a sender can sign with
an old and a new secret while a secret is rotated).

Secrets travel as `whsec_` + standard base64 of 24 to 64 random bytes (the spec's limits). Decode them
once with `secret_bytes()` and keep the bytes: `verify()` takes decoded secrets because it sits on the
request hot path.

Beyond the reference library, `verify()` is strict where the spec asks it to be: the timestamp must be a
plain decimal integer, and the webhook id must be printable ASCII without spaces or full stops (the spec
warns that a `.` in the id makes the signed content ambiguous). Entries with an unknown version (such as
the asymmetric `v1a`) or that are not valid base64 are skipped, never fatal on their own.

This module has no Flask or Redis in it; the events blueprint maps its exceptions to HTTP 401.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets
import time
from collections.abc import Mapping, Sequence

SECRET_PREFIX = "whsec_"  # noqa: S105 - a format prefix, not a secret
"""Prefix that marks a serialized Standard Webhooks symmetric secret."""

MIN_SECRET_BYTES = 24
"""Shortest secret the spec allows (192 bits)."""

MAX_SECRET_BYTES = 64
"""Longest secret the spec allows (512 bits)."""

DEFAULT_TOLERANCE = 300
"""Seconds a `webhook-timestamp` may differ from the receiver's clock, either way."""

MAX_ID_LENGTH = 256
"""Longest `webhook-id` accepted."""

ID_HEADER = "webhook-id"
TIMESTAMP_HEADER = "webhook-timestamp"
SIGNATURE_HEADER = "webhook-signature"

_MAX_TIMESTAMP_DIGITS = 12  # Unix seconds until the year 33658; keeps int() cheap on hostile input
_DIGEST_SIZE = hashlib.sha256().digest_size


class WebhookError(Exception):
    """Base class: the request is not a correctly signed, fresh Standard Webhooks message."""


class MissingHeaders(WebhookError):
    """`webhook-id`, `webhook-timestamp` or `webhook-signature` is absent or empty."""


class MalformedHeaders(WebhookError):
    """A header is present but not in the format the spec requires (e.g. a non-integer timestamp)."""


class TimestampOutOfRange(WebhookError):
    """`webhook-timestamp` is further from the receiver's clock than the tolerance allows."""


class BadSignature(WebhookError):
    """No `v1` signature in the header matches the body for any of the accepted secrets."""


def generate_secret() -> str:
    """Create a new signing secret.

    Returns:
        `whsec_` followed by the standard base64 encoding of 32 random bytes.
    """
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(32)).decode("ascii")


def secret_bytes(secret: str) -> bytes:
    """Decode a serialized secret into the key bytes that `sign()` and `verify()` take.

    Args:
        secret: `whsec_<base64>`, or the base64 part alone; padding may be omitted.

    Returns:
        The decoded key, 24 to 64 bytes.

    Raises:
        ValueError: the value is not base64 or decodes to a key of the wrong length. The message never
            repeats the value.
    """
    encoded = secret.strip()
    if encoded.startswith(SECRET_PREFIX):
        encoded = encoded[len(SECRET_PREFIX) :]
    encoded = encoded.rstrip("=")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret is not valid base64 (expected whsec_<base64>)") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"webhook secret must decode to {MIN_SECRET_BYTES} to {MAX_SECRET_BYTES} bytes, got {len(key)}"
        )
    return key


def sign(secret: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """Sign one message.

    Args:
        secret: the decoded key (see `secret_bytes()`).
        msg_id: the `webhook-id`; printable ASCII without spaces or full stops.
        timestamp: the `webhook-timestamp`, integer Unix seconds.
        body: the exact bytes that will be sent as the request body.

    Returns:
        One signature entry, `v1,<base64>`.

    Raises:
        ValueError: `msg_id` or `timestamp` would be rejected by `verify()`.
    """
    if not _valid_id(msg_id):
        raise ValueError("webhook id must be 1-256 printable ASCII characters without spaces or '.'")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int) or timestamp < 0:
        raise ValueError("webhook timestamp must be a non-negative integer")
    digest = _digest(secret, f"{msg_id}.{timestamp}.".encode("ascii"), body)
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_headers(
    secret: bytes | Sequence[bytes], msg_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    """Build the three Standard Webhooks headers for an outgoing message.

    Args:
        secret: the decoded key, or several keys during a rotation (one signature entry per key).
        msg_id: the `webhook-id`, stable across retries of the same message.
        timestamp: integer Unix seconds of this delivery attempt.
        body: the exact request body.

    Returns:
        `{"webhook-id": ..., "webhook-timestamp": ..., "webhook-signature": ...}`.

    Raises:
        ValueError: as for `sign()`, or no secret was given.
    """
    keys = [secret] if isinstance(secret, bytes | bytearray) else list(secret)
    if not keys:
        raise ValueError("at least one webhook secret is needed to sign")
    return {
        ID_HEADER: msg_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: " ".join(sign(key, msg_id, timestamp, body) for key in keys),
    }


def verify(
    secrets: Sequence[bytes],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> str:
    """Check that a received message is fresh and signed with one of `secrets`.

    Args:
        secrets: the decoded keys currently accepted for the sender (more than one during a rotation).
        headers: the request headers; names are matched case-insensitively.
        body: the raw request body, exactly as received (never re-serialized JSON).
        now: the receiver's clock in Unix seconds; defaults to `time.time()`.
        tolerance: allowed clock difference in seconds, in both directions.

    Returns:
        The `webhook-id`, for use as the idempotency key.

    Raises:
        MissingHeaders: a required header is absent or empty.
        MalformedHeaders: the id or the timestamp is not in the required format.
        TimestampOutOfRange: the timestamp is more than `tolerance` seconds away from `now`.
        BadSignature: no `v1` entry matches for any secret (also when `secrets` is empty).
    """
    msg_id = _header(headers, ID_HEADER)
    stamp = _header(headers, TIMESTAMP_HEADER)
    signatures = _header(headers, SIGNATURE_HEADER)
    if not (msg_id and stamp and signatures):
        raise MissingHeaders("webhook-id, webhook-timestamp and webhook-signature are required")
    if not _valid_id(msg_id):
        raise MalformedHeaders("webhook-id must be printable ASCII without spaces or '.'")
    if not (len(stamp) <= _MAX_TIMESTAMP_DIGITS and stamp.isascii() and stamp.isdigit()):
        raise MalformedHeaders("webhook-timestamp must be an integer number of seconds")
    timestamp = int(stamp)
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise TimestampOutOfRange(f"webhook-timestamp is more than {tolerance} seconds from the server time")

    prefix = f"{msg_id}.{timestamp}.".encode("ascii")
    expected = [_digest(key, prefix, body) for key in secrets]
    for entry in signatures.split():
        version, _, encoded = entry.partition(",")
        if version != "v1":
            continue
        try:
            candidate = base64.b64decode(encoded, validate=True)
        except (binascii.Error, ValueError):
            continue
        if len(candidate) != _DIGEST_SIZE:
            continue
        for digest in expected:
            if hmac.compare_digest(digest, candidate):
                return msg_id
    raise BadSignature("no valid v1 signature for this message")


def _digest(key: bytes, prefix: bytes, body: bytes) -> bytes:
    mac = hmac.new(key, prefix, hashlib.sha256)
    mac.update(body)
    return mac.digest()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup; cheap for case-insensitive mappings such as Werkzeug's headers."""
    value = headers.get(name)
    if value is None:
        for key, candidate in headers.items():
            if key.lower() == name:
                return candidate
    return value


def _valid_id(msg_id: str) -> bool:
    return (
        0 < len(msg_id) <= MAX_ID_LENGTH
        and msg_id.isascii()
        and msg_id.isprintable()
        and " " not in msg_id
        and "." not in msg_id
    )
