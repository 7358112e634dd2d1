"""Google and Zoom as OAuth 2.0 clients: settings from the app config and Authlib sessions.

Google: authorization code with PKCE S256, `access_type=offline` and `prompt=consent` (so every link
gets a refresh token), client authentication in the POST body, scopes `calendar.events.owned` (the
narrowest that creates and deletes events on calendars the user owns) and `calendar.freebusy` (busy
times for availability). Zoom: a user-level app, PKCE S256, HTTP Basic client authentication, granular meeting
scopes. Every HTTP call has a 10 s timeout and trusts the process's CA bundle (requests reads
`REQUESTS_CA_BUNDLE`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from authlib.integrations.requests_client import OAuth2Session
from flask import current_app

HTTP_TIMEOUT = 10
"""Seconds before any call to a provider gives up."""

GOOGLE_SCOPES = (
    "https://www.googleapis.com/auth/calendar.events.owned",
    "https://www.googleapis.com/auth/calendar.freebusy",
)
ZOOM_SCOPES = (
    "meeting:read:meeting",
    "meeting:write:meeting",
    "meeting:update:meeting",
    "meeting:delete:meeting",
    "user:read:user",
)


@dataclass(frozen=True)
class Provider:
    """One provider's client settings."""

    name: str
    label: str
    client_id: str
    client_secret: str = field(repr=False)
    authorize_url: str
    token_url: str
    revoke_url: str
    api_base: str
    scopes: tuple[str, ...]
    token_auth: str
    revoke_auth: str
    authorize_params: Mapping[str, str]

    def api_url(self, path: str) -> str:
        """An API URL under the provider's base (`path` without a leading slash)."""
        return self.api_base.rstrip("/") + "/" + path.lstrip("/")


def provider(name: str, config: Mapping[str, object] | None = None) -> Provider:
    """The settings of `google` or `zoom` from `config` (default: the current app's).

    Raises:
        KeyError: an unknown provider.
    """
    cfg = current_app.config if config is None else config
    if name == "google":
        return Provider(
            name="google",
            label="Google",
            client_id=str(cfg["GOOGLE_CLIENT_ID"]),
            client_secret=str(cfg["GOOGLE_CLIENT_SECRET"]),
            authorize_url=str(cfg["GOOGLE_AUTHORIZE_URL"]),
            token_url=str(cfg["GOOGLE_TOKEN_URL"]),
            revoke_url=str(cfg["GOOGLE_REVOKE_URL"]),
            api_base=str(cfg["GOOGLE_CALENDAR_API_ENDPOINT"]),
            scopes=GOOGLE_SCOPES,
            token_auth="client_secret_post",  # noqa: S106 - a method name
            revoke_auth="none",  # Google's revoke endpoint takes the token alone
            authorize_params={"access_type": "offline", "prompt": "consent"},
        )
    if name == "zoom":
        return Provider(
            name="zoom",
            label="Zoom",
            client_id=str(cfg["ZOOM_CLIENT_ID"]),
            client_secret=str(cfg["ZOOM_CLIENT_SECRET"]),
            authorize_url=str(cfg["ZOOM_AUTHORIZE_URL"]),
            token_url=str(cfg["ZOOM_TOKEN_URL"]),
            revoke_url=str(cfg["ZOOM_REVOKE_URL"]),
            api_base=str(cfg["ZOOM_API_BASE"]),
            scopes=ZOOM_SCOPES,
            token_auth="client_secret_basic",  # noqa: S106 - a method name
            revoke_auth="client_secret_basic",
            authorize_params={},
        )
    raise KeyError(name)


def redirect_uri(name: str, config: Mapping[str, object] | None = None) -> str:
    """The one callback registered with the provider: `PUBLIC_URL/oauth/{name}/callback`."""
    cfg = current_app.config if config is None else config
    return str(cfg["PUBLIC_URL"]).rstrip("/") + f"/oauth/{name}/callback"


def client(
    p: Provider, *, redirect: str | None = None, token: dict | None = None, update_token=None
) -> OAuth2Session:
    """An Authlib session authenticated as MeetBridge's client (authorize, exchange, refresh, revoke).

    No `token_endpoint` is set, so Authlib never refreshes on its own: service.accounts.tokens does,
    under a lock.
    No scope either, so a refresh asks for what was granted; the authorization URL names `p.scopes`.
    """
    return OAuth2Session(
        client_id=p.client_id,
        client_secret=p.client_secret,
        token_endpoint_auth_method=p.token_auth,
        revocation_endpoint_auth_method=p.revoke_auth,
        redirect_uri=redirect,
        token=token,
        update_token=update_token,
        code_challenge_method="S256",
        default_timeout=HTTP_TIMEOUT,
    )


def api_session(p: Provider, token: dict, leeway: int = 30) -> OAuth2Session:
    """A session that calls the provider's API with `token` as the bearer; Authlib refuses to send a token
    within `leeway` seconds of its expiry (workers get tokens valid for at least a minute)."""
    session = OAuth2Session(client_id=p.client_id, token=token, leeway=leeway, default_timeout=HTTP_TIMEOUT)
    session.max_redirects = 0
    return session
