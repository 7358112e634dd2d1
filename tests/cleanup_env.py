"""In-process cleanup and privacy tests: the app against a real redis-server and the sandbox served in a
thread, with accounts linked through the sandbox's real OAuth flow and bookings recorded by the sync
engine's own `settle()` (so their records and index entries are exactly what a sync writes)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
from flask import Flask
from werkzeug.serving import make_server

import sandbox
from service import create_app, vault_keys
from service.accounts import vault
from service.providers.google_calendar import event_id
from service.providers.zoom_meetings import ZoomMeetings
from service.sites import registry
from service.storage import keys, redis_client
from tests.sandbox.conftest import Sandbox
from workers import meeting, sync

STAFF = "7"


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    app = sandbox.create_app({"TESTING": True})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@dataclass
class World:
    app: Flask
    sb: Sandbox
    site: dict
    zoom_token: dict
    google_token: dict

    @property
    def r(self):
        with self.app.app_context():
            return redis_client.get()

    @property
    def site_id(self) -> str:
        return self.site["site_id"]

    def zoom(self) -> ZoomMeetings:
        return ZoomMeetings(self.sb.url("/zoom/v2"))

    def booking(self, booking_id: str, end: int, *, google: bool = False, site_id: str | None = None) -> str:
        """A synced booking ending at `end` with a real meeting at the sandbox; returns the meeting id."""
        site_id = site_id or self.site_id
        created = self.zoom().create(
            self.zoom_token["access_token"],
            {"topic": "Call", "type": 2, "duration": 30, "agenda": f"ref {booking_id}"},
        )
        gid = None
        if google:
            gid = event_id(site_id, booking_id)
            self.sb_google_insert(gid, end)
        with self.app.app_context():
            r = redis_client.get()
            r.hset(
                f"mb:s:{site_id}:bk:{booking_id}",
                mapping={"rev": 1, "state": "pending", "event": "booking.created", "created": "1700000000.5"},
            )
            r.sadd(keys.site_bookings(site_id), booking_id)  # as the intake's script does
            outcome = meeting.Outcome(
                state="synced",
                zoom_id=str(created["id"]),
                join_url=created["join_url"],
                event_id=gid,
                html_link="https://calendar.example/event?eid=x" if google else None,
                start=end - 1800,
                end=end,
                staff_id=STAFF,
            )
            sync.settle(r, site_id, booking_id, 1, outcome)
        return str(created["id"])

    def sb_google_insert(self, gid: str, end: int) -> None:
        import datetime as dt

        def when(epoch: int) -> dict:
            return {"dateTime": dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}

        answer = requests.post(
            self.sb.url("/google/calendar/v3/calendars/primary/events"),
            json={"id": gid, "summary": "Call", "start": when(end - 1800), "end": when(end)},
            headers={"Authorization": f"Bearer {self.google_token['access_token']}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text

    def meeting_deleted(self, meeting_id: str) -> bool:
        found = [m for m in self.sb.state()["zoom_meetings"] if str(m["id"]) == meeting_id]
        assert found, meeting_id
        return bool(found[0]["deleted"])

    def delete_calls(self, meeting_id: str) -> list[dict]:
        return [
            c
            for c in self.sb.state()["calls"]
            if c["method"] == "DELETE" and c["path"].endswith(f"/meetings/{meeting_id}")
        ]


def marker(site_id: str, booking_id: str) -> str:
    return "mb-" + hashlib.sha256(f"{site_id}|{booking_id}".encode()).hexdigest()[:20]


@pytest.fixture
def world(redis_url, tmp_path, sandbox_url, monkeypatch) -> World:
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    sb = Sandbox(sandbox_url)
    sb.knob("reset")
    sb.knob("daily-limit", {"limit": 100000})
    app = create_app(
        {
            "TESTING": True,
            "REDIS_URL": redis_url,
            "MEETBRIDGE_DATA_DIR": str(tmp_path),
            "MEETBRIDGE_SANDBOX_URL": sandbox_url,
        }
    )
    zoom_token = sb.zoom_token()
    google_token = sb.google_token(scope="https://www.googleapis.com/auth/calendar.events")
    with app.app_context():
        r, keyring = redis_client.get(), vault_keys.get()
        site = registry.create(r, keyring, "Shop", "https://shop.example.com")
        me = requests.get(
            sb.url("/zoom/v2/users/me"),
            headers={"Authorization": f"Bearer {zoom_token['access_token']}"},
            timeout=10,
        )
        user = me.json()["id"]
        vault.save(r, keyring, site["site_id"], "zoom", STAFF, zoom_token, ["meeting:write:meeting"], user)
        vault.save(r, keyring, site["site_id"], "google", STAFF, google_token, ["calendar.events"])
    return World(app, sb, site, zoom_token, google_token)
