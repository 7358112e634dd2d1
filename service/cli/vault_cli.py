"""Operator command: `flask --app service vault rotate`, after putting a new key first in
`MEETBRIDGE_VAULT_KEYS`. Seals site secrets, account tokens and the bookings' join and event links with
it and prints JSON counts, per kind in `by_kind`; when `failed` is 0 the old key can be removed once the
jobs still waiting in RQ (their payloads are sealed too, and are not rewritten) have run out:
`pending_jobs` counts them (queued, scheduled for a retry, running or failed)."""

from __future__ import annotations

import json

import click
import redis
from flask.cli import AppGroup
from rq import Queue
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from service import vault_keys
from service.accounts import vault
from service.storage import queues, redis_client

vault_group = AppGroup("vault", help="Manage the token vault's encryption.")


@vault_group.command("rotate")
def rotate_command() -> None:
    """Seal every site secret, account token and booking link with the current (first) vault key."""
    keyring = vault_keys.get()
    r = redis_client.get()
    report = vault.rotate(r, keyring)
    body = {"current_key": keyring.current_kid, **report.as_dict(), "pending_jobs": pending_jobs(r)}
    click.echo(json.dumps(body, indent=2))
    if report.failed:
        raise click.ClickException(f"{report.failed} value(s) could not be opened; keep the old key(s)")


def pending_jobs(r: redis.Redis) -> int:
    """Jobs whose sealed payloads still need the key they were queued with."""
    total = 0
    for name in queues.ALL:
        queue = Queue(name, connection=r)
        total += queue.count
        for registry in (ScheduledJobRegistry, StartedJobRegistry, FailedJobRegistry):
            total += registry(queue=queue).count
    return total
