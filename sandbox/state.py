"""In-memory state of the sandbox: grants, tokens, events, meetings, knobs, call log and clock.

Everything lives in one `SandboxState` object guarded by one re-entrant lock, so the sandbox must
run as a single process (threads are fine). Handlers take `state.lock` for the whole read-modify-write
of an operation; nothing slow (latency sleeps) happens while holding it.
"""

from __future__ import annotations

import collections
import dataclasses
import secrets
import threading
import time
from typing import Any

from flask import current_app

DEFAULT_ACCESS_TTL = 3599
"""Seconds an access token lives unless the token-ttl knob says otherwise (both providers)."""

CODE_TTL = 600
"""Seconds an authorization code (and a pending consent screen) stays redeemable."""

DEFAULT_DAILY_LIMIT = 100
"""Zoom meeting creates+updates per user per UTC day."""

CALL_LOG_MAX = 50_000
"""Calls kept in the call log (oldest dropped first)."""


@dataclasses.dataclass
class PendingAuthorization:
    """A validated authorization request waiting for the user's answer on the consent page."""

    provider: str
    client_id: str
    redirect_uri: str
    scopes: list[str]
    state: str | None
    code_challenge: str | None
    login_hint: str
    offline: bool
    prompt_consent: bool
    expires_at: float


@dataclasses.dataclass
class AuthCode:
    """An issued authorization code (single use)."""

    provider: str
    client_id: str
    redirect_uri: str
    scopes: list[str]
    user: str
    code_challenge: str | None
    issue_refresh: bool
    expires_at: float
    used: bool = False
    grant_id: str | None = None


@dataclasses.dataclass
class Grant:
    """One user's authorization of one client; tokens hang off it and die with it."""

    id: str
    provider: str
    client_id: str
    user: str
    scopes: list[str]
    created_at: float
    revoked: bool = False
    refresh_token: str | None = None
    refreshes: int = 0


@dataclasses.dataclass
class AccessToken:
    """An issued bearer token."""

    grant_id: str
    expires_at: float


class SandboxState:
    """All mutable sandbox state. Take `lock` around every read-modify-write."""

    def __init__(self, redirect_uris: list[str]) -> None:
        self.lock = threading.RLock()
        self._initial_redirect_uris = list(redirect_uris)
        from sandbox.google_push import Outbox

        self.outbox = Outbox(self)
        self.reset()

    def reset(self) -> None:
        """Forget everything: data, tokens, knobs, call log (the clock offset too)."""
        with self.lock:
            self.clock_offset = 0.0
            self.redirect_uris: set[str] = set(self._initial_redirect_uris)
            self.latency_ms = 0
            self.failures: list[dict[str, Any]] = []
            self.delays: list[dict[str, Any]] = []
            self.consent_mode = "ask"
            self.consent_email: str | None = None
            self.access_ttl = DEFAULT_ACCESS_TTL
            self.daily_limit = DEFAULT_DAILY_LIMIT
            self.pending: dict[str, PendingAuthorization] = {}
            self.codes: dict[str, AuthCode] = {}
            self.grants: dict[str, Grant] = {}
            self.access_tokens: dict[str, AccessToken] = {}
            self.refresh_tokens: dict[str, str] = {}
            self.google_refresh_issued: set[tuple[str, str]] = set()
            self.refresh_counts = {"google": 0, "zoom": 0}
            self.calls: collections.deque[dict[str, Any]] = collections.deque(maxlen=CALL_LOG_MAX)
            self.calls_total = 0
            # Google: (user email, calendar) -> event id -> event resource
            self.google_events: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
            self.google_counter = 0
            # Zoom: meeting id -> meeting record (owner, deleted flag, resource)
            self.zoom_meetings: dict[int, dict[str, Any]] = {}
            self.zoom_users: dict[str, dict[str, Any]] = {}
            self.zoom_daily: dict[tuple[str, str], int] = {}
            # Push: watch channels by id, each calendar's resource id, the change log behind sync tokens
            self.google_channels: dict[str, dict[str, Any]] = {}
            self.google_resource_ids: dict[tuple[str, str], str] = {}
            self.google_channel_ttl: int | None = None
            self.google_changed: dict[tuple[str, str], dict[str, int]] = {}
            self.google_change_counter = 0
            self.sync_epoch = 0
            self.google_items_listed = 0
            self.zoom_webhook: dict[str, str] | None = None
            self.push_log: collections.deque[dict[str, Any]] = collections.deque(maxlen=CALL_LOG_MAX)

    def now(self) -> float:
        """Sandbox time (wall clock plus the clock knob's offset), in epoch seconds."""
        return time.time() + self.clock_offset

    def new_grant(self, provider: str, client_id: str, user: str, scopes: list[str]) -> Grant:
        """Create and store a grant."""
        grant = Grant(
            id="grant_" + secrets.token_hex(6),
            provider=provider,
            client_id=client_id,
            user=user,
            scopes=scopes,
            created_at=self.now(),
        )
        self.grants[grant.id] = grant
        return grant

    def issue_access_token(self, grant: Grant, prefix: str) -> str:
        """Issue a bearer token for `grant` with the current TTL."""
        token = prefix + secrets.token_urlsafe(32)
        self.access_tokens[token] = AccessToken(grant.id, self.now() + self.access_ttl)
        return token

    def revoke_grant(self, grant: Grant) -> None:
        """Revoke a grant and drop every token issued under it."""
        grant.revoked = True
        grant.refresh_token = None
        for token in [t for t, a in self.access_tokens.items() if a.grant_id == grant.id]:
            del self.access_tokens[token]
        for token in [t for t, g in self.refresh_tokens.items() if g == grant.id]:
            del self.refresh_tokens[token]

    def lookup_access_token(self, provider: str, token: str) -> tuple[Grant | None, bool]:
        """Return (grant, expired) for a bearer token; grant is None if unknown/revoked/foreign."""
        record = self.access_tokens.get(token)
        if record is None:
            return None, False
        grant = self.grants.get(record.grant_id)
        if grant is None or grant.revoked or grant.provider != provider:
            return None, False
        return grant, record.expires_at <= self.now()


def get_state() -> SandboxState:
    """The state object of the current app."""
    return current_app.extensions["sandbox_state"]
