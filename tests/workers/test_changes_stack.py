"""Changes made in Google Calendar or Zoom flow back, through the real stack: gunicorn + RQ workers +
redis-server + the sandbox (watch channels, push notifications, sync tokens, Zoom's signed webhooks),
and a stand-in WordPress site receiving the signed `booking.changed` results."""

from __future__ import annotations

import json
import time

import pytest
import requests
from rq import Queue
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from service.providers.google_calendar import event_id
from service.storage import keys
from service.storage.queues import ALL, MAINTENANCE
from tests import processes, signing
from tests.processes import redis_dump, wait_for
from tests.site_stack import site_stack
from tests.workers.test_sync_stack import Env as SyncEnv

pytestmark = pytest.mark.stack

STAFF = "7"
PERSONAL = ("therapy session", "friend0@personal.example", "call mum about the results")


class Env(SyncEnv):
    def create(self, booking_id: str, **changes) -> dict:
        assert (
            self.post(signing.event("booking.created", id=booking_id, revision=1, **changes)).status_code
            == 202
        )
        return self.result("booking.synced", booking_id, 1)["data"]

    def put_settings(self, **settings) -> requests.Response:
        body = json.dumps(settings).encode()
        return requests.put(
            f"{self.stack.base_url}/v1/sites/{self.site['site_id']}/settings",
            data=body,
            headers=signing.headers(self.site["secret"], body),
            verify=str(self.stack.certs.bundle),
            timeout=10,
        )

    def changed(self, booking_id: str, count: int = 1) -> list[dict]:
        def found():
            hits = [r["data"] for r in self.double.results if r["type"] == "booking.changed"
                    and r["data"]["booking_id"] == booking_id]  # fmt: skip
            return hits if len(hits) >= count else None

        return wait_for(found, timeout=60, interval=0.1, what=f"booking.changed for {booking_id}")

    def watch(self) -> dict:
        return {k.decode(): v.decode(errors="replace") for k, v in self.r.hgetall(keys.google_watch(
            self.site["site_id"], STAFF)).items()}  # fmt: skip

    def channel_open(self) -> dict:
        return wait_for(lambda: (w := self.watch()).get("sync") and w, timeout=60, what="an open channel")

    def quiet(self) -> None:
        """Until every queue is empty, nothing runs, and the sandbox has nothing left to post."""

        def idle():
            for name in ALL:
                queue = Queue(name, connection=self.r)
                if (
                    queue.count
                    or StartedJobRegistry(queue=queue).count
                    or ScheduledJobRegistry(queue=queue).count
                ):
                    return False
            return True

        def settled():
            before = len(self.sandbox.state()["push_log"])
            return idle() and idle() and len(self.sandbox.state()["push_log"]) == before and idle()

        wait_for(settled, timeout=60, interval=0.3, what="a quiet stack")

    def calls(self, method: str, fragment: str) -> int:
        return sum(
            1 for c in self.sandbox.state()["calls"] if c["method"] == method and fragment in c["path"]
        )

    def changed_results(self, booking_id: str) -> list[dict]:
        return [
            r
            for r in self.double.results
            if r["type"] == "booking.changed" and r["data"]["booking_id"] == booking_id
        ]

    def meeting(self, booking_id: str) -> dict:
        (found,) = [m for m in self.meetings(booking_id) if not m["deleted"]] or [None]
        return found


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with site_stack(
        tmp_path_factory.mktemp("changes"),
        Env,
        consent="approve",
        link=(("zoom", STAFF), ("google", STAFF)),
        workers=1,
        MEETBRIDGE_WORKER_PROCESSES="3",
        MEETBRIDGE_SYNC_JOB_TIMEOUT="10",
    ) as running:
        running.sandbox.post(
            "zoom/webhook",
            {"url": running.stack.base_url + "/v1/zoom/events", "secret_token": "sandbox-zoom-webhook"},
        )
        yield running


def test_move_in_google_moves_zoom_and_tells_the_site(env):
    env.create("mv")
    env.channel_open()
    env.quiet()
    zoom_patches = env.calls("PATCH", "/zoom/v2/meetings/")
    google_writes = env.calls("PUT", "/events/") + env.calls("PATCH", "/events/")
    eid = event_id(env.site["site_id"], "mv")
    env.sandbox.post(
        "google/move", {"event_id": eid, "start": "2030-12-03T08:00:00Z", "end": "2030-12-03T09:00:00Z"}
    )
    (change,) = env.changed("mv")
    assert change["provider"] == "google" and change["kind"] == "moved" and change["state"] == "synced"
    assert (change["start"], change["end"]) == ("2030-12-03T08:00:00Z", "2030-12-03T09:00:00Z")
    assert change["sequence"] == 1 and change["revision"] == 1 and change["policy"] == "report"
    assert (
        change["change_id"].startswith("chg_")
        and len(change["change_id"]) == 26
        and change["resend"] is False
    )
    meeting = env.meeting("mv")
    assert meeting["start_time"] == "2030-12-03T08:00:00Z" and meeting["duration"] == 60
    assert change["zoom"] == {"meeting_id": str(meeting["id"]), "join_url": meeting["join_url"]}
    assert change["google"]["event_id"] == eid
    status = env.status("mv")
    assert status["state"] == "synced" and status["start"] == 1922515200 and status["end"] == 1922518800
    env.quiet()  # the Zoom update's own meeting.updated came back: nothing more is written or sent
    assert env.calls("PATCH", "/zoom/v2/meetings/") == zoom_patches + 1
    assert env.calls("PUT", "/events/") + env.calls("PATCH", "/events/") == google_writes
    assert len(env.changed_results("mv")) == 1

    # The site applies the change (Easy Appointments): an update whose times equal the providers' writes
    # nothing and loops nowhere.
    moved = {"start": "2030-12-03T09:00:00+01:00", "end": "2030-12-03T10:00:00+01:00"}
    assert env.post(signing.event("booking.updated", id="mv", revision=2, **moved)).status_code == 202
    env.result("booking.synced", "mv", 2)
    env.quiet()
    assert env.calls("PATCH", "/zoom/v2/meetings/") == zoom_patches + 1
    assert env.calls("PUT", "/events/") + env.calls("PATCH", "/events/") == google_writes
    assert len(env.changed_results("mv")) == 1


def test_own_update_does_not_loop(env):
    env.create("own")
    env.channel_open()
    env.quiet()
    zoom_patches, google_puts = env.calls("PATCH", "/zoom/v2/meetings/"), env.calls("PUT", "/events/")
    pushes = len(env.sandbox.state()["push_log"])
    moved = {"start": "2030-12-05T15:00:00+01:00", "end": "2030-12-05T16:00:00+01:00"}
    assert env.post(signing.event("booking.updated", id="own", revision=2, **moved)).status_code == 202
    env.result("booking.synced", "own", 2)
    env.quiet()
    log = env.sandbox.state()["push_log"][pushes:]
    assert {p["provider"] for p in log} == {"google", "zoom"}  # both providers told MeetBridge of its writes
    assert all(p["status"] == 200 for p in log)
    assert env.calls("PATCH", "/zoom/v2/meetings/") == zoom_patches + 1
    assert env.calls("PUT", "/events/") == google_puts + 1
    assert env.changed_results("own") == []


def test_move_in_zoom_moves_the_google_event(env):
    env.create("zmv")
    env.quiet()
    meeting = env.meeting("zmv")
    env.sandbox.post(
        "zoom/update", {"meeting_id": meeting["id"], "start_time": "2030-12-07T13:30:00Z", "duration": 45}
    )
    (change,) = env.changed("zmv")
    assert change["provider"] == "zoom" and change["kind"] == "moved"
    assert (change["start"], change["end"]) == ("2030-12-07T13:30:00Z", "2030-12-07T14:15:00Z")
    event = env.event("zmv")
    assert (
        event["start"]["dateTime"] == "2030-12-07T13:30:00Z"
        and event["end"]["dateTime"] == "2030-12-07T14:15:00Z"
    )
    env.quiet()  # the Google notification of MeetBridge's own patch changes nothing
    assert len(env.changed_results("zmv")) == 1


@pytest.mark.parametrize(
    ("policy", "state"), [("report", "partial"), ("cancel", "cancelled"), ("recreate", "recreating")]
)
def test_zoom_meeting_deleted_applies_the_policy(env, policy, state):
    assert env.put_settings(external_delete=policy).status_code == 200
    booking_id = f"zdel-{policy}"
    env.create(booking_id)
    meeting = env.meeting(booking_id)
    env.sandbox.post("zoom/delete", {"meeting_id": meeting["id"]})
    (change,) = env.changed(booking_id)
    assert change["provider"] == "zoom" and change["kind"] == "deleted" and "start" not in change
    assert change["policy"] == policy and change["state"] == state and change["zoom"] is None
    assert change["resend"] is (policy == "recreate")
    status = env.status(booking_id)
    assert status["state"] == state and status["zoom"]["meeting_id"] is None
    event = env.event(booking_id)
    if policy == "cancel":
        assert event["status"] == "cancelled" and change["google"] is None
    else:
        assert event["status"] == "confirmed" and change["google"]["event_id"] == event["id"]
    if policy == "recreate":  # the site sends the booking again: a new meeting, the event follows
        assert env.post(signing.event("booking.updated", id=booking_id, revision=2)).status_code == 202
        synced = env.result("booking.synced", booking_id, 2)["data"]
        assert synced["zoom"]["meeting_id"] != str(meeting["id"])
        assert env.event(booking_id)["location"] == synced["zoom"]["join_url"]
    env.quiet()
    assert env.put_settings(external_delete="report").status_code == 200


def test_google_event_deleted_is_reported_and_meeting_kept(env):
    env.create("gdel")
    env.channel_open()
    env.sandbox.post("google/delete", {"event_id": event_id(env.site["site_id"], "gdel")})
    (change,) = env.changed("gdel")
    assert change["provider"] == "google" and change["kind"] == "deleted" and change["state"] == "partial"
    assert change["google"] is None and change["zoom"]["meeting_id"] == str(env.meeting("gdel")["id"])


def test_unrelated_personal_events_are_never_stored_logged_or_sent(env):
    env.create("calm")
    env.channel_open()
    env.quiet()
    user = next(g["user"] for g in env.sandbox.state()["grants"] if g["provider"] == "google")
    results_before, listed = len(env.double.results), env.sandbox.state()["google_items_listed"]
    for round_ in (1, 2):  # 1,000 added, then the same 1,000 changed
        env.sandbox.post("google/personal", {"user": user, "count": 1000, "round": round_})
        env.quiet()
    state = env.sandbox.state()
    assert state["google_items_listed"] - listed == 2000  # incremental: only what changed, once each
    assert len(env.double.results) == results_before
    stored, logs = redis_dump(env.r), env.stack.logs()
    for needle in (*PERSONAL, "personal00042"):
        assert needle.encode() not in stored and needle not in logs
    assert "Private:" not in logs


def test_expired_sync_token_falls_back_to_a_full_resync(env):
    env.create("resync")
    env.channel_open()
    env.quiet()
    before = int(env.r.hget(keys.STATS, "google_full_resyncs") or 0)
    env.sandbox.post("google/invalidate-sync-tokens")
    eid = event_id(env.site["site_id"], "resync")
    env.sandbox.post(
        "google/move", {"event_id": eid, "start": "2030-12-09T08:00:00Z", "end": "2030-12-09T08:30:00Z"}
    )
    (change,) = env.changed("resync")
    assert change["kind"] == "moved" and change["end"] == "2030-12-09T08:30:00Z"
    assert int(env.r.hget(keys.STATS, "google_full_resyncs") or 0) == before + 1


def test_forged_notifications_are_ignored(env):
    env.create("forged")
    watch = env.channel_open()
    env.quiet()
    url = env.stack.base_url + "/v1/google/notifications"
    verify = str(env.stack.certs.bundle)
    base = {
        "X-Goog-Resource-State": "exists",
        "X-Goog-Message-Number": "9",
        "X-Goog-Resource-ID": watch["rid"],
    }
    ignored = int(env.r.hget(keys.STATS, "google_notifications_ignored") or 0)
    forged = [
        {**base, "X-Goog-Channel-ID": "mbch-unknown", "X-Goog-Channel-Token": "x"},
        {**base, "X-Goog-Channel-ID": watch["ch"], "X-Goog-Channel-Token": "wrong"},
        {**base, "X-Goog-Channel-ID": watch["ch"]},
    ]
    for headers in forged:
        answer = requests.post(url, headers=headers, verify=verify, timeout=10)
        assert answer.status_code == 200 and answer.content == b""
    assert requests.post(url, headers=base, verify=verify, timeout=10).status_code == 400
    assert int(env.r.hget(keys.STATS, "google_notifications_ignored")) == ignored + 3
    assert not env.r.exists(keys.google_sync_pending(env.site["site_id"], STAFF))
    assert all(Queue(name, connection=env.r).count == 0 for name in ALL)
    _status, metrics = env.stack.get("/metrics")
    assert f'meetbridge_google_notifications_total{{outcome="ignored"}} {ignored + 3}.0'.encode() in metrics


def test_channel_expiry_and_renewal(env):
    env.create("expiring")
    old = env.channel_open()
    env.quiet()
    env.sandbox.post("google/channel-ttl", {"seconds": 3600})
    member = f"{env.site['site_id']}|{STAFF}"
    expired = int((time.time() - 1) * 1000)  # as if the channel had expired unnoticed (e.g. a cron outage)
    env.r.hset(keys.google_watch(env.site["site_id"], STAFF), "exp", expired)
    env.r.zadd(keys.WATCHES_DUE, {member: 0})
    Queue(MAINTENANCE, connection=env.r).enqueue("workers.google_watch.renew_due")
    new = wait_for(lambda: (w := env.watch()).get("ch") != old["ch"] and w, what="a renewed channel")
    channels = {c["id"]: c for c in env.sandbox.state()["google_channels"]}
    assert channels[old["ch"]]["stopped"] is True and channels[new["ch"]]["stopped"] is False
    assert not env.r.exists(keys.google_channel(old["ch"])) and env.r.exists(keys.google_channel(new["ch"]))
    due = env.r.zscore(keys.WATCHES_DUE, member)
    assert int(new["exp"]) / 1000 - 3600 < due < int(new["exp"]) / 1000  # halfway through a short grant
    env.quiet()
    # The old channel's notifications are ignored now; the new one's work.
    env.create("renewed")
    eid = event_id(env.site["site_id"], "renewed")
    env.sandbox.post(
        "google/move", {"event_id": eid, "start": "2030-12-11T08:00:00Z", "end": "2030-12-11T09:00:00Z"}
    )
    assert env.changed("renewed")[0]["kind"] == "moved"


def test_unlinking_the_account_stops_its_channel(env):
    env.create("unlinked")
    watch = env.channel_open()
    env.quiet()
    assert env.linker.unlink("google", STAFF).status_code == 200
    channels = {c["id"]: c for c in env.sandbox.state()["google_channels"]}
    assert channels[watch["ch"]]["stopped"] is True
    assert not env.r.exists(keys.google_watch(env.site["site_id"], STAFF))
    assert not env.r.exists(keys.google_channel(watch["ch"]))
    assert processes  # the stack stays up for the module's other tests
