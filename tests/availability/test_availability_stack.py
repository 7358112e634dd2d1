"""Availability (issue 8) through the real stack: gunicorn over TLS + redis-server + the sandbox's
strict freeBusy. Google accounts are linked through the connect flow; events are put in the sandbox
calendar with the account's own token, then `GET /v1/sites/{site_id}/availability` is called as the
WordPress plugin calls it (signed over `GET {path}?{query}`)."""

from __future__ import annotations

import time
from urllib.parse import quote

import pytest
import requests

from tests import signing
from tests.site_stack import SiteStack, site_stack, stored_token

pytestmark = pytest.mark.stack

TTL = 3
DAY = ("2026-12-01T00:00:00Z", "2026-12-02T00:00:00Z")
STAFF = {"7": "seven@example.com", "8": "eight@example.com", "9": "nine@example.com", "10": "ten@example.com",
         "11": "eleven@example.com"}  # fmt: skip


class Env(SiteStack):
    def path(self, query: str, site_id: str | None = None) -> str:
        return f"/v1/sites/{site_id or self.site['site_id']}/availability?{query}"

    def get(self, query: str, *, secret: str | None = None, signed_as: str | None = None, **options):
        """GET with `query` as is; signed over `signed_as` (default: exactly what is sent)."""
        path = self.path(query, options.pop("site_id", None))
        headers = signing.request_headers(secret or self.site["secret"], "GET", signed_as or path)
        headers.update(options.pop("headers", {}))
        return requests.get(
            self.stack.base_url + path, headers=headers, verify=str(self.stack.certs.bundle), timeout=20
        )

    def availability(self, staff: str, start: str = DAY[0], end: str = DAY[1]) -> requests.Response:
        return self.get(f"staff_id={staff}&from={quote(start, safe='')}&to={quote(end, safe='')}")

    def freebusy_calls(self) -> int:
        return sum(1 for call in self.sandbox.state()["calls"] if call["path"].endswith("/freeBusy"))

    def token(self, staff: str) -> str:
        return stored_token(self.stack, self.r, self.site["site_id"], "google", staff)["access_token"]

    def insert(self, staff: str, start: str, end: str, **fields) -> dict:
        """An event in the staff member's primary calendar, inserted with their own token."""
        answer = requests.post(
            self.stack.sandbox_url + "/google/calendar/v3/calendars/primary/events",
            json={"summary": "Private dentist appointment", "start": {"dateTime": start},
                  "end": {"dateTime": end}, **fields},
            headers={"Authorization": f"Bearer {self.token(staff)}"},
            verify=str(self.stack.certs.bundle), timeout=10,
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with site_stack(
        tmp_path_factory.mktemp("availability"),
        Env,
        workers=0,
        MEETBRIDGE_AVAILABILITY_CACHE_SECONDS=str(TTL),
    ) as running:
        for staff, email in STAFF.items():  # each staff member their own Google user and calendar
            running.sandbox.post("consent", {"mode": "approve", "email": email})
            assert running.linker.link("google", staff)["meetbridge_status"] == "connected"
        yield running


def test_busy_intervals_exactly_then_from_the_cache_then_from_google_after_the_ttl(env):
    env.insert("7", "2026-12-01T09:00:00Z", "2026-12-01T09:30:00Z")
    env.insert("7", "2026-12-01T10:15:00+01:00", "2026-12-01T11:00:00+01:00")  # overlaps: merged
    env.insert("7", "2026-11-30T23:00:00Z", "2026-12-01T01:00:00Z")  # straddles `from`: clipped
    env.insert("7", "2026-12-01T16:00:00Z", "2026-12-01T16:30:00Z", status="tentative")  # busy too
    env.insert("7", "2026-12-01T12:00:00Z", "2026-12-01T13:00:00Z", transparency="transparent")  # free
    cancelled = env.insert("7", "2026-12-01T14:00:00Z", "2026-12-01T15:00:00Z")
    deleted = requests.delete(
        env.stack.sandbox_url + f"/google/calendar/v3/calendars/primary/events/{cancelled['id']}",
        headers={"Authorization": f"Bearer {env.token('7')}"}, verify=str(env.stack.certs.bundle), timeout=10,
    )  # fmt: skip
    assert deleted.status_code == 204
    env.insert("8", "2026-12-01T11:00:00Z", "2026-12-01T12:00:00Z")  # someone else's calendar
    env.insert("7", "2026-12-02T09:00:00Z", "2026-12-02T10:00:00Z")  # after the window

    calls = env.freebusy_calls()
    first = env.availability("7", "2026-12-01T01:00:00+01:00", "2026-12-01T19:00:00-05:00")
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["busy"] == [
        {"start": "2026-12-01T00:00:00Z", "end": "2026-12-01T01:00:00Z"},
        {"start": "2026-12-01T09:00:00Z", "end": "2026-12-01T10:00:00Z"},
        {"start": "2026-12-01T16:00:00Z", "end": "2026-12-01T16:30:00Z"},
    ]
    assert (body["staff_id"], body["from"], body["to"]) == ("7", *DAY)
    assert body["cached"] is False and body["fetched_at"].endswith("Z")
    assert env.freebusy_calls() == calls + 1

    again = env.availability("7")  # the same window, written in UTC: the same cache entry
    assert again.status_code == 200 and again.json() == {**body, "cached": True}
    assert env.freebusy_calls() == calls + 1

    cache = [key for key in env.r.scan_iter(match=f"mb:s:{env.site['site_id']}:fb:*")]
    assert len(cache) == 1 and b":7" not in cache[0] and b"2026" not in cache[0]
    assert 0 < env.r.ttl(cache[0]) <= TTL
    assert b"T09:00:00" not in env.r.get(cache[0])  # sealed

    env.insert("7", "2026-12-01T20:00:00Z", "2026-12-01T21:00:00Z")
    assert env.availability("7").json()["cached"] is True  # still within the TTL
    time.sleep(TTL + 0.2)
    assert not env.r.exists(cache[0])
    later = env.availability("7").json()
    assert later.get("cached") is False, later
    assert later["cached"] is False and later["busy"][-1] == {
        "start": "2026-12-01T20:00:00Z",
        "end": "2026-12-01T21:00:00Z",
    }
    assert env.freebusy_calls() == calls + 2


@pytest.mark.parametrize(("kind", "status"), [("429", "429"), ("rate_limit_403", "403")])
def test_a_google_rate_limit_is_a_503_with_retry_after_and_google_is_left_alone_meanwhile(env, kind, status):
    env.sandbox.post("failures", {"provider": "google", "kind": kind, "count": 1, "retry_after": 2,
                                  "match": "/freeBusy"})  # fmt: skip
    start = f"2026-12-0{3 if kind == '429' else 4}T00:00:00Z"
    calls = env.freebusy_calls()
    limited = env.availability("8", start, "2026-12-10T00:00:00Z")
    assert limited.status_code == 503, limited.text
    assert limited.json()["error"] == "rate_limited" and limited.headers["Retry-After"] == "2"
    assert [c["status"] for c in env.sandbox.state()["calls"] if c["path"].endswith("/freeBusy")][-1] == int(
        status
    )
    held = env.availability("8", start, "2026-12-10T00:00:00Z")  # within Retry-After: Google not asked
    assert held.status_code == 503 and held.json()["error"] == "rate_limited"
    assert 1 <= int(held.headers["Retry-After"]) <= 2
    assert env.freebusy_calls() == calls + 1
    assert env.availability("7").status_code == 200  # another staff member is not held
    time.sleep(2.1)
    answer = env.availability("8", start, "2026-12-10T00:00:00Z")
    assert answer.status_code == 200, answer.text
    assert answer.json()["busy"] == []


def test_a_retry_after_given_as_an_http_date_is_a_503_with_retry_after_in_seconds(env):
    env.sandbox.post("failures", {"provider": "google", "kind": "429", "count": 1, "retry_after": 5,
                                  "retry_after_format": "http-date", "match": "/freeBusy"})  # fmt: skip
    limited = env.availability("11", "2026-12-06T00:00:00Z", "2026-12-07T00:00:00Z")
    assert limited.status_code == 503, limited.text
    assert limited.json()["error"] == "rate_limited" and 3 <= int(limited.headers["Retry-After"]) <= 5
    held = env.availability("11", "2026-12-06T00:00:00Z", "2026-12-07T00:00:00Z")
    assert held.status_code == 503 and held.json()["error"] == "rate_limited"  # Google is left alone
    assert "Traceback" not in env.stack.logs()


def test_a_google_outage_is_a_503_with_retry_after(env):
    env.sandbox.post("failures", {"provider": "google", "kind": "500", "count": 1, "match": "/freeBusy"})
    answer = env.availability("10", "2026-12-05T00:00:00Z", "2026-12-06T00:00:00Z")
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"] == "provider_unavailable" and int(answer.headers["Retry-After"]) >= 1
    assert "Traceback" not in env.stack.logs()


def test_a_token_google_rejects_is_refreshed_once_and_the_call_retried(env):
    before = env.sandbox.state()["token_refreshes"]["google"]
    env.sandbox.post("expire-access-tokens")  # the vault still thinks every token valid
    answer = env.availability("7", "2026-12-07T00:00:00Z", "2026-12-08T00:00:00Z")
    assert answer.status_code == 200, answer.text
    assert env.sandbox.state()["token_refreshes"]["google"] == before + 1
    statuses = [c["status"] for c in env.sandbox.state()["calls"] if c["path"].endswith("/freeBusy")][-2:]
    assert statuses == [401, 200]


def test_a_revoked_grant_answers_409_needs_relink_even_over_a_warm_cache(env):
    # A refresh (e.g. after another test expired every token) changes the account, which misses once.
    assert any(env.availability("9").json()["cached"] for _ in range(3))
    revoked = requests.post(
        env.stack.sandbox_url + "/google/revoke", data={"token": env.token("9")},
        verify=str(env.stack.certs.bundle), timeout=10,
    )  # fmt: skip
    assert revoked.status_code == 200
    answer = env.availability("9", "2026-12-08T00:00:00Z", "2026-12-09T00:00:00Z")  # Google says 401
    assert answer.status_code == 409, answer.text
    assert answer.json()["error"] == "needs_relink"
    account = next(a for a in env.linker.accounts() if a["staff_id"] == "9")
    assert account["status"] == "needs_relink"
    assert env.availability("9").status_code == 409  # the cached window too
    env.sandbox.post("consent", {"mode": "approve", "email": STAFF["9"]})
    assert env.linker.link("google", "9")["meetbridge_status"] == "connected"
    relinked = env.availability("9")
    assert relinked.status_code == 200 and relinked.json()["cached"] is False


def test_not_linked_unlinked_and_unknown_site_are_distinct_404s(env):
    missing = env.availability("404")
    assert missing.status_code == 404 and missing.json()["error"] == "not_linked"
    unknown = env.get(f"staff_id=7&from={DAY[0]}&to={DAY[1]}", site_id="site_doesnotexist0000")
    assert unknown.status_code == 404 and unknown.json()["error"] == "unknown_site"
    env.sandbox.post("consent", {"mode": "approve", "email": "gone@example.com"})
    assert env.linker.link("google", "gone")["meetbridge_status"] == "connected"
    assert env.availability("gone").status_code == 200
    assert env.linker.unlink("google", "gone").status_code == 200
    gone = env.availability("gone")  # its answer is still cached: not served
    assert gone.status_code == 404 and gone.json()["error"] == "not_linked"


def test_the_signature_covers_the_query(env):
    query = f"staff_id=7&from={DAY[0]}&to={DAY[1]}"
    assert env.get(query).status_code == 200
    other = env.path(f"staff_id=8&from={DAY[0]}&to={DAY[1]}")
    tampered = env.get(query, signed_as=other)
    assert tampered.status_code == 401 and tampered.json()["error"] == "bad_signature"
    wrong = env.get(query, secret="whsec_" + "A" * 44)
    assert wrong.status_code == 401 and wrong.json()["error"] == "bad_signature"
    path = env.path(query)
    stale = signing.headers(env.site["secret"], f"GET {path}".encode(), timestamp=int(time.time()) - 301)
    answer = requests.get(
        env.stack.base_url + path, headers=stale, verify=str(env.stack.certs.bundle), timeout=10
    )
    assert answer.status_code == 401 and answer.json()["error"] == "timestamp_out_of_tolerance"
    unsigned = requests.get(env.stack.base_url + path, verify=str(env.stack.certs.bundle), timeout=10)
    assert unsigned.status_code == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        (f"from={DAY[0]}&to={DAY[1]}", "staff_id"),
        (f"staff_id=a%20b&from={DAY[0]}&to={DAY[1]}", "staff_id"),
        (f"staff_id=7&to={DAY[1]}", "from"),
        (f"staff_id=7&from=2026-12-01T00:00:00&to={DAY[1]}", "from"),  # no offset
        (f"staff_id=7&from=2026-12-01&to={DAY[1]}", "from"),
        (f"staff_id=7&from=2026-13-01T00:00:00Z&to={DAY[1]}", "from"),
        (f"staff_id=7&from={DAY[0]}&to=tomorrow", "to"),
        (f"staff_id=7&from={DAY[1]}&to={DAY[0]}", "to"),
        (f"staff_id=7&from={DAY[0]}&to={DAY[0]}", "to"),
        (f"staff_id=7&from={DAY[0]}&to=2027-03-01T00:00:01Z", "to"),  # 90 days and a second
        (f"staff_id=7&from={DAY[0]}&to={DAY[1]}&calendar=work", "calendar"),
        (f"staff_id=7&staff_id=8&from={DAY[0]}&to={DAY[1]}", "staff_id"),
    ],
)
def test_bad_queries_answer_422_naming_the_field(env, query, field):
    calls = env.freebusy_calls()
    answer = env.get(query)
    assert answer.status_code == 422, answer.text
    assert answer.json()["error"] == "invalid_request" and answer.json()["field"] == field
    assert env.freebusy_calls() == calls


def test_longest_window_and_an_unencoded_plus(env):
    ninety = env.availability("7", DAY[0], "2027-03-01T00:00:00Z")  # exactly 90 days: Google's limit
    assert ninety.status_code == 200, ninety.text
    plus = env.get("staff_id=7&from=2026-12-01T01:00:00+01:00&to=2026-12-02T01:00:00+01:00")  # "+" reads " "
    assert plus.status_code == 200, plus.text
    assert (plus.json()["from"], plus.json()["to"]) == DAY


def test_nothing_of_the_calendar_in_the_logs_or_in_redis_in_the_clear(env):
    env.availability("7")
    logs = env.stack.logs()
    assert "Traceback" not in logs and "dentist" not in logs and "T09:00:00" not in logs
    assert env.token("7") not in logs
    for key in env.r.scan_iter(match=f"mb:s:{env.site['site_id']}:fb*"):
        assert env.r.pttl(key) != -1  # nothing cached without an expiry (-2: just expired)
        assert b"2026-" not in (env.r.get(key) or b"")
