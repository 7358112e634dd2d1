"""The sync engine through the real stack: gunicorn + RQ worker pool + redis-server + the sandbox,
and a stand-in WordPress site receiving the signed results."""

from __future__ import annotations

import json
import signal
import subprocess
from datetime import datetime

import pytest
import requests

from service.providers.google_calendar import event_id
from service.sites import webhooks
from service.storage import keys
from tests import processes, signing
from tests.site_stack import SiteStack, site_stack
from workers.faults import arm_key

pytestmark = pytest.mark.stack

STAFF = "7"


class Env(SiteStack):
    def post(self, payload, msg_id: str | None = None) -> requests.Response:
        body = signing.body_of(payload)
        return requests.post(
            f"{self.stack.base_url}/v1/sites/{self.site['site_id']}/events",
            data=body,
            headers=signing.headers(self.site["secret"], body, msg_id=msg_id),
            verify=str(self.stack.certs.bundle),
            timeout=10,
        )

    def status(self, booking_id: str) -> dict:
        answer = self.linker.signed("GET", f"/v1/sites/{self.site['site_id']}/bookings/{booking_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def settled(self, booking_id: str, revision: int, state: str, timeout: float = 60) -> dict:
        def done():
            current = self.status(booking_id)
            return (
                current
                if current["state"] == state and current_revision(self, booking_id) >= revision
                else None
            )

        return processes.wait_for(
            done, timeout=timeout, interval=0.1, what=f"{booking_id} rev {revision} {state}"
        )

    def result(self, event_type: str, booking_id: str, revision: int, timeout: float = 60) -> dict:
        def found():
            return next(
                (
                    r
                    for r in self.double.results
                    if r["type"] == event_type
                    and r["data"].get("booking_id") == booking_id
                    and r["data"].get("revision") == revision
                ),
                None,
            )

        return processes.wait_for(found, timeout=timeout, interval=0.1, what=f"{event_type} for {booking_id}")

    def meetings(self, booking_id: str) -> list[dict]:
        marker_of = self._marker(booking_id)
        return [m for m in self.sandbox.state()["zoom_meetings"] if marker_of in (m.get("agenda") or "")]

    def event(self, booking_id: str) -> dict | None:
        eid = event_id(self.site["site_id"], booking_id)
        return next((e for e in self.sandbox.state()["google_events"] if e["id"] == eid), None)

    def _marker(self, booking_id: str) -> str:
        import hashlib

        return "mb-" + hashlib.sha256(f"{self.site['site_id']}|{booking_id}".encode()).hexdigest()[:20]


def current_revision(env: Env, booking_id: str) -> int:
    return int(env.r.hget(keys.booking(env.site["site_id"], booking_id), "applied") or 0)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with site_stack(
        tmp_path_factory.mktemp("sync"),
        Env,
        consent="approve",
        link=(("zoom", STAFF), ("google", STAFF)),
        workers=1,
        MEETBRIDGE_WORKER_PROCESSES="3",
        MEETBRIDGE_SYNC_JOB_TIMEOUT="10",
        MEETBRIDGE_FAULT_INJECTION="1",
    ) as running:
        yield running


def event(kind: str, booking_id: str, revision: int, **changes) -> dict:
    return signing.event(kind, id=booking_id, revision=revision, **changes)


def test_create_reschedule_cancel(env):
    assert env.post(event("booking.created", "life", 1)).status_code == 202
    synced = env.result("booking.synced", "life", 1)["data"]
    meetings = env.meetings("life")
    assert len(meetings) == 1 and not meetings[0]["deleted"]
    meeting = meetings[0]
    assert synced["zoom"] == {"meeting_id": str(meeting["id"]), "join_url": meeting["join_url"]}
    assert meeting["settings"]["waiting_room"] is True and meeting["settings"]["join_before_host"] is False
    assert meeting["timezone"] == "Europe/Berlin" and meeting["start_time"] == "2030-12-01T09:00:00Z"
    calendar_event = env.event("life")
    assert calendar_event["status"] == "confirmed"
    assert (
        calendar_event["location"] == meeting["join_url"]
        and meeting["join_url"] in calendar_event["description"]
    )
    assert calendar_event["attendees"][0]["email"] == "cus@example.com"
    assert calendar_event["start"]["timeZone"] == "Europe/Berlin"
    assert synced["google"]["event_id"] == calendar_event["id"]
    status = env.status("life")
    assert status["state"] == "synced" and status["zoom"]["join_url"] == meeting["join_url"]
    assert status["google"]["html_link"] == calendar_event["htmlLink"]

    moved = {"start": "2030-12-02T15:00:00+01:00", "end": "2030-12-02T16:00:00+01:00"}
    assert env.post(event("booking.updated", "life", 2, **moved)).status_code == 202
    env.result("booking.synced", "life", 2)
    meetings = env.meetings("life")
    assert len(meetings) == 1 and meetings[0]["id"] == meeting["id"]
    assert meetings[0]["start_time"] == "2030-12-02T14:00:00Z" and meetings[0]["duration"] == 60
    moved_event = env.event("life")
    assert moved_event["id"] == calendar_event["id"] and moved_event["start"]["dateTime"].startswith(
        "2030-12-02T15"
    )
    assert len([e for e in env.sandbox.state()["google_events"] if e["id"] == calendar_event["id"]]) == 1

    assert env.post(event("booking.cancelled", "life", 3)).status_code == 202
    env.result("booking.cancelled", "life", 3)
    assert [m["deleted"] for m in env.meetings("life")] == [True]
    assert env.event("life")["status"] == "cancelled"
    status = env.status("life")
    assert status["state"] == "cancelled" and status["zoom"]["join_url"] is None


def test_events_out_of_order(env):
    # The update (rev 2) overtakes the create (rev 1); the create is then stale and ignored.
    assert env.post(event("booking.updated", "order", 2, title="Second")).status_code == 202
    assert env.post(event("booking.created", "order", 1, title="First")).json()["status"] == "ignored"
    env.result("booking.synced", "order", 2)
    assert len(env.meetings("order")) == 1 and env.meetings("order")[0]["topic"] == "Second"
    assert env.post(event("booking.cancelled", "order", 4)).status_code == 202
    late = env.post(event("booking.updated", "order", 3, title="Third"))
    assert late.status_code == 202 and late.json()["status"] == "ignored"
    env.result("booking.cancelled", "order", 4)
    assert env.status("order")["state"] == "cancelled"
    assert [m["deleted"] for m in env.meetings("order")] == [True]


def test_no_video_means_no_zoom_meeting(env):
    assert (
        env.post(event("booking.created", "novideo", 1, video="none", location="Room 4")).status_code == 202
    )
    data = env.result("booking.synced", "novideo", 1)["data"]
    assert env.meetings("novideo") == [] and data["zoom"] == {"meeting_id": None, "join_url": None}
    assert env.event("novideo")["location"] == "Room 4"


@pytest.mark.parametrize("point", ["after_zoom_create", "after_google_insert"])
def test_a_worker_killed_mid_sync_leaves_exactly_one_meeting_and_event(env, point):
    booking_id = f"crash-{point}"
    env.r.set(arm_key(point), 1)
    assert env.post(event("booking.created", booking_id, 1)).status_code == 202
    processes.wait_for(lambda: not env.r.exists(arm_key(point)), timeout=30, what="the crash point to fire")
    env.result("booking.synced", booking_id, 1, timeout=120)
    assert len(env.meetings(booking_id)) == 1
    assert (
        len(
            [
                e
                for e in env.sandbox.state()["google_events"]
                if e["id"] == event_id(env.site["site_id"], booking_id)
            ]
        )
        == 1
    )
    assert "killing worker" in env.stack.services["worker0"].log_text()
    synced = [
        r
        for r in env.double.results
        if r["type"] == "booking.synced" and r["data"]["booking_id"] == booking_id
    ]
    assert len(synced) == 1


@pytest.mark.parametrize(
    ("provider", "kind"), [("zoom", "429"), ("zoom", "500"), ("google", "rate_limit_403"), ("google", "429")]
)
def test_failure_bursts_are_retried_until_synced(env, provider, kind):
    booking_id = f"burst-{provider}-{kind}"
    env.sandbox.post("failures", {"provider": provider, "kind": kind, "count": 3, "retry_after": 1})
    assert env.post(event("booking.created", booking_id, 1)).status_code == 202
    env.result("booking.synced", booking_id, 1, timeout=90)
    assert len(env.meetings(booking_id)) == 1 and env.event(booking_id)["status"] == "confirmed"
    statuses = [c["status"] for c in env.sandbox.state()["calls"] if c["provider"] == provider]
    assert statuses.count(429 if kind == "429" else 403 if kind == "rate_limit_403" else 500) >= 3


def test_redis_restart_after_202_loses_nothing(env):
    env.stack.services["worker0"].signal(signal.SIGSTOP)  # nothing may pick the job up before the restart
    try:
        assert env.post(event("booking.created", "restart", 1)).status_code == 202
        env.redis.kill()
        env.redis.start()
    finally:
        env.stack.services["worker0"].signal(signal.SIGCONT)
    env.result("booking.synced", "restart", 1, timeout=90)
    assert len(env.meetings("restart")) == 1


def test_unlinked_staff_fails_clearly_and_nothing_is_created(env):
    staff9 = {"id": "9", "email": "nine@example.com", "name": "Nine"}
    assert env.post(event("booking.created", "unlinked", 1, staff=staff9)).status_code == 202
    failed = env.result("booking.sync_failed", "unlinked", 1)["data"]
    assert "no zoom account" in failed["reason"] and "staff 9" in failed["reason"]
    assert env.status("unlinked")["state"] == "failed"
    assert env.meetings("unlinked") == [] and env.event("unlinked") is None


def test_zoom_daily_limit_waits_for_the_reset(env):
    from rq import Queue
    from rq.job import Job
    from rq.registry import ScheduledJobRegistry

    env.sandbox.post("daily-limit", {"limit": 0})
    try:
        assert env.post(event("booking.created", "daily", 1)).status_code == 202
        status = processes.wait_for(
            lambda: (lambda s: s if "retrying in" in (s["last_error"] or "") else None)(env.status("daily")),
            what="the booking to wait for Zoom's reset",
        )
    finally:
        env.sandbox.post("daily-limit", {"limit": 100_000})
    assert status["state"] == "pending" and "daily rate limit" in status["last_error"]
    registry = ScheduledJobRegistry(queue=Queue("sync", connection=env.r))
    waits = [
        registry.get_scheduled_time(job.id)
        for job in Job.fetch_many(registry.get_job_ids(), connection=env.r)
        if job is not None and job.args[1] == "daily"
    ]
    assert len(waits) == 1
    # Retry-After of the daily limit runs to the next UTC midnight: the job waits until then.
    from datetime import UTC, datetime, timedelta

    midnight = (datetime.now(UTC) + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    assert abs((waits[0].replace(tzinfo=UTC) - midnight).total_seconds()) < 120
    assert env.meetings("daily") == []


def erase(env: Env, booking_id: str) -> dict:
    """`DELETE` the booking as the site, again while a sync holds its lock (503 busy)."""
    path = f"/v1/sites/{env.site['site_id']}/bookings/{booking_id}"

    def erased():
        answer = env.linker.signed("DELETE", path)
        assert answer.status_code in (200, 503), answer.text
        return answer.json() if answer.status_code == 200 else None

    return processes.wait_for(erased, timeout=60, interval=0.5, what=f"erasure of {booking_id}")


def live(env: Env, booking_id: str) -> list[dict]:
    return [m for m in env.meetings(booking_id) if not m["deleted"]]


def test_zoom_only_staff_booking_then_cancelled_then_erased_leaves_no_live_meeting(env):
    # The rule for partly linked staff: a Zoom booking gets its meeting and no event, and says so.
    assert env.linker.link("zoom", "zo")["meetbridge_status"] == "connected"
    zoom_only = {"id": "zo", "email": "zoom.only@example.com", "name": "Zoe Only"}
    for booking_id in ("zo-cancel", "zo-erase"):
        assert env.post(event("booking.created", booking_id, 1, staff=zoom_only)).status_code == 202
        synced = env.result("booking.synced", booking_id, 1)["data"]
        assert synced["google"] == {"event_id": None, "html_link": None, "skipped": "not_linked"}
        assert synced["zoom"]["join_url"] and len(live(env, booking_id)) == 1
        assert env.event(booking_id) is None
    assert env.post(event("booking.cancelled", "zo-cancel", 2, staff=zoom_only)).status_code == 202
    env.result("booking.cancelled", "zo-cancel", 2)
    assert live(env, "zo-cancel") == []
    assert erase(env, "zo-cancel")["zoom_meeting"] == "none"
    assert erase(env, "zo-erase")["zoom_meeting"] == "deleted"
    assert live(env, "zo-cancel") == [] and live(env, "zo-erase") == []


@pytest.mark.parametrize("point", ["after_zoom_create", "after_google_insert"])
def test_erasure_after_a_crash_between_create_and_record_leaves_nothing(env, point):
    booking_id = f"erase-{point}"
    env.r.set(arm_key(point), 1)
    assert env.post(event("booking.created", booking_id, 1)).status_code == 202
    processes.wait_for(lambda: not env.r.exists(arm_key(point)), timeout=30, what="the crash point to fire")
    worker = env.stack.services["worker0"]
    worker.signal(signal.SIGSTOP)  # no retry may record what the crashed attempt made before the erasure
    try:
        assert len(live(env, booking_id)) == 1
        lock = keys.booking_lock(env.site["site_id"], booking_id)
        processes.wait_for(lambda: not env.r.exists(lock), timeout=30, what="the dead worker's lock to lapse")
        answer = erase(env, booking_id)
        assert answer["zoom_meeting"] == "deleted"
        assert answer["google_event"] == ("deleted" if point == "after_google_insert" else "none")
        assert live(env, booking_id) == []
        calendar_event = env.event(booking_id)
        assert calendar_event is None or calendar_event["status"] == "cancelled"
    finally:
        worker.signal(signal.SIGCONT)


def test_a_provider_error_that_echoes_an_email_is_not_stored_logged_or_sent(env):
    echo = "echo.customer@example.com"
    env.sandbox.post(
        "failures",
        {
            "provider": "zoom",
            "kind": "400",
            "message": f"Invalid attendee: {echo}",
            "match": "/users/me/meetings",
        },
    )
    assert env.post(event("booking.created", "echo", 1)).status_code == 202
    failed = env.result("booking.sync_failed", "echo", 1)["data"]
    assert failed["reason"] == "zoom_rejected: Zoom refused the meeting (HTTP 400, code 300)"
    assert env.status("echo")["last_error"] == failed["reason"]
    assert echo.encode() not in processes.redis_dump(env.r)
    assert echo not in env.stack.logs() and echo not in json.dumps(env.double.results)


def test_a_retry_after_given_as_an_http_date_is_honoured(env):
    env.sandbox.post("failures", {"provider": "google", "kind": "429", "count": 1, "retry_after": 3,
                                  "retry_after_format": "http-date", "match": "/events"})  # fmt: skip
    assert env.post(event("booking.created", "http-date", 1)).status_code == 202
    env.result("booking.synced", "http-date", 1, timeout=90)
    calls = [c for c in env.sandbox.state()["calls"] if c["provider"] == "google" and "/events" in c["path"]]
    limited = max(i for i, c in enumerate(calls) if c["status"] == 429)
    waited = datetime.fromisoformat(calls[limited + 1]["at"]) - datetime.fromisoformat(calls[limited]["at"])
    assert waited.total_seconds() >= 1.5  # the date was waited for, not a backoff of a fraction of a second
    assert "ValueError" not in env.stack.logs() and "Traceback" not in env.stack.logs()


def test_invalid_grant_fails_the_booking_and_tells_the_site_twice(env):
    # Runs after every test that syncs for staff 7: the sandbox revokes every grant at once.
    # A second staff member whose Zoom grant dies: the booking fails, the account needs relinking.
    assert env.linker.link("zoom", "8")["meetbridge_status"] == "connected"
    assert env.linker.link("google", "8")["meetbridge_status"] == "connected"
    grants = [g for g in env.sandbox.state()["grants"] if g["provider"] == "zoom" and not g["revoked"]]
    env.sandbox.post("revoke-all")
    env.sandbox.post("expire-access-tokens")
    staff8 = {"id": "8", "email": "other@example.com", "name": "Other Staff"}
    assert env.post(event("booking.created", "relink", 1, staff=staff8)).status_code == 202
    failed = env.result("booking.sync_failed", "relink", 1)["data"]
    assert "linked again" in failed["reason"]
    relink = processes.wait_for(
        lambda: next((r for r in env.double.results if r["type"] == "account.needs_relink"), None),
        what="account.needs_relink",
    )
    assert relink["data"]["staff_id"] == "8"
    status = env.status("relink")
    assert status["state"] == "failed" and "linked again" in status["last_error"]
    accounts = {(a["provider"], a["staff_id"]): a["status"] for a in env.linker.accounts()}
    assert accounts[("zoom", "8")] == "needs_relink"
    assert grants  # the revoked grants existed


def test_results_verify_with_the_old_secret_during_a_rotation(env):
    # Runs after the relink test: the result is a failure (staff 9 is not linked), signed all the same.
    done = subprocess.run(
        [str(processes.BIN / "flask"), "--app", "service", "sites", "rotate-secret", env.site["site_id"],
         "--grace-hours", "1"],
        env=env.stack.env, cwd=processes.ROOT, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    new_secret = json.loads(done.stdout)["secret"]
    rejected = len(env.double.rejected)
    staff9 = {"id": "9", "email": "nine@example.com", "name": "Nine"}
    assert env.post(event("booking.created", "rotated", 1, staff=staff9)).status_code == 202
    result = env.result("booking.sync_failed", "rotated", 1)  # verified by the site with the OLD secret
    assert len(env.double.rejected) == rejected
    signed = result["signed"]
    assert len(signed["headers"]["webhook-signature"].split()) == 2
    for secret in (env.site["secret"], new_secret):  # and a site given the new one verifies it too
        key = webhooks.secret_bytes(secret)
        stamp = int(signed["headers"]["webhook-timestamp"])
        assert webhooks.verify([key], signed["headers"], signed["body"].encode(), now=stamp)
    assert new_secret not in env.stack.logs()


def test_nothing_personal_in_redis_or_logs(env):
    # Runs after the flows above (created, updated, cancelled, crashes, failures, relink).
    personal = [*signing.PERSONAL, "Other Staff", "other@example.com", "zoom.us/j/", "calendar/event?eid"]
    dump = processes.redis_dump(env.r)
    logs = env.stack.logs()
    for value in personal:
        assert value.encode() not in dump, value
        assert value not in logs, value
    for account in env.sandbox.state()["grants"]:
        assert "access_token" not in account


def test_worker_pool_size(env):
    master = env.stack.services["worker0"].proc.pid
    children = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    assert len(children) == 3
    assert json.loads(json.dumps(env.status("life")))["state"] == "cancelled"
