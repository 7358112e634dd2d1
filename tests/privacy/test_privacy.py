"""Privacy rights in process (real redis-server, sandbox in a thread): export, erasing one booking,
`sites delete`, and Zoom's `app_deauthorized`; after an erasure a scan of Redis finds nothing of it."""

from __future__ import annotations

import json
import time

from rq import Queue

from service import vault_keys
from service.bookings import intake
from service.bookings.records import event_aad
from service.providers.google_calendar import event_id
from service.sites import settings_api
from service.storage import keys, queues, redis_client
from tests import cleanup_env, signing
from tests.cleanup_env import STAFF, World
from tests.processes import redis_dump
from workers import cleanup

sandbox_url = cleanup_env.sandbox_url  # fixtures
world = cleanup_env.world


def signed(w: World, method: str, path: str):
    return w.app.test_client().open(
        path, method=method, headers=signing.request_headers(w.site["secret"], method, path)
    )


def queue_sync_job(w: World, booking_id: str, revision: int = 2) -> None:
    """An accepted event's job, written by the intake's own script (sealed payload and all)."""
    with w.app.app_context():
        r = redis_client.get()
        sealed = vault_keys.get().seal(
            json.dumps(signing.event()["booking"]).encode(), event_aad(w.site_id, booking_id, revision)
        )
        version = r.hget(keys.site(w.site_id), "ver").decode()
        outcome = intake.Intake(r, queues.SYNC, 60).accept(
            site_id=w.site_id, site_version=version, webhook_id=f"msg_{booking_id}_{revision}",
            event_type="booking.updated", booking_id=booking_id, revision=revision, sealed=sealed,
        )  # fmt: skip
        assert outcome.status == "accepted"


def traces(r, needle: str) -> list[bytes]:
    """Keys, index members and values that mention `needle` (idempotency records excepted: see erasure)."""
    found = []
    for key in r.scan_iter(count=1000):
        if b":idem:" in key:
            continue
        if needle.encode() in key:
            found.append(key)
    for index in (keys.MEETINGS_DUE, keys.RETENTION_DUE, keys.ACCOUNTS_DUE):
        found += [m for m in r.zrange(index, 0, -1) if needle.encode() in m]
    found += [v for v in r.hvals(keys.ZOOM_MEETINGS) if needle.encode() in v]
    return found


def test_export_has_everything_of_the_site_and_no_secret(world):
    w = world
    w.booking("e1", int(time.time()) + 86400, google=True)
    with w.app.app_context():
        settings_api.save(redis_client.get(), w.site_id, {"retention_days": 9})
    answer = signed(w, "GET", f"/v1/sites/{w.site_id}/export")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["site"]["site_id"] == w.site_id and body["site"]["url"] == "https://shop.example.com"
    assert body["settings"]["retention_days"] == 9 and body["settings"]["grace_minutes"] == 60
    assert sorted(a["provider"] for a in body["accounts"]) == ["google", "zoom"]
    (booking,) = body["bookings"]
    assert booking["booking_id"] == "e1" and booking["state"] == "synced"
    assert booking["zoom"]["join_url"].startswith("https://")  # the site's own data, opened
    text = answer.get_data(as_text=True)
    for secret in (w.site["secret"], w.zoom_token["access_token"], w.zoom_token["refresh_token"],
                   w.google_token["access_token"], w.google_token["refresh_token"]):  # fmt: skip
        assert secret not in text


def test_erasing_a_booking_deletes_it_everywhere(world):
    w = world
    meeting_id = w.booking("er", int(time.time()) + 86400, google=True)
    w.booking("keep", int(time.time()) + 86400)
    queue_sync_job(w, "er")
    queue_sync_job(w, "keep")
    r = w.r
    assert traces(r, f"{w.site_id}|er") and Queue(queues.DELIVER, connection=r).count == 2  # settle's results
    answer = signed(w, "DELETE", f"/v1/sites/{w.site_id}/bookings/er")
    assert answer.status_code == 200, answer.data
    body = answer.get_json()
    assert body["zoom_meeting"] == "deleted" and body["google_event"] == "deleted"
    assert body["jobs_removed"] == 2  # its sync job and its result delivery
    assert w.meeting_deleted(meeting_id)
    events = {e["id"]: e for e in w.sb.state()["google_events"]}
    assert events[event_id(w.site_id, "er")]["status"] == "cancelled"
    assert not r.exists(keys.booking(w.site_id, "er"))
    tombstone = keys.booking_tombstone(w.site_id, "er")
    assert traces(r, f"{w.site_id}|er") == []
    assert [k for k in r.scan_iter() if k.endswith(b":er")] == [tombstone.encode()]  # ids only
    assert 0 < r.ttl(tombstone) <= keys.TOMBSTONE_SECONDS and int(r.get(tombstone)) <= time.time()
    assert not r.exists(keys.idempotency(w.site_id, "msg_er_2"))  # its events' records, by its index
    assert r.exists(keys.idempotency(w.site_id, "msg_keep_2"))
    remaining = [job.args[:2] for job in Queue(queues.SYNC, connection=r).jobs]
    assert remaining == [(w.site_id, "keep")]
    assert Queue(queues.DELIVER, connection=r).count == 1
    assert r.exists(keys.booking(w.site_id, "keep"))
    again = signed(w, "DELETE", f"/v1/sites/{w.site_id}/bookings/er")
    assert again.status_code == 404


def test_erasure_with_zoom_down_erases_nothing(world, monkeypatch):
    w = world
    monkeypatch.setattr("service.providers.clients.MAX_INLINE_WAIT", 0.0)
    meeting_id = w.booking("down", int(time.time()) + 86400)
    w.sb.knob("failures", {"provider": "zoom", "kind": "500", "count": 20, "match": "/meetings/"})
    answer = signed(w, "DELETE", f"/v1/sites/{w.site_id}/bookings/down")
    assert answer.status_code == 503 and answer.get_json()["error"] == "busy"
    assert w.r.exists(keys.booking(w.site_id, "down")) and not w.meeting_deleted(meeting_id)


def test_sites_delete_erases_the_site_at_the_providers_and_in_redis(world):
    w = world
    meetings = [w.booking(f"s{i}", int(time.time()) + 86400, google=True) for i in range(3)]
    queue_sync_job(w, "s0")
    with w.app.app_context():
        cleanup.sweep_accounts(redis_client.get(), time.time())
    r = w.r
    assert traces(r, w.site_id)
    result = w.app.test_cli_runner().invoke(args=["sites", "delete", w.site_id, "--yes"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["bookings"] == 3 and report["zoom_meetings_deleted"] == 3
    assert report["google_events_deleted"] == 3 and report["accounts_revoked_at_provider"] == 2
    assert all(w.meeting_deleted(m) for m in meetings)
    grants = w.sb.state()["grants"]
    assert len(grants) == 2 and all(g["revoked"] for g in grants), grants
    assert traces(r, w.site_id) == []
    assert w.site_id.encode() not in redis_dump(r)  # keys, members and values


def test_app_deauthorized_deletes_the_zoom_users_tokens_and_meeting_data(world):
    from tests.test_openapi import _zoom_event

    w = world
    meeting_id = w.booking("dz", int(time.time()) + 86400)
    r = w.r
    user_id = r.hget(keys.account(w.site_id, "zoom", STAFF), "provider_user_id").decode()
    answer = _zoom_event(w_harness(w), {"event": "app_deauthorized", "payload": {"user_id": user_id}})
    assert answer.status_code == 200 and answer.get_json() == {"status": "deleted", "accounts": 1}
    assert not r.exists(keys.account(w.site_id, "zoom", STAFF)) and not r.exists(keys.zoom_user(user_id))
    assert r.exists(keys.account(w.site_id, "google", STAFF))  # other providers' accounts stay
    record = r.hgetall(keys.booking(w.site_id, "dz"))
    assert b"zoom_id" not in record and b"join" not in record
    assert r.hget(keys.ZOOM_MEETINGS, meeting_id) is None
    told = [job for job in Queue(queues.DELIVER, connection=r).jobs if job.args[2] == "account.needs_relink"]
    assert len(told) == 1


class _Harness:
    def __init__(self, w: World):
        self.client = w.app.test_client()


def w_harness(w: World) -> _Harness:
    return _Harness(w)


PERSONAL_EVENTS = (
    "therapy session",
    "friend7@personal.example",
    "call mum about the results",
    "personal00007",
)


def test_the_staff_calendar_is_never_kept_and_site_erasure_stops_its_channel(world, caplog):
    """A calendar with 1,000 personal events changing: read by the incremental sync, dropped in memory;
    nothing of them in Redis or in a log line. Erasing the site stops the watch channel."""
    from service.changes import watches
    from tests.workers.test_meeting import run
    from workers import changes

    w = world
    assert run(w, "p1", 1) == "synced"
    user = next(g["user"] for g in w.sb.state()["grants"] if g["provider"] == "google")
    caplog.set_level("DEBUG")
    with w.app.app_context():
        r = redis_client.get()
        opened = watches.open_channel(r, w.site_id, STAFF)
        changes.google_sync(w.site_id, STAFF, full=True)
        for round_ in (1, 2):
            w.sb.knob("google/personal", {"user": user, "count": 1000, "round": round_})
            assert changes.google_sync(w.site_id, STAFF) == "read 1000, queued 0"
    stored = redis_dump(w.r)
    for needle in PERSONAL_EVENTS:
        assert needle.encode() not in stored and needle not in caplog.text
    result = w.app.test_cli_runner().invoke(args=["sites", "delete", w.site_id, "--yes"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["google_channels_stopped"] == 1
    assert {c["id"]: c["stopped"] for c in w.sb.state()["google_channels"]}[opened["ch"]] is True
    assert traces(w.r, w.site_id) == [] and w.site_id.encode() not in redis_dump(w.r)
