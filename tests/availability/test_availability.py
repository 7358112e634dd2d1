"""Availability in-process: RFC 3339 parsing, the cache setting's bounds, and the cold path's
rules with a Google double (one refresh after a 401, a rate-limit hold, errors never cached)."""

from __future__ import annotations

import datetime as dt

import pytest

from service import config, vault_keys
from service.accounts import tokens, vault
from service.availability import availability_api, google_busy
from service.availability.query import Query, parse_instant, rfc3339
from service.exceptions import ProviderUnavailable, RateLimited, Unauthorized
from service.sites import registry
from service.storage import keys, redis_client
from tests import signing

WINDOW = "from=2026-12-01T00:00:00Z&to=2026-12-02T00:00:00Z"
BUSY = [{"start": "2026-12-01T09:00:00Z", "end": "2026-12-01T09:30:00Z"}]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2026-12-01T10:00:00+01:00", "2026-12-01T09:00:00Z"),
        ("2026-12-01t09:00:00z", "2026-12-01T09:00:00Z"),
        ("2026-12-01T10:00:00 01:00", "2026-12-01T09:00:00Z"),  # an unencoded "+" in a query
        ("2026-12-01T09:00:00.5-00:30", "2026-12-01T09:30:00.5Z"),
        ("2026-12-01T09:00:00.123456789Z", "2026-12-01T09:00:00.123456Z"),
    ],
)
def test_rfc3339_instants_are_read_and_written_in_utc(raw, expected):
    assert rfc3339(parse_instant(raw)) == expected


@pytest.mark.parametrize(
    "raw",
    ["2026-12-01T09:00:00", "2026-12-01", "2026-12-01T25:00:00Z", "2026-02-30T09:00:00Z",
     "2026-12-01T09:00:00+24:00", "20261201T090000Z", "2026-12-01T09:00Z", " 2026-12-01T09:00:00Z", "now"],
)  # fmt: skip
def test_anything_else_is_not_an_instant(raw):
    assert parse_instant(raw) is None


def test_cache_seconds_default_and_bounds():
    assert (
        config.load({"MEETBRIDGE_ENV": "development", "MEETBRIDGE_DATA_DIR": "/tmp/mb-cfg"})[
            "AVAILABILITY_CACHE_SECONDS"
        ]
        == 30
    )
    for value in ("0", "60"):
        env = {"MEETBRIDGE_ENV": "development", "MEETBRIDGE_DATA_DIR": "/tmp/mb-cfg"}
        assert config.load({**env, "MEETBRIDGE_AVAILABILITY_CACHE_SECONDS": value})[
            "AVAILABILITY_CACHE_SECONDS"
        ] == int(value)
    for value in ("61", "-1", "half"):
        with pytest.raises(config.ConfigError, match="MEETBRIDGE_AVAILABILITY_CACHE_SECONDS"):
            config.load({"MEETBRIDGE_ENV": "development", "MEETBRIDGE_AVAILABILITY_CACHE_SECONDS": value})


class Google:
    """Answers each freebusy call with the next outcome (an exception is raised)."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.tokens: list[str] = []

    def get(self):
        return self

    def freebusy(self, token, time_min, time_max, calendar_id="primary"):
        self.tokens.append(token)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


@pytest.fixture
def site(app):
    with app.app_context():
        made = registry.create(redis_client.get(), vault_keys.get(), "Shop", "https://shop.example.com")
        token = {"access_token": "at-1", "refresh_token": "rt", "token_type": "Bearer", "expires_in": 3600}
        vault.save(redis_client.get(), vault_keys.get(), made["site_id"], "google", "7", token, ["s"])
    return made


def ask(app, site, google=None, query=f"staff_id=7&{WINDOW}"):
    if google is not None:
        app.extensions[google_busy.EXTENSION] = google
    path = f"/v1/sites/{site['site_id']}/availability?{query}"
    return app.test_client().get(path, headers=signing.request_headers(site["secret"], "GET", path))


def test_a_401_refreshes_once_and_retries_with_the_new_token(app, site, monkeypatch):
    refreshed = []

    def refresh(site_id, provider, staff_id, rejected, *, lock_wait):
        refreshed.append((provider, staff_id, rejected, lock_wait))
        with app.app_context():
            new = {"access_token": "at-2", "refresh_token": "rt", "expires_in": 3600}
            vault.update_token(redis_client.get(), vault_keys.get(), site_id, provider, staff_id, new)
        return type("Session", (), {"token": {"access_token": "at-2"}, "close": lambda self: None})()

    monkeypatch.setattr(tokens, "refresh_after_unauthorized", refresh)
    google = Google(Unauthorized("401"), BUSY)
    answer = ask(app, site, google)
    assert answer.status_code == 200 and answer.get_json()["busy"] == BUSY
    assert google.tokens == ["at-1", "at-2"]
    assert refreshed == [("google", "7", "at-1", google_busy.LOCK_WAIT)]
    # The refresh changed the account, so the answer just stored is not trusted: Google is asked again.
    assert ask(app, site, Google(BUSY)).get_json()["cached"] is False
    assert ask(app, site, Google()).get_json()["cached"] is True


def test_a_second_401_is_a_503_not_a_loop(app, site, monkeypatch):
    session = type("Session", (), {"token": {"access_token": "at-2"}, "close": lambda self: None})()
    monkeypatch.setattr(tokens, "refresh_after_unauthorized", lambda *a, **k: session)
    answer = ask(app, site, Google(Unauthorized("401"), Unauthorized("401")))
    assert answer.status_code == 503 and answer.get_json()["error"] == "provider_unavailable"
    assert answer.headers["Retry-After"] == str(availability_api.UNAVAILABLE_RETRY)


def test_a_rate_limit_holds_google_off_for_retry_after_and_nothing_is_cached(app, site):
    answer = ask(app, site, Google(RateLimited("429", 4.2)))
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "5"
    r = redis_client.get(app)
    assert 4000 < r.pttl(keys.availability_hold(site["site_id"], "7")) <= 5000
    held = ask(app, site, Google())  # not asked: the double has nothing to answer
    assert held.status_code == 503 and held.get_json()["error"] == "rate_limited"
    assert not list(r.scan_iter(match=f"mb:s:{site['site_id']}:fb:*"))
    r.delete(keys.availability_hold(site["site_id"], "7"))
    assert ask(app, site, Google(BUSY)).status_code == 200


def test_a_rate_limit_without_retry_after_and_a_long_one_are_bounded(app, site):
    assert ask(app, site, Google(RateLimited("403"))).headers["Retry-After"] == str(
        availability_api.RATE_LIMIT_DEFAULT
    )
    redis_client.get(app).delete(keys.availability_hold(site["site_id"], "7"))
    assert ask(app, site, Google(RateLimited("429", 3600))).headers["Retry-After"] == str(
        availability_api.MAX_HOLD
    )


def test_cache_off_asks_google_every_time(app, site):
    app.config["AVAILABILITY_CACHE_SECONDS"] = 0
    assert [ask(app, site, Google(BUSY)).get_json()["cached"] for _ in range(2)] == [False, False]
    assert not list(redis_client.get(app).scan_iter(match="mb:s:*:fb:*"))


def test_a_cached_answer_is_bound_to_its_key(app, site):
    assert ask(app, site, Google(BUSY)).status_code == 200
    r = redis_client.get(app)
    (key,) = r.scan_iter(match=f"mb:s:{site['site_id']}:fb:*")
    other = ask(
        app,
        site,
        Google(ProviderUnavailable("down")),
        query="staff_id=7&from=2026-12-03T00:00:00Z&to=2026-12-04T00:00:00Z",
    )
    assert other.status_code == 503
    r.delete(keys.availability_hold(site["site_id"], "7"))
    query = Query("7", dt.datetime(2026, 12, 3, tzinfo=dt.UTC), dt.datetime(2026, 12, 4, tzinfo=dt.UTC))
    r.set(keys.availability(site["site_id"], query.digest), r.get(key), ex=30)  # moved to another window
    moved = ask(app, site, Google([]), query="staff_id=7&from=2026-12-03T00:00:00Z&to=2026-12-04T00:00:00Z")
    assert moved.status_code == 200 and moved.get_json()["cached"] is False and moved.get_json()["busy"] == []


@pytest.fixture
def route_calls(app, monkeypatch):
    """Count the Flask route's answers (it still answers), so a test sees which path answered."""
    calls = []
    route = app.view_functions["availability.availability"]

    def counting(site_id):
        calls.append(site_id)
        return route(site_id)

    monkeypatch.setitem(app.view_functions, "availability.availability", counting)
    return calls


def test_a_cached_answer_comes_from_the_fast_path_with_every_answers_headers(app, site, route_calls):
    first = ask(app, site, Google(BUSY))
    assert first.status_code == 200 and first.get_json()["cached"] is False and len(route_calls) == 1
    cached = ask(app, site, Google())
    assert cached.status_code == 200 and len(route_calls) == 1  # not the route: the fast path
    assert cached.get_json() == {**first.get_json(), "cached": True}
    assert cached.headers["Content-Type"] == "application/json"
    assert cached.headers["Cache-Control"] == "no-store" and len(cached.headers["X-Request-ID"]) == 32


@pytest.mark.parametrize("case", ["bad_signature", "bad_query", "needs_relink", "stale_site", "miss"])
def test_the_route_answers_everything_but_a_current_cached_answer(app, site, route_calls, case):
    assert ask(app, site, Google(BUSY)).status_code == 200  # cached now
    r = redis_client.get(app)
    query = f"staff_id=7&{WINDOW}"
    path = f"/v1/sites/{site['site_id']}/availability?{query}"
    headers = signing.request_headers(site["secret"], "GET", path)
    if case == "bad_signature":
        headers = signing.request_headers("whsec_" + "A" * 44, "GET", path)
    elif case == "bad_query":
        path += "&extra=1"
        headers = signing.request_headers(site["secret"], "GET", path)
    elif case == "needs_relink":
        r.hset(keys.account(site["site_id"], "google", "7"), "status", vault.NEEDS_RELINK)
    elif case == "stale_site":
        r.hset(keys.site(site["site_id"]), "ver", "changed-elsewhere")
    elif case == "miss":
        for key in r.scan_iter(match=f"mb:s:{site['site_id']}:fb:*"):
            r.delete(key)
        app.extensions[google_busy.EXTENSION] = Google(BUSY)
    answer = app.test_client().get(path, headers=headers)
    assert len(route_calls) == 2, answer.get_json()
    expected = {"bad_signature": 401, "bad_query": 422, "needs_relink": 409, "stale_site": 200, "miss": 200}
    assert answer.status_code == expected[case]
