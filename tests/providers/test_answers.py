"""Provider answers read safely: `Retry-After` in both RFC 9110 forms, and error texts that never repeat
what the provider said (a provider may echo an attendee's e-mail or a booking title). Zoom through
`responses`, Google through google-api-python-client's own `HttpError`."""

from __future__ import annotations

import json
import time
from email.utils import formatdate

import httplib2
import pytest
import responses
from googleapiclient.errors import HttpError

from service.exceptions import Gone, ProviderRejected, ProviderUnavailable, RateLimited, Unauthorized
from service.providers import answers, google_calendar
from service.providers.zoom_meetings import ZoomMeetings

ECHO = "cus@example.com"
ZOOM = "https://zoom.test/v2"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("7", 7.0),
        (" 120 ", 120.0),
        ("0", 0.0),
        ("99999999999", float(answers.MAX_RETRY_AFTER)),
        ("Thu, 01 Jan 2026 00:00:30 GMT", 30.0),  # IMF-fixdate
        ("Thursday, 01-Jan-26 00:00:30 GMT", 30.0),  # obsolete RFC 850 form
        ("Thu Jan  1 00:00:30 2026", 30.0),  # asctime
        ("Wed, 31 Dec 2025 23:00:00 GMT", 0.0),  # already past
        ("Fri, 01 Jan 2027 00:00:00 GMT", float(answers.MAX_RETRY_AFTER)),
        ("-5", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_in_seconds_or_as_an_http_date(header, expected):
    now = 1767225600.0  # 2026-01-01T00:00:00Z
    assert answers.retry_after(header, now=now) == expected


def _zoom_error(status: int, body: dict, headers: dict | None = None) -> Exception:
    with responses.RequestsMock() as mock:
        mock.post(f"{ZOOM}/users/me/meetings", status=status, json=body, headers=headers or {})
        with pytest.raises(Exception) as raised:
            ZoomMeetings(ZOOM).create("at", {"topic": "x"})
    return raised.value


def test_a_zoom_refusal_keeps_the_code_and_drops_the_message():
    error = _zoom_error(
        400, {"code": 300, "message": f"Invalid attendee {ECHO}", "errors": [{"field": "settings.x"}]}
    )
    assert isinstance(error, ProviderRejected)
    assert str(error) == "zoom_rejected: Zoom refused the meeting (HTTP 400, code 300, field settings.x)"


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        (401, Unauthorized, "zoom_unauthorized"),
        (404, Gone, "zoom_not_found"),
        (503, ProviderUnavailable, "zoom_unavailable"),
    ],
)
def test_every_zoom_error_is_a_code_and_our_own_words(status, kind, code):
    error = _zoom_error(status, {"code": 1001, "message": f"User does not exist: {ECHO}."})
    assert isinstance(error, kind) and str(error).startswith(code + ":") and ECHO not in str(error)


def test_a_zoom_field_name_that_is_not_one_is_not_quoted():
    error = _zoom_error(400, {"code": 300, "message": "x", "errors": [{"field": f"attendee {ECHO}"}]})
    assert str(error) == "zoom_rejected: Zoom refused the meeting (HTTP 400, code 300)"


def test_zoom_rate_limits_with_an_http_date():
    later = formatdate(time.time() + 30, usegmt=True)
    error = _zoom_error(
        429, {"code": 429, "message": ECHO}, {"Retry-After": later, "X-RateLimit-Type": "QPS"}
    )
    assert isinstance(error, RateLimited) and 28 <= error.retry_after <= 30
    assert str(error) == "zoom_rate_limited: Zoom asked to slow down (HTTP 429, QPS)"
    daily = _zoom_error(429, {"code": 429}, {"Retry-After": "3600", "X-RateLimit-Type": "Daily-limit"})
    assert daily.retry_after == 3600 and "daily rate limit" in str(daily)


def _google_error(status: int, reason: str, headers: dict | None = None) -> Exception:
    body = {"error": {"code": status, "message": f"Invalid attendee: {ECHO}", "errors": [
        {"domain": "global", "reason": reason, "message": f"Invalid attendee: {ECHO}"}]}}  # fmt: skip
    response = httplib2.Response({"status": status, **(headers or {})})
    return google_calendar._error(HttpError(response, json.dumps(body).encode(), uri="https://g.test/x"))


def test_a_google_refusal_keeps_the_reason_and_drops_the_message():
    error = _google_error(400, "invalid")
    assert isinstance(error, ProviderRejected)
    assert str(error) == "google_rejected: Google Calendar refused the request (HTTP 400, invalid)"


def test_a_google_reason_that_is_not_a_token_is_not_quoted():
    error = _google_error(400, f"bad {ECHO}")
    assert str(error) == "google_rejected: Google Calendar refused the request (HTTP 400)"


def test_google_rate_limits_with_an_http_date():
    later = formatdate(time.time() + 30, usegmt=True)
    error = _google_error(429, "rateLimitExceeded", {"retry-after": later})
    assert isinstance(error, RateLimited) and 28 <= error.retry_after <= 30
    assert ECHO not in str(error) and str(error).startswith("google_rate_limited:")
    unreadable = _google_error(403, "userRateLimitExceeded", {"retry-after": "whenever"})
    assert isinstance(unreadable, RateLimited) and unreadable.retry_after is None
