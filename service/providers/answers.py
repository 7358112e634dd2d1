"""Reading what a provider answers without trusting its text.

A provider's error message may echo what it was sent (an attendee's e-mail, a booking title), so the
clients never keep it: an error becomes a stable code and a message MeetBridge writes itself, e.g.
`zoom_rejected: Zoom refused the meeting (HTTP 400, code 300)`. Only short machine tokens of the answer
(Zoom's numeric `code`, Google's `reason`, a field name) are quoted, and only when they look like one.

`retry_after()` reads `Retry-After` in both forms RFC 9110 allows: delay-seconds or an HTTP date.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable

from werkzeug.http import parse_date

MAX_RETRY_AFTER = 26 * 3600
"""Longest wait taken from a `Retry-After` (Zoom's daily limit runs to the next UTC midnight)."""

_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]{0,39}")
_FIELD = re.compile(r"[A-Za-z_][A-Za-z0-9_.\[\]]{0,39}")


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delay-seconds or an HTTP date (IMF-fixdate, RFC 850
    or asctime form), at least 0 and at most `MAX_RETRY_AFTER`; None when absent or unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(min(int(text[:12]), MAX_RETRY_AFTER))
    moment = parse_date(text)
    if moment is None:
        return None
    wait = moment.timestamp() - (time.time() if now is None else now)
    return min(max(0.0, wait), float(MAX_RETRY_AFTER))


def token(value: object) -> str | None:
    """`value` when it is a short identifier-like token (`rateLimitExceeded`, `invalid_grant`), else None."""
    return value if isinstance(value, str) and _TOKEN.fullmatch(value) else None


def field_name(value: object) -> str | None:
    """`value` when it looks like a field name of a request body (`start_time`, `settings.audio`)."""
    return value if isinstance(value, str) and _FIELD.fullmatch(value) else None


def number(value: object) -> int | None:
    """An integer code (Zoom's `code`), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 <= value < 10**7:
        return value
    return None


def details(status: int, *parts: str | None) -> str:
    """`HTTP 400, code 300, start_time`: the status and whichever safe parts are known."""
    return ", ".join([f"HTTP {status}", *(part for part in parts if part)])


def tokens(values: Iterable[object]) -> list[str]:
    """The safe tokens among `values`, sorted, without repeats."""
    return sorted({found for found in (token(v) for v in values) if found})
