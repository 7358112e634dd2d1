"""Worker-side commands under the Flask CLI, so they share the app's settings and logging:

- `flask --app service worker`: an RQ worker (with RQ's scheduler for retries) on every queue;
- `flask --app service cron`: RQ's cron scheduler (`rq cron`) running `workers/schedule.py`.
"""

from __future__ import annotations

import logging
import os

import click
from flask import Flask, current_app
from rq.cron import CronScheduler
from rq.worker_pool import WorkerPool

from service import redis_client
from workers import queues
from workers.worker import MeetBridgeWorker

log = logging.getLogger(__name__)


@click.command("worker")
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
    log.info("%d worker process(es) listening on %s", processes, ", ".join(queues.ALL))
    if processes == 1:
        worker = MeetBridgeWorker(queues.all_queues(connection), connection=connection)
        worker.work(burst=burst, with_scheduler=True, logging_level=level)
        return
    pool = WorkerPool(
        list(queues.ALL), connection=connection, num_workers=processes, worker_class=MeetBridgeWorker
    )
    pool.start(burst=burst, logging_level=level)


@click.command("cron")
def cron_command() -> None:
    """Run RQ's cron scheduler with MeetBridge's schedule (workers/schedule.py)."""
    scheduler = CronScheduler(connection=redis_client.get(), logging_level=current_app.config["LOG_LEVEL"])
    scheduler.load_config_from_file("workers.schedule")
    try:
        scheduler.start()
    except KeyboardInterrupt:
        log.info("cron scheduler stopped")


def init_app(app: Flask) -> None:
    """Register the commands on `app.cli`."""
    app.cli.add_command(worker_command)
    app.cli.add_command(cron_command)
