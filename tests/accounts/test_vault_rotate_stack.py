"""Rotating the vault key through the real stack (gunicorn + an RQ worker + redis-server + the sandbox): a
synced booking keeps its join link and event link sealed; after `vault rotate` and the old key's removal
it still reads, exports and updates."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import requests

from service.config import dev_secrets
from service.crypto import generate_key
from tests import processes, signing
from tests.site_stack import SiteStack, site_stack

pytestmark = pytest.mark.stack

MOVED = {"start": "2030-12-02T15:00:00+01:00", "end": "2030-12-02T16:00:00+01:00"}


def post(env: SiteStack, payload: dict) -> None:
    body = signing.body_of(payload)
    answer = requests.post(
        f"{env.stack.base_url}/v1/sites/{env.site['site_id']}/events",
        data=body,
        headers=signing.headers(env.site["secret"], body),
        verify=str(env.stack.certs.bundle),
        timeout=10,
    )
    assert answer.status_code == 202, answer.text


def synced(env: SiteStack, revision: int) -> dict:
    def found():
        return next(
            (
                r
                for r in env.double.results
                if r["type"] == "booking.synced" and r["data"]["revision"] == revision
            ),
            None,
        )

    return processes.wait_for(found, timeout=90, what=f"booking.synced rev {revision}")["data"]


def restart(env: SiteStack, vault_keys: str) -> None:
    """Web and workers again, with `MEETBRIDGE_VAULT_KEYS` set as given (the sandbox keeps running)."""
    stack = env.stack
    stack.env["MEETBRIDGE_VAULT_KEYS"] = vault_keys
    for name in [n for n in stack.services if n == "web" or n.startswith("worker")]:
        stack.services[name].stop()
    stack.start_web()
    for index in range(stack.workers):
        stack.start_worker(index)
    stack.wait_ready()


def flask(env: SiteStack, *args: str) -> dict:
    done = subprocess.run(
        [str(processes.BIN / "flask"), "--app", "service", *args],
        env=env.stack.env, cwd=processes.ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_rotate_remove_the_old_key_then_read_export_and_update_a_booking(tmp_path):
    with site_stack(tmp_path, consent="approve", link=(("zoom", "7"), ("google", "7")), workers=1) as env:
        path = f"/v1/sites/{env.site['site_id']}/bookings/rot"
        post(env, signing.event("booking.created", id="rot", revision=1))
        first = synced(env, 1)
        before = env.linker.signed("GET", path).json()
        assert before["zoom"]["join_url"] == first["zoom"]["join_url"] and before["google"]["html_link"]

        old = dev_secrets(Path(env.stack.env["MEETBRIDGE_DATA_DIR"]))["MEETBRIDGE_VAULT_KEYS"]
        new = generate_key("new")
        restart(env, f"{new},{old}")
        counts = flask(env, "vault", "rotate")
        assert counts["current_key"] == "new" and counts["failed"] == 0 and counts["pending_jobs"] == 0
        assert counts["by_kind"]["booking_join_urls"] == {"scanned": 1, "rewrapped": 1, "failed": 0}
        assert counts["by_kind"]["booking_event_links"] == {"scanned": 1, "rewrapped": 1, "failed": 0}
        assert counts["by_kind"]["account_tokens"]["rewrapped"] == 2

        restart(env, new)  # the old key is gone
        read = env.linker.signed("GET", path)
        assert read.status_code == 200, read.text
        assert read.json() == before
        exported = env.linker.signed("GET", f"/v1/sites/{env.site['site_id']}/export")
        assert exported.status_code == 200, exported.text
        [booking] = [b for b in exported.json()["bookings"] if b["booking_id"] == "rot"]
        assert booking["zoom"]["join_url"] == first["zoom"]["join_url"]

        post(env, signing.event("booking.updated", id="rot", revision=2, **MOVED))
        moved = synced(env, 2)
        assert moved["zoom"] == first["zoom"]  # the same meeting, moved in place, its link opened again
        status = env.linker.signed("GET", path).json()
        assert status["state"] == "synced" and status["revision"] == 2 and not status["last_error"]
