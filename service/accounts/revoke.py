"""Unlinking an account: revoke the grant at the provider, then forget the tokens.

Used by the accounts API (`DELETE /v1/sites/{site_id}/accounts/...`) and by erasure. A provider that
cannot be reached or answers with a server error does not keep the account: it is forgotten anyway and
the caller learns it was not revoked. A provider that calls the token invalid (400) has nothing left to
revoke, which counts as revoked.
"""

from __future__ import annotations

import logging

import requests

from service import vault_keys
from service.accounts import oauth_clients, vault
from service.crypto import DecryptError

log = logging.getLogger(__name__)


def revoke_and_forget(r, site_id: str, provider: str, staff_id: str) -> tuple[bool, bool]:
    """(whether the account existed, whether the provider revoked it)."""
    try:
        account = vault.load(r, vault_keys.get(), site_id, provider, staff_id)
    except DecryptError:
        log.error("%s account %s/%s cannot be opened; forgetting it unrevoked", provider, site_id, staff_id)
        return vault.delete(r, site_id, provider, staff_id), False
    if account is None:
        return False, False
    revoked = _revoke(account)
    vault.delete(r, site_id, provider, staff_id)
    return True, revoked


def _revoke(account: vault.Account) -> bool:
    p = oauth_clients.provider(account.provider)
    token = account.token.get("refresh_token") or account.token.get("access_token")
    if not token:
        return False
    client = oauth_clients.client(p)
    try:
        answer = client.revoke_token(p.revoke_url, token=token)
    except requests.RequestException as exc:
        log.warning("%s revoke failed: %s", account.provider, type(exc).__name__)
        return False
    finally:
        client.close()
    if answer.status_code == 400:
        log.info("%s revoke: the token was no longer valid", account.provider)
        return True
    if not 200 <= answer.status_code < 300:
        log.warning("%s revoke answered HTTP %s", account.provider, answer.status_code)
        return False
    return True
