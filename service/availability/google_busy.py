"""Busy periods of a staff member's Google Calendar (freebusy.query on `primary`), fetched in a web
request through service.providers.clients with a policy that never sleeps: a 401 refreshes the token once
(waiting at most `LOCK_WAIT` for another process's refresh, and only while the request is younger than
`RETRY_BUDGET`); every other failure is raised as the project's exception for the route to answer.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app

from service.availability.query import Query, parse_instant, rfc3339
from service.exceptions import ProviderRejected
from service.providers import clients
from service.providers.google_calendar import GoogleCalendar

PROVIDER = "google"
CALENDAR = "primary"

GOOGLE_TIMEOUT = 5.0
"""Seconds one freebusy call may take before the answer is 503 (gunicorn kills a request at 30 s)."""

LOCK_WAIT = 2.0
"""Longest wait for another process's refresh of the same token before answering 503 `token_busy`."""

RETRY_BUDGET = 8.0
"""After a 401, retry with a refreshed token only if the request has taken less than this so far."""

EXTENSION = "meetbridge.availability"
"""Where an app keeps its Google Calendar clients for availability (tests put a double there)."""


class _Clients:
    """One Google Calendar client per thread (httplib2 connections are not thread-safe), built lazily."""

    def __init__(self, endpoint: str, timeout: float):
        self._endpoint = endpoint
        self._timeout = timeout
        self._local = threading.local()

    def get(self) -> GoogleCalendar:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = GoogleCalendar(self._endpoint, self._timeout)
        return client


def calendars(app: Flask | None = None) -> _Clients:
    """This app's Google Calendar clients (tests may replace `app.extensions[EXTENSION]` with a double)."""
    flask_app = app or current_app
    found = flask_app.extensions.get(EXTENSION)
    if found is None:
        endpoint = str(flask_app.config["GOOGLE_CALENDAR_API_ENDPOINT"])
        found = flask_app.extensions[EXTENSION] = _Clients(endpoint, GOOGLE_TIMEOUT)
    return found


def fetch(site_id: str, query: Query) -> list[dict[str, str]]:
    """The staff member's busy periods in the query's window, in the answer's form (UTC, `Z`).

    Raises:
        service.exceptions.AccountNotLinked, NeedsRelink, TokenBusy, RateLimited, ProviderUnavailable,
            ProviderRejected (MissingScope among them), Gone, Conflict: for the route to answer.
    """
    client = calendars().get()
    time_min, time_max = rfc3339(query.start), rfc3339(query.end)
    policy = clients.Policy.no_wait(lock_wait=LOCK_WAIT, refresh_budget=RETRY_BUDGET)
    periods = clients.call(
        site_id,
        PROVIDER,
        query.staff_id,
        lambda token: client.freebusy(token, time_min, time_max, CALENDAR),
        policy=policy,
    )
    return [_period(period) for period in periods]


def _period(period: dict[str, str]) -> dict[str, str]:
    """Google's period in the answer's form (UTC, `Z`); Google already answers so for `timeZone: UTC`."""
    start, end = parse_instant(period["start"]), parse_instant(period["end"])
    if start is None or end is None:
        raise ProviderRejected("Google Calendar answered a busy period that is not RFC 3339")
    return {"start": rfc3339(start), "end": rfc3339(end)}
