"""The project's own small exceptions, raised by the token vault and provider clients so that jobs
read like the business rule (`except NeedsRelink: ...`)."""

from __future__ import annotations


class AccountNotLinked(Exception):
    """No account is linked for this (site, provider, staff id)."""


class NeedsRelink(Exception):
    """The provider no longer honours the account's grant (`invalid_grant`): a site admin must link
    it again. The account is kept, marked `needs_relink`."""


class TokenBusy(Exception):
    """Another process held the account's refresh lock for too long; retry the job later."""


class ProviderUnavailable(Exception):
    """The provider could not be reached or answered with a server error; retry later."""
