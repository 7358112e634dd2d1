"""The sandbox's watch channels, push notifications, sync tokens and Zoom event webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json

import requests

from tests.processes import wait_for
from tests.sandbox.conftest import STAFF

EVENTS = "/google/calendar/v3/calendars/primary/events"
HOOK = "https://127.0.0.1:9/notifications"  # nothing listens: each delivery is still logged


def _auth(sb) -> dict:
    return {"Authorization": f"Bearer {sb.google_token()['access_token']}"}


def _watch(sb, headers, **body):
    channel = {"id": "chan-1", "type": "web_hook", "address": HOOK, "token": "secret-token", **body}
    return requests.post(sb.url(EVENTS + "/watch"), json=channel, headers=headers, timeout=10)


def _pushes(sb, count: int) -> list[dict]:
    return wait_for(lambda: (log := sb.state()["push_log"]) and len(log) >= count and log, what="pushes")


def test_watch_rejects_what_google_rejects(sb):
    headers = _auth(sb)
    missing = _watch(sb, headers, id="")
    assert missing.status_code == 400 and missing.json()["error"]["errors"][0]["reason"] == "required"
    plain = _watch(sb, headers, address="http://example.com/hook")
    assert plain.status_code == 400 and "HTTPS" in plain.json()["error"]["message"]
    assert _watch(sb, headers, type="email").status_code == 400
    assert _watch(sb, headers, id="bad id!").status_code == 400
    assert _watch(sb, headers).status_code == 200
    duplicate = _watch(sb, headers)
    assert duplicate.status_code == 400
    assert duplicate.json()["error"]["errors"][0]["reason"] == "channelIdNotUnique"
    assert requests.post(sb.url(EVENTS + "/watch"), json={"id": "x"}, timeout=10).status_code == 401


def test_sync_then_exists_with_increasing_numbers_and_stop(sb):
    headers = _auth(sb)
    channel = _watch(sb, headers).json()
    assert channel["resourceId"] and int(channel["expiration"]) > 0 and channel["id"] == "chan-1"
    sync = _pushes(sb, 1)[0]["headers"]
    assert sync["X-Goog-Resource-State"] == "sync" and sync["X-Goog-Message-Number"] == "1"
    assert (
        sync["X-Goog-Channel-Token"] == "secret-token" and sync["X-Goog-Resource-ID"] == channel["resourceId"]
    )
    event = {
        "summary": "a",
        "start": {"dateTime": "2030-01-01T10:00:00Z"},
        "end": {"dateTime": "2030-01-01T11:00:00Z"},
    }
    created = requests.post(sb.url(EVENTS), json=event, headers=headers, timeout=10).json()
    sb.knob(
        "google/move",
        {"event_id": created["id"], "start": "2030-01-01T12:00:00Z", "end": "2030-01-01T13:00:00Z"},
    )
    log = _pushes(sb, 3)
    assert [p["headers"]["X-Goog-Resource-State"] for p in log] == ["sync", "exists", "exists"]
    assert [p["headers"]["X-Goog-Message-Number"] for p in log] == ["1", "2", "3"]
    stop = {"id": "chan-1", "resourceId": channel["resourceId"]}
    assert (
        requests.post(
            sb.url("/google/calendar/v3/channels/stop"), json=stop, headers=headers, timeout=10
        ).status_code
        == 204
    )
    again = requests.post(sb.url("/google/calendar/v3/channels/stop"), json=stop, headers=headers, timeout=10)
    assert again.status_code == 404
    sb.knob("google/delete", {"event_id": created["id"]})
    assert len(sb.state()["push_log"]) == 3  # a stopped channel is silent


def test_sync_tokens_changes_deleted_and_410(sb):
    headers = _auth(sb)
    event = {
        "summary": "a",
        "start": {"dateTime": "2030-01-01T10:00:00Z"},
        "end": {"dateTime": "2030-01-01T11:00:00Z"},
    }
    first = requests.post(sb.url(EVENTS), json=event, headers=headers, timeout=10).json()
    sb.knob("google/personal", {"user": STAFF, "count": 50})
    full = requests.get(
        sb.url(EVENTS), params={"timeMin": "2020-01-01T00:00:00Z"}, headers=headers, timeout=10
    ).json()
    assert len(full["items"]) == 51 and full["nextSyncToken"]
    token = full["nextSyncToken"]
    quiet = requests.get(sb.url(EVENTS), params={"syncToken": token}, headers=headers, timeout=10).json()
    assert quiet["items"] == [] and quiet["nextSyncToken"]
    sb.knob("google/delete", {"event_id": first["id"]})
    changed = requests.get(sb.url(EVENTS), params={"syncToken": token}, headers=headers, timeout=10).json()
    assert [(e["id"], e["status"]) for e in changed["items"]] == [(first["id"], "cancelled")]
    restricted = requests.get(
        sb.url(EVENTS),
        params={"syncToken": token, "timeMin": "2020-01-01T00:00:00Z"},
        headers=headers,
        timeout=10,
    )
    assert restricted.status_code == 400
    sb.knob("google/invalidate-sync-tokens")
    gone = requests.get(sb.url(EVENTS), params={"syncToken": token}, headers=headers, timeout=10)
    assert gone.status_code == 410 and gone.json()["error"]["errors"][0]["reason"] == "fullSyncRequired"


def test_zoom_events_are_signed_as_zoom_signs_them(sb):
    token = sb.zoom_token()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    sb.knob("zoom/webhook", {"url": HOOK, "secret_token": "zoom-secret"})
    body = {"topic": "t", "type": 2, "start_time": "2030-01-01T10:00:00Z", "duration": 30}
    meeting = requests.post(
        sb.url("/zoom/v2/users/me/meetings"), json=body, headers=headers, timeout=10
    ).json()
    sb.knob(
        "zoom/update", {"meeting_id": meeting["id"], "start_time": "2030-01-01T12:00:00Z", "duration": 45}
    )
    sb.knob("zoom/delete", {"meeting_id": meeting["id"]})
    log = wait_for(lambda: len(sb.state()["push_log"]) >= 2 and sb.state()["push_log"], what="zoom events")
    assert [p["provider"] for p in log] == ["zoom", "zoom"]
    assert all(p["headers"]["x-zm-signature"].startswith("v0=") for p in log)
    assert (
        requests.delete(sb.url(f"/zoom/v2/meetings/{meeting['id']}"), headers=headers, timeout=10).status_code
        == 404
    )


def test_zoom_signature_matches_the_body():
    from sandbox.staff_knobs import _send

    class State:
        zoom_webhook = {"url": HOOK, "secret_token": "s3"}

        class outbox:  # noqa: N801 - stands in for the queue
            items: list = []

            @classmethod
            def put(cls, item):
                cls.items.append(item)

    _send(State, "meeting.deleted", {"object": {"id": 1}})
    _provider, _url, headers, body = State.outbox.items[-1]
    expected = hmac.new(
        b"s3", f"v0:{headers['x-zm-request-timestamp']}:".encode() + body, hashlib.sha256
    ).hexdigest()
    assert headers["x-zm-signature"] == f"v0={expected}" and json.loads(body)["event"] == "meeting.deleted"


def test_staff_knobs_take_meeting_ids_as_sites_carry_them_and_refuse_what_is_not_there(sb):
    token = sb.zoom_token()["access_token"]
    body = {"topic": "t", "type": 2, "start_time": "2030-01-01T10:00:00Z", "duration": 30}
    meeting = requests.post(
        sb.url("/zoom/v2/users/me/meetings"),
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=10,
    ).json()
    sb.knob("zoom/delete", {"meeting_id": str(meeting["id"])})  # results carry Zoom's ids as strings
    for knob, body in (
        ("zoom/delete", {"meeting_id": meeting["id"]}),  # deleted already
        ("zoom/update", {"meeting_id": "12x", "start_time": "2030-01-01T12:00:00Z", "duration": 45}),
        ("google/move", {"event_id": "nope", "start": "2030-01-01T12:00:00Z", "end": "2030-01-01T13:00:00Z"}),
        ("google/delete", {"event_id": "nope"}),
    ):
        answer = requests.post(sb.url(f"/_sandbox/{knob}"), json=body, timeout=10)
        assert answer.status_code == 400, (knob, answer.status_code, answer.text)
        assert answer.json()["error"].startswith("no such"), answer.text
