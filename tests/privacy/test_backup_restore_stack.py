"""The restore drill through the real stack: a snapshot taken with `flask --app service backup create`,
a booking and a site erased after it, the snapshot restored into a new Redis, the erasures applied
from the id list, and the service started again on it: bookings and linked accounts work, and what
was erased stays erased."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis
import requests

from service.sites import registry
from tests import signing
from tests.processes import BIN, ROOT, free_port, wait_for
from tests.site_stack import site_stack, stack_keyring

pytestmark = pytest.mark.stack

STAFF = "7"


def cli(stack, *args: str) -> dict:
    done = subprocess.run(
        [str(BIN / "flask"), "--app", "service", *args],
        env=stack.env, cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def post(env, booking_id: str):
    body = signing.body_of(signing.event(id=booking_id))
    return requests.post(
        f"{env.stack.base_url}/v1/sites/{env.site['site_id']}/events",
        data=body,
        headers=signing.headers(env.site["secret"], body),
        verify=str(env.stack.certs.bundle),
        timeout=10,
    )


def state(env, booking_id: str) -> tuple[int, str | None]:
    answer = env.linker.signed("GET", f"/v1/sites/{env.site['site_id']}/bookings/{booking_id}")
    return answer.status_code, answer.json().get("state") if answer.status_code == 200 else None


def synced(env, booking_id: str) -> None:
    wait_for(lambda: state(env, booking_id) == (200, "synced"), timeout=60, what=f"{booking_id} synced")


def start_restored(folder, snapshot) -> tuple[subprocess.Popen, str]:
    """A redis-server that loads `snapshot` (RDB, append-only file off while loading)."""
    folder.mkdir(parents=True)
    shutil.copy(snapshot, folder / "dump.rdb")
    port = free_port()
    binary = shutil.which("redis-server") or "redis-server"
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder), "--dbfilename", "dump.rdb",
         "--appendonly", "no", "--save", "", "--logfile", str(folder / "redis.log")],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"redis://127.0.0.1:{port}/0"
    wait_for(lambda: _loaded(redis.Redis.from_url(url)), timeout=20, what="the restored Redis")
    return proc, url


def _loaded(client) -> bool:
    try:
        return client.info("persistence")["loading"] == 0
    except Exception:  # noqa: BLE001 - not up yet
        return False


def test_restore_drill_bookings_and_accounts_work_and_erasures_stay(tmp_path):
    with site_stack(
        tmp_path / "live", consent="approve", link=(("zoom", STAFF), ("google", STAFF)), workers=1
    ) as env:
        for booking_id in ("kept", "erased"):
            assert post(env, booking_id).status_code == 202
            synced(env, booking_id)
        other = registry.create(env.r, stack_keyring(env.stack), "Other Shop", env.double.url)
        backups = tmp_path / "backups"
        made = cli(env.stack, "backup", "create", "--to", str(backups))
        snapshot = made["snapshot"]
        data = Path(snapshot).read_bytes()
        assert data.startswith(b"REDIS") and env.site["site_id"].encode() in data
        for needle in signing.PERSONAL:  # the snapshot holds nothing personal in the clear
            assert needle.encode() not in data, needle
        old = backups / "meetbridge-20000101T000000Z.rdb"
        old.write_bytes(b"REDIS0009")
        os.utime(old, (time.time() - 31 * 86400,) * 2)

        # After the snapshot: one booking and one site erased, and the id list read again.
        erased = env.linker.signed("DELETE", f"/v1/sites/{env.site['site_id']}/bookings/erased")
        assert erased.status_code == 200, erased.text
        cli(env.stack, "sites", "delete", other["site_id"], "--yes")
        assert cli(env.stack, "backup", "ids", "--to", str(backups))["sites"] == 1
        assert cli(env.stack, "backup", "create", "--to", str(backups))["removed"] == [
            old.name
        ]  # past 30 days

        # The disaster: Redis is gone; the snapshot goes into a new one, the erasures are applied, and
        # web and worker start on it (the sandbox, standing in for Google and Zoom, lives on).
        for name in ("web", "worker0"):
            env.stack.services[name].stop()
        env.redis.stop()
        proc, url = start_restored(tmp_path / "restored", snapshot)
        try:
            env.stack.env["REDIS_URL"] = url
            report = cli(
                env.stack, "backup", "apply-erasures", "--from", str(backups), "--snapshot", snapshot
            )
            assert report["sites"] == 1 and report["bookings"] == 1, report
            restored = redis.Redis.from_url(url)
            restored.config_set("appendonly", "yes")  # the operator's step, as a Redis admin
            env.stack.start_web()
            env.stack.start_worker(0)
            env.stack.wait_ready()

            synced(env, "kept")
            assert state(env, "erased")[0] == 404
            assert not restored.exists(f"mb:site:{other['site_id']}")
            assert post(env, "after").status_code == 202  # the linked accounts still work
            synced(env, "after")
            meetings = env.sandbox.state()["zoom_meetings"]
            erased_marker = "mb-" + hashlib.sha256(f"{env.site['site_id']}|erased".encode()).hexdigest()[:20]
            assert all(m["deleted"] for m in meetings if erased_marker in (m.get("agenda") or ""))
        finally:
            proc.kill()
            proc.wait()
