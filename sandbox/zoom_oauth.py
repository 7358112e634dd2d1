"""Zoom OAuth 2.0: `GET /zoom/oauth/authorize`, `POST /zoom/oauth/token`, `POST /zoom/oauth/revoke`.

Emulates Zoom's user-level OAuth app: the token and revoke endpoints accept HTTP Basic client
authentication only; every code redemption returns a refresh token; refresh tokens rotate (the
old one dies at once, reusing it is `invalid_grant`).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from sandbox import consent, oauth
from sandbox.errors import oauth_error
from sandbox.state import get_state

logger = logging.getLogger(__name__)

bp = Blueprint("zoom_oauth", __name__, url_prefix="/zoom/oauth")

PREFIXES = ("zat.sandbox-", "zrt.sandbox-")
"""Prefixes of sandbox Zoom access and refresh tokens."""

DEFAULT_SCOPES = ["meeting:read", "meeting:write", "user:read"]
"""Scopes granted when the authorization request names none (Zoom uses the app's configured ones)."""


@bp.get("/authorize")
def authorize() -> Response:
    """The authorization endpoint: validate, then show (or auto-answer) the consent screen."""
    state = get_state()
    scopes = request.args.get("scope", "").split() or list(DEFAULT_SCOPES)
    try:
        pending = oauth.validate_authorize(state, "zoom", request.args, scopes)
    except oauth.AuthorizeError as error:
        return oauth.error_page("zoom", error.title, error.detail)
    if isinstance(pending, Response):
        return pending
    return consent.ask(pending)


def _client() -> tuple[str | None, Response | None]:
    """HTTP Basic client authentication, the only kind Zoom accepts."""
    basic = oauth.basic_credentials(request.headers.get("Authorization"))
    if basic is None or not oauth.check_client("zoom", *basic):
        return None, oauth_error(401, "invalid_client", "Invalid client_id or client_secret", zoom=True)
    return basic[0], None


@bp.post("/token")
def token() -> Response:
    """The token endpoint: `authorization_code` and rotating `refresh_token` grants."""
    client_id, error = _client()
    if error is not None:
        return error
    state = get_state()
    grant_type = request.form.get("grant_type") or request.args.get("grant_type")
    try:
        with state.lock:
            if grant_type == "authorization_code":
                code = oauth.redeem_code(state, "zoom", client_id, request.form)
                grant, access = oauth.grant_from_code(state, code, PREFIXES)
            elif grant_type == "refresh_token":
                token_value = request.form.get("refresh_token")
                grant, access = oauth.refresh(
                    state, "zoom", client_id, token_value, rotate=True, prefixes=PREFIXES
                )
            else:
                return oauth_error(400, "unsupported_grant_type", "Unsupported grant type", zoom=True)
            ttl, refresh_token = state.access_ttl, grant.refresh_token
    except oauth.GrantError as failure:
        description = "Invalid Token!" if grant_type == "refresh_token" else failure.description
        return oauth_error(400, failure.error, description, zoom=True)
    logger.info("sandbox zoom: %s grant succeeded for %s", grant_type, grant.id)
    body = {
        "access_token": access,
        "token_type": "bearer",
        "refresh_token": refresh_token,
        "expires_in": ttl,
        "scope": " ".join(grant.scopes),
        "api_url": request.host_url.rstrip("/") + "/zoom",
    }
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/revoke")
def revoke() -> Response:
    """Revoke the grant of an access or refresh token (`?token=`, Basic client auth)."""
    client_id, error = _client()
    if error is not None:
        return error
    token_value = request.args.get("token") or request.form.get("token")
    state = get_state()
    with state.lock:
        grant = oauth.find_grant_by_token(state, "zoom", token_value or "")
        if grant is None or grant.client_id != client_id:
            return oauth_error(400, "invalid_request", "Invalid Token!", zoom=True)
        state.revoke_grant(grant)
    logger.info("sandbox zoom: grant %s revoked", grant.id)
    return jsonify({"status": "success"})
