"""A thin client for the Zoom Meetings API (v2): create, update, delete, list (and the token's user),
through `requests`.

One `requests.Session` per process keeps connections to Zoom open between jobs; the access token is
passed per call. Answers are mapped to the project's exceptions so the sync logic reads like the
business rule: 401 `Unauthorized`, 404 `Gone`, 429 `RateLimited` (with `Retry-After`, also for the
daily limit of 100 creates/updates per user), 5xx and network errors `ProviderUnavailable`, other
4xx `ProviderRejected`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from service.exceptions import Gone, ProviderRejected, ProviderUnavailable, RateLimited, Unauthorized

log = logging.getLogger(__name__)

TIMEOUT = 10


class ZoomMeetings:
    """Zoom's meeting endpoints under `api_base` (e.g. https://api.zoom.us/v2)."""

    def __init__(self, api_base: str, session: requests.Session | None = None, timeout: float = TIMEOUT):
        self.api_base = api_base.rstrip("/")
        self.session = session or requests.Session()
        self.timeout = timeout

    def me(self, token: str) -> dict[str, Any]:
        """The token's user (`GET /users/me`): a cheap proof that the token works. The answer names the
        user: use it, never log or store it."""
        return self._call("GET", "/users/me", token).json()

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

    def upcoming(self, token: str) -> Iterator[dict[str, Any]]:
        """Every upcoming meeting of the token's user, page by page."""
        params: dict[str, Any] = {"type": "upcoming", "page_size": 300}
        while True:
            page = self._call("GET", "/users/me/meetings", token, params=params).json()
            yield from page.get("meetings", [])
            next_token = page.get("next_page_token")
            if not next_token:
                return
            params["next_page_token"] = next_token

    def _call(self, method: str, path: str, token: str, **kwargs) -> requests.Response:
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
            raise ProviderUnavailable(f"Zoom could not be reached ({type(exc).__name__})") from None
        if answer.status_code < 300:
            return answer
        raise _error(answer)


def _error(answer: requests.Response) -> Exception:
    status = answer.status_code
    try:
        body = answer.json()
    except ValueError:
        body = {}
    message = str(body.get("message") or answer.reason or "no details")[:300]
    if status == 401:
        return Unauthorized(f"Zoom rejected the access token: {message}")
    if status == 404:
        return Gone(f"Zoom: {message}")
    if status == 429:
        return RateLimited(f"Zoom rate limit: {message}", _retry_after(answer))
    if status >= 500:
        return ProviderUnavailable(f"Zoom answered {status}")
    return ProviderRejected(f"Zoom refused the request ({status}): {message}")


def _retry_after(answer: requests.Response) -> float | None:
    raw = answer.headers.get("Retry-After")
    if raw is None:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        try:
            return max(0.0, parsedate_to_datetime(raw).timestamp() - time.time())
        except (TypeError, ValueError):
            return None
