"""Zoom API v2 emulation: meetings CRUD, list paging, schema validation, ownership, daily limit."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from tests.sandbox.conftest import STAFF

MEETING = {
    "topic": "Intro call",
    "type": 2,
    "start_time": "2030-12-01T09:00:00Z",
    "duration": 30,
    "timezone": "Europe/Berlin",
    "agenda": "Booking 123",
    "settings": {"waiting_room": True, "join_before_host": False},
}


class Zoom:
    def __init__(self, sb, email: str = STAFF) -> None:
        self.sb = sb
        self.headers = {"Authorization": "Bearer " + sb.zoom_token(email)["access_token"]}

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}
        return requests.request(method, self.sb.url("/zoom/v2" + path), headers=headers, timeout=10, **kwargs)


@pytest.fixture
def zoom(sb) -> Zoom:
    return Zoom(sb)


def test_create_get_patch_delete(zoom):
    created = zoom.call("POST", "/users/me/meetings", json=MEETING)
    assert created.status_code == 201
    meeting = created.json()
    assert 10**9 <= meeting["id"] < 10**11 and meeting["uuid"] and meeting["host_email"] == STAFF
    assert meeting["start_time"] == "2030-12-01T09:00:00Z" and meeting["timezone"] == "Europe/Berlin"
    assert meeting["join_url"].startswith(f"https://zoom.us/j/{meeting['id']}?pwd=")
    assert meeting["settings"]["waiting_room"] is True and meeting["settings"]["join_before_host"] is False
    assert meeting["password"] and meeting["start_url"] and meeting["created_at"].endswith("Z")
    path = f"/meetings/{meeting['id']}"
    assert zoom.call("GET", path).json() == meeting
    patched = zoom.call(
        "PATCH", path, json={"start_time": "2030-12-01T11:00:00", "settings": {"mute_upon_entry": True}}
    )
    assert patched.status_code == 204 and patched.content == b""
    after = zoom.call("GET", path).json()
    assert after["start_time"] == "2030-12-01T10:00:00Z"  # local Berlin time converted to UTC
    assert after["settings"]["mute_upon_entry"] is True and after["settings"]["waiting_room"] is True
    assert zoom.call("DELETE", path).status_code == 204
    for method in ("GET", "PATCH", "DELETE"):
        gone = zoom.call(method, path, json={} if method == "PATCH" else None)
        assert gone.status_code == 404
        assert gone.json() == {"code": 3001, "message": f"Meeting does not exist: {meeting['id']}."}
    flagged = [m for m in zoom.sb.state()["zoom_meetings"] if m["id"] == meeting["id"]]
    assert flagged[0]["deleted"] is True


def test_list_paging_and_types(zoom):
    for hour in range(5):
        zoom.call("POST", "/users/me/meetings", json={**MEETING, "start_time": f"2030-12-01T0{hour}:00:00Z"})
    page = zoom.call("GET", "/users/me/meetings", params={"type": "scheduled", "page_size": 2}).json()
    assert page["total_records"] == 5 and page["page_size"] == 2 and len(page["meetings"]) == 2
    seen = [m["start_time"] for m in page["meetings"]]
    while page["next_page_token"]:
        page = zoom.call(
            "GET", "/users/me/meetings", params={"page_size": 2, "next_page_token": page["next_page_token"]}
        ).json()
        seen += [m["start_time"] for m in page["meetings"]]
    assert seen == [f"2030-12-01T0{h}:00:00Z" for h in range(5)]
    item = page["meetings"][0]
    assert set(item) >= {
        "id",
        "uuid",
        "topic",
        "start_time",
        "duration",
        "timezone",
        "agenda",
        "join_url",
        "created_at",
    }
    zoom.call("POST", "/users/me/meetings", json={**MEETING, "start_time": "2020-01-01T00:00:00Z"})
    assert zoom.call("GET", "/users/me/meetings", params={"type": "upcoming"}).json()["total_records"] == 5
    assert zoom.call("GET", "/users/me/meetings", params={"type": "live"}).json()["meetings"] == []
    assert zoom.call("GET", "/users/me/meetings", params={"type": "bogus"}).status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**MEETING, "type": 5}, "type"),
        ({**MEETING, "duration": "thirty"}, "duration"),
        ({**MEETING, "settings": {"waiting_room": "yes"}}, "settings.waiting_room"),
        ({**MEETING, "settings": {"audio": "pigeon"}}, "settings.audio"),
        ({**MEETING, "start_time": "next tuesday"}, "start_time"),
        ({**MEETING, "timezone": "Mars/Base"}, "timezone"),
        ({**MEETING, "topic": "x" * 201}, "topic"),
    ],
)
def test_schema_violations_are_400_code_300(zoom, body, field):
    response = zoom.call("POST", "/users/me/meetings", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == 300 and response.json()["errors"][0]["field"] == field


def test_bad_json_password_and_patch_schema(zoom):
    response = zoom.call(
        "POST", "/users/me/meetings", data="[1,", headers={"Content-Type": "application/json"}
    )
    assert response.json() == {"code": 300, "message": "Request Body should be a valid JSON object."}
    assert (
        zoom.call("POST", "/users/me/meetings", json={**MEETING, "password": "way-too-long-pw"}).status_code
        == 400
    )
    meeting = zoom.call("POST", "/users/me/meetings", json=MEETING).json()
    bad = zoom.call("PATCH", f"/meetings/{meeting['id']}", json={"settings": {"join_before_host": "no"}})
    assert bad.status_code == 400 and bad.json()["code"] == 300


def test_users_only_see_their_own_meetings(sb, zoom):
    meeting = zoom.call("POST", "/users/me/meetings", json=MEETING).json()
    other = Zoom(sb, "other.host@example.com")
    assert other.call("GET", f"/meetings/{meeting['id']}").json()["code"] == 3001
    assert other.call("DELETE", f"/meetings/{meeting['id']}").status_code == 404
    assert other.call("GET", "/users/me/meetings").json()["total_records"] == 0
    me = zoom.call("GET", "/users/me").json()
    assert other.call("GET", f"/users/{me['id']}/meetings").status_code == 404
    assert zoom.call("GET", f"/users/{me['id']}/meetings").json()["total_records"] == 1


def test_bearer_errors(sb, zoom):
    no_token = requests.get(sb.url("/zoom/v2/users/me"), timeout=10)
    assert no_token.status_code == 401 and no_token.json() == {
        "code": 124,
        "message": "Invalid access token.",
    }
    sb.knob("expire-access-tokens")
    expired = zoom.call("GET", "/users/me")
    assert expired.status_code == 401 and expired.json()["code"] == 124


def test_daily_limit_429_with_headers_and_reset_next_utc_day(sb, zoom):
    sb.knob("daily-limit", {"limit": 3})
    meeting = zoom.call("POST", "/users/me/meetings", json=MEETING).json()
    assert zoom.call("PATCH", f"/meetings/{meeting['id']}", json={"topic": "t2"}).status_code == 204
    assert zoom.call("POST", "/users/me/meetings", json=MEETING).status_code == 201
    limited = zoom.call("POST", "/users/me/meetings", json=MEETING)
    assert limited.status_code == 429
    assert limited.json()["code"] == 429 and "daily rate limit (3)" in limited.json()["message"]
    assert limited.headers["X-RateLimit-Type"] == "Daily-limit"
    now = dt.datetime.fromisoformat(sb.state()["now"])
    midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    assert abs(int(limited.headers["Retry-After"]) - (midnight - now).total_seconds()) < 5
    assert zoom.call("PATCH", f"/meetings/{meeting['id']}", json={"topic": "t3"}).status_code == 429
    assert (
        Zoom(sb, "someone.else@example.com").call("POST", "/users/me/meetings", json=MEETING).status_code
        == 201
    )
    sb.knob("clock", {"advance_seconds": int(limited.headers["Retry-After"]) + 1})
    sb.knob("token-ttl", {"seconds": 3599})
    fresh = Zoom(sb)
    assert fresh.call("POST", "/users/me/meetings", json=MEETING).status_code == 201
