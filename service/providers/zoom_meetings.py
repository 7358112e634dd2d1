"""A thin client for the Zoom Meetings API (v2): create, update, delete, list (and the token's user),
through `requests`.

One `requests.Session` per process keeps connections to Zoom open between jobs; the access token is
passed per call. Answers are mapped to the project's exceptions so the sync logic reads like the
business rule: 401 `Unauthorized`, 404 `Gone`, 429 `RateLimited` (with `Retry-After`, seconds or an
HTTP date, also for the daily limit of 100 creates/updates per user), 5xx and network errors
`ProviderUnavailable`, other 4xx `ProviderRejected`. Their messages are a stable code and MeetBridge's
own words (service.providers.answers): Zoom's `message` may echo what it was sent and is never kept.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import Any

import requests

from service.exceptions import Gone, ProviderRejected, ProviderUnavailable, RateLimited, Unauthorized
from service.providers import answers

log = logging.getLogger(__name__)

TIMEOUT = 10

#: `X-RateLimit-Type` values Zoom documents; another value is not quoted.
_LIMIT_TYPES = {"QPS", "Daily-limit", "Concurrent"}


def marker(site_id: str, booking_id: str) -> str:
    """The reference MeetBridge puts in the agenda of a booking's meeting, to find it again after a crash
    between the create call and recording its id."""
    return "mb-" + hashlib.sha256(f"{site_id}|{booking_id}".encode()).hexdigest()[:20]


class ZoomMeetings:
    """Zoom's meeting endpoints under `api_base` (e.g. https://api.zoom.us/v2)."""

    def __init__(self, api_base: str, session: requests.Session | None = None, timeout: float = TIMEOUT):
        self.api_base = api_base.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout

    def me(self, token: str) -> dict[str, Any]:
        """The token's user (`GET /users/me`): a cheap proof that the token works. The answer names the
        user: use it, never log or store it."""
        return self._call("GET", "/users/me", token, what="the user lookup").json()

    def create(self, token: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create a meeting for the token's user (`POST /users/me/meetings`); returns the meeting."""
        return self._call("POST", "/users/me/meetings", token, json=body).json()

    def update(self, token: str, meeting_id: int | str, body: dict[str, Any]) -> None:
        """Change a meeting in place (`PATCH /meetings/{id}`)."""
        self._call("PATCH", f"/meetings/{int(meeting_id)}", token, json=body)

    def delete(self, token: str, meeting_id: int | str) -> None:
        """Delete a meeting; raises `Gone` when it no longer exists."""
        self._call("DELETE", f"/meetings/{int(meeting_id)}", token, params={"schedule_for_reminder": "false"})

    def get(self, token: str, meeting_id: int | str) -> dict[str, Any]:
        return self._call("GET", f"/meetings/{int(meeting_id)}", token).json()

    def find(self, token: str, reference: str) -> dict[str, Any] | None:
        """The token's user's upcoming meeting whose agenda carries `reference` (see `marker()`), or None."""
        return next((m for m in self.upcoming(token) if reference in (m.get("agenda") or "")), None)

    def upcoming(self, token: str) -> Iterator[dict[str, Any]]:
        """Every upcoming meeting of the token's user, page by page."""
        params: dict[str, Any] = {"type": "upcoming", "page_size": 300}
        while True:
            page = self._call(
                "GET", "/users/me/meetings", token, params=params, what="the meeting list"
            ).json()
            yield from page.get("meetings", [])
            next_token = page.get("next_page_token")
            if not next_token:
                return
            params["next_page_token"] = next_token

    def _call(
        self, method: str, path: str, token: str, *, what: str = "the meeting", **kwargs
    ) -> requests.Response:
        try:
            answer = self.session.request(
                method,
                self.api_base + path,
                headers={"Authorization": f"Bearer {token}"},
                timeout=self.timeout,
                allow_redirects=False,
                **kwargs,
            )
        except requests.RequestException as exc:
            raise ProviderUnavailable(
                f"zoom_unreachable: Zoom could not be reached ({type(exc).__name__})"
            ) from None
        if answer.status_code < 300:
            return answer
        raise _error(answer, what)


def _error(answer: requests.Response, what: str) -> Exception:
    """The exception for a non-2xx answer; its message quotes only the status and Zoom's numeric code."""
    status = answer.status_code
    try:
        body = answer.json()
    except ValueError:
        body = None
    body = body if isinstance(body, dict) else {}
    code = answers.number(body.get("code"))
    said = answers.details(status, f"code {code}" if code is not None else None)
    if status == 401:
        return Unauthorized(f"zoom_unauthorized: Zoom rejected the access token ({said})")
    if status == 404:
        return Gone(f"zoom_not_found: Zoom has no such meeting or user ({said})")
    if status == 429:
        wait = answers.retry_after(answer.headers.get("Retry-After"))
        if answer.headers.get("X-RateLimit-Type") == "Daily-limit":
            return RateLimited(
                f"zoom_daily_limit: Zoom's daily rate limit of meeting creates and updates for this user "
                f"was reached ({said})",
                wait,
            )
        kind = answer.headers.get("X-RateLimit-Type")
        limit = kind if kind in _LIMIT_TYPES else None
        said = answers.details(status, limit)
        return RateLimited(f"zoom_rate_limited: Zoom asked to slow down ({said})", wait)
    if status >= 500:
        return ProviderUnavailable(f"zoom_unavailable: Zoom answered {said}")
    fields = body.get("errors") if isinstance(body.get("errors"), list) else []
    named = [answers.field_name(item.get("field")) for item in fields if isinstance(item, dict)]
    field = next((name for name in named if name), None)
    detail = answers.details(
        status, f"code {code}" if code is not None else None, f"field {field}" if field else None
    )
    return ProviderRejected(f"zoom_rejected: Zoom refused {what} ({detail})")
