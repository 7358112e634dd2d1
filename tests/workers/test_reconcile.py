"""The reconciler against a real redis-server: what it leaves alone, what it puts back (the same job,
by its id), what it fails, and that two at once never act on the same entry."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from rq import Queue
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from service import vault_keys
from service.bookings.intake import Intake
from service.sites import registry, results
from service.storage import keys, ledger, redis_client
from workers import reconcile

LATER = 3 * ledger.LEASE  # a pass this far in the future sees everything owed now as due


@pytest.fixture
def ctx(app):
    with app.app_context():
        r = redis_client.get()
        site = registry.create(r, vault_keys.get(), "Shop", "https://shop.example")
        yield r, site["site_id"]


def accept(r, site_id: str, booking_id: str = "b1", revision: int = 1) -> str:
    """A booking event accepted by the real intake script; returns its job id."""
    version = r.hget(keys.site(site_id), "ver").decode()
    Intake(r, "sync", 60).accept(
        site_id=site_id, site_version=version, webhook_id=f"w-{booking_id}-{revision}",
        event_type="booking.created", booking_id=booking_id, revision=revision, sealed=b"sealed",
    )  # fmt: skip
    return r.hget(keys.booking(site_id, booking_id), "job").decode()


def owed(r, site_id: str, booking_id: str = "b1") -> float | None:
    return r.zscore(ledger.BOOKINGS, ledger.member(site_id, booking_id))


def queued(r) -> list[str]:
    return [raw.decode() for raw in r.lrange("rq:queue:sync", 0, -1)]


def test_the_intake_owes_the_booking_and_names_its_job(ctx):
    r, site_id = ctx
    before = time.time()
    job_id = accept(r, site_id)
    assert queued(r) == [job_id]
    assert before + ledger.LEASE <= owed(r, site_id) <= time.time() + ledger.LEASE


def test_nothing_is_looked_at_before_its_lease_lapses(ctx):
    r, site_id = ctx
    accept(r, site_id)
    r.lrem("rq:queue:sync", 0, queued(r)[0])
    assert reconcile.run(r).looked_at == 0
    assert queued(r) == []


def test_a_lost_job_is_put_back_by_its_id_once(ctx):
    r, site_id = ctx
    job_id = accept(r, site_id)
    r.lrem("rq:queue:sync", 0, job_id)  # handed to a connection nobody reads
    report = reconcile.run(r, now=time.time() + LATER)
    assert report.requeued == 1 and queued(r) == [job_id]
    assert r.hget(keys.booking(site_id, "b1"), "heals") == b"1"
    assert reconcile.run(r, now=time.time() + 2 * LATER).waiting == 1  # now in its queue: left alone
    assert queued(r) == [job_id]


def test_a_running_job_is_left_alone(ctx):
    r, site_id = ctx
    job_id = accept(r, site_id)
    r.lrem("rq:queue:sync", 0, job_id)
    r.set(keys.booking_lock(site_id, "b1"), "token", ex=15)  # a live job holds the booking
    assert reconcile.run(r, now=time.time() + LATER).running == 1
    assert queued(r) == [] and owed(r, site_id) > time.time()


def test_an_abandoned_job_leaves_rqs_started_registry_and_runs_again(ctx):
    r, site_id = ctx
    job_id = accept(r, site_id)
    r.lrem("rq:queue:sync", 0, job_id)
    job = Job.fetch(job_id, connection=r)
    job.set_status(JobStatus.STARTED)
    started = StartedJobRegistry("sync", connection=r)
    r.zadd(started.key, {f"{job_id}:exec1": time.time() + 100})  # its worker was killed; no lock left
    assert reconcile.run(r, now=time.time() + LATER).requeued == 1
    assert queued(r) == [job_id] and r.zcard(started.key) == 0
    assert Job.fetch(job_id, connection=r).get_status() == JobStatus.QUEUED


def test_a_scheduled_job_waits_until_it_is_overdue(ctx):
    r, site_id = ctx
    job_id = accept(r, site_id)
    r.lrem("rq:queue:sync", 0, job_id)
    queue = Queue("sync", connection=r)
    scheduled = ScheduledJobRegistry("sync", connection=r)
    queue.schedule_job(Job.fetch(job_id, connection=r), _utc(time.time() + 2 * LATER))
    assert reconcile.run(r, now=time.time() + LATER).waiting == 1
    assert queued(r) == []
    r.zadd(scheduled.key, {job_id: time.time() - LATER})  # due long ago, and no scheduler moved it
    assert reconcile.run(r, now=time.time() + 2 * LATER).requeued == 1
    assert queued(r) == [job_id] and r.zcard(scheduled.key) == 0


def test_settled_and_erased_bookings_leave_the_ledger(ctx):
    r, site_id = ctx
    accept(r, site_id, "done")
    r.hset(keys.booking(site_id, "done"), "applied", 1)
    accept(r, site_id, "erased")
    r.delete(keys.booking(site_id, "erased"))
    assert reconcile.run(r, now=time.time() + LATER).settled == 2
    assert r.zcard(ledger.BOOKINGS) == 0


def test_a_booking_whose_job_is_gone_is_failed_not_left_pending(ctx):
    r, site_id = ctx
    job_id = accept(r, site_id)
    r.lrem("rq:queue:sync", 0, job_id)
    Job.fetch(job_id, connection=r).delete()
    assert reconcile.run(r, now=time.time() + LATER).failed == 1
    record = r.hgetall(keys.booking(site_id, "b1"))
    assert record[b"state"] == b"failed" and b"lost" in record[b"error"]
    assert owed(r, site_id) is None
    assert r.zcard(ledger.RESULTS) == 1  # the site is told


def test_a_booking_put_back_too_often_is_failed(ctx):
    r, site_id = ctx
    job_id = accept(r, site_id)
    r.lrem("rq:queue:sync", 0, job_id)
    r.hset(keys.booking(site_id, "b1"), "heals", reconcile.MAX_HEALS)
    assert reconcile.run(r, now=time.time() + LATER).failed == 1
    assert queued(r) == [] and r.hget(keys.booking(site_id, "b1"), "state") == b"failed"


def test_two_reconcilers_never_act_on_the_same_entry(ctx):
    r, site_id = ctx
    job_id = accept(r, site_id)
    r.lrem("rq:queue:sync", 0, job_id)
    now = time.time() + LATER
    raw = ledger.due(r, "bookings", now, 10)[0]
    first, second = ledger.Claims(r), ledger.Claims(r)
    assert first.claim("bookings", raw, now) is True
    assert second.claim("bookings", raw, now) is False
    assert reconcile.run(r, now=now).looked_at == 0  # claimed: not due again for a lease


def test_owed_results_are_put_back_or_forgotten(ctx):
    r, site_id = ctx
    lost = results.enqueue_result(r, site_id, "booking.synced", {"booking_id": "b1"})
    done = results.enqueue_result(r, site_id, "booking.synced", {"booking_id": "b2"})
    r.lrem("rq:queue:deliver", 0, lost)
    r.lrem("rq:queue:deliver", 0, done)
    Job.fetch(done, connection=r).delete()  # delivered, and its record expired
    report = reconcile.run(r, now=time.time() + LATER)
    assert (report.requeued, report.settled) == (1, 1)
    assert [raw.decode() for raw in r.lrange("rq:queue:deliver", 0, -1)] == [lost]
    assert r.zrange(ledger.RESULTS, 0, -1) == [ledger.member(site_id, lost).encode()]


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)
