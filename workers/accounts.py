"""Account health: `check_account` proves a linked account still works with one cheap API call.

Issue 6's cron enqueues it for every account. It refreshes the token when needed (service.accounts.tokens), so
a dead grant is found here: the account is marked `needs_relink` and the site is told.
"""

from __future__ import annotations

import logging

import requests
from flask import current_app

from service.accounts import oauth_clients, tokens
from service.exceptions import AccountNotLinked, NeedsRelink, ProviderUnavailable

log = logging.getLogger(__name__)


def check_account(site_id: str, provider: str, staff_id: str) -> dict[str, str]:
    """Make one read-only API call with the account's token.

    Returns:
        `{"status": "ok" | "needs_relink" | "not_linked"}` with the provider and staff id.

    Raises:
        service.exceptions.TokenBusy, service.exceptions.ProviderUnavailable: try again later.
    """
    outcome = {"provider": provider, "staff_id": staff_id}
    try:
        session = tokens.session_for(site_id, provider, staff_id)
        answer = _probe(session, provider)
        if answer.status_code == 401:
            rejected = session.token["access_token"]
            session = tokens.refresh_after_unauthorized(site_id, provider, staff_id, rejected)
            answer = _probe(session, provider)
    except NeedsRelink:
        return {**outcome, "status": "needs_relink"}
    except AccountNotLinked:
        return {**outcome, "status": "not_linked"}
    if answer.status_code >= 300:
        log.warning("%s check for %s/%s: HTTP %s", provider, site_id, staff_id, answer.status_code)
        raise ProviderUnavailable(f"{provider} answered HTTP {answer.status_code}")
    log.info("%s account %s/%s is usable", provider, site_id, staff_id)
    return {**outcome, "status": "ok"}


def _probe(session, provider: str) -> requests.Response:
    p = oauth_clients.provider(provider, current_app.config)
    try:
        if provider == "zoom":
            return session.get(p.api_url("users/me"))
        return session.get(p.api_url("calendars/primary/events"), params={"maxResults": 1})
    except requests.RequestException as exc:
        raise ProviderUnavailable(f"{provider} could not be reached: {type(exc).__name__}") from None
    finally:
        session.close()
