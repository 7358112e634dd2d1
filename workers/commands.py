"""Worker-side commands under the Flask CLI, so they share the app's settings and logging:

- `flask --app service worker`: an RQ worker (with RQ's scheduler for retries) on every queue;
- `flask --app service cron`: RQ's cron scheduler (`rq cron`) running `workers/schedule.py`.
"""

from __future__ import annotations

import logging

import click
from flask import Flask, current_app
from rq import Worker
from rq.cron import CronScheduler

from service import redis_client
from workers import queues

log = logging.getLogger(__name__)


@click.command("worker")
@click.option("--burst", is_flag=True, help="Quit once the queues are empty.")
@click.option("--name", default=None, help="Worker name (default: RQ's, host and pid).")
def worker_command(burst: bool, name: str | None) -> None:
    """Run an RQ worker on the sync, deliver and maintenance queues."""
    connection = redis_client.get()
    worker = Worker(queues.all_queues(connection), connection=connection, name=name)
    log.info("worker %s listening on %s", worker.name, ", ".join(queues.ALL))
    worker.work(burst=burst, with_scheduler=True, logging_level=current_app.config["LOG_LEVEL"])


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
