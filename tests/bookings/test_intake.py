"""The intake's job template writes what RQ itself writes, and a real worker runs those jobs."""

from __future__ import annotations

from rq import Queue
from rq.job import Job

from service.bookings.intake import JobTemplate, sync_job_options
from service.storage import redis_client
from workers.worker import MeetBridgeWorker


def _replay(connection, template: JobTemplate, args: tuple, description: str) -> None:
    """Run the template's Lua alone, as the intake script runs it after its own checks."""
    script = connection.register_script(template.lua(2) + "return 1")
    script(args=["padding", *template.values(args, description=description)])


def test_template_jobs_match_rq_jobs(app):
    connection = redis_client.get(app)
    queue = Queue("sync", connection=connection)
    options = sync_job_options(120)
    args = ("site_x", "b1", 3, "booking.updated", b"\x01sealed")
    template = JobTemplate(queue, "workers.sync.sync_booking", options)
    _replay(connection, template, args, "sync booking.updated")
    own = queue.enqueue_call(
        "workers.sync.sync_booking",
        args=args,
        description="sync booking.updated",
        timeout=options["timeout"],
        result_ttl=options["result_ttl"],
        failure_ttl=options["failure_ttl"],
        retry=options["retry"],
        on_failure=options["on_failure"],
    )
    ids = queue.get_job_ids()
    assert len(ids) == 2 and own.id in ids
    made = Job.fetch(next(i for i in ids if i != own.id), connection=connection)
    assert (made.func_name, made.args, made.kwargs) == (own.func_name, own.args, own.kwargs)
    assert (made.timeout, made.result_ttl, made.failure_ttl) == (own.timeout, own.result_ttl, own.failure_ttl)
    assert (made.retries_left, made.retry_intervals) == (own.retries_left, own.retry_intervals)
    assert made.failure_callback == own.failure_callback and made.get_status() == own.get_status()
    raw_made = connection.hgetall(made.key)
    raw_own = connection.hgetall(own.key)
    varying = {b"created_at", b"enqueued_at", b"data"}
    assert {k: v for k, v in raw_made.items() if k not in varying} == {
        k: v for k, v in raw_own.items() if k not in varying
    }
    assert made.data == own.data  # ours is left uncompressed: RQ reads either


def test_a_worker_runs_template_jobs(app):
    connection = redis_client.get(app)
    queue = Queue("maintenance", connection=connection)
    template = JobTemplate(queue, "operator.add", {"result_ttl": 60})
    _replay(connection, template, (2, 3), "add")
    with app.app_context():
        MeetBridgeWorker([queue], connection=connection).work(burst=True)
    finished = queue.finished_job_registry.get_job_ids()
    assert len(finished) == 1
    assert Job.fetch(finished[0], connection=connection).return_value() == 5
