"""Google Calendar events through google-api-python-client: static discovery, built once per process.

The service object is built once (`GOOGLE_CALENDAR_API_ENDPOINT` as its api_endpoint, so the same
code talks to Google or to the sandbox) and every call carries the account's access token through a
tiny bearer wrapper around one shared `httplib2.Http` (connections are reused between jobs). Errors
map to the project's exceptions: 401 `Unauthorized`; 403 `rateLimitExceeded`/`userRateLimitExceeded`
and 429 `RateLimited` (`Retry-After` in seconds or as an HTTP date); 404/410 `Gone`; 409 `Conflict`; 5xx
and transport errors `ProviderUnavailable`; 403 `insufficientPermissions` `MissingScope` (a
`ProviderRejected`); any other 4xx `ProviderRejected`. Messages are a stable code and MeetBridge's own
words with Google's `reason` tokens (service.providers.answers): Google's message text, which may echo
an attendee or a title, is never kept. `freebusy()` asks for busy periods only: no titles, no
attendees; `probe()` lists at most one event to prove a token works.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import httplib2
from googleapiclient.discovery import build
from googleapiclient.errors import HttpError

from service.exceptions import (
    Conflict,
    Gone,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
    Unauthorized,
)
from service.providers import answers

TIMEOUT = 10
_RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
_TRANSIENT_CALENDAR_REASONS = {"backendError", "internalError"}


class MissingScope(ProviderRejected):
    """Google answered 403 `insufficientPermissions`: the grant lacks the method's scope (link again)."""


def event_id(site_id: str, booking_id: str) -> str:
    """The booking's deterministic Google event id: base32hex (a-v, 0-9), 32 characters."""
    digest = hashlib.sha256(f"meetbridge|{site_id}|{booking_id}".encode()).digest()[:20]
    return base64.b32hexencode(digest).decode().lower()


class _Bearer:
    """An httplib2-compatible object that adds one account's bearer token to every request."""

    def __init__(self, http: httplib2.Http, token: str):
        self._http = http
        self._token = token

    def request(self, uri, method="GET", body=None, headers=None, **kwargs):
        headers = dict(headers or {})
        headers["authorization"] = f"Bearer {self._token}"
        return self._http.request(uri, method=method, body=body, headers=headers, **kwargs)


class GoogleCalendar:
    """Events of a calendar, for whichever account's token is passed."""

    def __init__(self, api_endpoint: str, timeout: float = TIMEOUT):
        self._http = httplib2.Http(timeout=timeout)
        self._service = build(
            "calendar",
            "v3",
            http=self._http,
            static_discovery=True,
            cache_discovery=False,
            client_options={"api_endpoint": api_endpoint},
        )

    def insert(self, token: str, calendar_id: str, body: dict, send_updates: str) -> dict[str, Any]:
        request = self._service.events().insert(calendarId=calendar_id, body=body, sendUpdates=send_updates)
        return self._execute(request, token)

    def get(self, token: str, calendar_id: str, event_id: str) -> dict[str, Any]:
        return self._execute(self._service.events().get(calendarId=calendar_id, eventId=event_id), token)

    def update(
        self, token: str, calendar_id: str, event_id: str, body: dict, send_updates: str
    ) -> dict[str, Any]:
        request = self._service.events().update(
            calendarId=calendar_id, eventId=event_id, body=body, sendUpdates=send_updates
        )
        return self._execute(request, token)

    def delete(self, token: str, calendar_id: str, event_id: str, send_updates: str) -> None:
        request = self._service.events().delete(
            calendarId=calendar_id, eventId=event_id, sendUpdates=send_updates
        )
        self._execute(request, token)

    def patch(self, token: str, calendar_id: str, event_id: str, body: dict, send_updates: str) -> dict:
        """events.patch: change only the fields in `body` (e.g. the times)."""
        request = self._service.events().patch(
            calendarId=calendar_id, eventId=event_id, body=body, sendUpdates=send_updates
        )
        return self._execute(request, token)

    def watch(self, token: str, calendar_id: str, channel: dict[str, Any]) -> dict[str, Any]:
        """events.watch: open a web_hook channel (`{"id", "type", "address", "token", "params"}`) on the
        calendar's events; returns Google's channel (`resourceId`, `expiration` in ms)."""
        return self._execute(self._service.events().watch(calendarId=calendar_id, body=channel), token)

    def stop_channel(self, token: str, channel_id: str, resource_id: str) -> None:
        """channels.stop: no more notifications on the channel."""
        body = {"id": channel_id, "resourceId": resource_id}
        self._execute(self._service.channels().stop(body=body), token)

    def changes(
        self, token: str, calendar_id: str, sync_token: str | None, time_min: str, page_token: str | None
    ) -> dict[str, Any]:
        """One page of events.list: changed since `sync_token` (deleted ones included), or, without it, a
        full list from `time_min` with deleted events. A 410 (the token expired) raises `Gone`."""
        options: dict[str, Any] = {"calendarId": calendar_id, "maxResults": 2500, "showDeleted": True}
        if sync_token:
            options["syncToken"] = sync_token
        else:
            options["timeMin"] = time_min
        if page_token:
            options["pageToken"] = page_token
        return self._execute(self._service.events().list(**options), token, reconnect=True)

    def probe(self, token: str, calendar_id: str = "primary") -> None:
        """List at most one event of the calendar (events.list): a cheap proof that the token works."""
        request = self._service.events().list(calendarId=calendar_id, maxResults=1)
        self._execute(request, token, reconnect=True)

    def freebusy(
        self, token: str, time_min: str, time_max: str, calendar_id: str = "primary"
    ) -> list[dict[str, str]]:
        """The busy periods (`{"start", "end"}`, RFC 3339 in UTC) of one calendar between two RFC 3339
        instants (freebusy.query). A per-calendar error in Google's answer raises like an HTTP error."""
        body = {"timeMin": time_min, "timeMax": time_max, "timeZone": "UTC", "items": [{"id": calendar_id}]}
        answer = self._execute(self._service.freebusy().query(body=body), token, reconnect=True)
        calendar = (answer.get("calendars") or {}).get(calendar_id) or {}
        items = [item for item in calendar.get("errors") or [] if isinstance(item, dict)]
        errors = {str(item.get("reason")) for item in items}
        named = ", ".join(answers.tokens(item.get("reason") for item in items)) or "no busy list"
        if errors & _TRANSIENT_CALENDAR_REASONS:
            raise ProviderUnavailable(
                f"google_unavailable: Google Calendar could not read busy times ({named})"
            )
        if errors or "busy" not in calendar:
            raise ProviderRejected(f"google_rejected: Google Calendar refused busy times ({named})")
        return [{"start": str(period["start"]), "end": str(period["end"])} for period in calendar["busy"]]

    def _execute(self, request, token: str, *, reconnect: bool = False):
        """Run `request` with `token`; with `reconnect` (reads only), a connection-level failure other than
        a timeout (a kept-alive connection the server had closed) is retried once on a new connection."""
        try:
            return request.execute(http=_Bearer(self._http, token))
        except HttpError as exc:
            raise _error(exc) from None
        except (TimeoutError, httplib2.HttpLib2Error, OSError) as exc:
            if reconnect and not isinstance(exc, TimeoutError):
                for connection in list(self._http.connections.values()):
                    connection.close()
                self._http.connections.clear()
                return self._execute(request, token)
            raise ProviderUnavailable(
                f"google_unreachable: Google Calendar could not be reached ({type(exc).__name__})"
            ) from None


def _error(exc: HttpError) -> Exception:
    """The exception for an error answer; its message quotes only the status and Google's reasons."""
    status = exc.status_code
    reasons = {detail.get("reason") for detail in (exc.error_details or []) if isinstance(detail, dict)}
    said = answers.details(status, ", ".join(answers.tokens(reasons)) or None)
    if status == 401:
        return Unauthorized(f"google_unauthorized: Google rejected the access token ({said})")
    if status == 429 or (status == 403 and reasons & _RATE_LIMIT_REASONS):
        wait = answers.retry_after(exc.resp.get("retry-after"))
        return RateLimited(f"google_rate_limited: Google Calendar asked to slow down ({said})", wait)
    if status == 403 and "insufficientPermissions" in reasons:
        return MissingScope(f"google_missing_scope: the grant does not allow this Calendar request ({said})")
    if status in (404, 410):
        return Gone(f"google_not_found: Google Calendar has no such event ({said})")
    if status == 409:
        return Conflict(f"google_conflict: the event id is taken in Google Calendar ({said})")
    if status >= 500:
        return ProviderUnavailable(f"google_unavailable: Google Calendar answered {said}")
    return ProviderRejected(f"google_rejected: Google Calendar refused the request ({said})")
