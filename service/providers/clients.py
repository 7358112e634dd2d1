"""What sync jobs share per worker process: the provider clients (built once) and calling them with a
linked account's token, a single refresh after a 401, and short retries with backoff.

`call(site, provider, staff, fn)` runs `fn(token)`; transient failures (429 with `Retry-After`, Google's
rate-limit 403s, 5xx, network errors) are retried in the job with exponential backoff and jitter
while the wait is short; a longer wait (a long `Retry-After`, Zoom's daily limit) raises `Postpone`
so the job reschedules itself instead of holding a worker.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from flask import Flask, current_app

from service.accounts import tokens
from service.exceptions import ProviderUnavailable, RateLimited, Unauthorized
from service.providers.google_calendar import GoogleCalendar
from service.providers.zoom_meetings import ZoomMeetings

log = logging.getLogger(__name__)

T = TypeVar("T")

#: In-job retries of one provider call before the job postpones itself.
ATTEMPTS = 5
#: Longest wait (seconds) spent sleeping inside a job; longer waits postpone the job.
MAX_INLINE_WAIT = 20.0
#: Backoff: base * 2**attempt, capped, with full jitter.
BACKOFF_BASE = 0.5
BACKOFF_CAP = 30.0


class Postpone(Exception):
    """Try the whole job again in `delay` seconds (the reason is kept as the booking's last error)."""

    def __init__(self, reason: str, delay: float):
        super().__init__(reason)
        self.reason = reason
        self.delay = delay


def backoff(attempt: int) -> float:
    """Exponential backoff with full jitter for the `attempt`-th retry (0-based)."""
    return random.uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**attempt))  # noqa: S311 - jitter


def zoom(app: Flask | None = None) -> ZoomMeetings:
    """This process's Zoom client."""
    flask_app = app or current_app
    client = flask_app.extensions.get("meetbridge.zoom")
    if client is None:
        client = flask_app.extensions["meetbridge.zoom"] = ZoomMeetings(
            str(flask_app.config["ZOOM_API_BASE"])
        )
    return client


def calendar(app: Flask | None = None) -> GoogleCalendar:
    """This process's Google Calendar client (built once: static discovery)."""
    flask_app = app or current_app
    client = flask_app.extensions.get("meetbridge.calendar")
    if client is None:
        endpoint = str(flask_app.config["GOOGLE_CALENDAR_API_ENDPOINT"])
        client = flask_app.extensions["meetbridge.calendar"] = GoogleCalendar(endpoint)
    return client


def _token(site_id: str, provider: str, staff_id: str) -> str:
    session = tokens.session_for(site_id, provider, staff_id)
    try:
        return session.token["access_token"]
    finally:
        session.close()


def _refreshed_token(site_id: str, provider: str, staff_id: str, rejected: str) -> str:
    session = tokens.refresh_after_unauthorized(site_id, provider, staff_id, rejected)
    try:
        return session.token["access_token"]
    finally:
        session.close()


def call(site_id: str, provider: str, staff_id: str, fn: Callable[[str], T], *, sleep=time.sleep) -> T:
    """Run `fn(access_token)` for the account, with one refresh after a 401 and retries of transient
    failures.

    Raises:
        Postpone: the provider needs a longer pause than a job should sleep.
        service.exceptions.NeedsRelink, AccountNotLinked, ProviderRejected, Gone, Conflict: as `fn` or
            the token vault raise them (permanent for this attempt).
    """
    token = _token(site_id, provider, staff_id)
    refreshed = False
    for attempt in range(ATTEMPTS):
        try:
            return fn(token)
        except Unauthorized:
            if refreshed:
                raise ProviderUnavailable(f"{provider} rejected a freshly refreshed token") from None
            token = _refreshed_token(site_id, provider, staff_id, token)
            refreshed = True
            continue
        except RateLimited as exc:
            delay = exc.retry_after if exc.retry_after is not None else backoff(attempt)
            reason = str(exc)
        except ProviderUnavailable as exc:
            delay = backoff(attempt)
            reason = str(exc)
        if delay > MAX_INLINE_WAIT:
            raise Postpone(reason, delay)
        log.info(
            "%s call for %s/%s: %s; retry %d in %.1fs",
            provider,
            site_id,
            staff_id,
            reason,
            attempt + 1,
            delay,
        )
        sleep(delay)
    raise Postpone(f"{provider} kept failing: {reason}", backoff(ATTEMPTS))
