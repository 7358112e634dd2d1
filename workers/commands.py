"""Worker-side commands under the Flask CLI, so they share the app's settings and logging:

- `flask --app service worker`: an RQ worker (with RQ's scheduler for retries) on every queue;
- `flask --app service cron`: RQ's cron scheduler (`rq cron`) running `workers/schedule.py`, and the
  reconciler (workers/reconcile.py) every few seconds beside it;
- both start their RQ worker or scheduler again after a Redis error (a Sentinel failover), as RQ's
  WorkerPool does for its processes, instead of exiting;
- `flask --app service cleanup --once`: one cleanup pass, for operators who schedule it with system cron.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import threading
import time

import click
import redis
from flask import Flask, current_app
from flask.cli import with_appcontext
from rq.cron import CronScheduler
from rq.job import Job
from rq.worker_pool import WorkerPool

from service.providers import clients
from service.storage import queues, redis_client
from workers import cleanup, reconcile
from workers.worker import MeetBridgeWorker

log = logging.getLogger(__name__)

#: Seconds before a worker that stopped on an error (not on a stop request) starts again.
RESTART_DELAY = 2


@click.command("worker")
@with_appcontext
@click.option("--burst", is_flag=True, help="Quit once the queues are empty.")
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=lambda: int(os.environ.get("MEETBRIDGE_WORKER_PROCESSES", "4")),
    show_default="MEETBRIDGE_WORKER_PROCESSES or 4",
    help="Worker processes, each running one job at a time.",
)
def worker_command(burst: bool, processes: int) -> None:
    """Run RQ workers (with RQ's scheduler) on the sync, deliver and maintenance queues."""
    connection = redis_client.get()
    level = current_app.config["LOG_LEVEL"]
    # Build the provider clients before forking (the children share those pages instead of each
    # building its own on its first job), then keep these long-lived objects out of the garbage
    # collector's way.
    clients.zoom()
    clients.calendar()
    _reconcile_once(connection)  # what a killed worker group left owed runs again now
    gc.freeze()
    log.info("%d worker process(es) listening on %s", processes, ", ".join(queues.ALL))
    if processes == 1:
        _work_until_stopped(connection, burst, level)
        return
    pool = WorkerPool(
        list(queues.ALL), connection=connection, num_workers=processes, worker_class=MeetBridgeWorker
    )
    pool.start(burst=burst, logging_level=level)


def _work_until_stopped(connection, burst: bool, level: str) -> None:
    """One worker in this process, started again when RQ gave up on an error (Redis unreachable for
    longer than its retries, a failover mid-command) rather than on a stop request: what WorkerPool
    does for its processes. Each new connection asks the Sentinels for the current primary."""
    while True:
        worker = None
        try:
            worker = MeetBridgeWorker(queues.all_queues(connection), connection=connection)
            worker.work(burst=burst, with_scheduler=True, logging_level=level)
        except redis.exceptions.RedisError as exc:  # at start-up, or in RQ's teardown (register_death)
            log.warning("worker: %s", type(exc).__name__)
        if burst or (worker is not None and worker._stop_requested):  # RQ's flag for SIGTERM/SIGINT
            return
        log.warning("worker stopped on an error; starting again in %d s", RESTART_DELAY)
        time.sleep(RESTART_DELAY)
        if worker is not None and worker._stop_requested:  # RQ's handlers still catch a stop meanwhile
            return


@click.command("cron")
@with_appcontext
def cron_command() -> None:
    """Run RQ's cron scheduler with MeetBridge's schedule (workers/schedule.py). A Redis error (Redis
    unreachable longer than the client's retries, a failover) starts the scheduler again, on a
    connection to whichever primary the Sentinels then name; a stop request ends it."""
    stop = threading.Event()
    app = current_app._get_current_object()
    threading.Thread(target=reconcile.loop, args=(app,), kwargs={"stop": stop}, daemon=True).start()
    try:
        while True:
            scheduler = CronScheduler(connection=redis_client.get(), logging_level=app.config["LOG_LEVEL"])
            scheduler.load_config_from_file("workers.schedule")
            try:
                scheduler.start()
                return  # stopped on request (SIGTERM/SIGINT)
            except redis.exceptions.RedisError as exc:
                log.warning(
                    "cron scheduler stopped on %s; starting again in %d s", type(exc).__name__, RESTART_DELAY
                )
                time.sleep(RESTART_DELAY)
    except KeyboardInterrupt:
        log.info("cron scheduler stopped")
    finally:
        stop.set()


def _reconcile_once(connection) -> None:
    try:
        reconcile.run(connection)
    except redis.exceptions.RedisError as exc:
        log.warning("reconcile at worker start failed: %s", type(exc).__name__)


@click.command("failed-jobs")
@with_appcontext
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True)
def failed_jobs_command(limit: int) -> None:
    """List jobs that gave up (a result that could not be delivered, a sync that crashed for good)."""
    connection = redis_client.get()
    listed = []
    for queue in queues.all_queues(connection):
        for job_id in queue.failed_job_registry.get_job_ids(0, limit - 1):
            job = Job.fetch(job_id, connection=connection)
            result = job.latest_result()
            error = (result.exc_string or "").strip().splitlines()[-1:] if result else []
            listed.append(
                {
                    "queue": queue.name,
                    "job_id": job.id,
                    "function": job.func_name,
                    "site_id": job.args[0] if job.args else None,
                    "about": job.args[1] if len(job.args) > 1 else None,  # booking id or message id
                    "ended_at": job.ended_at.isoformat() if job.ended_at else None,
                    "error": error[0][:300] if error else None,
                }
            )
    click.echo(json.dumps(listed, indent=2))


def init_app(app: Flask) -> None:
    """Register the commands on `app.cli`."""
    app.cli.add_command(worker_command)
    app.cli.add_command(cleanup_command)
    app.cli.add_command(cron_command)
    app.cli.add_command(failed_jobs_command)


@click.command("cleanup")
@click.option("--once", is_flag=True, required=True, help="Run one pass and exit (schedule it every minute).")
@click.option("--no-lock", is_flag=True, hidden=True, help="Skip the run's lock (tests of overlapping runs).")
@with_appcontext
def cleanup_command(once: bool, no_lock: bool) -> None:
    """Delete ended meetings at Zoom, expire booking metadata past retention, trim failed jobs, and queue
    account health checks. Prints what it did as JSON."""
    report = cleanup.run(redis_client.get(), use_lock=not no_lock)
    click.echo(json.dumps(report.as_dict(), indent=2))
