"""Request hooks: latency and queued failures for provider calls, and the call log.

Provider calls are requests under `/google/` and `/zoom/`; `/_sandbox/` knob calls get no latency
and no failures and are not logged. The call log keeps method, path (never the query string, so
no token in `?token=`), status and time.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from email.utils import formatdate
from typing import Any

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from sandbox.errors import google_error, zoom_error
from sandbox.state import get_state

logger = logging.getLogger(__name__)


def provider_of(path: str) -> str | None:
    """`google`, `zoom` or None for a request path."""
    for provider in ("google", "zoom"):
        if path.startswith(f"/{provider}/"):
            return provider
    return None


def _retry_after(failure: dict[str, Any], now: float) -> dict[str, str]:
    """`Retry-After` as delay-seconds or as an HTTP date that many seconds from `now`."""
    seconds = failure.get("retry_after")
    if seconds is None:
        return {}
    if failure.get("retry_after_format") == "http-date":
        return {"Retry-After": formatdate(now + seconds, usegmt=True)}
    return {"Retry-After": str(seconds)}


def failure_response(provider: str, failure: dict[str, Any], now: float) -> Response:
    """The provider's own error for a queued failure (a `400` says the failure's `message`, as a provider
    that echoes what it was sent would)."""
    kind = failure["kind"]
    headers = _retry_after(failure, now)
    if kind == "400":
        message = failure.get("message") or "Invalid request."
        if provider == "google":
            return google_error(400, "invalid", message, headers=headers)
        return zoom_error(400, 300, message, headers=headers)
    if provider == "google":
        if kind == "rate_limit_403":
            return google_error(
                403, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits", headers=headers
            )
        if kind == "429":
            return google_error(
                429, "rateLimitExceeded", "Rate Limit Exceeded", domain="usageLimits", headers=headers
            )
        return google_error(500, "backendError", "Backend Error", headers=headers)
    if kind == "429":
        headers["X-RateLimit-Type"] = "QPS"
        message = "You have reached the maximum per-second rate limit for this API. Try again later."
        return zoom_error(429, 429, message, headers=headers)
    return zoom_error(500, 500, "Internal Error.", headers=headers)


def _before() -> Response | None:
    provider = provider_of(request.path)
    g.sandbox_provider = provider
    if provider is None:
        return None
    state = get_state()
    with state.lock:
        latency = state.latency_ms + _take(state.delays, request.path, lambda delay: delay["ms"])
    if latency:
        time.sleep(latency / 1000)
    with state.lock:
        for index, failure in enumerate(state.failures):
            if failure["provider"] == provider and (failure["match"] or "") in request.path:
                failure["count"] -= 1
                if failure["count"] <= 0:
                    del state.failures[index]
                break
        else:
            return None
    logger.info("sandbox: injected %s failure on %s %s", failure["kind"], request.method, request.path)
    return failure_response(provider, failure, state.now())


def _take(queued: list[dict[str, Any]], path: str, value) -> int:
    """Use up one of the first queued entry matching `path`; `value(entry)`, or 0 (caller holds the lock)."""
    for index, entry in enumerate(queued):
        if entry["match"] in path:
            entry["count"] -= 1
            if entry["count"] <= 0:
                del queued[index]
            return value(entry)
    return 0


def _after(response: Response) -> Response:
    provider = getattr(g, "sandbox_provider", None)
    if provider is None:
        return response
    state = get_state()
    with state.lock:
        state.calls_total += 1
        state.calls.append(
            {
                "provider": provider,
                "method": request.method,
                "path": request.path,
                "status": response.status_code,
                "at": dt.datetime.fromtimestamp(state.now(), dt.UTC).isoformat(timespec="milliseconds"),
            }
        )
    return response


def _http_error(error: HTTPException) -> Response:
    """Unknown paths and wrong methods answer in the provider's error shape."""
    provider = provider_of(request.path)
    status = error.code or 500
    if provider == "google":
        reason = {404: "notFound", 405: "httpMethodNotAllowed"}.get(status, "backendError")
        return google_error(status if status in (404, 405) else 500, reason, error.name)
    if provider == "zoom":
        return zoom_error(status, status, error.name)
    return error.get_response()


def init_app(app: Flask) -> None:
    """Attach the hooks and error handlers to the app."""
    app.before_request(_before)
    app.after_request(_after)
    app.register_error_handler(404, _http_error)
    app.register_error_handler(405, _http_error)
