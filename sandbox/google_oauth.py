"""Google OAuth 2.0: `GET /google/o/oauth2/v2/auth`, `POST /google/token`, `POST /google/revoke`.

Emulates Google's web-server flow: refresh tokens only with `access_type=offline` and only on the
first consent of a user for a client (or with `prompt=consent`); refresh tokens do not rotate;
`client_secret_post` and `client_secret_basic` are both accepted; revoking any token of a grant
revokes the whole grant.
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request

from sandbox import consent, oauth
from sandbox.errors import oauth_error
from sandbox.schemas import google_known_scopes
from sandbox.state import get_state

logger = logging.getLogger(__name__)

bp = Blueprint("google_oauth", __name__, url_prefix="/google")

PREFIXES = ("ya29.sandbox-", "1//sandbox-")
"""Prefixes of Google access and refresh tokens (real ones start with `ya29.` and `1//`)."""


@bp.get("/o/oauth2/v2/auth")
def authorize() -> Response:
    """The authorization endpoint: validate, then show (or auto-answer) the consent screen."""
    state = get_state()
    scopes = request.args.get("scope", "").split()
    try:
        pending = oauth.validate_authorize(state, "google", request.args, scopes)
    except oauth.AuthorizeError as error:
        return oauth.error_page("google", error.title, error.detail)
    if isinstance(pending, Response):
        return pending
    if not scopes:
        return oauth.error_page("google", "invalid_request", "Missing required parameter: scope")
    unknown = [scope for scope in scopes if scope not in google_known_scopes()]
    if unknown:
        return oauth.error_page("google", "invalid_scope", f"Some requested scopes were invalid: {unknown}")
    return consent.ask(pending)


def _client() -> tuple[str | None, Response | None]:
    """Authenticate the client by HTTP Basic or by form fields; returns (client_id, error)."""
    basic = oauth.basic_credentials(request.headers.get("Authorization"))
    client_id, secret = basic if basic else (request.form.get("client_id"), request.form.get("client_secret"))
    if not client_id:
        return None, oauth_error(400, "invalid_request", "Could not determine client ID from request.")
    known_id, _ = oauth.client_credentials("google")
    if client_id != known_id:
        return None, oauth_error(401, "invalid_client", "The OAuth client was not found.")
    if not oauth.check_client("google", client_id, secret):
        return None, oauth_error(401, "invalid_client", "Unauthorized")
    return client_id, None


@bp.post("/token")
def token() -> Response:
    """The token endpoint: `authorization_code` and `refresh_token` grants."""
    client_id, error = _client()
    if error is not None:
        return error
    state = get_state()
    grant_type = request.form.get("grant_type")
    try:
        with state.lock:
            if grant_type == "authorization_code":
                code = oauth.redeem_code(state, "google", client_id, request.form)
                grant, access = oauth.grant_from_code(state, code, PREFIXES)
                refresh_token = grant.refresh_token
            elif grant_type == "refresh_token":
                token_value = request.form.get("refresh_token")
                grant, access = oauth.refresh(
                    state, "google", client_id, token_value, rotate=False, prefixes=PREFIXES
                )
                refresh_token = None
            else:
                return oauth_error(400, "unsupported_grant_type", f"Invalid grant_type: {grant_type}")
            ttl = state.access_ttl
    except oauth.GrantError as failure:
        description = "Bad Request" if failure.error == "redirect_uri_mismatch" else failure.description
        if failure.error == "invalid_grant" and grant_type == "refresh_token":
            description = "Token has been expired or revoked."
        return oauth_error(400, failure.error, description)
    body = {
        "access_token": access,
        "expires_in": ttl,
        "scope": " ".join(grant.scopes),
        "token_type": "Bearer",
    }
    if refresh_token:
        body["refresh_token"] = refresh_token
    logger.info("sandbox google: %s grant succeeded for %s", grant_type, grant.id)
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/revoke")
def revoke() -> Response:
    """Revoke the grant an access or refresh token belongs to (`token` in the form or query)."""
    token_value = request.form.get("token") or request.args.get("token")
    if not token_value:
        return oauth_error(400, "invalid_request", "Missing required parameter: token")
    state = get_state()
    with state.lock:
        grant = oauth.find_grant_by_token(state, "google", token_value)
        if grant is None:
            return oauth_error(400, "invalid_token", "Token expired or revoked")
        state.revoke_grant(grant)
    logger.info("sandbox google: grant %s revoked", grant.id)
    return jsonify({})
