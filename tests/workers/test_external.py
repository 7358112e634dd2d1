"""Changes made outside MeetBridge, in process: the sync job and the change handlers (workers.external,
workers.changes) against a real redis-server and the sandbox in a thread."""

from __future__ import annotations

import copy
import time

import pytest
from rq import Queue

from service.changes import watches
from service.providers.google_calendar import event_id
from service.sites import settings_api
from service.storage import keys, queues, redis_client
from tests.cleanup_env import STAFF, World
from tests.workers.test_meeting import live_meetings, run
from workers import changes, external

from tests import cleanup_env  # isort: skip

sandbox_url = cleanup_env.sandbox_url  # fixtures
world = cleanup_env.world


def _event(w: World, booking_id: str) -> dict:
    eid = event_id(w.site_id, booking_id)
    return copy.deepcopy(next(e for e in w.sb.state()["google_events"] if e["id"] == eid))


def _calls(w: World, method: str, fragment: str) -> int:
    return sum(1 for c in w.sb.state()["calls"] if c["method"] == method and fragment in c["path"])


def _results(w: World) -> list[str]:
    with w.app.app_context():
        return Queue(queues.DELIVER, connection=redis_client.get()).job_ids


def _moved(item: dict, start: str, end: str) -> dict:
    return {
        **item,
        "start": {"dateTime": start},
        "end": {"dateTime": end},
        "updated": "2999-01-01T00:00:00.000Z",
    }


def test_a_google_move_moves_the_meeting_once_and_own_writes_change_nothing(world):
    assert run(world, "b1", 1) == "synced"
    written = _event(world, "b1")
    patches = _calls(world, "PATCH", "/zoom/v2/meetings/")
    with world.app.app_context():
        r = redis_client.get()
        assert external.google_event(r, world.site_id, STAFF, "b1", written) == "own"  # what MeetBridge wrote
        moved = _moved(written, "2031-01-03T08:00:00Z", "2031-01-03T09:00:00Z")
        assert external.google_event(r, world.site_id, STAFF, "b1", moved) == "moved"
        assert external.google_event(r, world.site_id, STAFF, "b1", moved) == "own"  # a repeat
        record = r.hgetall(keys.booking(world.site_id, "b1"))
    assert (int(record[b"start"]), int(record[b"end"])) == (1925193600, 1925197200)
    assert record[b"chg_seq"] == b"1" and record[b"state"] == b"synced"
    (meeting,) = live_meetings(world, "b1")
    assert meeting["start_time"] == "2031-01-03T08:00:00Z" and meeting["duration"] == 60
    assert _calls(world, "PATCH", "/zoom/v2/meetings/") == patches + 1
    assert len(_results(world)) == 2  # booking.synced, then booking.changed

    # The site sends the moved times back: nothing is written at either provider.
    puts = _calls(world, "PUT", "/events/")
    moved_back = {"start": "2031-01-03T09:00:00+01:00", "end": "2031-01-03T10:00:00+01:00"}
    assert run(world, "b1", 2, "booking.updated", **moved_back) == "synced"
    assert _calls(world, "PATCH", "/zoom/v2/meetings/") == patches + 1
    assert _calls(world, "PUT", "/events/") == puts
    # ... but a real edit is written.
    assert run(world, "b1", 3, "booking.updated", title="Renamed", **moved_back) == "synced"
    assert _calls(world, "PUT", "/events/") == puts + 1


def test_zoom_events_older_than_meetbridges_write_or_with_equal_times_change_nothing(world):
    assert run(world, "b2", 1) == "synced"
    (meeting,) = live_meetings(world, "b2")
    with world.app.app_context():
        r = redis_client.get()
        written = int(r.hget(keys.booking(world.site_id, "b2"), "zupd"))
        zid = str(meeting["id"])
        stale = external.zoom_updated(r, world.site_id, "b2", zid, "2031-01-05T10:00:00Z", 30, written - 5)
        same = external.zoom_updated(r, world.site_id, "b2", zid, meeting["start_time"], 30, written + 5)
        other = external.zoom_updated(r, world.site_id, "b2", "999", "2031-01-05T10:00:00Z", 30, written + 5)
        moved = external.zoom_updated(r, world.site_id, "b2", zid, "2031-01-05T10:00:00Z", 45, written + 5)
    assert (stale, same, other, moved) == ("own", "unchanged", "ignored", "moved")
    event = _event(world, "b2")
    assert (event["start"]["dateTime"], event["end"]["dateTime"]) == (
        "2031-01-05T10:00:00Z",
        "2031-01-05T10:45:00Z",
    )


@pytest.mark.parametrize("policy", ["report", "cancel", "recreate"])
def test_a_google_delete_applies_the_policy(world, policy):
    assert run(world, "b3", 1) == "synced"
    gone = {**_event(world, "b3"), "status": "cancelled", "updated": "2999-01-01T00:00:00.000Z"}
    with world.app.app_context():
        r = redis_client.get()
        settings_api.save(r, world.site_id, {"external_delete": policy})
        assert external.google_event(r, world.site_id, STAFF, "b3", gone) == "deleted"
        record = r.hgetall(keys.booking(world.site_id, "b3"))
    state = {"report": "partial", "cancel": "cancelled", "recreate": "recreating"}[policy]
    assert record[b"state"] == state.encode() and b"gcal" not in record
    assert (live_meetings(world, "b3") == []) is (policy == "cancel")
    assert (b"zoom_id" in record) is (policy != "cancel")


def test_only_meetbridges_events_are_kept_and_only_what_a_change_needs(world):
    mine = {event_id(world.site_id, "b4"): "b4"}
    pages = [{"items": [{"id": "personal1", "summary": "Dentist"}, {"id": event_id(world.site_id, "b4")}]},
             {"items": [{"id": "personal2"}], "nextSyncToken": "t2"}]  # fmt: skip
    pages[0]["items"][1].update(
        summary="Intro call", attendees=[{"email": "cus@example.com"}], status="confirmed"
    )
    token, seen, found = changes._read(world.r, world.site_id, iter(pages), mine)
    assert (token, seen, [booking for booking, _item in found]) == ("t2", 3, ["b4"])
    assert "Intro call" not in str(found) and "cus@example.com" not in str(found)


def test_an_expired_sync_token_falls_back_to_a_full_list(world):
    assert run(world, "b5", 1) == "synced"
    with world.app.app_context():
        r = redis_client.get()
        watches.open_channel(r, world.site_id, STAFF)
        assert changes.google_sync(world.site_id, STAFF, full=True).startswith("read")
        world.sb.knob("google/invalidate-sync-tokens")
        assert changes.google_sync(world.site_id, STAFF) == "read 1, queued 0"
        assert r.hget(keys.STATS, "google_full_resyncs") == b"1"
        assert changes.google_sync(world.site_id, STAFF) == "read 0, queued 0"  # the new token works


def test_channel_tokens_are_derived_never_stored(world):
    with world.app.app_context():
        r = redis_client.get()
        assert run(world, "b6", 1) == "synced"
        opened = watches.open_channel(r, world.site_id, STAFF)
        token = watches.channel_token(opened["ch"])
        assert token != watches.channel_token("mbch-other") and watches.token_matches(opened["ch"], token)
        assert not watches.token_matches(opened["ch"], token[:-1] + "x")
        dump = b"".join(v for k in r.scan_iter() if r.type(k) in (b"string", b"hash")
                        for v in ([r.get(k)] if r.type(k) == b"string" else r.hvals(k)))  # fmt: skip
        assert token.encode() not in dump
        assert watches.forget(r, world.site_id, STAFF) is True
        assert not r.exists(keys.google_channel(opened["ch"]))
    stopped = {c["id"]: c["stopped"] for c in world.sb.state()["google_channels"]}
    assert stopped[opened["ch"]] is True


def test_the_external_delete_setting_is_validated():
    assert settings_api.validate({"external_delete": "cancel"}) == {"external_delete": "cancel"}
    with pytest.raises(settings_api.InvalidSetting) as raised:
        settings_api.validate({"external_delete": "shred"})
    assert raised.value.field == "external_delete"
    with pytest.raises(settings_api.InvalidSetting):
        settings_api.validate({"external_delete": 1})


def test_a_change_whose_other_side_is_busy_is_tried_again_with_nothing_lost(world):
    assert run(world, "b7", 1) == "synced"
    eid = event_id(world.site_id, "b7")
    with world.app.app_context():
        r = redis_client.get()
        watches.open_channel(r, world.site_id, STAFF)
        changes.google_sync(world.site_id, STAFF, full=True)
        world.sb.knob(
            "google/move", {"event_id": eid, "start": "2031-01-09T08:00:00Z", "end": "2031-01-09T09:00:00Z"}
        )
        failure = {"provider": "zoom", "kind": "429", "retry_after": 120, "match": "/meetings/"}
        world.sb.knob("failures", failure)
        assert changes.google_sync(world.site_id, STAFF) == "read 1, queued 1"
        queued = Queue(queues.SYNC, connection=r).jobs
        (job,) = [job for job in queued if job.func_name == "workers.changes.google_item"]
        assert "Intro call" not in str(job.args)
        assert changes.google_item(*job.args) == "again"
        record = r.hgetall(keys.booking(world.site_id, "b7"))
        assert int(record[b"start"]) != 1925712000 and b"chg_seq" not in record
        assert Queue(queues.SYNC, connection=r).scheduled_job_registry.count == 1  # tried again shortly
        assert changes.google_item(*job.args) == "moved"
        assert int(r.hget(keys.booking(world.site_id, "b7"), "start")) == 1925712000


def test_a_zoom_start_time_that_is_not_utc_is_refused(world):
    from tests.test_openapi import _zoom_event

    class Harness:
        client = world.app.test_client()

    body = {"event": "meeting.updated", "payload": {"object": {"id": 1, "start_time": "tomorrow"}}}
    answer = _zoom_event(Harness, body)
    assert answer.status_code == 422 and answer.get_json()["field"] == "payload.object.start_time"


def test_the_cron_stops_a_channel_no_booking_needs_and_keeps_one_still_needed(world):
    from workers import google_watch

    assert run(world, "b8", 1) == "synced"
    member = f"{world.site_id}|{STAFF}"
    with world.app.app_context():
        r = redis_client.get()
        opened = watches.open_channel(r, world.site_id, STAFF)
        r.zadd(keys.WATCHES_DUE, {member: 0})  # looked at now: the booking has not ended
        assert google_watch.renew_due()["kept"] == 1
        assert r.hget(keys.google_watch(world.site_id, STAFF), "ch").decode() == opened["ch"]
        assert r.zscore(keys.WATCHES_DUE, member) > 0
        r.zadd(keys.google_watched(world.site_id, STAFF), {"b8": 1})  # as if it had ended long ago
        r.zadd(keys.WATCHES_DUE, {member: 0})
        assert google_watch.renew_due()["stopped"] == 1
        assert not r.exists(keys.google_watch(world.site_id, STAFF), keys.google_channel(opened["ch"]))
        assert r.zscore(keys.WATCHES_DUE, member) is None
    assert {c["id"]: c["stopped"] for c in world.sb.state()["google_channels"]}[opened["ch"]] is True


def test_a_calendar_not_synced_for_a_while_is_polled(world):
    from workers import google_watch

    assert run(world, "b9", 1) == "synced"
    with world.app.app_context():
        r = redis_client.get()
        watches.open_channel(r, world.site_id, STAFF)
        changes.google_sync(world.site_id, STAFF, full=True)
        assert google_watch.renew_due()["polled"] == 0  # synced just now
        r.hset(keys.google_watch(world.site_id, STAFF), "synced_at", int(time.time()) - 16 * 60)
        assert google_watch.renew_due()["polled"] == 1
        jobs = [job.func_name for job in Queue(queues.SYNC, connection=r).jobs]
        assert "workers.changes.google_sync" in jobs
        assert google_watch.renew_due()["polled"] == 0  # one queued is enough


def test_a_change_racing_a_booking_event_from_the_site_is_ordered(world, monkeypatch):
    """The staff member moves the event; before the change is applied, the site's own update (a newer
    write by MeetBridge) lands: the change is older than MeetBridge's write and changes nothing."""
    assert run(world, "b10", 1) == "synced"
    eid = event_id(world.site_id, "b10")
    world.sb.knob(
        "google/move", {"event_id": eid, "start": "2031-01-20T08:00:00Z", "end": "2031-01-20T09:00:00Z"}
    )
    staff_move = _needed_item(_event(world, "b10"))
    site_move = {"start": "2031-01-21T10:00:00+00:00", "end": "2031-01-21T10:30:00+00:00"}
    assert run(world, "b10", 2, "booking.updated", **site_move) == "synced"  # holds the lock, writes later
    with world.app.app_context():
        r = redis_client.get()
        assert external.google_event(r, world.site_id, STAFF, "b10", staff_move) == "own"
        assert int(r.hget(keys.booking(world.site_id, "b10"), "start")) == 1926756000  # the site's times
        # While a sync holds the booking's lock, a change waits for it (here: gives up, to try again).
        monkeypatch.setattr(external, "LOCK_WAIT", 0.2)
        lock = r.lock(keys.booking_lock(world.site_id, "b10"), timeout=10)
        assert lock.acquire()
        with pytest.raises(external.Busy):
            external.google_event(r, world.site_id, STAFF, "b10", staff_move)
        lock.release()
    (meeting,) = live_meetings(world, "b10")
    assert meeting["start_time"] == "2031-01-21T10:00:00Z"


def _needed_item(event: dict) -> dict:
    return changes._needed(event)
