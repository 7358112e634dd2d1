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


class RateLimited(Exception):
    """The provider asked us to slow down (429, Google's rate-limit 403s); retry after `retry_after`
    seconds (None: the provider did not say)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class Unauthorized(Exception):
    """The provider rejected the access token (401): refresh once, then retry."""


class Gone(Exception):
    """The resource does not exist (any more) at the provider: 404, or Google's 410 for a deleted event."""


class Conflict(Exception):
    """The resource already exists (Google's 409 for a client-chosen event id, deleted ones included)."""


class ProviderRejected(Exception):
    """The provider refused the request for good (a 4xx other than the ones above); the message says why
    in words a site admin can act on."""
