"""The one way to call a provider (service.providers.clients.call) with fakes: no network, no Redis. The
token vault is replaced by a fake that hands out `at-1` and, after a refresh, `at-2`."""

from __future__ import annotations

import pytest

from service.accounts import tokens
from service.exceptions import Gone, ProviderUnavailable, RateLimited, Unauthorized
from service.providers import clients


class Session:
    def __init__(self, access_token: str):
        self.token = {"access_token": access_token}

    def close(self):
        pass


class Vault:
    """Stands in for service.accounts.tokens: records every session and refresh asked for."""

    def __init__(self):
        self.sessions: list[float] = []
        self.refreshes: list[tuple[str, float]] = []

    def session_for(self, site_id, provider, staff_id, *, lock_wait):
        self.sessions.append(lock_wait)
        return Session("at-1")

    def refresh_after_unauthorized(self, site_id, provider, staff_id, rejected, *, lock_wait):
        self.refreshes.append((rejected, lock_wait))
        return Session("at-2")


class Provider:
    """`fn(token)` answering each call with the next outcome (an exception is raised); records tokens."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.tokens: list[str] = []

    def __call__(self, token: str):
        self.tokens.append(token)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@pytest.fixture
def vault(monkeypatch) -> Vault:
    fake = Vault()
    monkeypatch.setattr(tokens, "session_for", fake.session_for)
    monkeypatch.setattr(tokens, "refresh_after_unauthorized", fake.refresh_after_unauthorized)
    return fake


@pytest.fixture
def slept() -> list[float]:
    return []


def call(fn, slept, **options):
    return clients.call("site", "zoom", "7", fn, sleep=slept.append, **options)


def test_a_401_then_success_refreshes_exactly_once(vault, slept):
    provider = Provider(Unauthorized("401"), {"id": 1})
    assert call(provider, slept) == {"id": 1}
    assert provider.tokens == ["at-1", "at-2"]
    assert vault.refreshes == [("at-1", tokens.LOCK_WAIT)]
    assert slept == []


def test_a_401_after_a_refresh_is_not_refreshed_again(vault, slept):
    provider = Provider(Unauthorized("401"), Unauthorized("401"), {"id": 1})
    with pytest.raises(ProviderUnavailable, match="zoom rejected a freshly refreshed token"):
        call(provider, slept)
    assert provider.tokens == ["at-1", "at-2"] and len(vault.refreshes) == 1


def test_a_429_with_a_short_retry_after_is_waited_then_retried(vault, slept):
    provider = Provider(RateLimited("429", 3.0), {"id": 1})
    assert call(provider, slept) == {"id": 1}
    assert slept == [3.0] and provider.tokens == ["at-1", "at-1"]


def test_a_429_with_a_long_retry_after_postpones_the_job(vault, slept):
    provider = Provider(RateLimited("Zoom rate limit: daily", clients.MAX_INLINE_WAIT + 100))
    with pytest.raises(clients.Postpone) as postponed:
        call(provider, slept)
    assert postponed.value.delay == clients.MAX_INLINE_WAIT + 100
    assert postponed.value.reason == "Zoom rate limit: daily"
    assert slept == [] and len(provider.tokens) == 1


def test_the_jobs_policy_reads_max_inline_wait_when_called(vault, slept, monkeypatch):
    monkeypatch.setattr(clients, "MAX_INLINE_WAIT", 0.0)
    with pytest.raises(clients.Postpone):
        call(Provider(RateLimited("429", 1.0), {"id": 1}), slept)
    assert slept == []


def test_5xx_is_backed_off_exponentially(vault, slept, monkeypatch):
    monkeypatch.setattr(clients.random, "uniform", lambda low, high: high)  # the jitter's upper bound
    down = ProviderUnavailable("Zoom answered 503")
    provider = Provider(down, down, down, {"id": 1})
    assert call(provider, slept) == {"id": 1}
    assert slept == [0.5, 1.0, 2.0]


def test_a_provider_that_keeps_failing_postpones_after_the_attempts(vault, slept, monkeypatch):
    monkeypatch.setattr(clients.random, "uniform", lambda low, high: 0.0)
    provider = Provider(*[ProviderUnavailable("Zoom answered 503")] * clients.ATTEMPTS)
    with pytest.raises(clients.Postpone, match="zoom kept failing: Zoom answered 503"):
        call(provider, slept)
    assert len(provider.tokens) == clients.ATTEMPTS and len(slept) == clients.ATTEMPTS


def test_a_permanent_failure_is_raised_at_once(vault, slept):
    provider = Provider(Gone("Zoom: no such meeting"), {"id": 1})
    with pytest.raises(Gone):
        call(provider, slept)
    assert len(provider.tokens) == 1 and slept == [] and vault.refreshes == []


@pytest.mark.parametrize("failure", [RateLimited("429", 1.0), RateLimited("429"), ProviderUnavailable("503")])
def test_the_no_wait_policy_raises_a_transient_failure_at_once(vault, slept, failure):
    provider = Provider(failure, {"id": 1})
    with pytest.raises(type(failure)) as raised:
        call(provider, slept, policy=clients.Policy.no_wait())
    assert raised.value is failure  # as the provider's client raised it: the caller answers it
    assert len(provider.tokens) == 1 and slept == []


def test_the_no_wait_policy_refreshes_once_with_its_lock_wait(vault, slept):
    provider = Provider(Unauthorized("401"), {"id": 1})
    assert call(provider, slept, policy=clients.Policy.no_wait(lock_wait=2.0)) == {"id": 1}
    assert vault.sessions == [2.0] and vault.refreshes == [("at-1", 2.0)]
    provider = Provider(Unauthorized("401"), Unauthorized("401"))
    with pytest.raises(ProviderUnavailable):
        call(provider, slept, policy=clients.Policy.no_wait())
    assert len(provider.tokens) == 2 and slept == []


def test_a_401_after_the_refresh_budget_is_not_refreshed(vault, slept):
    now = [100.0]
    policy = clients.Policy.no_wait(refresh_budget=8.0)

    def slow(token):
        now[0] += 8.5  # the call took longer than the budget
        raise Unauthorized("401")

    with pytest.raises(ProviderUnavailable, match="ran out of time"):
        call(slow, slept, policy=policy, clock=lambda: now[0])
    assert vault.refreshes == []
    now[0] = 100.0
    provider = Provider(Unauthorized("401"), {"id": 1})  # within the budget: refreshed
    assert call(provider, slept, policy=policy, clock=lambda: now[0]) == {"id": 1}
    assert len(vault.refreshes) == 1
