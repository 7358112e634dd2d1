"""Cleanup rules with time travel (time-machine): the real cleanup function against a real redis-server
and the sandbox (in a thread), accounts linked through the sandbox's OAuth flow, bookings recorded by the
sync engine's `settle()`. Redis's own clock is not moved: retention is checked through the expiry time
set on a record, and through records whose retention window has already passed."""

from __future__ import annotations

import json
import threading
import time

import pytest
import time_machine
from rq import Queue, SimpleWorker
from rq.registry import FailedJobRegistry

from service.sites import settings_api
from service.storage import keys, queues, redis_client
from tests import cleanup_env
from tests.cleanup_env import STAFF, World
from workers import cleanup

sandbox_url = cleanup_env.sandbox_url  # fixtures
world = cleanup_env.world

T0 = 1_800_000_000  # 2027-01-15 08:00 UTC: a booking's end in these tests


def run_at(w: World, when: float, **options) -> cleanup.Report:
    with time_machine.travel(when, tick=False), w.app.app_context():
        return cleanup.run(redis_client.get(), **options)


def member(w: World, booking_id: str) -> str:
    return f"{w.site_id}|{booking_id}"


def test_meeting_is_deleted_after_end_plus_grace_and_the_record_expires_after_retention(world):
    w = world
    meeting_id = w.booking("b1", T0)
    r = w.r
    key = keys.booking(w.site_id, "b1")
    assert r.zscore(keys.MEETINGS_DUE, member(w, "b1")) == T0 + 3600  # default grace: 60 minutes
    assert r.hget(keys.ZOOM_MEETINGS, meeting_id) == member(w, "b1").encode()
    assert r.hget(key, "join") and r.hget(key, "staff") == STAFF.encode()

    report = run_at(w, T0 + 3599)
    assert report.meetings_deleted == 0 and not w.meeting_deleted(meeting_id)
    assert r.ttl(key) == -1

    report = run_at(w, T0 + 3601)
    assert report.meetings_deleted == 1 and report.bookings_cleaned == 1
    assert w.meeting_deleted(meeting_id)
    record = r.hgetall(key)
    assert b"join" not in record and b"glink" not in record and b"error" not in record
    assert record[b"zoom_id"] == meeting_id.encode() and record[b"state"] == b"synced"  # metadata kept
    assert record[b"created"] == b"1700000000"
    assert r.expiretime(key) == T0 + 30 * 86400  # default retention: 30 days after the end
    assert r.object("encoding", key) == b"listpack"  # compact again without the sealed values
    assert r.memory_usage(key, samples=0) <= 260
    assert r.zscore(keys.MEETINGS_DUE, member(w, "b1")) is None
    assert r.hget(keys.ZOOM_MEETINGS, meeting_id) is None

    again = run_at(w, T0 + 7200)  # idempotent: nothing left to do
    assert again.meetings_deleted == 0 and len(w.delete_calls(meeting_id)) == 1


def test_a_record_past_its_retention_window_is_purged_at_once(world):
    w = world
    meeting_id = w.booking("old", T0)
    report = run_at(w, T0 + 30 * 86400 + 1)
    assert report.meetings_deleted == 1 and report.bookings_purged == 1
    assert w.meeting_deleted(meeting_id)
    assert not w.r.exists(keys.booking(w.site_id, "old"))


def test_per_site_grace_and_retention(world):
    w = world
    with w.app.app_context():
        settings_api.save(redis_client.get(), w.site_id, {"grace_minutes": 5, "retention_days": 2})
    meeting_id = w.booking("short", T0)
    assert w.r.zscore(keys.MEETINGS_DUE, member(w, "short")) == T0 + 300
    assert run_at(w, T0 + 299).meetings_deleted == 0
    assert run_at(w, T0 + 301).meetings_deleted == 1 and w.meeting_deleted(meeting_id)
    assert w.r.expiretime(keys.booking(w.site_id, "short")) == T0 + 2 * 86400


def test_a_meeting_already_gone_at_zoom_counts_as_done(world):
    w = world
    meeting_id = w.booking("gone", T0)
    w.zoom().delete(w.zoom_token["access_token"], meeting_id)
    report = run_at(w, T0 + 4000)
    assert report.meetings_already_gone == 1 and report.bookings_cleaned == 1
    assert w.r.zscore(keys.MEETINGS_DUE, member(w, "gone")) is None


def test_a_provider_failure_leaves_the_meeting_due_for_the_next_run(world, monkeypatch):
    w = world
    monkeypatch.setattr("service.providers.clients.MAX_INLINE_WAIT", 0.0)  # no sleeping in the job
    meeting_id = w.booking("flaky", T0)
    w.sb.knob("failures", {"provider": "zoom", "kind": "500", "count": 50, "match": "/meetings/"})
    report = run_at(w, T0 + 4000)
    assert report.retried_later == 1 and report.meetings_deleted == 0
    assert not w.meeting_deleted(meeting_id)
    assert w.r.zscore(keys.MEETINGS_DUE, member(w, "flaky")) == T0 + 4000 + cleanup.RETRY
    assert w.r.hget(keys.booking(w.site_id, "flaky"), "join")  # kept until the meeting is gone
    assert run_at(w, T0 + 4030).meetings_deleted == 0  # not due again within the same minute
    requests_delete_failures(w)
    assert run_at(w, T0 + 4061).meetings_deleted == 1 and w.meeting_deleted(meeting_id)


def requests_delete_failures(w: World) -> None:
    import requests

    assert requests.delete(w.sb.url("/_sandbox/failures"), timeout=10).status_code == 200


def test_a_booking_rescheduled_after_its_claim_is_left_alone(world):
    w = world
    meeting_id = w.booking("moved", T0)
    claims = cleanup.Claims(w.r, keys.MEETINGS_DUE)
    lease, taken = claims.take(T0 + 4000, 10)
    assert [m for m, _ in taken] == [member(w, "moved")]
    w.r.zadd(keys.MEETINGS_DUE, {member(w, "moved"): T0 + 86400})  # a sync moved it meanwhile
    with time_machine.travel(T0 + 4000, tick=False), w.app.app_context():
        report = cleanup.Report()
        cleanup._booking(
            w.r, claims, w.r.register_script(cleanup._FINISH), keys.MEETINGS_DUE,
            member(w, "moved"), lease, T0 + 3600, T0 + 4000, report,
        )  # fmt: skip
    assert report.skipped == 1 and not w.meeting_deleted(meeting_id)


@pytest.mark.parametrize("use_lock", [True, False], ids=["locked", "lease-lapsed"])
def test_overlapping_runs_delete_every_due_meeting_exactly_once(world, use_lock, monkeypatch):
    w = world
    monkeypatch.setattr(cleanup, "BATCH", 20)
    meeting_ids = [w.booking(f"o{i}", T0 - i) for i in range(120)]
    future = w.booking("future", T0 + 86400)
    w.sb.knob("latency", {"ms": 2})
    reports: list[cleanup.Report] = []
    start = threading.Barrier(2)

    def one_run():
        start.wait()
        reports.append(run_at(w, T0 + 3700, use_lock=use_lock))

    threads = [threading.Thread(target=one_run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert len(reports) == 2
    assert sum(r.meetings_deleted for r in reports) == 120
    assert sum(r.meetings_already_gone for r in reports) == 0
    if use_lock:
        assert sorted(r.locked_out for r in reports) == [False, True]
    for meeting_id in meeting_ids:
        assert w.meeting_deleted(meeting_id)
        assert len(w.delete_calls(meeting_id)) == 1, meeting_id
    assert not w.meeting_deleted(future)
    assert w.r.zcard(keys.MEETINGS_DUE) == 1


def fail_for_the_test() -> None:
    raise RuntimeError("failing on purpose")


def test_failed_jobs_keep_their_payload_at_most_seven_days(world):
    w = world
    r = w.r
    queue = Queue(queues.DELIVER, connection=r)
    kept_by_rq = queue.enqueue(fail_for_the_test, failure_ttl=cleanup.FAILED_JOB_MAX_AGE)
    default_ttl = queue.enqueue(fail_for_the_test)  # RQ's default failure_ttl: a year
    SimpleWorker([queue], connection=r).work(burst=True)
    registry = FailedJobRegistry(queues.DELIVER, connection=r)
    assert set(registry.get_job_ids()) == {kept_by_rq.id, default_ttl.id}
    assert 0 < r.ttl(kept_by_rq.key) <= cleanup.FAILED_JOB_MAX_AGE  # RQ's expiry deletes it
    assert r.ttl(default_ttl.key) > 300 * 86400
    now = time.time()
    report = run_at(w, now)
    assert report.failed_jobs_shortened == 1
    assert 0 < r.ttl(default_ttl.key) <= cleanup.FAILED_JOB_MAX_AGE
    assert r.zscore(registry.key, default_ttl.id) <= now + cleanup.FAILED_JOB_MAX_AGE
    # Past the 7 days the registry entries go too (the job hashes expired by then).
    run_at(w, now + cleanup.FAILED_JOB_MAX_AGE + 10)
    assert r.zcard(registry.key) == 0


def test_idempotency_records_and_locks_expire_on_their_own(world):
    from tests import signing

    w = world
    client = w.app.test_client()
    body = signing.body_of(signing.event())
    path = f"/v1/sites/{w.site_id}/events"
    answer = client.post(path, data=body, headers=signing.headers(w.site["secret"], body, msg_id="msg_ttl"))
    assert answer.status_code == 202
    ttl = w.r.ttl(keys.idempotency(w.site_id, "msg_ttl"))
    assert 72 * 3600 <= ttl <= 73 * 3600
    run_at(w, time.time())
    assert w.r.ttl(keys.CLEANUP_LOCK) == -2  # released
    for key in w.r.scan_iter(match="mb:*"):
        if b":idem:" in key or b":seen:" in key or b"lock" in key:
            assert w.r.ttl(key) > 0, key


def test_account_health_checks_are_queued_daily(world):
    w = world
    r = w.r
    now = time.time()
    first = run_at(w, now)
    assert first.accounts_checks_queued == 2  # the Zoom and the Google account
    jobs = Queue(queues.MAINTENANCE, connection=r).jobs
    assert sorted(job.args for job in jobs if job.func_name.endswith("check_account")) == [
        (w.site_id, "google", STAFF),
        (w.site_id, "zoom", STAFF),
    ]
    assert run_at(w, now + 3600).accounts_checks_queued == 0
    r.hset(keys.account(w.site_id, "google", STAFF), "status", "needs_relink")
    assert run_at(w, now + 86400 + 1).accounts_checks_queued == 1  # only the active one


def test_cleanup_once_prints_its_counts(world):
    w = world
    meeting_id = w.booking("cli", int(time.time()) - 7200)
    result = w.app.test_cli_runner().invoke(args=["cleanup", "--once"])
    assert result.exit_code == 0, result.output
    counts = json.loads(result.output)
    assert counts["meetings_deleted"] == 1 and counts["locked_out"] is False
    assert w.meeting_deleted(meeting_id)
    assert w.app.test_cli_runner().invoke(args=["cleanup"]).exit_code != 0  # --once is required
