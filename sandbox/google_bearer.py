"""Bearer-token and scope checks for the Google Calendar emulation, with Google's 401/403 bodies."""

from __future__ import annotations

from flask import Response, request

from sandbox import oauth
from sandbox.errors import google_error
from sandbox.schemas import google_method_scopes
from sandbox.state import get_state

_REALM = 'Bearer realm="https://accounts.google.com/"'
_INVALID = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or "
    "other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
_MISSING = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, login cookie or "
    "other valid authentication credential. See https://developers.google.com/identity/sign-in/web/devconsole-project."
)
_LOCATION = {"location": "Authorization", "locationType": "header"}


def authenticate(resource: str, method: str) -> tuple[str, Response | None]:
    """Check the bearer token and the method's scopes.

    Returns:
        (user e-mail, None) when allowed, else ("", the 401/403 response).
    """
    token = oauth.bearer_token(request.headers.get("Authorization"))
    if token is None:
        headers = {"WWW-Authenticate": _REALM}
        return "", google_error(401, "required", _MISSING, extra=_LOCATION, headers=headers)
    state = get_state()
    with state.lock:
        grant, expired = state.lookup_access_token("google", token)
    if grant is None or expired:
        headers = {"WWW-Authenticate": _REALM + ', error="invalid_token"'}
        return "", google_error(401, "authError", _INVALID, extra=_LOCATION, headers=headers)
    allowed = google_method_scopes(resource, method)
    if not allowed.intersection(grant.scopes):
        headers = {
            "WWW-Authenticate": _REALM + f', error="insufficient_scope", scope="{" ".join(sorted(allowed))}"'
        }
        response = google_error(
            403, "insufficientPermissions", "Request had insufficient authentication scopes."
        )
        response.headers.update(headers)
        return "", response
    return grant.user, None
