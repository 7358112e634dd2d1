"""`GET /v1/sites/{site_id}/availability?staff_id=…&from=…&to=…`: when a staff member is busy, from the
Google Calendar they linked (freebusy.query on `primary`; busy periods only, never titles or attendees).

Signed as the site like the booking status (the signature covers `GET {path}?{query}`). The answer:

    {"staff_id": "7", "from": "2026-12-01T00:00:00Z", "to": "2026-12-02T00:00:00Z",
     "busy": [{"start": "2026-12-01T09:00:00Z", "end": "2026-12-01T09:30:00Z"}],
     "cached": false, "fetched_at": "2026-11-30T12:00:00Z"}

`from`/`to` are RFC 3339 with an offset (a space where the offset's `+` was, as an unencoded `+` in a
query reads, is taken for `+`), `to` after `from`, at most 90 days apart; every instant in the answer is
UTC (`Z`).

Speed: after the signature (checked against the process's cached site), ONE Redis round trip (a
pipeline) reads the site's version, the account's `status` and `updated_at`, and the cached answer; a
cached answer whose stamp equals the account's `updated_at` is the answer, stored ready to send.
No token is read or decrypted on that path. Relinking, unlinking, `needs_relink` and token refreshes all
change what that read sees, so a cached answer never outlives its account's state (nor its TTL).

Cache: `MEETBRIDGE_AVAILABILITY_CACHE_SECONDS` (0-60, default 30; 0 turns it off), one Redis string per
(site, staff, window) under the site's prefix, named by a digest (no ids, no times in the key), sealed
with the vault key (bound to its key name) and set with EX, so Redis itself drops it.

Errors: not linked 404 `not_linked` (an unknown site is 404 `unknown_site`); `needs_relink` 409
`needs_relink`; a grant without a busy-times scope 409 `missing_scope`; Google's rate limits 503
`rate_limited` with Google's `Retry-After` (and a hold of that long during which Google is not asked
again); Google 5xx or unreachable 503 `provider_unavailable`; a 401 from Google refreshes the token
once (service.accounts.tokens, waiting at most `LOCK_WAIT` for another process's refresh, else 503
`token_busy`) and retries once. Nothing here sleeps.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import math
import re
import threading
import time
from dataclasses import dataclass

import redis
from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.wrappers import Request as WerkzeugRequest

from service import vault_keys
from service.accounts import tokens, vault
from service.bookings import booking_schema
from service.crypto import DecryptError
from service.exceptions import (
    AccountNotLinked,
    Conflict,
    Gone,
    NeedsRelink,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
    TokenBusy,
    Unauthorized,
)
from service.http import fast_path
from service.http.web import error_body
from service.providers.google_calendar import GoogleCalendar, MissingScope
from service.sites import site_auth, webhooks
from service.sites.registry import Site
from service.storage import keys, redis_client

log = logging.getLogger(__name__)

bp = Blueprint("availability", __name__)

PROVIDER = "google"
CALENDAR = "primary"
MAX_WINDOW = dt.timedelta(days=90)
"""Longest window, as Google's freebusy.query allows."""

GOOGLE_TIMEOUT = 5.0
"""Seconds one freebusy call may take before the answer is 503 (gunicorn kills a request at 30 s)."""

LOCK_WAIT = 2.0
"""Longest wait for another process's refresh of the same token before answering 503 `token_busy`."""

RETRY_BUDGET = 8.0
"""After a 401, retry with a refreshed token only if the request has taken less than this so far."""

RATE_LIMIT_DEFAULT = 10
"""Seconds to hold off after a rate limit that named no `Retry-After`."""

MAX_HOLD = 60
"""Longest hold (and `Retry-After`) after a rate limit."""

UNAVAILABLE_RETRY = 3
"""`Retry-After` (and hold) after a Google 5xx or an unreachable Google."""

_PARAMS = ("staff_id", "from", "to")
_STAFF_ID = re.compile(booking_schema.ID_PATTERN)
_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d{1,9}))?([Zz]|[+\- ]\d{2}:\d{2})$"
)
_EXTENSION = "meetbridge.availability"


class BadRequest(Exception):
    """A query parameter is missing or wrong (422 naming `field`)."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Query:
    staff_id: str
    start: dt.datetime
    end: dt.datetime

    @property
    def digest(self) -> str:
        """Names the cache entry without naming the staff member or the window."""
        text = f"{self.staff_id}|{rfc3339(self.start)}|{rfc3339(self.end)}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]


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


def clients(app: Flask | None = None) -> _Clients:
    """This app's Google Calendar clients (tests may replace `app.extensions[...]` with a double)."""
    flask_app = app or current_app
    found = flask_app.extensions.get(_EXTENSION)
    if found is None:
        endpoint = str(flask_app.config["GOOGLE_CALENDAR_API_ENDPOINT"])
        found = flask_app.extensions[_EXTENSION] = _Clients(endpoint, GOOGLE_TIMEOUT)
    return found


# --- parsing ------------------------------------------------------------------------------------------


def parse_instant(raw: str) -> dt.datetime | None:
    """An RFC 3339 date-time with an offset (`Z` or `±hh:mm`), as an aware datetime; None if it is not one.
    A space in place of the offset's `+` (an unencoded `+` in a query) reads as `+`."""
    match = _RFC3339.match(raw)
    if not match:
        return None
    day, clock, fraction, offset = match.groups()
    offset = "+00:00" if offset in ("Z", "z") else "+" + offset[1:] if offset[0] == " " else offset
    micro = f".{(fraction or '')[:6].ljust(6, '0')}" if fraction else ""
    try:
        return dt.datetime.fromisoformat(f"{day}T{clock}{micro}{offset}")
    except ValueError:  # month 13, 24:00, offset +25:00, ...
        return None


def rfc3339(moment: dt.datetime) -> str:
    """UTC, `Z`, with a fraction of a second only when there is one."""
    utc = moment.astimezone(dt.UTC)
    fraction = f".{utc.microsecond:06d}".rstrip("0") if utc.microsecond else ""
    return utc.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def parse_query(args) -> Query:
    """The query's three parameters, checked in the order `staff_id`, `from`, `to`.

    Raises:
        BadRequest: naming the first wrong field.
    """
    for name, values in args.lists():
        if name not in _PARAMS:
            raise BadRequest(name, f"unknown parameter {name!r}; expected staff_id, from and to")
        if len(values) > 1:
            raise BadRequest(name, f"{name} is given more than once")
    staff_id = args.get("staff_id", "")
    if not (0 < len(staff_id) <= 64 and _STAFF_ID.match(staff_id)):
        raise BadRequest("staff_id", "staff_id is required: 1-64 letters, digits and . _ : -")
    bounds = []
    for name in ("from", "to"):
        raw = args.get(name)
        if not raw:
            raise BadRequest(name, f"{name} is required (RFC 3339 with an offset, e.g. 2026-12-01T00:00:00Z)")
        moment = parse_instant(raw)
        if moment is None:
            raise BadRequest(
                name, f"{name} must be an RFC 3339 date-time with an offset, e.g. 2026-12-01T00:00:00Z"
            )
        bounds.append(moment)
    start, end = bounds
    if end <= start:
        raise BadRequest("to", "to must be after from")
    if end - start > MAX_WINDOW:
        raise BadRequest("to", "the window from..to is longer than 90 days")
    return Query(staff_id, start, end)


# --- the endpoint ---------------------------------------------------------------------------------------


ROUTE = "/v1/sites/<site_id>/availability"


@bp.get(ROUTE)
def availability(site_id: str):
    try:
        return _availability(site_id)
    except (
        redis.RedisError
    ) as exc:  # as service.http.web would answer, plus the Retry-After every 503 here has
        log.error("redis unavailable: %s", type(exc).__name__)
        return _unavailable("storage_unavailable", "storage is unavailable; retry later", UNAVAILABLE_RETRY)


@site_auth.signed(check_version=False)  # the version: below
def _availability(site: Site):
    site_id = site.id
    try:
        query = parse_query(request.args)
    except BadRequest as exc:
        return error_body(422, "invalid_request", exc.message, field=exc.field)
    r = redis_client.get()
    cache_key = keys.availability(site_id, query.digest)
    version, (status, stamp), sealed = _read_state(current_app, site_id, query, cache_key)
    if version is None or version.decode() != site.version:
        site_auth.authenticate(site_id, fresh=True)  # a stale cached copy: check against Redis's
    if status is None:
        return error_body(404, "not_linked", "no Google account is linked for this staff member")
    if status.decode() != vault.ACTIVE:
        return error_body(409, "needs_relink", "the staff member's Google account must be linked again")
    if sealed is not None:
        body = _open(vault_keys.get(), sealed, cache_key, stamp)
        if body is not None:
            return Response(body, mimetype="application/json")
    hold_ms = r.pttl(keys.availability_hold(site_id, query.staff_id))
    if hold_ms > 0:
        return _unavailable(
            "rate_limited", "Google asked to slow down; retry later", math.ceil(hold_ms / 1000)
        )
    return _fetch_and_answer(site_id, query, cache_key, stamp)


def fast_availability(app: Flask, environ: dict, site_id: str) -> fast_path.Answer | None:
    """`availability` when the answer is cached (signed, valid query, site current, account active,
    cache entry of the account as it is now); None for everything else, which the route answers."""
    req = WerkzeugRequest(environ)
    site, _cached = site_auth.cache(app).get(site_id, app=app)
    if site is None:
        return None
    try:
        webhooks.verify(site.active_keys(), req.headers, site_auth.signed_payload(req))
        query = parse_query(req.args)
    except (webhooks.WebhookError, BadRequest):
        return None
    cache_key = keys.availability(site_id, query.digest)
    version, (status, stamp), sealed = _read_state(app, site_id, query, cache_key)
    if version is None or version.decode() != site.version or status is None or sealed is None:
        return None
    if status.decode() != vault.ACTIVE:
        return None
    body = _open(vault_keys.get(app), sealed, cache_key, stamp)
    return None if body is None else fast_path.Answer(200, body)


def _body(query: Query, busy: list[dict[str, str]], fetched_at: str, *, cached: bool) -> bytes:
    answer = {
        "staff_id": query.staff_id,
        "from": rfc3339(query.start),
        "to": rfc3339(query.end),
        "busy": busy,
        "cached": cached,
        "fetched_at": fetched_at,
    }
    return json.dumps(answer, separators=(",", ":")).encode()


def _unavailable(code: str, message: str, retry_after: int):
    response = error_body(503, code, message)
    response.headers["Retry-After"] = str(max(1, retry_after))
    return response


def _read_state(app: Flask, site_id: str, query: Query, cache_key: str) -> list:
    """In one round trip: the site's version, the account's status and stamp, the cached answer."""
    replies = redis_client.calls(app).call(
        ("HGET", keys.site(site_id), "ver"),
        ("HMGET", keys.account(site_id, PROVIDER, query.staff_id), "status", "updated_at"),
        ("GET", cache_key),
    )
    for reply in replies:
        if isinstance(reply, redis.exceptions.ResponseError):
            raise reply
    return replies


def _open(keyring, sealed: bytes, cache_key: str, stamp: bytes | None) -> bytes | None:
    """The cached answer (`{stamp}\n{JSON body with "cached": true}`) if it was stored for the account
    as it is now."""
    try:
        plain, _stale = keyring.open(sealed, cache_key.encode())
    except DecryptError:  # sealed with a key no longer configured: a miss
        return None
    stored_stamp, _, body = plain.partition(b"\n")
    return body if stamp is not None and stored_stamp == stamp else None


def _fetch_and_answer(site_id: str, query: Query, cache_key: str, stamp: bytes | None):
    staff_id = query.staff_id
    try:
        busy = _fetch(site_id, query)
    except AccountNotLinked:
        return error_body(404, "not_linked", "no Google account is linked for this staff member")
    except NeedsRelink:
        return error_body(409, "needs_relink", "the staff member's Google account must be linked again")
    except MissingScope:
        log.warning("availability %s/%s: the Google grant lacks a busy-times scope", site_id, staff_id)
        return error_body(
            409, "missing_scope", "the Google account was linked without access to busy times; link it again"
        )
    except TokenBusy:
        return _unavailable("token_busy", "the account's token is being refreshed; retry in a moment", 2)
    except RateLimited as exc:
        wait = min(MAX_HOLD, max(1, math.ceil(exc.retry_after or RATE_LIMIT_DEFAULT)))
        _hold(site_id, staff_id, wait)
        log.warning("availability %s/%s: Google rate limit, holding %ds", site_id, staff_id, wait)
        return _unavailable("rate_limited", "Google asked to slow down; retry later", wait)
    except ProviderUnavailable as exc:
        _hold(site_id, staff_id, UNAVAILABLE_RETRY)
        log.warning("availability %s/%s: %s", site_id, staff_id, exc)
        return _unavailable(
            "provider_unavailable", "Google Calendar is unavailable; retry later", UNAVAILABLE_RETRY
        )
    except (ProviderRejected, Gone, Conflict) as exc:
        log.error("availability %s/%s: Google refused freebusy: %s", site_id, staff_id, exc)
        return _unavailable("provider_error", "Google Calendar refused the request; retry later", MAX_HOLD)
    fetched_at = rfc3339(dt.datetime.now(dt.UTC).replace(microsecond=0))
    ttl = int(current_app.config.get("AVAILABILITY_CACHE_SECONDS", 0))
    if ttl > 0 and stamp is not None:
        entry = stamp + b"\n" + _body(query, busy, fetched_at, cached=True)
        redis_client.get().set(cache_key, vault_keys.get().seal(entry, cache_key.encode()), ex=ttl)
    log.info("availability %s/%s: %d busy period(s) from Google", site_id, staff_id, len(busy))
    return Response(_body(query, busy, fetched_at, cached=False), mimetype="application/json")


def _hold(site_id: str, staff_id: str, seconds: int) -> None:
    redis_client.get().set(keys.availability_hold(site_id, staff_id), b"1", ex=seconds)


def _fetch(site_id: str, query: Query) -> list[dict[str, str]]:
    """Busy periods from Google, with one refresh and retry after a 401 (raises the project's exceptions)."""
    started = time.monotonic()
    staff_id = query.staff_id
    client = clients().get()
    token = _access_token(tokens.session_for(site_id, PROVIDER, staff_id, lock_wait=LOCK_WAIT))
    time_min, time_max = rfc3339(query.start), rfc3339(query.end)
    try:
        periods = client.freebusy(token, time_min, time_max, CALENDAR)
    except Unauthorized:
        if time.monotonic() - started > RETRY_BUDGET:
            raise ProviderUnavailable("Google rejected the token and the request ran out of time") from None
        log.info("availability %s/%s: Google answered 401; refreshing once", site_id, staff_id)
        token = _access_token(
            tokens.refresh_after_unauthorized(site_id, PROVIDER, staff_id, token, lock_wait=LOCK_WAIT)
        )
        try:
            periods = client.freebusy(token, time_min, time_max, CALENDAR)
        except Unauthorized:
            raise ProviderUnavailable("Google rejected a freshly refreshed token") from None
    return [_period(period) for period in periods]


def _access_token(session) -> str:
    try:
        return session.token["access_token"]
    finally:
        session.close()


def _period(period: dict[str, str]) -> dict[str, str]:
    """Google's period in the answer's form (UTC, `Z`); Google already answers so for `timeZone: UTC`."""
    start, end = parse_instant(period["start"]), parse_instant(period["end"])
    if start is None or end is None:
        raise ProviderRejected("Google Calendar answered a busy period that is not RFC 3339")
    return {"start": rfc3339(start), "end": rfc3339(end)}
