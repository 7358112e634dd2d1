"""The account-health job (`workers.accounts.check_account`) in-process against a real redis-server and
the sandbox in a thread: one cheap read per provider through service.providers.clients, a single refresh
after a 401, `needs_relink`/`not_linked` as answers, and every other failure raised for RQ to retry
without sleeping."""

from __future__ import annotations

import pytest

from service import vault_keys
from service.accounts import vault
from service.exceptions import (
    Conflict,
    Gone,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
    Unauthorized,
)
from service.providers import clients
from service.providers.google_calendar import MissingScope
from service.storage import redis_client
from tests import cleanup_env
from tests.cleanup_env import STAFF, World
from workers.accounts import check_account

sandbox_url = cleanup_env.sandbox_url  # fixtures
world = cleanup_env.world

PROVIDERS = ["zoom", "google"]
PROBES = {
    "zoom": ("GET", "/zoom/v2/users/me"),
    "google": ("GET", "/google/calendar/v3/calendars/primary/events"),
}


def check(w: World, provider: str, staff_id: str = STAFF) -> dict[str, str]:
    with w.app.app_context():
        return check_account(w.site_id, provider, staff_id)


def account(w: World, provider: str) -> vault.Account:
    with w.app.app_context():
        found = vault.load(redis_client.get(), vault_keys.get(), w.site_id, provider, STAFF)
    assert found is not None
    return found


def provider_calls(w: World, provider: str) -> list[tuple[str, str, int]]:
    calls = w.sb.state()["calls"]
    return [(c["method"], c["path"], c["status"]) for c in calls if c["provider"] == provider]


@pytest.fixture
def no_sleep(monkeypatch):
    def refuse(seconds):
        raise AssertionError(f"the health check slept {seconds}s")

    monkeypatch.setattr(clients.time, "sleep", refuse)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_working_account_is_ok_after_one_read(world, provider):
    before = len(provider_calls(world, provider))
    assert check(world, provider) == {"provider": provider, "staff_id": STAFF, "status": "ok"}
    assert provider_calls(world, provider)[before:] == [(*PROBES[provider], 200)]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_token_expired_at_the_provider_is_refreshed_once_and_read_again(world, provider):
    world.sb.knob("expire-access-tokens")
    before = world.sb.state()["token_refreshes"][provider]
    assert check(world, provider)["status"] == "ok"
    assert world.sb.state()["token_refreshes"][provider] == before + 1


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_revoked_grant_needs_relinking(world, provider):
    world.sb.knob("revoke-all")
    world.sb.knob("expire-access-tokens")
    assert check(world, provider) == {"provider": provider, "staff_id": STAFF, "status": "needs_relink"}
    assert account(world, provider).status == vault.NEEDS_RELINK  # kept, never deleted
    before = len(provider_calls(world, provider))
    assert check(world, provider)["status"] == "needs_relink"
    assert len(provider_calls(world, provider)) == before  # marked: the provider is not asked again


@pytest.mark.parametrize("provider", PROVIDERS)
def test_an_account_not_linked(world, provider):
    assert check(world, provider, "nobody") == {
        "provider": provider,
        "staff_id": "nobody",
        "status": "not_linked",
    }


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("kind", ["500", "429"])
def test_a_provider_failure_raises_for_rq_to_retry_without_sleeping(world, no_sleep, provider, kind):
    match = PROBES[provider][1].rsplit("/", 1)[-1]
    world.sb.knob(
        "failures", {"provider": provider, "kind": kind, "count": 1, "match": match, "retry_after": 1}
    )
    with pytest.raises(ProviderUnavailable):
        check(world, provider)
    assert [status for _m, _p, status in provider_calls(world, provider)][-1] == int(kind)
    assert check(world, provider)["status"] == "ok"  # the failure was used up: the next run is fine


class Refusing:
    """A provider client whose probe raises `error` (a second 401 included)."""

    def __init__(self, error: Exception):
        self.error = error

    def me(self, token):
        raise self.error

    probe = me


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize(
    "error",
    [Unauthorized("401"), Gone("404"), Conflict("409"), ProviderRejected("403"), MissingScope("403"),
     RateLimited("429", 3600)],
)  # fmt: skip
def test_any_other_answer_is_retryable_never_a_status(world, no_sleep, provider, error):
    world.app.extensions[f"meetbridge.{'zoom' if provider == 'zoom' else 'calendar'}"] = Refusing(error)
    with pytest.raises(ProviderUnavailable):
        check(world, provider)
    assert account(world, provider).status == vault.ACTIVE  # the account is left as it was
