"""Authenticating a request as a site: Standard Webhooks signatures with the site's secret.

Events and other POSTs sign their raw body. Requests without a body (GET, DELETE) sign the line
`"{METHOD} {path}[?{query}]"` in place of the body, with the same three headers, so WordPress signs
every call with one function. The path is signed in one canonical form, whatever escaping the request
used: each segment percent-encoded per RFC 3986 (`A-Z a-z 0-9 - . _ ~` kept, every other byte `%XX`,
PHP's `rawurlencode`), so a booking id `a:b` is signed as `/v1/sites/{site}/bookings/a%3Ab`. The query
is signed exactly as sent. An unknown site costs the same HMAC work as a bad signature before it
gets its 404, so site ids cannot be probed by timing.

Routes under `/v1/sites/<site_id>/` say so with a decorator: `@signed` (the view gets the `Site` in
place of `site_id`) or, for a signed JSON body, `@signed_json` (the view gets the site, the request's
`webhook-id` and the decoded body). Either answers a refusal itself, as JSON, before the view runs.

Sites are cached per process for `CACHE_SECONDS`. A signature that fails against the cached copy is
checked once more against Redis (so a new secret works at once). A signature that passes against a
cached copy is trusted only once the site's `ver` in Redis is confirmed unchanged (so a revoked secret
or a deleted site stops working at once): the events endpoint does that inside its Redis script,
every other caller here with one `HGET`.
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable
from urllib.parse import quote

from flask import Flask, Response, current_app, request

from service import vault_keys
from service.http.web import error_body
from service.sites import registry, webhooks
from service.storage import keys, redis_client
from service.storage.keys import site as site_key

CACHE_SECONDS = 30.0
_DUMMY_KEYS = [os.urandom(32)]


class AuthError(Exception):
    """The request is not from the site; `status` is 401 or 404."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def answer(self) -> Response:
        """The JSON error answer: `{"error": code, "message": message}` with `status`."""
        return error_body(self.status, self.code, self.message)


class SiteCache:
    """Decoded site records by id, each kept for `CACHE_SECONDS` at most."""

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, registry.Site | None]] = {}

    def get(
        self, site_id: str, *, fresh: bool = False, app: Flask | None = None
    ) -> tuple[registry.Site | None, bool]:
        """The site (None: unknown) and whether it came from the cache rather than from Redis.

        Args:
            app: the app whose Redis and vault keys to load from (default: the current app).
        """
        now = time.monotonic()
        if not fresh:
            with self._lock:
                hit = self._entries.get(site_id)
            if hit and now - hit[0] < CACHE_SECONDS:
                return hit[1], True
        site = registry.load(redis_client.get(app), vault_keys.get(app), site_id)
        with self._lock:  # unknown ids are cached too, so they answer as fast as known ones
            self._entries[site_id] = (now, site)
        return site, False

    def forget(self, site_id: str) -> None:
        with self._lock:
            self._entries.pop(site_id, None)


def cache(app: Flask | None = None) -> SiteCache:
    """The site cache of `app` (default: the current app)."""
    extensions = (app or current_app).extensions
    found = extensions.get(_CACHE)
    if found is None:  # not `setdefault`, which would build a cache (and its lock) on every request
        found = extensions.setdefault(_CACHE, SiteCache())
    return found


_CACHE = "meetbridge.site_cache"


def canonical_path(path: str) -> str:
    """`path` (decoded, as the WSGI server hands it over) in the form signatures cover: every segment
    percent-encoded per RFC 3986, unreserved characters kept (PHP's `rawurlencode` of each segment)."""
    return "/".join(quote(segment, safe="") for segment in path.split("/"))


def signed_payload(req=None) -> bytes:
    """What the signature covers: the raw body, or for a request without one its method, canonical
    path and query as sent.

    Args:
        req: a Werkzeug request (default: Flask's current request).
    """
    req = request if req is None else req
    if req.method in ("GET", "HEAD", "DELETE"):
        query = req.query_string.decode("latin-1")
        return f"{req.method} {canonical_path(req.path)}{'?' + query if query else ''}".encode()
    return req.get_data(cache=True)


def authenticate(
    site_id: str, payload: bytes | None = None, *, fresh: bool = False, check_version: bool = True
) -> tuple[registry.Site, str]:
    """Verify the current request's signature for `site_id`.

    Args:
        check_version: when the signature passed against a cached copy, confirm with Redis that the
            copy is current. Only a caller that checks `site.version` itself, in Redis, before acting
            (the events script) may pass False.

    Returns:
        The site and the request's `webhook-id`.

    Raises:
        AuthError: 404 unknown site, 401 missing/bad signature or timestamp out of tolerance.
    """
    body = signed_payload() if payload is None else payload
    try:
        site, webhook_id, cached = _verify(site_id, body, fresh)
    except AuthError:
        if fresh:
            raise
    else:
        if not (cached and check_version) or _current(site):
            return site, webhook_id
    # The cached copy may predate a rotation, a revocation or a new site: check again against Redis.
    site, webhook_id, _cached = _verify(site_id, body, True)
    return site, webhook_id


def _current(site: registry.Site) -> bool:
    """Whether the site's record in Redis still has the version of this (cached) copy."""
    version = redis_client.get().hget(site_key(site.id), "ver")
    return version is not None and version.decode() == site.version


def _verify(site_id: str, body: bytes, fresh: bool) -> tuple[registry.Site, str, bool]:
    site, cached = cache().get(site_id, fresh=fresh)
    keys = site.active_keys() if site else _DUMMY_KEYS
    try:
        webhook_id = webhooks.verify(keys, request.headers, body)
    except webhooks.TimestampOutOfRange as exc:
        if site is None:
            raise AuthError(404, "unknown_site", "no such site") from None
        raise AuthError(401, "timestamp_out_of_tolerance", str(exc)) from None
    except webhooks.WebhookError as exc:
        if site is None:
            raise AuthError(404, "unknown_site", "no such site") from None
        raise AuthError(401, "bad_signature", str(exc)) from None
    if site is None:  # unreachable in practice: the dummy key is random
        raise AuthError(404, "unknown_site", "no such site")
    return site, webhook_id, cached


class _Rejected(Exception):
    """A signed JSON request that was refused before its view ran; `response` is the answer."""

    def __init__(self, response):
        super().__init__(response.status_code)
        self.response = response


def signed(view: Callable | None = None, *, check_version: bool = True):
    """Decorate a `/v1/sites/<site_id>/...` view so that it runs only for a request signed by the site
    (the signature covers `METHOD path`, or the body of a request that has one); the view is called
    with the authenticated `Site` in place of `site_id`, followed by the route's other arguments.

    A refused request gets 404 `unknown_site`, or 401 `bad_signature` / `timestamp_out_of_tolerance`;
    so does an `AuthError` that the view raises itself (from `authenticate(..., fresh=True)` once it
    has found the cached site stale).

    Args:
        view: the view, when used bare (`@signed`).
        check_version: as for `authenticate`.
    """

    def decorate(inner: Callable) -> Callable:
        @functools.wraps(inner)
        def guarded(site_id: str, **view_args):
            try:
                site, _webhook_id = authenticate(site_id, check_version=check_version)
                return inner(site, **view_args)
            except AuthError as exc:
                return exc.answer()

        return guarded

    return decorate if view is None else decorate(view)


def signed_json(
    view: Callable | None = None,
    *,
    check_version: bool = True,
    too_deep: Callable[[], Response] | None = None,
):
    """Decorate a view of signed JSON requests (POST/PUT): the checks every one makes, in the same order
    (site and signature, then media type, then JSON); the view is called as
    `view(site, webhook_id, data, **other_route_arguments)`.

    A refused request gets 404/401 as for `signed` (also for an `AuthError` the view raises), 413 for
    a body too large, 415 when it is not JSON, 400 when it is not valid JSON.

    Args:
        view: the view, when used bare (`@signed_json`).
        check_version: as for `authenticate`.
        too_deep: makes the answer for a body nested deeper than the JSON parser goes (default: 400).
    """

    def decorate(inner: Callable) -> Callable:
        @functools.wraps(inner)
        def guarded(site_id: str, **view_args):
            try:
                site, webhook_id = authenticate(site_id, check_version=check_version)
                try:
                    data = _json_body(too_deep)
                except _Rejected as exc:
                    return exc.response
                return inner(site, webhook_id, data, **view_args)
            except AuthError as exc:
                return exc.answer()

        return guarded

    return decorate if view is None else decorate(view)


def _json_body(too_deep: Callable[[], Response] | None) -> object:
    """The current request's body decoded. Raises `_Rejected` (415 not JSON, 400 not valid JSON)."""
    if request.mimetype != "application/json":
        raise _Rejected(
            error_body(
                415, "unsupported_media_type", "the body must be JSON (Content-Type: application/json)"
            )
        )
    try:
        return json.loads(request.get_data(cache=True))
    except ValueError:
        raise _Rejected(error_body(400, "malformed_json", "the body is not valid JSON")) from None
    except RecursionError:
        if too_deep is None:
            raise _Rejected(error_body(400, "malformed_json", "the body is not valid JSON")) from None
        raise _Rejected(too_deep()) from None


# KEYS: the site's set of used request ids. ARGV: the id, now, forget it at, seconds. 1: first use.
_FIRST_USE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
local added = redis.call('ZADD', KEYS[1], 'NX', ARGV[3], ARGV[1])
if redis.call('TTL', KEYS[1]) < tonumber(ARGV[4]) then redis.call('EXPIRE', KEYS[1], ARGV[4]) end
return added
"""


def first_use(site_id: str, webhook_id: str, seconds: int) -> bool:
    """Record a signed request's `webhook-id` for `seconds`; False when the site already used it (a
    replay). Kept in one set per site (expired ids dropped on each use), so a site's erasure deletes it."""
    now = time.time()
    key = keys.requests_seen(site_id)
    return bool(redis_client.get().eval(_FIRST_USE, 1, key, webhook_id, now, now + seconds, seconds))
