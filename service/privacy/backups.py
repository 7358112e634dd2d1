"""Backups that never bring erased data back: RDB snapshots pulled off-host, and an id list beside them.

A snapshot is Redis's own RDB file, fetched over the replication protocol (`redis-cli --rdb`, from a
replica when Sentinel names one) into a folder on the backup host; snapshots older than the retention
(30 days by default) are deleted. What Redis holds is already free of personal data in the clear
(sealed with the vault keys, which are not in the snapshot).

Erasure must outlive a restore: a snapshot taken before a booking or a site was erased still holds it.
So every backup run also writes the ids of what exists (sites, booking ids per site, linked accounts
per site: ids only, no personal data) to `latest.ids.json` outside the snapshot. After restoring an
older snapshot, `apply_erasures` forgets every site, booking and account the newer id list no longer
has (erased, or purged by retention since), with the jobs that carry their sealed data, before the
service starts again. Nothing is asked of Google or Zoom: they were cleaned up when the erasure ran.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import redis

from service.accounts import vault
from service.privacy import erasure
from service.storage import keys, ledger

log = logging.getLogger(__name__)

#: Days a snapshot is kept unless the operator says otherwise.
KEEP_DAYS = 30
LATEST_IDS = "latest.ids.json"


def id_list(r: redis.Redis) -> dict[str, Any]:
    """The ids of every site, booking and linked account now in Redis, and when they were read."""
    taken_at = time.time()
    sites = sorted(raw.decode() for raw in r.smembers(keys.SITES))
    bookings, accounts = {}, {}
    for site_id in sites:
        bookings[site_id] = _booking_ids(r, site_id)
        accounts[site_id] = sorted(raw.decode() for raw in r.smembers(keys.accounts(site_id)))
    return {"taken_at": taken_at, "sites": sites, "bookings": bookings, "accounts": accounts}


def _booking_ids(r: redis.Redis, site_id: str) -> list[str]:
    prefix = keys.booking(site_id, "")
    return sorted({raw.decode()[len(prefix) :] for raw in r.scan_iter(match=prefix + "*", count=1000)})


def write_ids(folder: Path, ids: dict[str, Any], name: str) -> Path:
    """Write `ids` as `name` and as `latest.ids.json` (each replaced atomically)."""
    folder.mkdir(parents=True, exist_ok=True)
    data = json.dumps(ids, separators=(",", ":")).encode()
    for target in (folder / name, folder / LATEST_IDS):
        draft = target.with_suffix(".tmp")
        draft.write_bytes(data)
        os.replace(draft, target)
    return folder / name


def snapshot(r: redis.Redis, settings: dict[str, Any], target: Path) -> Path:
    """Fetch an RDB snapshot of `r`'s Redis (a replica of it, under Sentinel) into `target`.

    Raises:
        RuntimeError: redis-cli failed (its message, without the password).
    """
    argv, env = _redis_cli(r, settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [*argv, "--rdb", str(target)], env=env, capture_output=True, text=True, timeout=3600
    )
    if done.returncode != 0 or not target.exists():
        raise RuntimeError(f"redis-cli --rdb failed: {(done.stderr or done.stdout).strip()[-500:]}")
    return target


def _redis_cli(r: redis.Redis, settings: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """redis-cli's arguments for the server a backup should read, and its environment (the password)."""
    pool = r.connection_pool
    kwargs = pool.connection_kwargs
    argv = ["redis-cli", "--no-auth-warning"]
    manager = getattr(pool, "sentinel_manager", None)
    if manager is not None:  # a replica takes the snapshot's cost off the primary
        found = manager.discover_slaves(pool.service_name) or [manager.discover_master(pool.service_name)]
        host, port = found[0]
        argv += ["-h", str(host), "-p", str(port)]
    elif kwargs.get("path"):
        argv += ["-s", str(kwargs["path"])]
    else:
        argv += ["-h", str(kwargs.get("host", "127.0.0.1")), "-p", str(kwargs.get("port", 6379))]
    env = {key: value for key, value in os.environ.items() if key != "REDISCLI_AUTH"}
    if kwargs.get("username"):
        argv += ["--user", str(kwargs["username"])]
    if kwargs.get("password"):
        env["REDISCLI_AUTH"] = str(kwargs["password"])
    if settings.get("REDIS_TLS") or str(settings.get("REDIS_URL") or "").startswith("rediss://"):
        argv.append("--tls")
        for option, name in (
            ("--cacert", "REDIS_TLS_CA"),
            ("--cert", "REDIS_TLS_CERT"),
            ("--key", "REDIS_TLS_KEY"),
        ):
            if settings.get(name):
                argv += [option, str(settings[name])]
    return argv, env


def prune(folder: Path, keep_days: int, now: float | None = None) -> list[str]:
    """Delete snapshots (and their id lists) older than `keep_days`; returns the names deleted."""
    cutoff = (now or time.time()) - keep_days * 86400
    removed = []
    for path in sorted(folder.glob("meetbridge-*")):
        if path.suffix in (".rdb", ".json") and path.stat().st_mtime < cutoff:
            path.unlink()
            removed.append(path.name)
    return removed


def apply_erasures(r: redis.Redis, newer: dict[str, Any], restored_at: float) -> dict[str, int]:
    """Forget what the restored data holds but `newer` (an id list read after the snapshot) does not.

    Args:
        newer: `id_list` output from after the snapshot (e.g. `latest.ids.json`).
        restored_at: when the restored snapshot was taken; an id list older than that is refused,
            since it would take bookings made after it for erased ones.

    Raises:
        ValueError: `newer` is not newer than the snapshot.
    """
    if float(newer["taken_at"]) <= restored_at:
        raise ValueError("the id list is older than the snapshot: it cannot tell what was erased since")
    report = {"sites": 0, "bookings": 0, "accounts": 0, "jobs": 0}
    current = id_list(r)
    kept_sites = set(newer["sites"])
    gone_sites: set[str] = set()
    gone_bookings: set[tuple[str, str]] = set()
    for site_id in current["sites"]:
        site_gone = site_id not in kept_sites
        kept = set(newer["bookings"].get(site_id, [])) if not site_gone else set()
        for booking_id in current["bookings"][site_id]:
            if booking_id not in kept:
                report["jobs"] += erasure.forget_booking(r, site_id, booking_id)
                gone_bookings.add((site_id, booking_id))
        kept_accounts = set(newer["accounts"].get(site_id, [])) if not site_gone else set()
        for member in current["accounts"][site_id]:
            if member not in kept_accounts:
                provider, _, staff_id = member.partition(":")
                vault.delete(r, site_id, provider, staff_id)
                r.zrem(keys.ACCOUNTS_DUE, f"{site_id}|{provider}|{staff_id}")
                report["accounts"] += 1
        if site_gone:
            report["jobs"] += erasure.remove_site_jobs(r, site_id)
            _forget_site(r, site_id)
            gone_sites.add(site_id)
    report["sites"], report["bookings"] = len(gone_sites), len(gone_bookings)
    log.info("restore: erasures applied: %s", report)
    return report


def _forget_site(r: redis.Redis, site_id: str) -> None:
    r.delete(keys.site(site_id))
    r.srem(keys.SITES, site_id)
    keys_left: Iterable[bytes] = r.scan_iter(match=keys.site_prefix(site_id) + "*", count=1000)
    for key in list(keys_left):
        r.unlink(key)
    ledger.forget_site(r, site_id)
