"""OAuth 2.0 authorization-code machinery shared by the Google and Zoom emulations.

Provider modules decide client authentication and response shapes; this module validates
authorization requests, issues single-use codes, checks PKCE (S256 only) and issues/refreshes/
revokes tokens on grants held in `SandboxState`.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
import urllib.parse
from collections.abc import Mapping

from flask import Response, current_app, redirect, render_template

from sandbox.state import CODE_TTL, AuthCode, Grant, PendingAuthorization, SandboxState

logger = logging.getLogger(__name__)

_CHALLENGE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_VERIFIER = re.compile(r"^[A-Za-z0-9._~-]{43,128}$")
DEFAULT_USER = "sam.staff@example.com"
"""Who signs in on the consent page unless told otherwise."""


class AuthorizeError(Exception):
    """An authorization request that must not redirect back (unknown client, bad redirect URI)."""

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(title)
        self.title = title
        self.detail = detail


def client_credentials(provider: str) -> tuple[str, str]:
    """The configured (client_id, client_secret) of a provider."""
    prefix = f"SANDBOX_{provider.upper()}_CLIENT_"
    return current_app.config[prefix + "ID"], current_app.config[prefix + "SECRET"]


def check_client(provider: str, client_id: str | None, client_secret: str | None) -> bool:
    """Whether the pair is the provider's registered client."""
    known_id, known_secret = client_credentials(provider)
    return (
        client_id is not None
        and client_secret is not None
        and hmac.compare_digest(client_id.encode(), known_id.encode())
        and hmac.compare_digest(client_secret.encode(), known_secret.encode())
    )


def error_page(provider: str, title: str, detail: str, status: int = 400) -> Response:
    """The provider's HTML error page (used when redirecting back would be unsafe)."""
    html = render_template("error.html", provider=provider, title=title, detail=detail)
    return Response(html, status=status, mimetype="text/html")


def redirect_with(redirect_uri: str, params: Mapping[str, str | None]) -> Response:
    """302 to `redirect_uri` with query parameters added (None values dropped)."""
    parts = urllib.parse.urlsplit(redirect_uri)
    query = urllib.parse.parse_qsl(parts.query)
    query += [(k, v) for k, v in params.items() if v is not None]
    return redirect(urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query))), code=302)


def validate_authorize(
    state: SandboxState, provider: str, args: Mapping[str, str], scopes: list[str]
) -> PendingAuthorization | Response:
    """Check an authorization request.

    Raises:
        AuthorizeError: unknown client or unregistered redirect URI (no redirect allowed).

    Returns:
        The pending authorization, or an error redirect back to the client.
    """
    known_id, _ = client_credentials(provider)
    client_id = args.get("client_id", "")
    if not client_id or not hmac.compare_digest(client_id.encode(), known_id.encode()):
        raise AuthorizeError("invalid_client", "The OAuth client was not found.")
    redirect_uri = args.get("redirect_uri", "")
    with state.lock:
        registered = redirect_uri in state.redirect_uris
    if not registered:
        raise AuthorizeError("redirect_uri_mismatch", "The redirect URI is not registered for this client.")
    client_state = args.get("state")

    def fail(error: str, description: str) -> Response:
        params = {"error": error, "error_description": description, "state": client_state}
        return redirect_with(redirect_uri, params)

    if args.get("response_type") != "code":
        return fail("unsupported_response_type", "response_type must be code")
    challenge = args.get("code_challenge")
    method = args.get("code_challenge_method")
    if challenge is not None or method is not None:
        if method != "S256":
            return fail("invalid_request", "code_challenge_method must be S256")
        if challenge is None or not _CHALLENGE.match(challenge):
            return fail("invalid_request", "code_challenge must be a 43-character base64url S256 value")
    prompt = args.get("prompt", "").split()
    return PendingAuthorization(
        provider=provider,
        client_id=client_id,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=client_state,
        code_challenge=challenge,
        login_hint=args.get("login_hint") or DEFAULT_USER,
        offline=args.get("access_type") == "offline",
        prompt_consent="consent" in prompt,
        expires_at=state.now() + CODE_TTL,
    )


def approve(state: SandboxState, pending: PendingAuthorization, user: str) -> Response:
    """Issue a code for `user` and redirect back to the client with it."""
    with state.lock:
        key = (pending.client_id, user)
        issue_refresh = pending.provider == "zoom" or (
            pending.offline and (pending.prompt_consent or key not in state.google_refresh_issued)
        )
        code = ("4/" if pending.provider == "google" else "") + secrets.token_urlsafe(32)
        state.codes[code] = AuthCode(
            provider=pending.provider,
            client_id=pending.client_id,
            redirect_uri=pending.redirect_uri,
            scopes=pending.scopes,
            user=user,
            code_challenge=pending.code_challenge,
            issue_refresh=issue_refresh,
            expires_at=state.now() + CODE_TTL,
        )
    logger.info("sandbox %s: code issued for client %s", pending.provider, pending.client_id)
    params = {"code": code, "scope": " ".join(pending.scopes), "state": pending.state}
    if pending.provider == "zoom":
        params.pop("scope")
    return redirect_with(pending.redirect_uri, params)


def deny(pending: PendingAuthorization) -> Response:
    """Redirect back with `error=access_denied`."""
    return redirect_with(pending.redirect_uri, {"error": "access_denied", "state": pending.state})


def s256(verifier: str) -> str:
    """The PKCE S256 challenge of a verifier."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class GrantError(Exception):
    """A token request that fails with an OAuth error code."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def redeem_code(state: SandboxState, provider: str, client_id: str, form: Mapping[str, str]) -> AuthCode:
    """Consume an authorization code (caller holds the lock). Raises GrantError."""
    code_value = form.get("code")
    if not code_value:
        raise GrantError("invalid_request", "Missing required parameter: code")
    code = state.codes.get(code_value)
    if code is None or code.provider != provider or code.client_id != client_id:
        raise GrantError("invalid_grant", "Invalid authorization code.")
    if code.used:
        if code.grant_id and code.grant_id in state.grants:
            state.revoke_grant(state.grants[code.grant_id])
            logger.warning("sandbox %s: authorization code reused; its grant is revoked", provider)
        raise GrantError("invalid_grant", "Authorization code has already been used.")
    code.used = True
    if code.expires_at <= state.now():
        raise GrantError("invalid_grant", "Authorization code has expired.")
    if form.get("redirect_uri") != code.redirect_uri:
        raise GrantError("redirect_uri_mismatch", "redirect_uri does not match the authorization request.")
    if code.code_challenge is not None:
        verifier = form.get("code_verifier")
        if not verifier:
            raise GrantError("invalid_grant", "Missing code verifier.")
        if not _VERIFIER.match(verifier) or not hmac.compare_digest(s256(verifier), code.code_challenge):
            raise GrantError("invalid_grant", "Invalid code verifier.")
    return code


def grant_from_code(state: SandboxState, code: AuthCode, prefixes: tuple[str, str]) -> tuple[Grant, str]:
    """Create the grant for a redeemed code; returns (grant, access token). Caller holds the lock."""
    grant = state.new_grant(code.provider, code.client_id, code.user, code.scopes)
    code.grant_id = grant.id
    if code.issue_refresh:
        grant.refresh_token = prefixes[1] + secrets.token_urlsafe(40)
        state.refresh_tokens[grant.refresh_token] = grant.id
        if code.provider == "google":
            state.google_refresh_issued.add((code.client_id, code.user))
    return grant, state.issue_access_token(grant, prefixes[0])


def refresh(
    state: SandboxState,
    provider: str,
    client_id: str,
    token: str | None,
    *,
    rotate: bool,
    prefixes: tuple[str, str],
) -> tuple[Grant, str]:
    """Refresh grant: new access token (and, if `rotate`, a new refresh token). Caller holds the lock."""
    if not token:
        raise GrantError("invalid_request", "Missing required parameter: refresh_token")
    grant = state.grants.get(state.refresh_tokens.get(token, ""))
    if grant is None or grant.revoked or grant.provider != provider or grant.client_id != client_id:
        raise GrantError("invalid_grant", "Token has been expired or revoked.")
    if rotate:
        del state.refresh_tokens[token]
        grant.refresh_token = prefixes[1] + secrets.token_urlsafe(40)
        state.refresh_tokens[grant.refresh_token] = grant.id
    grant.refreshes += 1
    state.refresh_counts[provider] += 1
    return grant, state.issue_access_token(grant, prefixes[0])


def find_grant_by_token(state: SandboxState, provider: str, token: str) -> Grant | None:
    """The live grant an access or refresh token belongs to (caller holds the lock)."""
    grant_id = state.refresh_tokens.get(token)
    if grant_id is None and token in state.access_tokens:
        grant_id = state.access_tokens[token].grant_id
    grant = state.grants.get(grant_id or "")
    if grant is None or grant.revoked or grant.provider != provider:
        return None
    return grant


def bearer_token(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer …` header, if any."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def basic_credentials(header: str | None) -> tuple[str, str] | None:
    """(user, password) of an `Authorization: Basic …` header, if well-formed."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None
    user, sep, password = decoded.partition(":")
    if not sep:
        return None
    return urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)
