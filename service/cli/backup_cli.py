"""Operator commands: `flask --app service backup create|ids|apply-erasures` (service.privacy.backups).

- `backup create --to DIR`: an RDB snapshot into DIR (from a replica under Sentinel) with the id list
  read right after it, then snapshots older than `--keep-days` (30) are deleted. Run it daily.
- `backup ids --to DIR`: only the id list (`latest.ids.json`): cheap, run it every few minutes, so
  an erasure made after the last snapshot is still known at a restore.
- `backup apply-erasures --from DIR --snapshot FILE`: after loading FILE into an empty Redis and
  before starting MeetBridge, forget what was erased since FILE was taken.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from service.privacy import backups
from service.storage import redis_client

_FOLDER = click.Path(file_okay=False, path_type=Path)


@click.group("backup")
def backup_group() -> None:
    """Redis backups without personal data, and restores that keep erasures."""


@backup_group.command("create")
@click.option("--to", "folder", required=True, type=_FOLDER, help="Backup folder (on another host).")
@click.option(
    "--keep-days",
    type=click.IntRange(min=1),
    default=lambda: int(os.environ.get("MEETBRIDGE_BACKUP_KEEP_DAYS", backups.KEEP_DAYS)),
    show_default="MEETBRIDGE_BACKUP_KEEP_DAYS or 30",
)
@with_appcontext
def create_command(folder: Path, keep_days: int) -> None:
    """Take a snapshot and the id list beside it; delete snapshots past the retention. Prints JSON."""
    r = redis_client.get()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    started = time.time()
    rdb = backups.snapshot(r, dict(current_app.config), folder / f"meetbridge-{stamp}.rdb")
    ids = {**backups.id_list(r), "snapshot_started_at": started, "snapshot": rdb.name}
    listed = backups.write_ids(folder, ids, f"meetbridge-{stamp}.ids.json")
    removed = backups.prune(folder, keep_days)
    click.echo(
        json.dumps({"snapshot": str(rdb), "ids": str(listed), "sites": len(ids["sites"]), "removed": removed})
    )


@backup_group.command("ids")
@click.option("--to", "folder", required=True, type=_FOLDER, help="Backup folder.")
@with_appcontext
def ids_command(folder: Path) -> None:
    """Write the id list of what exists now (`latest.ids.json`)."""
    ids = backups.id_list(redis_client.get())
    backups.write_ids(folder, ids, backups.LATEST_IDS)
    click.echo(json.dumps({"ids": str(folder / backups.LATEST_IDS), "sites": len(ids["sites"])}))


@backup_group.command("apply-erasures")
@click.option("--from", "folder", required=True, type=_FOLDER, help="Backup folder with latest.ids.json.")
@click.option("--snapshot", required=True, type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def apply_erasures_command(folder: Path, snapshot: Path) -> None:
    """Forget every site, booking and account erased since SNAPSHOT was taken. Prints JSON counts."""
    companion = snapshot.with_name(snapshot.name.removesuffix(".rdb") + ".ids.json")
    if not companion.exists():
        raise click.ClickException(f"{companion.name} (written with the snapshot) is missing")
    started = float(json.loads(companion.read_text())["snapshot_started_at"])
    newer = json.loads((folder / backups.LATEST_IDS).read_text())
    try:
        report = backups.apply_erasures(redis_client.get(), newer, started)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(report))
