"""Never lost, never stuck: each way a job can vanish, through the real stack (gunicorn, a pool of RQ
worker processes, `flask cron` with the reconciler, redis-server, the sandbox), ends with the
booking settled within 60 s, exactly one meeting and event, and the result delivered."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from service.storage import keys, ledger
from tests import processes
from tests.site_stack import site_stack
from tests.workers.test_sync_stack import Env, event
from workers.faults import arm_key

pytestmark = pytest.mark.stack

STAFF = "7"
#: The promise: a job killed at any point finishes within this long of the kill.
RECOVERY = 60


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with site_stack(
        tmp_path_factory.mktemp("ledger"),
        Env,
        consent="approve",
        link=(("zoom", STAFF), ("google", STAFF)),
        workers=1,
        cron=True,
        MEETBRIDGE_WORKER_PROCESSES="3",
        MEETBRIDGE_SYNC_JOB_TIMEOUT="60",
        MEETBRIDGE_FAULT_INJECTION="1",
    ) as running:
        yield running


def owed(env: Env, booking_id: str) -> bool:
    return env.r.zscore(ledger.BOOKINGS, ledger.member(env.site["site_id"], booking_id)) is not None


def worker_pids(env: Env) -> set[int]:
    """Pids of the pool's live RQ worker processes (from RQ's worker registry)."""
    pids = set()
    for name in env.r.smembers("rq:workers"):
        pid = env.r.hget(b"rq:worker:" + name.split(b":")[-1], "pid")
        if pid and Path(f"/proc/{int(pid)}").exists():
            pids.add(int(pid))
    return pids


def scheduler_holder(env: Env) -> int:
    """The pid of the worker whose forked child holds RQ's scheduler lock."""

    def found():
        name = env.r.get("rq:scheduler-lock:sync")
        pid = env.r.hget(b"rq:scheduler:" + name, "pid") if name else None
        if not pid or not Path(f"/proc/{int(pid)}").exists():
            return None
        status = Path(f"/proc/{int(pid)}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("PPid:")))

    return processes.wait_for(found, timeout=30, what="RQ's scheduler to start in a worker")


def test_a_job_queued_after_the_scheduler_holding_worker_is_killed_idle_is_not_lost(env):
    holder = scheduler_holder(env)
    assert holder in worker_pids(env)
    time.sleep(1)  # idle, waiting in BLPOP
    os.kill(holder, signal.SIGKILL)
    killed_at = time.monotonic()
    ids = [f"idle-kill-{n}" for n in range(6)]
    for booking_id in ids:
        assert env.post(event("booking.created", booking_id, 1)).status_code == 202
    for booking_id in ids:
        env.result("booking.synced", booking_id, 1, timeout=RECOVERY)
        assert len(env.meetings(booking_id)) == 1 and not owed(env, booking_id)
    assert time.monotonic() - killed_at < RECOVERY


def test_a_job_dropped_from_its_queue_is_put_back_by_the_reconciler(env):
    """A job handed to a connection nobody reads is in no queue and no registry: the ledger finds it."""
    env.stack.services["worker0"].stop()  # (a stopped worker's BLPOP would still take the job)
    try:
        assert env.post(event("booking.created", "dropped", 1)).status_code == 202
        job_id = env.r.hget(keys.booking(env.site["site_id"], "dropped"), "job")
        assert env.r.lrem("rq:queue:sync", 0, job_id) == 1  # as a dead connection's BLPOP would
    finally:
        env.stack.start_worker(0)
    dropped_at = time.monotonic()
    env.result("booking.synced", "dropped", 1, timeout=RECOVERY)
    assert time.monotonic() - dropped_at < RECOVERY
    assert len(env.meetings("dropped")) == 1 and env.event("dropped")["status"] == "confirmed"
    assert int(env.r.hget(keys.booking(env.site["site_id"], "dropped"), "heals") or 0) == 0  # reset
    assert "put back (its job was lost)" in env.stack.services["cron"].log_text()


def test_a_kill_mid_sync_recovers_although_rq_left_its_clean_registries_lock(env):
    for queue in ("sync", "deliver", "maintenance"):  # as a worker killed inside clean_registries leaves
        env.r.set(f"rq:clean_registries:{queue}", 1, ex=899)
    env.r.set(arm_key("after_zoom_create"), 1)
    assert env.post(event("booking.created", "stalled", 1)).status_code == 202
    processes.wait_for(lambda: not env.r.exists(arm_key("after_zoom_create")), timeout=30, what="the kill")
    killed_at = time.monotonic()
    env.result("booking.synced", "stalled", 1, timeout=RECOVERY)
    assert time.monotonic() - killed_at < RECOVERY
    assert len(env.meetings("stalled")) == 1 and env.event("stalled")["status"] == "confirmed"
    assert env.status("stalled")["state"] == "synced" and not owed(env, "stalled")


def test_a_redis_error_at_lock_release_ends_the_attempt_not_the_worker(env):
    before = worker_pids(env)
    env.r.set(arm_key("release_booking_lock"), 1)
    assert env.post(event("booking.created", "release", 1)).status_code == 202
    env.result("booking.synced", "release", 1, timeout=RECOVERY)
    assert not env.r.exists(arm_key("release_booking_lock"))
    logs = env.stack.services["worker0"].log_text()
    assert "not released (ConnectionError); it lapses" in logs
    # The next event of the booking is not blocked by the lock for the job's timeout (60 s here).
    assert env.post(event("booking.updated", "release", 2, start="2030-12-01T11:00:00+01:00",
                          end="2030-12-01T11:30:00+01:00")).status_code == 202  # fmt: skip
    env.result("booking.synced", "release", 2, timeout=30)
    assert worker_pids(env) == before, "a worker process was replaced"


def test_a_cancel_killed_between_the_zoom_and_google_deletes_finishes_the_google_delete(env):
    assert env.post(event("booking.created", "half", 1)).status_code == 202
    env.result("booking.synced", "half", 1)
    env.r.set(arm_key("between_cancel_deletes"), 1)
    assert env.post(event("booking.cancelled", "half", 2)).status_code == 202
    processes.wait_for(lambda: not env.r.exists(arm_key("between_cancel_deletes")), timeout=30, what="kill")
    killed_at = time.monotonic()
    env.result("booking.cancelled", "half", 2, timeout=RECOVERY)
    assert time.monotonic() - killed_at < RECOVERY
    assert all(m["deleted"] for m in env.meetings("half"))
    assert env.event("half")["status"] == "cancelled"
    assert env.status("half")["state"] == "cancelled" and not owed(env, "half")


def test_a_reschedule_after_a_kill_between_the_zoom_create_and_its_record_moves_the_meeting(env):
    """The meeting a killed attempt created (found again by its marker) is brought up to the revision
    that adopts it, not left at the times of the revision that created it."""
    env.r.set(arm_key("after_zoom_create"), 1)
    assert env.post(event("booking.created", "adopted", 1)).status_code == 202
    processes.wait_for(lambda: not env.r.exists(arm_key("after_zoom_create")), timeout=30, what="the kill")
    killed_at = time.monotonic()
    moved = {"start": "2030-12-03T15:00:00+01:00", "end": "2030-12-03T16:00:00+01:00"}
    assert env.post(event("booking.updated", "adopted", 2, **moved)).status_code == 202
    env.result("booking.synced", "adopted", 2, timeout=RECOVERY)
    assert time.monotonic() - killed_at < RECOVERY
    meetings = env.meetings("adopted")
    assert len(meetings) == 1 and not meetings[0]["deleted"]
    assert meetings[0]["start_time"] == "2030-12-03T14:00:00Z" and meetings[0]["duration"] == 60
    assert env.event("adopted")["start"]["dateTime"].startswith("2030-12-03T15:00")


def test_a_delivery_killed_mid_attempt_reaches_the_site_within_the_bound(env):
    """A delivery attempt whose worker died is put back once it has been running longer than a live
    one can (RQ stops it at its timeout), not a minute or more after it started."""
    env.r.set(arm_key("before_result_post"), 1)
    assert env.post(event("booking.created", "told", 1)).status_code == 202
    processes.wait_for(lambda: not env.r.exists(arm_key("before_result_post")), timeout=30, what="the kill")
    killed_at = time.monotonic()
    assert not [r for r in env.double.results if r["data"].get("booking_id") == "told"]
    env.result("booking.synced", "told", 1, timeout=RECOVERY + 30)
    assert time.monotonic() - killed_at < RECOVERY
    assert not owed(env, "told")


def test_the_operator_sees_what_is_owed(env):
    worker = env.stack.services["worker0"]
    worker.signal(signal.SIGSTOP)
    try:
        assert env.post(event("booking.created", "waiting", 1)).status_code == 202
        listed = processes.wait_for(lambda: _ledger_cli(env), timeout=30, what="the ledger command")
        entry = next(e for e in listed["bookings"]["entries"] if e["booking_id"] == "waiting")
        assert entry["site_id"] == env.site["site_id"] and "revision 1 not settled" in entry["why"]
        status, body = env.stack.get("/metrics")
        assert status == 200
        assert b'meetbridge_ledger_owed{kind="bookings"}' in body
    finally:
        worker.signal(signal.SIGCONT)
    env.result("booking.synced", "waiting", 1, timeout=RECOVERY)
    assert not owed(env, "waiting")


def _ledger_cli(env: Env) -> dict | None:
    import subprocess

    out = subprocess.run(
        [str(processes.BIN / "flask"), "--app", "service", "ledger"],
        env=env.stack.env, capture_output=True, text=True, check=True, cwd=processes.ROOT,
    )  # fmt: skip
    return json.loads(out.stdout)
