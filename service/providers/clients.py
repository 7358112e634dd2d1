"""The provider clients each process builds once, and the one way to call them: `call(site, provider,
staff, fn)` runs `fn(access_token)` with the linked account's fresh token, refreshes it once after a 401
and treats transient failures (429 with `Retry-After`, Google's rate-limit 403s, 5xx, network errors) as
its `Policy` says.

The jobs' policy (the default) retries them in the job with exponential backoff and jitter while the wait
is short; a longer wait (a long `Retry-After`, Zoom's daily limit) raises `Postpone` so the job reschedules
itself instead of holding a worker. `Policy.no_wait()` (a web request, a health check) never sleeps: a
transient failure is raised as it is, for the caller to answer.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Policy:
    """How `call` treats a provider call's failures.

    Attributes:
        attempts: Calls at most, the one made after a refresh included.
        max_inline_wait: Longest pause slept before the next attempt; a longer one raises `Postpone`.
            None: nothing is ever slept, and a transient failure (`RateLimited`, `ProviderUnavailable`)
            is raised as it is.
        lock_wait: Longest wait for another process's refresh of the same token (then `TokenBusy`).
        refresh_budget: After a 401, refresh only while the call has taken at most this many seconds
            (None: always); past it the 401 is raised as `ProviderUnavailable`.
    """

    attempts: int
    max_inline_wait: float | None
    lock_wait: float
    refresh_budget: float | None = None

    @classmethod
    def no_wait(cls, *, lock_wait: float = tokens.LOCK_WAIT, refresh_budget: float | None = None) -> Policy:
        """One call, and one more after a refresh; nothing slept, transient failures raised at once."""
        return cls(attempts=2, max_inline_wait=None, lock_wait=lock_wait, refresh_budget=refresh_budget)


def job_policy() -> Policy:
    """The jobs' policy, from this module's settings as they are now (`ATTEMPTS`, `MAX_INLINE_WAIT`)."""
    return Policy(attempts=ATTEMPTS, max_inline_wait=MAX_INLINE_WAIT, lock_wait=tokens.LOCK_WAIT)


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


def _token(site_id: str, provider: str, staff_id: str, lock_wait: float) -> str:
    session = tokens.session_for(site_id, provider, staff_id, lock_wait=lock_wait)
    try:
        return session.token["access_token"]
    finally:
        session.close()


def _refreshed_token(site_id: str, provider: str, staff_id: str, rejected: str, lock_wait: float) -> str:
    session = tokens.refresh_after_unauthorized(site_id, provider, staff_id, rejected, lock_wait=lock_wait)
    try:
        return session.token["access_token"]
    finally:
        session.close()


def call(
    site_id: str,
    provider: str,
    staff_id: str,
    fn: Callable[[str], T],
    *,
    policy: Policy | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run `fn(access_token)` for the account, with one refresh after a 401 and transient failures
    handled as `policy` (default: `job_policy()`) says.

    Args:
        site_id, provider, staff_id: The linked account whose token `fn` gets.
        fn: One provider call; raises the project's exceptions (service.providers' clients do).
        policy: Attempts, pauses, the refresh lock's wait and the refresh's time budget.
        sleep, clock: `time.sleep` and `time.monotonic` (tests pass fakes).

    Returns:
        What `fn` returned.

    Raises:
        Postpone: the provider needs a longer pause than the policy sleeps, or kept failing.
        service.exceptions.RateLimited, ProviderUnavailable: with a policy that never sleeps.
        service.exceptions.ProviderUnavailable: a freshly refreshed token was rejected too, or a 401 came
            after the refresh budget.
        service.exceptions.NeedsRelink, AccountNotLinked, TokenBusy, ProviderRejected, Gone, Conflict: as
            `fn` or the token vault raise them (permanent for this attempt).
    """
    rules = policy or job_policy()
    started = clock()
    token = _token(site_id, provider, staff_id, rules.lock_wait)
    refreshed = False
    reason = f"{provider} rejected the token"
    for attempt in range(rules.attempts):
        try:
            return fn(token)
        except Unauthorized:
            _may_refresh(provider, rules, refreshed, clock() - started)
            log.info("%s call for %s/%s: 401; refreshing the token once", provider, site_id, staff_id)
            token = _refreshed_token(site_id, provider, staff_id, token, rules.lock_wait)
            refreshed = True
            continue
        except (RateLimited, ProviderUnavailable) as exc:
            if rules.max_inline_wait is None:
                raise
            delay, reason = _delay(exc, attempt), str(exc)
        if delay > rules.max_inline_wait:
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
    raise Postpone(f"{provider} kept failing: {reason}", backoff(rules.attempts))


def _may_refresh(provider: str, rules: Policy, refreshed: bool, elapsed: float) -> None:
    """Raise `ProviderUnavailable` unless a 401 may be answered with a refresh."""
    if refreshed:
        raise ProviderUnavailable(f"{provider} rejected a freshly refreshed token") from None
    if rules.refresh_budget is not None and elapsed > rules.refresh_budget:
        raise ProviderUnavailable(f"{provider} rejected the token and the call ran out of time") from None


def _delay(exc: RateLimited | ProviderUnavailable, attempt: int) -> float:
    """The pause before the next attempt: the provider's `Retry-After`, else backoff."""
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        return exc.retry_after
    return backoff(attempt)
