"""Partly linked staff and reachable items, in process: the sync job itself (`sync_booking`) against a real
redis-server and the sandbox in a thread. Zoom-only staff get a meeting and no event; a failure after the
meeting keeps it reachable (staff id, meeting id, times); a booking handed to another staff member loses
the previous one's meeting and event; erasure finds a meeting whose id was never recorded and deletes an
event by its id."""

from __future__ import annotations

import datetime as dt
import json
import time

from rq import Queue

from service import vault_keys
from service.accounts import vault
from service.bookings import intake
from service.bookings.records import event_aad
from service.providers.google_calendar import event_id
from service.storage import keys, queues, redis_client
from tests import cleanup_env, signing
from tests.cleanup_env import STAFF, World, marker
from workers import cleanup, sync

sandbox_url = cleanup_env.sandbox_url  # fixtures
world = cleanup_env.world

TOMORROW = {"start": "2031-01-02T10:00:00+00:00", "end": "2031-01-02T10:30:00+00:00"}


def run(w: World, booking_id: str, revision: int, kind: str = "booking.created", **changes) -> str:
    """Accept one event through the intake's script, then run its sync job here; what it returned."""
    booking = {**signing.event()["booking"], "id": booking_id, "revision": revision, **TOMORROW, **changes}
    with w.app.app_context():
        r = redis_client.get()
        sealed = vault_keys.get().seal(
            json.dumps(booking).encode(), event_aad(w.site_id, booking_id, revision)
        )
        version = r.hget(keys.site(w.site_id), "ver").decode()
        accepted = intake.Intake(r, queues.SYNC, 60).accept(
            site_id=w.site_id, site_version=version, webhook_id=f"msg_{booking_id}_{revision}",
            event_type=kind, booking_id=booking_id, revision=revision, sealed=sealed,
        )  # fmt: skip
        assert accepted.status == "accepted"
        return sync.sync_booking(w.site_id, booking_id, revision, kind, sealed)


def live_meetings(w: World, booking_id: str) -> list[dict]:
    return [
        m
        for m in w.sb.state()["zoom_meetings"]
        if marker(w.site_id, booking_id) in (m.get("agenda") or "") and not m["deleted"]
    ]


def event(w: World, booking_id: str) -> dict | None:
    eid = event_id(w.site_id, booking_id)
    return next((e for e in w.sb.state()["google_events"] if e["id"] == eid), None)


def last_result(w: World, booking_id: str) -> tuple[str, dict]:
    with w.app.app_context():
        keyring = vault_keys.get()
        found = []
        for job in Queue(queues.DELIVER, connection=w.r).jobs:
            site_id, message_id, kind, sealed = job.args[:4]
            data, _ = keyring.open_json(sealed, f"result|{site_id}|{message_id}".encode())
            if data.get("booking_id") == booking_id:
                found.append((kind, data))
    return found[-1]


def unlink(w: World, provider: str, staff: str = STAFF) -> None:
    assert vault.delete(w.r, w.site_id, provider, staff)


def erase(w: World, booking_id: str) -> dict:
    path = f"/v1/sites/{w.site_id}/bookings/{booking_id}"
    answer = w.app.test_client().delete(
        path, headers=signing.request_headers(w.site["secret"], "DELETE", path)
    )
    assert answer.status_code == 200, answer.data
    return answer.get_json()


def test_zoom_only_staff_get_a_meeting_and_no_event_and_the_result_says_so(world):
    w = world
    unlink(w, "google")
    assert run(w, "zo", 1) == "synced"
    kind, data = last_result(w, "zo")
    assert kind == "booking.synced" and data["zoom"]["join_url"]
    assert data["google"] == {"event_id": None, "html_link": None, "skipped": "not_linked"}
    assert len(live_meetings(w, "zo")) == 1 and event(w, "zo") is None
    record = w.r.hgetall(keys.booking(w.site_id, "zo"))
    assert record[b"staff"] == STAFF.encode() and b"gcal" not in record

    assert run(
        w, "zo", 2, "booking.updated", start="2031-01-03T10:00:00+00:00", end="2031-01-03T11:00:00+00:00"
    )
    assert [m["duration"] for m in live_meetings(w, "zo")] == [60]  # moved in place
    assert run(w, "zo", 3, "booking.cancelled") == "cancelled"
    assert live_meetings(w, "zo") == []


def test_zoom_only_staff_without_video_fail_clearly(world):
    w = world
    unlink(w, "google")
    assert run(w, "zn", 1, video="none", location="Room 4") == "failed"
    kind, data = last_result(w, "zn")
    assert kind == "booking.sync_failed" and "no google account" in data["reason"]


def test_google_only_staff_with_a_zoom_booking_fail_and_nothing_is_created(world):
    w = world
    unlink(w, "zoom")
    assert run(w, "go", 1) == "failed"
    assert "no zoom account" in last_result(w, "go")[1]["reason"]
    assert live_meetings(w, "go") == [] and event(w, "go") is None


def test_a_failure_after_the_meeting_keeps_it_reachable_for_cancel_cleanup_and_erasure(world):
    w = world
    vault.mark_needs_relink(w.r, w.site_id, "google", STAFF)
    assert run(w, "half", 1) == "failed"
    assert "linked again" in last_result(w, "half")[1]["reason"]
    [meeting] = live_meetings(w, "half")
    record = w.r.hgetall(keys.booking(w.site_id, "half"))
    assert record[b"staff"] == STAFF.encode() and record[b"zoom_id"] == str(meeting["id"]).encode()
    end = dt.datetime(2031, 1, 2, 10, 30, tzinfo=dt.UTC).timestamp()
    assert int(record[b"end"]) == end  # cleanup deletes it at the booking's end plus the grace
    assert w.r.hget(keys.ZOOM_MEETINGS, str(meeting["id"])) == f"{w.site_id}|half".encode()
    assert erase(w, "half")["zoom_meeting"] == "deleted"
    assert live_meetings(w, "half") == []


def test_a_failed_booking_s_meeting_is_deleted_by_cleanup(world):
    w = world
    vault.mark_needs_relink(w.r, w.site_id, "google", STAFF)
    assert run(w, "old", 1, start="2000-01-01T10:00:00+00:00", end="2000-01-01T10:30:00+00:00") == "failed"
    assert len(live_meetings(w, "old")) == 1
    with w.app.app_context():
        report = cleanup.run(w.r, use_lock=False)
    assert report.meetings_deleted == 1 and live_meetings(w, "old") == []


def test_a_booking_handed_to_another_staff_member_leaves_nothing_behind(world):
    w = world
    with w.app.app_context():  # staff 8: the same sandbox user, linked again (another grant)
        r, keyring = redis_client.get(), vault_keys.get()
        vault.save(r, keyring, w.site_id, "zoom", "8", w.sb.zoom_token(), ["meeting:write:meeting"], "u8")
        vault.save(r, keyring, w.site_id, "google", "8", w.google_token, ["calendar.events"])
    assert run(w, "moved", 1) == "synced"
    [first] = live_meetings(w, "moved")
    staff8 = {"id": "8", "email": "eight@example.com", "name": "Eight"}
    assert run(w, "moved", 2, "booking.updated", staff=staff8) == "synced"
    [second] = live_meetings(w, "moved")
    assert second["id"] != first["id"]
    assert w.r.hget(keys.booking(w.site_id, "moved"), "staff") == b"8"
    assert event(w, "moved")["status"] == "confirmed"
    assert run(w, "moved", 3, "booking.cancelled", staff=staff8) == "cancelled"
    assert live_meetings(w, "moved") == [] and event(w, "moved")["status"] == "cancelled"


def test_erasure_finds_a_meeting_whose_id_was_never_recorded_and_an_unrecorded_event(world):
    # A crash right after the create calls: the intent and the staff id are recorded, the ids are not.
    w = world
    created = w.zoom().create(
        w.zoom_token["access_token"],
        {"topic": "Call", "type": 2, "duration": 30, "agenda": f"Reference: {marker(w.site_id, 'crash')}"},
    )
    w.sb_google_insert(event_id(w.site_id, "crash"), int(time.time()) + 86400)
    record = {"rev": 1, "state": "pending", "zintent": int(time.time()), "staff": STAFF}
    w.r.hset(keys.booking(w.site_id, "crash"), mapping=record)
    answer = erase(w, "crash")
    assert (answer["zoom_meeting"], answer["google_event"]) == ("deleted", "deleted")
    assert w.meeting_deleted(str(created["id"])) and event(w, "crash")["status"] == "cancelled"


def test_erasure_of_a_booking_that_never_reached_the_providers_says_none(world):
    w = world
    w.r.hset(keys.booking(w.site_id, "never"), mapping={"rev": 1, "state": "pending", "staff": STAFF})
    answer = erase(w, "never")
    assert (answer["zoom_meeting"], answer["google_event"]) == ("none", "none")
