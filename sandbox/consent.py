"""The consent screen shared by both providers, and the knob-driven auto-answer.

`ask()` is called by a provider's authorize endpoint with a validated request: in "approve"/"deny"
consent mode it answers at once with a 302; in "ask" mode it stores the request under a random,
single-use consent id (the form's CSRF token) and shows an HTML page with a "Sign in as" e-mail
field and Allow/Deny buttons that POST to `/<provider>/consent`.
"""

from __future__ import annotations

import logging
import re
import secrets

from flask import Blueprint, Response, abort, render_template, request

from sandbox import oauth
from sandbox.state import PendingAuthorization, get_state

logger = logging.getLogger(__name__)

bp = Blueprint("consent", __name__)

BRANDS = {
    "google": {"name": "Google", "colour": "#1a73e8", "action": "/google/consent"},
    "zoom": {"name": "Zoom", "colour": "#0b5cff", "action": "/zoom/consent"},
}
"""Per-provider branding of the shared template."""

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _page(
    consent_id: str, pending: PendingAuthorization, email: str, error: str | None, status: int
) -> Response:
    html = render_template(
        "consent.html",
        brand=BRANDS[pending.provider],
        consent_id=consent_id,
        client_id=pending.client_id,
        scopes=pending.scopes,
        email=email,
        error=error,
    )
    return Response(html, status=status, mimetype="text/html", headers={"Cache-Control": "no-store"})


def ask(pending: PendingAuthorization) -> Response:
    """Answer an authorization request according to the consent knob."""
    state = get_state()
    with state.lock:
        mode, knob_email = state.consent_mode, state.consent_email
        if mode == "ask":
            consent_id = secrets.token_urlsafe(24)
            state.pending[consent_id] = pending
    if mode == "approve":
        return oauth.approve(state, pending, knob_email or pending.login_hint)
    if mode == "deny":
        return oauth.deny(pending)
    return _page(consent_id, pending, pending.login_hint, None, 200)


@bp.post("/<provider>/consent")
def answer(provider: str) -> Response:
    """The Allow/Deny form's target."""
    if provider not in BRANDS:
        abort(404)
    state = get_state()
    consent_id = request.form.get("consent_id", "")
    with state.lock:
        pending = state.pending.get(consent_id)
        if pending is not None and pending.provider == provider and pending.expires_at > state.now():
            # single use unless we re-show the form below
            del state.pending[consent_id]
        else:
            pending = None
    if pending is None:
        return oauth.error_page(
            provider, "Session expired", "This consent request is unknown or has expired."
        )
    decision = request.form.get("decision")
    if decision == "deny":
        return oauth.deny(pending)
    email = request.form.get("email", "").strip().lower()
    if decision != "allow" or not _EMAIL.match(email):
        with state.lock:
            state.pending[consent_id] = pending
        return _page(
            consent_id, pending, email, "Enter a valid e-mail address and choose Allow or Deny.", 400
        )
    return oauth.approve(state, pending, email)
