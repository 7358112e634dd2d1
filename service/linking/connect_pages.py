"""What the connect screens share: HTML pages, the browser-binding cookie, the CSRF token, outcome redirects.

The cookie `__Host-mb_connect` holds a random nonce (HttpOnly, Secure, SameSite=Lax, path `/`, 20
minutes). The form's CSRF token is an HMAC of the link and that nonce under the app's secret key; the
OAuth state stores a hash of the nonce, so the callback only completes in the browser that pressed
"Continue" (SameSite=Lax still sends it on the provider's top-level redirect back).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from flask import Response, current_app, redirect, render_template, request

from service.http.web import SECURITY_HEADERS

COOKIE = "__Host-mb_connect"
COOKIE_SECONDS = 20 * 60
_NONCE = re.compile(r"^[A-Za-z0-9_-]{32}$")


def page(template: str, status: int = 200, csp_form_targets: tuple[str, ...] = (), **context) -> Response:
    """An HTML page from `templates/connect/`; `csp_form_targets` are origins a form may lead to."""
    response = Response(
        render_template(f"connect/{template}", **context), status=status, mimetype="text/html"
    )
    if csp_form_targets:
        policy = SECURITY_HEADERS["Content-Security-Policy"]
        allowed = " ".join(("'self'", *dict.fromkeys(csp_form_targets)))
        response.headers["Content-Security-Policy"] = policy.replace(
            "form-action 'self'", f"form-action {allowed}"
        )
    return response


def problem(status: int, title: str, message: str, hint: str | None = None) -> Response:
    """A failure page for a browser that has no safe place to go back to."""
    return page("message.html", status, title=title, message=message, hint=hint, tone="error")


def browser_nonce() -> str | None:
    """The nonce of this browser's connect cookie, if it has a well-formed one."""
    value = request.cookies.get(COOKIE, "")
    return value if _NONCE.match(value) else None


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def set_nonce(response: Response, nonce: str) -> None:
    response.set_cookie(
        COOKIE, nonce, max_age=COOKIE_SECONDS, path="/", secure=True, httponly=True, samesite="Lax"
    )


def csrf_token(link_hash: str, nonce: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"connect|{link_hash}|{nonce}".encode(), hashlib.sha256).hexdigest()


def csrf_ok(link_hash: str, nonce: str | None, supplied: str | None) -> bool:
    if nonce is None or not supplied:
        return False
    return hmac.compare_digest(csrf_token(link_hash, nonce), supplied)


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def outcome(
    return_url: str, status: str, provider: str, staff_id: str, reason: str | None = None
) -> Response:
    """303 back to the site with `meetbridge_status`, `provider`, `staff_id` (and `reason` on error)."""
    parts = urlsplit(return_url)
    ours = ("provider", "staff_id", "reason")
    query = [
        (k, v)
        for k, v in parse_qsl(parts.query, keep_blank_values=True)
        if not k.startswith("meetbridge_") and k not in ours
    ]
    query += [("meetbridge_status", status), ("provider", provider), ("staff_id", staff_id)]
    if reason:
        query.append(("reason", reason))
    return redirect(urlunsplit(parts._replace(query=urlencode(query))), code=303)
