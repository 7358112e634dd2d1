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
once (service.providers.clients, waiting at most `google_busy.LOCK_WAIT` for another process's refresh,
else 503 `token_busy`) and retries once. Nothing here sleeps.

This module answers: the route, the fast path, the cache and the error answers. The query is read in
`query`, the busy periods come from `google_busy`.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from dataclasses import dataclass

import redis
from flask import Blueprint, Flask, Response, current_app, request
from werkzeug.wrappers import Request as WerkzeugRequest

from service import vault_keys
from service.accounts import vault
from service.availability import google_busy
from service.availability.google_busy import PROVIDER
from service.availability.query import BadRequest, Query, parse_query, rfc3339
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
)
from service.http import fast_path
from service.http.web import error_body
from service.providers.google_calendar import MissingScope
from service.sites import site_auth, webhooks
from service.sites.registry import Site
from service.storage import keys, redis_client

log = logging.getLogger(__name__)

bp = Blueprint("availability", __name__)

RATE_LIMIT_DEFAULT = 10
"""Seconds to hold off after a rate limit that named no `Retry-After`."""

MAX_HOLD = 60
"""Longest hold (and `Retry-After`) after a rate limit."""

UNAVAILABLE_RETRY = 3
"""`Retry-After` (and hold) after a Google 5xx or an unreachable Google."""

_EXTENSION = google_busy.EXTENSION  # the name tests/test_openapi.py puts its Google double under


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
    state = _cached_state(current_app, site, query)
    if state.site_stale:
        site_auth.authenticate(site_id, fresh=True)  # a stale cached copy: check against Redis's
    if state.status is None:
        return error_body(404, "not_linked", "no Google account is linked for this staff member")
    if state.status != vault.ACTIVE:
        return error_body(409, "needs_relink", "the staff member's Google account must be linked again")
    if state.body is not None:
        return Response(state.body, mimetype="application/json")
    hold_ms = redis_client.get().pttl(keys.availability_hold(site_id, query.staff_id))
    if hold_ms > 0:
        return _unavailable(
            "rate_limited", "Google asked to slow down; retry later", math.ceil(hold_ms / 1000)
        )
    return _fetch_and_answer(site_id, query, state.cache_key, state.stamp)


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
    state = _cached_state(app, site, query)
    if state.site_stale or state.status != vault.ACTIVE or state.body is None:
        return None
    return fast_path.Answer(200, state.body)


@dataclass(frozen=True)
class _State:
    """What the route and the fast path decide on, read in one round trip."""

    cache_key: str
    site_stale: bool  # Redis has another version of the site than the cached copy
    status: str | None  # the linked Google account's status (None: not linked)
    stamp: bytes | None  # the account's current token stamp (binds the cache entry to it)
    body: bytes | None  # the cached answer, when there is one for the account as it is now


def _cached_state(app: Flask, site: Site, query: Query) -> _State:
    cache_key = keys.availability(site.id, query.digest)
    version, (status, stamp), sealed = _read_state(app, site.id, query, cache_key)
    body = _open(vault_keys.get(app), sealed, cache_key, stamp) if sealed is not None else None
    return _State(
        cache_key=cache_key,
        site_stale=version is None or version.decode() != site.version,
        status=status.decode() if status is not None else None,
        stamp=stamp,
        body=body,
    )


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
        busy = google_busy.fetch(site_id, query)
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
