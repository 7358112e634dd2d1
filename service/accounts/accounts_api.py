"""Linked accounts of a site: `GET /v1/sites/{site_id}/accounts` and
`DELETE /v1/sites/{site_id}/accounts/{provider}/{staff_id}`.

Both are signed as the site (the signature covers `METHOD path`, see service.sites.site_auth). The list
shows provider, staff id, status, scopes and timestamps, never a token. DELETE revokes the grant at
the provider (Google's revoke endpoint; Zoom's with HTTP Basic client authentication), then forgets
the account. A provider that cannot be reached or answers with a server error does not keep the
account: it is forgotten anyway and the answer says `"revoked_at_provider": false`. A provider that
calls the token invalid (400) has nothing left to revoke, which counts as revoked.
"""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from redis.exceptions import LockError

from service.accounts import revoke, vault
from service.accounts.tokens import LOCK_SECONDS
from service.changes import watches
from service.http.web import error_body
from service.sites import site_auth
from service.sites.registry import Site
from service.storage import keys, redis_client

log = logging.getLogger(__name__)

bp = Blueprint("accounts_api", __name__)

LOCK_WAIT = 15.0
"""Longest wait for a worker's refresh of the same account before answering 503."""


@bp.get("/v1/sites/<site_id>/accounts")
@site_auth.signed
def list_accounts(site: Site):
    return jsonify({"accounts": vault.list_site(redis_client.get(), site.id)})


@bp.delete("/v1/sites/<site_id>/accounts/<provider>/<staff_id>")
@site_auth.signed
def unlink(site: Site, provider: str, staff_id: str):
    site_id = site.id
    if provider not in vault.PROVIDERS:
        return error_body(404, "not_linked", "no such account")
    r = redis_client.get()
    lock = r.lock(
        keys.account_lock(site_id, provider, staff_id), timeout=LOCK_SECONDS, blocking_timeout=LOCK_WAIT
    )
    if not lock.acquire():
        return error_body(503, "busy", "the account is being refreshed; retry in a moment")
    try:
        if provider == "google":
            watches.forget(r, site_id, staff_id)  # channels.stop while the token still works
        found, revoked = revoke.revoke_and_forget(r, site_id, provider, staff_id)
    finally:
        try:
            lock.release()
        except LockError:
            log.warning("lock of %s account %s/%s had expired", provider, site_id, staff_id)
    if not found:
        return error_body(404, "not_linked", "no such account")
    log.info("%s account %s/%s unlinked (revoked at provider: %s)", provider, site_id, staff_id, revoked)
    return jsonify(
        {"provider": provider, "staff_id": staff_id, "deleted": True, "revoked_at_provider": revoked}
    )
