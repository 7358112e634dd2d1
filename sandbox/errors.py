"""Error bodies in each provider's own shape (Google JSON errors, Zoom `code`/`message` errors)."""

from __future__ import annotations

from typing import Any

from flask import Response, jsonify

GOOGLE_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    409: "ALREADY_EXISTS",
    410: "NOT_FOUND",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}
"""Google's canonical status names for the HTTP codes the sandbox returns."""


def google_error(
    code: int,
    reason: str,
    message: str,
    *,
    domain: str = "global",
    extra: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A Google API error: `{"error": {"code", "message", "errors": [...], "status"}}`."""
    item: dict[str, Any] = {"domain": domain, "reason": reason, "message": message}
    item.update(extra or {})
    body = {"error": {"code": code, "message": message, "errors": [item], "status": GOOGLE_STATUS[code]}}
    response = jsonify(body)
    response.status_code = code
    response.headers.update(headers or {})
    return response


def google_bad_request(message: str, reason: str = "invalid") -> Response:
    """A 400 Google error."""
    return google_error(400, reason, message)


def zoom_error(
    status: int,
    code: int,
    message: str,
    *,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """A Zoom API error: `{"code": …, "message": …}` (plus `errors` for validation failures)."""
    body: dict[str, Any] = {"code": code, "message": message}
    if errors:
        body["errors"] = errors
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


def zoom_validation_failed(field: str) -> Response:
    """Zoom's 400 for a body that breaks the schema."""
    return zoom_error(400, 300, "Validation Failed.", errors=[{"field": field, "message": "Invalid field."}])


def oauth_error(status: int, error: str, description: str, *, zoom: bool = False) -> Response:
    """An OAuth token-endpoint error (Zoom says `reason`, Google says `error_description`)."""
    body = (
        {"reason": description, "error": error}
        if zoom
        else {"error": error, "error_description": description}
    )
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    return response
