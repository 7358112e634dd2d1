"""Account health: `check_account` proves a linked account still works with one cheap API call.

The cron enqueues it for every account. The call goes through service.providers.clients like every other
provider call (the token refreshed when needed, once more after a 401), so a dead grant is found here:
the account is marked `needs_relink` and the site is told. Nothing is slept: any other failure raises for
RQ to retry the job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from service.exceptions import (
    AccountNotLinked,
    Conflict,
    Gone,
    NeedsRelink,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
)
from service.providers import clients

log = logging.getLogger(__name__)


def check_account(site_id: str, provider: str, staff_id: str) -> dict[str, str]:
    """Make one read-only API call with the account's token (Zoom: the token's user; Google: one event of
    the primary calendar).

    Returns:
        `{"status": "ok" | "needs_relink" | "not_linked"}` with the provider and staff id.

    Raises:
        service.exceptions.TokenBusy, service.exceptions.ProviderUnavailable: try again later.
    """
    outcome = {"provider": provider, "staff_id": staff_id}
    try:
        clients.call(site_id, provider, staff_id, _probe(provider), policy=clients.Policy.no_wait())
    except NeedsRelink:
        return {**outcome, "status": "needs_relink"}
    except AccountNotLinked:
        return {**outcome, "status": "not_linked"}
    except (ProviderUnavailable, RateLimited, Gone, Conflict, ProviderRejected) as exc:
        log.warning("%s check for %s/%s: %s", provider, site_id, staff_id, exc)
        if isinstance(exc, ProviderUnavailable):
            raise
        raise ProviderUnavailable(f"{provider} answered {type(exc).__name__}") from None
    log.info("%s account %s/%s is usable", provider, site_id, staff_id)
    return {**outcome, "status": "ok"}


def _probe(provider: str) -> Callable[[str], object]:
    """The cheap read-only call for `provider`, as `fn(token)`."""
    if provider == "zoom":
        return clients.zoom().me
    return clients.calendar().probe
