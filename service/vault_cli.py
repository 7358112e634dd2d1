"""Operator command: `flask --app service vault rotate`, after putting a new key first in
`MEETBRIDGE_VAULT_KEYS`. Prints JSON counts; when `failed` is 0 the old key can be removed."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from service import redis_client, vault, vault_keys

vault_group = AppGroup("vault", help="Manage the token vault's encryption.")


@vault_group.command("rotate")
def rotate_command() -> None:
    """Seal every site secret and account token with the current (first) vault key."""
    keyring = vault_keys.get()
    report = vault.rotate(redis_client.get(), keyring)
    click.echo(json.dumps({"current_key": keyring.current_kid, **report.as_dict()}, indent=2))
    if report.failed:
        raise click.ClickException(f"{report.failed} value(s) could not be opened; keep the old key(s)")
