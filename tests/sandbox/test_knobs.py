"""The /_sandbox/ knobs: latency, queued failures, token TTL, state dump, reset, bad bodies."""

from __future__ import annotations

import concurrent.futures
import time

import requests

from tests.sandbox.conftest import STAFF


def _timed(url: str, **kwargs) -> tuple[float, requests.Response]:
    start = time.perf_counter()
    response = requests.get(url, timeout=10, **kwargs)
    return time.perf_counter() - start, response


def test_latency_is_added_to_provider_calls_only(sb):
    url = sb.url("/zoom/v2/users/me")
    baseline, _ = _timed(url)
    sb.knob("latency", {"ms": 300})
    slow, response = _timed(url)
    assert response.status_code == 401
    assert slow - baseline >= 0.28
    knob_time, _ = _timed(sb.url("/_sandbox/state"))
    assert knob_time < 0.25
    sb.knob("latency", {"ms": 0})
    fast, _ = _timed(url)
    assert fast < 0.25


def test_google_queued_failures_are_returned_then_cleared(sb):
    headers = {"Authorization": "Bearer " + sb.google_token()["access_token"]}
    events = sb.url("/google/calendar/v3/calendars/primary/events")
    sb.knob("failures", {"provider": "google", "kind": "rate_limit_403", "count": 2, "match": "/events"})
    sb.knob("failures", {"provider": "google", "kind": "429", "count": 1, "retry_after": 7})
    for _ in range(2):
        response = requests.get(events, headers=headers, timeout=10)
        assert response.status_code == 403
        error = response.json()["error"]
        assert error["errors"][0] == {
            "domain": "usageLimits",
            "reason": "rateLimitExceeded",
            "message": "Rate Limit Exceeded",
        }
    response = requests.get(events, headers=headers, timeout=10)
    assert response.status_code == 429 and response.headers["Retry-After"] == "7"
    sb.knob("failures", {"provider": "google", "kind": "500", "count": 1})
    assert requests.get(events, headers=headers, timeout=10).status_code == 500
    assert requests.get(events, headers=headers, timeout=10).status_code == 200
    assert sb.state()["knobs"]["failures"] == []
    assert [c["status"] for c in sb.state()["calls"] if c["path"].endswith("/events")] == [
        403,
        403,
        429,
        500,
        200,
    ]


def test_zoom_queued_failures_respect_match_and_provider(sb):
    headers = {"Authorization": "Bearer " + sb.zoom_token()["access_token"]}
    sb.knob(
        "failures", {"provider": "zoom", "kind": "429", "count": 1, "retry_after": 2, "match": "/meetings"}
    )
    assert requests.get(sb.url("/zoom/v2/users/me"), headers=headers, timeout=10).status_code == 200
    limited = requests.get(sb.url("/zoom/v2/users/me/meetings"), headers=headers, timeout=10)
    assert (
        limited.status_code == 429 and limited.headers["Retry-After"] == "2" and limited.json()["code"] == 429
    )
    assert requests.get(sb.url("/zoom/v2/users/me/meetings"), headers=headers, timeout=10).status_code == 200
    bad = requests.post(
        sb.url("/_sandbox/failures"), json={"provider": "zoom", "kind": "rate_limit_403"}, timeout=10
    )
    assert bad.status_code == 400
    assert requests.post(sb.url("/_sandbox/latency"), json={"ms": -1}, timeout=10).status_code == 400
    assert requests.post(sb.url("/_sandbox/consent"), data="x", timeout=10).status_code == 400


def test_token_ttl_expires_new_tokens(sb):
    sb.knob("token-ttl", {"seconds": 1})
    token = sb.zoom_token()
    assert token["expires_in"] == 1
    headers = {"Authorization": "Bearer " + token["access_token"]}
    assert requests.get(sb.url("/zoom/v2/users/me"), headers=headers, timeout=10).status_code == 200
    sb.knob("clock", {"advance_seconds": 2})
    expired = requests.get(sb.url("/zoom/v2/users/me"), headers=headers, timeout=10)
    assert expired.json() == {"code": 124, "message": "Access token is expired."}


def test_state_lists_everything_without_tokens_and_reset_forgets(sb):
    google = sb.google_token()
    zoom = sb.zoom_token()
    requests.post(
        sb.url("/google/calendar/v3/calendars/primary/events"),
        json={"id": "abcde12345", "start": {"date": "2030-12-01"}, "end": {"date": "2030-12-02"}},
        headers={"Authorization": "Bearer " + google["access_token"]},
        timeout=10,
    )
    requests.delete(
        sb.url("/google/calendar/v3/calendars/primary/events/abcde12345"),
        headers={"Authorization": "Bearer " + google["access_token"]},
        timeout=10,
    )
    zoom_headers = {"Authorization": "Bearer " + zoom["access_token"]}
    meeting = requests.post(
        sb.url("/zoom/v2/users/me/meetings"), json={"topic": "t"}, headers=zoom_headers, timeout=10
    )
    requests.delete(sb.url(f"/zoom/v2/meetings/{meeting.json()['id']}"), headers=zoom_headers, timeout=10)
    state = sb.state()
    assert [(e["user"], e["calendar"], e["id"], e["status"]) for e in state["google_events"]] == [
        (STAFF, "primary", "abcde12345", "cancelled")
    ]
    assert [(m["owner"], m["deleted"]) for m in state["zoom_meetings"]] == [(STAFF, True)]
    assert {g["provider"] for g in state["grants"]} == {"google", "zoom"}
    assert all(set(call) == {"provider", "method", "path", "status", "at"} for call in state["calls"])
    text = requests.get(sb.url("/_sandbox/state"), timeout=10).text
    for secret in (
        google["access_token"],
        google["refresh_token"],
        zoom["access_token"],
        zoom["refresh_token"],
    ):
        assert secret not in text
    sb.knob("reset")
    state = sb.state()
    assert state["google_events"] == [] and state["zoom_meetings"] == [] and state["grants"] == []
    assert requests.get(sb.url("/zoom/v2/users/me"), headers=zoom_headers, timeout=10).status_code == 401


def test_concurrent_creates_are_all_kept(sb):
    headers = {"Authorization": "Bearer " + sb.zoom_token()["access_token"]}
    sb.knob("daily-limit", {"limit": 25})

    def create(_: int) -> int:
        url = sb.url("/zoom/v2/users/me/meetings")
        return requests.post(url, json={"topic": "c"}, headers=headers, timeout=10).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(create, range(30)))
    assert statuses.count(201) == 25 and statuses.count(429) == 5
    assert len(sb.state()["zoom_meetings"]) == 25


def test_unknown_provider_paths_answer_in_provider_shape(sb):
    google = requests.get(sb.url("/google/calendar/v3/nothing"), timeout=10)
    assert google.status_code == 404 and google.json()["error"]["code"] == 404
    zoom = requests.get(sb.url("/zoom/v2/nothing"), timeout=10)
    assert zoom.status_code == 404 and zoom.json()["code"] == 404


def test_a_delay_holds_only_the_matching_calls_it_was_queued_for(sb):
    me = sb.url("/zoom/v2/users/me")
    sb.knob("delays", {"ms": 400, "match": "/users/me", "count": 1})
    assert sb.state()["knobs"]["delays"] == [{"ms": 400, "match": "/users/me", "count": 1}]
    other, _ = _timed(sb.url("/google/calendar/v3/calendars/primary/events"))
    held, _ = _timed(me)
    after, _ = _timed(me)
    assert held >= 0.38 and other < 0.3 and after < 0.3
    assert sb.state()["knobs"]["delays"] == []
    for bad in ({"ms": 0, "match": "/x"}, {"ms": 10}, {"ms": 10, "match": "/x", "count": 0}):
        assert requests.post(sb.url("/_sandbox/delays"), json=bad, timeout=10).status_code == 400


def test_a_retry_after_can_be_an_http_date(sb):
    from email.utils import parsedate_to_datetime

    headers = {"Authorization": "Bearer " + sb.zoom_token()["access_token"]}
    failure = {"provider": "zoom", "kind": "429", "retry_after": 30, "retry_after_format": "http-date"}
    sb.knob("failures", failure)
    limited = requests.get(sb.url("/zoom/v2/users/me"), headers=headers, timeout=10)
    assert limited.status_code == 429
    assert 28 <= parsedate_to_datetime(limited.headers["Retry-After"]).timestamp() - time.time() <= 31
    bad = {**failure, "retry_after_format": "minutes"}
    assert requests.post(sb.url("/_sandbox/failures"), json=bad, timeout=10).status_code == 400


def test_a_refusal_can_echo_what_it_was_sent(sb):
    echo = "Invalid attendee cus@example.com"
    zoom_headers = {"Authorization": "Bearer " + sb.zoom_token()["access_token"]}
    google_headers = {"Authorization": "Bearer " + sb.google_token()["access_token"]}
    sb.knob("failures", {"provider": "zoom", "kind": "400", "message": echo})
    sb.knob("failures", {"provider": "google", "kind": "400", "message": echo})
    zoom = requests.get(sb.url("/zoom/v2/users/me"), headers=zoom_headers, timeout=10)
    assert zoom.status_code == 400 and zoom.json() == {"code": 300, "message": echo}
    google = requests.get(
        sb.url("/google/calendar/v3/calendars/primary/events"), headers=google_headers, timeout=10
    )
    assert google.status_code == 400 and google.json()["error"]["errors"][0]["reason"] == "invalid"
    assert google.json()["error"]["message"] == echo
    not_400 = {"provider": "zoom", "kind": "500", "message": echo}
    assert requests.post(sb.url("/_sandbox/failures"), json=not_400, timeout=10).status_code == 400
