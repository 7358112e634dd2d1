"""What every HTTP answer gets: a request id, a JSON log line, metrics, security headers, JSON errors.

Errors are JSON `{"error": code, "message": text}` with the right status; Redis being unreachable or
out of memory is a 503; an unexpected exception is logged with its traceback and answered with a
plain 500 body, never a traceback.
"""

from __future__ import annotations

import logging
import os
import re
import time

import redis
from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException, InternalServerError

from service import metrics
from service.logs import correlation_id

log = logging.getLogger(__name__)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def request_id(supplied: str) -> str:
    """The id of this request: the caller's `X-Request-ID` when it is a safe token, else a new one."""
    return supplied if _REQUEST_ID.match(supplied) else os.urandom(16).hex()


def _start() -> None:
    g.request_id = request_id(request.headers.get("X-Request-ID", ""))
    g.started = time.perf_counter()
    g.correlation_token = correlation_id.set(g.request_id)


def _finish(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    response.headers["X-Request-ID"] = g.get("request_id", "-")
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    endpoint = request.url_rule.rule if request.url_rule else "unmatched"
    observe(request.method, endpoint, response.status_code, elapsed)
    return response


class Observer:
    """`observe` for one route, with its metric series looked up once per status (a hot path's)."""

    def __init__(self, method: str, endpoint: str):
        self._method, self._endpoint = method, endpoint
        self._latency = metrics.LATENCY.labels(method, endpoint)
        self._requests: dict[int, object] = {}

    def __call__(self, status: int, elapsed: float) -> None:
        counter = self._requests.get(status)
        if counter is None:
            counter = self._requests[status] = metrics.REQUESTS.labels(
                self._method, self._endpoint, str(status)
            )
        counter.inc()
        self._latency.observe(elapsed)
        _log_request(self._method, self._endpoint, status, elapsed)


def observe(method: str, endpoint: str, status: int, elapsed: float) -> None:
    """Count, time and log one answered request (`endpoint` is the route's rule, never the path)."""
    metrics.REQUESTS.labels(method, endpoint, str(status)).inc()
    metrics.LATENCY.labels(method, endpoint).observe(elapsed)
    _log_request(method, endpoint, status, elapsed)


def _log_request(method: str, endpoint: str, status: int, elapsed: float) -> None:
    log.info(
        "%s %s %s %.1fms",
        method,
        endpoint,
        status,
        elapsed * 1000,
        extra={"status": status, "duration_ms": round(elapsed * 1000, 2)},
    )


def _reset(_exc=None) -> None:
    token = g.pop("correlation_token", None)
    if token is not None:
        correlation_id.reset(token)


def error_body(status: int, code: str, message: str, **extra):
    """A JSON error answer."""
    response = jsonify({"error": code, "message": message, **extra})
    response.status_code = status
    return response


def _http_error(exc: HTTPException):
    code = (exc.name or "error").lower().replace(" ", "_")
    return error_body(exc.code or 500, code, exc.description or exc.name)


def _storage_down(exc: redis.RedisError):
    log.error("redis unavailable: %s", type(exc).__name__)
    return error_body(503, "storage_unavailable", "storage is unavailable; retry later")


def _unexpected(exc: Exception):
    log.error("unhandled error", exc_info=exc)
    return error_body(500, "internal_error", InternalServerError.description)


def init_app(app: Flask) -> None:
    """Install the request hooks and error handlers on `app`."""
    # `/v1/sites/x//events` is a 404 like any unknown path, not an HTML 308 to a merged path (which
    # would also change the path a signed GET covers). Must be set before the routes are added.
    app.url_map.merge_slashes = False
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_reset)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(redis.RedisError, _storage_down)
    app.register_error_handler(Exception, _unexpected)
