"""`flask --app service cleanup --once`: one cleanup pass for operators who schedule it with system cron."""

from __future__ import annotations

import json

import click
from flask.cli import with_appcontext

from service import redis_client


@click.command("cleanup")
@click.option("--once", is_flag=True, required=True, help="Run one pass and exit (schedule it every minute).")
@click.option("--no-lock", is_flag=True, hidden=True, help="Skip the run's lock (tests of overlapping runs).")
@with_appcontext
def cleanup_command(once: bool, no_lock: bool) -> None:
    """Delete ended meetings at Zoom, expire booking metadata past retention, trim failed jobs, and queue
    account health checks. Prints what it did as JSON."""
    from workers import cleanup

    report = cleanup.run(redis_client.get(), use_lock=not no_lock)
    click.echo(json.dumps(report.as_dict(), indent=2))
