"""Workers as the operator sees them: jobs that gave up stay visible (`flask --app service failed-jobs`,
/metrics), and every log line of a job carries its id."""

from __future__ import annotations

import json

from rq import Queue

from service.storage import redis_client
from workers.worker import MeetBridgeWorker


def test_a_job_that_gave_up_is_listed_and_counted(app, runner, client):
    connection = redis_client.get(app)
    queue = Queue("deliver", connection=connection)
    queue.enqueue("json.loads", "site_abc", description="deliver that fails")  # not JSON: raises
    with app.app_context():
        MeetBridgeWorker([queue], connection=connection).work(burst=True)
    result = runner.invoke(args=["failed-jobs"])
    assert result.exit_code == 0, result.output
    listed = json.loads(result.output)
    assert [(job["queue"], job["function"], job["site_id"]) for job in listed] == [
        ("deliver", "json.loads", "site_abc")
    ]
    assert "JSONDecodeError" in listed[0]["error"]
    assert 'meetbridge_failed_jobs{queue="deliver"} 1.0' in client.get("/metrics").get_data(as_text=True)


def test_nothing_failed_lists_nothing(runner, client):
    assert json.loads(runner.invoke(args=["failed-jobs"]).output) == []
    assert 'meetbridge_failed_jobs{queue="sync"} 0.0' in client.get("/metrics").get_data(as_text=True)


def test_job_log_lines_carry_the_job_id(app, caplog):
    connection = redis_client.get(app)
    queue = Queue("maintenance", connection=connection)
    job = queue.enqueue("workers.heartbeat.beat")
    caplog.set_level("INFO")
    from service.logs import CorrelationFilter

    caplog.handler.addFilter(CorrelationFilter())
    with app.app_context():
        MeetBridgeWorker([queue], connection=connection).work(burst=True)
    stamped = {record.request_id for record in caplog.records if job.id in record.getMessage()}
    assert job.id in stamped
