"""The providers' redirect back: `GET /oauth/google/callback` and `GET /oauth/zoom/callback`.

Takes the OAuth state atomically (a second use finds nothing), checks that the provider and the
browser's cookie nonce are the ones that started it, exchanges the code with the PKCE verifier,
reads Zoom's user id, stores the tokens in the vault and sends the browser back to the site's
`return_url` with `meetbridge_status=connected|error`, `provider`, `staff_id` (and `reason`). Without a
valid state there is no trusted return URL, so the browser gets a page instead. The tokens are stored only
if the site still exists, checked in the same transaction as the write: a consent that finishes while its
site is being erased links nothing, and the grant it was just given is revoked. Authlib's `OAuthError`
(the provider refused the exchange) and network errors have their own handlers. Only ids and
outcomes are logged, never a code, a token or a state.
"""

from __future__ import annotations

import logging

import requests
from authlib.integrations.base_client import OAuthError
from flask import Blueprint, g, request

from service import vault_keys
from service.accounts import oauth_clients, vault
from service.crypto import DecryptError
from service.linking import connect_links
from service.linking import connect_pages as pages
from service.providers import answers
from service.sites import registry
from service.storage import redis_client

log = logging.getLogger(__name__)

bp = Blueprint("oauth_callback", __name__)

#: Provider `error` values passed on as they are; anything else becomes `provider_error`.
KNOWN_ERRORS = ("access_denied",)


def _no_return(title: str, message: str):
    return pages.problem(
        400, title, message, "Nothing was linked. Go back to your site and press “Connect” again."
    )


@bp.get("/oauth/<any(google, zoom):provider>/callback")
def callback(provider: str):
    state = request.args.get("state", "")
    try:
        consent = connect_links.finish_consent(redis_client.get(), vault_keys.get(), state)
    except DecryptError:
        log.error("%s callback: stored consent could not be opened", provider)
        consent = None
    if consent is None:
        log.warning("%s callback with an unknown, used or expired state", provider)
        return _no_return(
            "This sign-in could not be completed",
            "The answer from the provider does not match a sign-in started here, or it was already used "
            "or is more than 10 minutes old.",
        )
    link = consent.link
    g.connect_link = link
    if link.provider != provider:
        return _fail("state_mismatch")
    if not connect_links.browser_matches(consent, pages.browser_nonce()):
        return _fail("browser_mismatch")
    r = redis_client.get()
    if registry.load(r, vault_keys.get(), link.site_id) is None:
        log.warning("%s callback for a site that was removed: %s", provider, link.site_id)
        return pages.problem(
            404, "This site is not connected to MeetBridge", "The site was removed meanwhile."
        )
    error = request.args.get("error")
    if error:
        return _fail(error if error in KNOWN_ERRORS else "provider_error", error[:64])
    code = request.args.get("code")
    if not code:
        return _fail("provider_error", "no code")
    p = oauth_clients.provider(provider)
    client = oauth_clients.client(p, redirect=oauth_clients.redirect_uri(provider))
    try:
        token = client.fetch_token(p.token_url, code=code, code_verifier=consent.code_verifier)
        user_id = _zoom_user_id(p, token) if provider == "zoom" else None
    finally:
        client.close()
    scopes = str(token.get("scope") or " ".join(p.scopes)).replace(",", " ").split()
    if not vault.save(r, vault_keys.get(), link.site_id, provider, link.staff_id, token, scopes, user_id):
        log.warning("%s callback: site %s was removed during the consent", provider, link.site_id)
        _revoke_fresh_grant(p, token)
        return pages.problem(
            404, "This site is not connected to MeetBridge", "The site was removed meanwhile."
        )
    log.info("%s account linked for staff %s of site %s", provider, link.staff_id, link.site_id)
    return pages.outcome(link.return_url, "connected", provider, link.staff_id)


def _revoke_fresh_grant(p: oauth_clients.Provider, token: dict) -> None:
    """Best effort: revoke a grant that was just issued for a site that no longer exists."""
    value = token.get("refresh_token") or token.get("access_token")
    if not value:
        return
    client = oauth_clients.client(p)
    try:
        answer = client.revoke_token(p.revoke_url, token=value)
        log.info("%s grant of a removed site revoked: HTTP %s", p.name, answer.status_code)
    except requests.RequestException as exc:
        log.warning("%s grant of a removed site not revoked: %s", p.name, type(exc).__name__)
    finally:
        client.close()


def _zoom_user_id(p: oauth_clients.Provider, token: dict) -> str:
    session = oauth_clients.api_session(p, token, leeway=0)  # just issued, however short-lived
    try:
        answer = session.get(p.api_url("users/me"))
    finally:
        session.close()
    if answer.status_code != 200 or not isinstance(answer.json().get("id"), str):
        raise OAuthError(
            error="user_lookup_failed", description=f"users/me answered HTTP {answer.status_code}"
        )
    return answer.json()["id"]


def _fail(reason: str, detail: str | None = None):
    link: connect_links.Link = g.connect_link
    extra = f" ({detail})" if detail and detail != reason else ""
    log.warning(
        "%s link for staff %s of site %s failed: %s%s",
        link.provider,
        link.staff_id,
        link.site_id,
        reason,
        extra,
    )
    return pages.outcome(link.return_url, "error", link.provider, link.staff_id, reason)


@bp.errorhandler(OAuthError)
def _provider_refused(exc: OAuthError):
    code = answers.token(exc.error) or "unexpected_error"  # the provider's own text is not logged
    return _fail("provider_error", code)  # raised only after g.connect_link is set


@bp.errorhandler(requests.RequestException)
def _provider_unreachable(exc: requests.RequestException):
    reason = "provider_error" if isinstance(exc, requests.HTTPError) else "provider_unreachable"
    return _fail(reason, type(exc).__name__)
