"""`/_sandbox/` endpoints: knobs for tests and benchmarks, and a JSON dump of the whole state.

Every knob takes and returns JSON; a bad body answers 400 `{"error": "..."}`. See sandbox/README.md.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandbox.state import get_state

logger = logging.getLogger(__name__)

bp = Blueprint("knobs", __name__, url_prefix="/_sandbox")

FAILURE_KINDS = {"google": {"400", "429", "500", "rate_limit_403"}, "zoom": {"400", "429", "500"}}
"""Which queued failure kinds each provider can produce."""

RETRY_AFTER_FORMATS = ("seconds", "http-date")
"""How a queued failure states `Retry-After` (RFC 9110 allows both)."""


class KnobError(ValueError):
    """A knob request with a bad body."""


@bp.errorhandler(KnobError)
def _knob_error(error: KnobError) -> tuple[Response, int]:
    return jsonify({"error": str(error)}), 400


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise KnobError("expected a JSON object body")
    return body


def _int(body: dict[str, Any], key: str, *, minimum: int = 0, default: int | None = None) -> int:
    value = body.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise KnobError(f"{key} must be an integer >= {minimum}")
    return value


@bp.post("/latency")
def latency() -> Response:
    """{"ms": N}: sleep N ms before every provider call."""
    ms = _int(_body(), "ms")
    state = get_state()
    with state.lock:
        state.latency_ms = ms
    return jsonify({"ms": ms})


@bp.post("/failures")
def failures() -> Response:
    """Queue `count` failures of `kind` for `provider` calls whose path contains `match`."""
    body = _body()
    provider, kind = body.get("provider"), body.get("kind")
    if provider not in FAILURE_KINDS or kind not in FAILURE_KINDS[provider]:
        raise KnobError(
            f"provider/kind must be one of {sorted((p, sorted(k)) for p, k in FAILURE_KINDS.items())}"
        )
    retry_after = body.get("retry_after")
    if retry_after is not None:
        retry_after = _int(body, "retry_after")
    retry_after_format = body.get("retry_after_format", "seconds")
    if retry_after_format not in RETRY_AFTER_FORMATS:
        raise KnobError(f"retry_after_format must be one of {', '.join(RETRY_AFTER_FORMATS)}")
    match = body.get("match")
    if match is not None and not isinstance(match, str):
        raise KnobError("match must be a string")
    message = body.get("message")
    if message is not None and (kind != "400" or not isinstance(message, str) or not 0 < len(message) <= 500):
        raise KnobError("message (1-500 characters) is only for kind 400")
    failure = {
        "provider": provider,
        "kind": kind,
        "count": _int(body, "count", minimum=1, default=1),
        "retry_after": retry_after,
        "retry_after_format": retry_after_format,
        "match": match,
        "message": message,
    }
    state = get_state()
    with state.lock:
        state.failures.append(failure)
        queued = [dict(f) for f in state.failures]
    return jsonify({"queued": queued})


@bp.delete("/failures")
def clear_failures() -> Response:
    """Drop every queued failure."""
    state = get_state()
    with state.lock:
        state.failures.clear()
    return jsonify({"queued": []})


@bp.post("/delays")
def delays() -> Response:
    """Hold the next `count` provider calls whose path contains `match` for `ms` before answering (other
    calls are not held: a slow provider for one request, e.g. a token refresh that outlives a lock)."""
    body = _body()
    match = body.get("match")
    if not isinstance(match, str) or not match:
        raise KnobError("match must be a non-empty string")
    delay = {
        "ms": _int(body, "ms", minimum=1),
        "count": _int(body, "count", minimum=1, default=1),
        "match": match,
    }
    state = get_state()
    with state.lock:
        state.delays.append(delay)
        queued = [dict(d) for d in state.delays]
    return jsonify({"queued": queued})


@bp.post("/consent")
def consent() -> Response:
    """{"mode": "ask"|"approve"|"deny", "email": optional user for auto-approve}."""
    body = _body()
    mode, email = body.get("mode"), body.get("email")
    if mode not in ("ask", "approve", "deny"):
        raise KnobError("mode must be ask, approve or deny")
    if email is not None and (not isinstance(email, str) or "@" not in email):
        raise KnobError("email must be an e-mail address")
    state = get_state()
    with state.lock:
        state.consent_mode, state.consent_email = mode, email.lower() if email else None
    return jsonify({"mode": mode, "email": email})


@bp.post("/revoke-all")
def revoke_all() -> Response:
    """Revoke every grant of both providers (all access and refresh tokens die)."""
    state = get_state()
    with state.lock:
        live = [grant for grant in state.grants.values() if not grant.revoked]
        for grant in live:
            state.revoke_grant(grant)
    return jsonify({"revoked": len(live)})


@bp.post("/token-ttl")
def token_ttl() -> Response:
    """{"seconds": N}: lifetime of access tokens issued from now on."""
    seconds = _int(_body(), "seconds", minimum=1)
    state = get_state()
    with state.lock:
        state.access_ttl = seconds
    return jsonify({"seconds": seconds})


@bp.post("/expire-access-tokens")
def expire_access_tokens() -> Response:
    """Make every issued access token expired now (refresh tokens stay valid)."""
    state = get_state()
    with state.lock:
        for record in state.access_tokens.values():
            record.expires_at = min(record.expires_at, state.now() - 1)
        count = len(state.access_tokens)
    return jsonify({"expired": count})


@bp.post("/daily-limit")
def daily_limit() -> Response:
    """{"limit": N}: Zoom meeting creates+updates allowed per user per UTC day."""
    limit = _int(_body(), "limit")
    state = get_state()
    with state.lock:
        state.daily_limit = limit
    return jsonify({"limit": limit})


@bp.post("/redirect-uris")
def redirect_uris() -> Response:
    """{"add": [uri, ...]}: register more exact redirect URIs (both providers)."""
    add = _body().get("add")
    if not isinstance(add, list) or not all(isinstance(u, str) and u.startswith("http") for u in add):
        raise KnobError("add must be a list of absolute URIs")
    state = get_state()
    with state.lock:
        state.redirect_uris.update(add)
        current = sorted(state.redirect_uris)
    return jsonify({"redirect_uris": current})


@bp.post("/clock")
def clock() -> Response:
    """{"advance_seconds": N}: move sandbox time forward (code expiry, token expiry, daily limits)."""
    seconds = _int(_body(), "advance_seconds")
    state = get_state()
    with state.lock:
        state.clock_offset += seconds
        now = dt.datetime.fromtimestamp(state.now(), dt.UTC).isoformat()
    return jsonify({"now": now})


@bp.post("/reset")
def reset() -> Response:
    """Forget all data, tokens and knob settings."""
    get_state().reset()
    return jsonify({"reset": True})


@bp.get("/state")
def dump_state() -> Response:
    """Everything the sandbox holds, without token values."""
    state = get_state()
    with state.lock:
        events = [
            {"user": user, "calendar": calendar, **event}
            for (user, calendar), items in state.google_events.items()
            for event in items.values()
        ]
        meetings = [
            {"owner": record["owner_email"], "deleted": record["deleted"], **record["meeting"]}
            for record in state.zoom_meetings.values()
        ]
        grants = [
            {
                "id": grant.id,
                "provider": grant.provider,
                "client_id": grant.client_id,
                "user": grant.user,
                "scopes": grant.scopes,
                "created_at": dt.datetime.fromtimestamp(grant.created_at, dt.UTC).isoformat(),
                "revoked": grant.revoked,
                "has_refresh_token": grant.refresh_token is not None,
                "refreshes": grant.refreshes,
            }
            for grant in state.grants.values()
        ]
        body = {
            "now": dt.datetime.fromtimestamp(state.now(), dt.UTC).isoformat(),
            "knobs": {
                "latency_ms": state.latency_ms,
                "failures": [dict(f) for f in state.failures],
                "delays": [dict(d) for d in state.delays],
                "consent_mode": state.consent_mode,
                "token_ttl": state.access_ttl,
                "daily_limit": state.daily_limit,
                "redirect_uris": sorted(state.redirect_uris),
            },
            "google_events": events,
            "zoom_meetings": meetings,
            "zoom_users": list(state.zoom_users.values()),
            "grants": grants,
            "token_refreshes": dict(state.refresh_counts),
            "google_channels": [
                {k: v for k, v in channel.items() if k not in ("token", "key")}
                for channel in state.google_channels.values()
            ],
            "google_items_listed": state.google_items_listed,
            "push_log": list(state.push_log),
            "calls_total": state.calls_total,
            "calls": list(state.calls),
        }
        return jsonify(body)
