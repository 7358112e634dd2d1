"""Usable provider sessions for workers: refresh under a per-account lock, persist before use.

`session_for(site, provider, staff)` returns an Authlib session whose access token is valid for at
least `REFRESH_MARGIN` seconds. When it is not, the caller takes the account's Redis lock (lifetime
`LOCK_SECONDS`, longer than the provider timeout; waiting at most `LOCK_WAIT`), reads the token
again inside the lock (another worker may have refreshed it already), refreshes only if still
needed, and stores the answer before anything uses it: Zoom's
refresh tokens are single use, so the new one must be in the vault before the old one is forgotten.

`refresh_after_unauthorized()` is for a provider that rejects a token the vault thinks valid (revoked
or expired early): it refreshes once under the lock unless the stored token already changed.

`invalid_grant` marks the account `needs_relink` (never deletes it), queues `account.needs_relink`
for the site once, and raises `NeedsRelink`. Jobs call these inside the worker's app context.

Fenced: the lock can lapse under a refresh (a process paused, a provider slower than the lock), and then
another process refreshes too. Both writes are compare-and-set on the sealed token read under the lock:
the refreshed token is stored only while that token is still the stored one, and the account is marked
`needs_relink` (and the site told, in the same transaction) only while the refused token is still the
stored one. Otherwise someone stored a newer token meanwhile, and that one is used.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import redis
import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from flask import Flask, current_app
from redis.exceptions import LockError

from service import vault_keys
from service.accounts import oauth_clients, vault
from service.exceptions import AccountNotLinked, NeedsRelink, ProviderUnavailable, TokenBusy
from service.providers import answers
from service.sites import results
from service.storage import keys, redis_client

log = logging.getLogger(__name__)

REFRESH_MARGIN = 60
"""Refresh when the access token expires within this many seconds."""

LOCK_SECONDS = 30
"""Lifetime of the per-account lock: longer than one refresh (10 s timeout) plus storing it."""

LOCK_WAIT = 35.0
"""Longest wait for another worker's refresh before giving up with `TokenBusy`."""


def session_for(
    site_id: str, provider: str, staff_id: str, *, app: Flask | None = None, lock_wait: float = LOCK_WAIT
) -> OAuth2Session:
    """An authorized session for the account, refreshed first when needed (`lock_wait`: a web request
    waits less than a job for another process's refresh).

    Raises:
        AccountNotLinked: no such account.
        NeedsRelink: the account must be linked again.
        TokenBusy: the lock stayed taken for `LOCK_WAIT` seconds (retry).
        ProviderUnavailable: the provider could not refresh the token (retry).
    """
    flask_app = app or current_app._get_current_object()
    account = _load(flask_app, site_id, provider, staff_id)
    token = account.token
    if not fresh(token):
        token = _refresh_locked(
            flask_app, site_id, provider, staff_id, lambda stored: not fresh(stored), lock_wait
        )
    return oauth_clients.api_session(oauth_clients.provider(provider, flask_app.config), token)


def refresh_after_unauthorized(
    site_id: str,
    provider: str,
    staff_id: str,
    rejected_access_token: str,
    *,
    app: Flask | None = None,
    lock_wait: float = LOCK_WAIT,
) -> OAuth2Session:
    """A new session after the provider answered 401 to `rejected_access_token` (raises as `session_for`)."""
    flask_app = app or current_app._get_current_object()
    token = _refresh_locked(
        flask_app,
        site_id,
        provider,
        staff_id,
        lambda stored: stored.get("access_token") == rejected_access_token,
        lock_wait,
    )
    return oauth_clients.api_session(oauth_clients.provider(provider, flask_app.config), token)


def fresh(token: dict[str, Any], now: float | None = None) -> bool:
    """Whether the access token is valid for more than `REFRESH_MARGIN` seconds."""
    expires = token.get("expires_at")
    if not token.get("access_token"):
        return False
    if expires is None:
        return True
    return float(expires) - (time.time() if now is None else now) > REFRESH_MARGIN


def _read(app: Flask, site_id: str, provider: str, staff_id: str) -> vault.Account:
    account = vault.load(redis_client.get(app), vault_keys.get(app), site_id, provider, staff_id)
    if account is None:
        raise AccountNotLinked(f"no {provider} account for staff {staff_id} of site {site_id}")
    return account


def _load(app: Flask, site_id: str, provider: str, staff_id: str) -> vault.Account:
    account = _read(app, site_id, provider, staff_id)
    if account.status != vault.ACTIVE:
        raise NeedsRelink(f"the {provider} account of staff {staff_id} must be linked again")
    return account


def _refresh_locked(
    app: Flask,
    site_id: str,
    provider: str,
    staff_id: str,
    needed: Callable[[dict[str, Any]], bool],
    lock_wait: float = LOCK_WAIT,
) -> dict[str, Any]:
    r = redis_client.get(app)
    lock = r.lock(
        keys.account_lock(site_id, provider, staff_id), timeout=LOCK_SECONDS, blocking_timeout=lock_wait
    )
    if not lock.acquire():
        raise TokenBusy(f"the {provider} account of staff {staff_id} is being refreshed elsewhere")
    try:
        account = _load(app, site_id, provider, staff_id)  # read again: someone may have refreshed it
        if not needed(account.token):
            return account.token
        return _refresh(app, r, account)
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("refresh lock of %s account %s/%s had expired", provider, site_id, staff_id)


def _refresh(app: Flask, r: redis.Redis, account: vault.Account) -> dict[str, Any]:
    site_id, provider, staff_id = account.site_id, account.provider, account.staff_id
    refresh_token = account.token.get("refresh_token")
    if not refresh_token:
        return _needs_relink(app, r, account, "no_refresh_token")
    p = oauth_clients.provider(provider, app.config)
    client = oauth_clients.client(p, token=dict(account.token))
    try:
        token = client.refresh_token(p.token_url, refresh_token=refresh_token)
    except OAuthError as exc:
        if exc.error == "invalid_grant":
            return _needs_relink(app, r, account, "invalid_grant")
        code = answers.token(exc.error) or "unexpected_error"  # the provider's own words are not repeated
        log.warning("%s refresh for %s/%s refused: %s", provider, site_id, staff_id, code)
        raise ProviderUnavailable(f"{provider} refused the refresh ({code})") from None
    except requests.RequestException as exc:
        log.warning("%s refresh for %s/%s failed: %s", provider, site_id, staff_id, type(exc).__name__)
        raise ProviderUnavailable(f"{provider} could not be reached: {type(exc).__name__}") from None
    finally:
        client.close()
    stored = _store(app, r, account, vault.stored_token(token))
    log.info("%s token refreshed for %s/%s", provider, site_id, staff_id)
    return stored


def _store(app: Flask, r: redis.Redis, account: vault.Account, token: dict[str, Any]) -> dict[str, Any]:
    """Persist a refreshed token, fenced on the token it was refreshed from; the token to use."""
    keyring = vault_keys.get(app)
    for _attempt in range(3):
        written = vault.replace_token(r, keyring, account, token)
        if written == "written":
            return token
        if written == "gone":
            raise AccountNotLinked(
                f"the {account.provider} account of staff {account.staff_id} was unlinked during a refresh"
            )
        newer = _newer(app, account)
        if newer is not None:
            return newer
        account = _read(app, account.site_id, account.provider, account.staff_id)
    raise TokenBusy(f"the {account.provider} account of staff {account.staff_id} keeps changing")


def _newer(app: Flask, account: vault.Account) -> dict[str, Any] | None:
    """The token stored now if it is not the one `account` was read with (a refresh or a relink stored
    it meanwhile: it is the newer one), else None (the same token, only sealed again with another key)."""
    current = _read(app, account.site_id, account.provider, account.staff_id)
    if current.token == account.token:
        return None
    log.warning(
        "%s token of %s/%s was replaced while this refresh ran (its lock had lapsed); using the newer one",
        account.provider,
        account.site_id,
        account.staff_id,
    )
    return current.token


def _needs_relink(app: Flask, r: redis.Redis, account: vault.Account, reason: str) -> dict[str, Any]:
    """Mark the account `needs_relink` and queue `account.needs_relink` for the site, in one transaction,
    only while the account is `active` and still holds the token that was refused; raises `NeedsRelink`.
    When another token was stored meanwhile (a newer refresh or a relink), that token is returned."""
    site_id, provider, staff_id = account.site_id, account.provider, account.staff_id
    key = keys.account(site_id, provider, staff_id)
    message = f"the {provider} account of staff {staff_id} must be linked again ({reason})"
    for _attempt in range(3):
        with r.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(key)
                status, current = pipe.hmget(key, "status", "token")
                if current is None:
                    raise AccountNotLinked(f"the {provider} account of staff {staff_id} was unlinked")
                if current == account.sealed:
                    if status != vault.ACTIVE.encode():
                        raise NeedsRelink(message)  # marked already, for this very token
                    pipe.multi()
                    data = {"provider": provider, "staff_id": staff_id, "reason": reason}
                    results.enqueue_result(r, site_id, "account.needs_relink", data, pipeline=pipe)
                    pipe.hset(key, mapping={"status": vault.NEEDS_RELINK, "updated_at": repr(time.time())})
                    pipe.execute()
                    log.warning("%s account %s/%s needs relinking: %s", provider, site_id, staff_id, reason)
                    raise NeedsRelink(message)
            except redis.WatchError:
                continue
        newer = _newer(app, account)
        if newer is not None:
            return newer
        account = _read(app, site_id, provider, staff_id)  # the same token, sealed again: try again
    raise TokenBusy(f"the {provider} account of staff {staff_id} keeps changing")
