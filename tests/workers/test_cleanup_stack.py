"""Cleanup and privacy through the real stack: gunicorn + RQ workers + `rq cron` + redis-server + the
sandbox. Other processes' clocks cannot be moved, so bookings end in the past (the schema allows the
year 2000) and the site's grace period is 0 with a 1-day retention window (set with the operator CLI)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import time

import pytest
import requests

from service.storage import keys
from tests import processes, signing
from tests.site_stack import site_stack

pytestmark = pytest.mark.stack

STAFF = "7"


def flask(stack: processes.Stack, *args: str) -> str:
    done = subprocess.run(
        [str(processes.BIN / "flask"), "--app", "service", *args],
        env=stack.env, cwd=processes.ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with site_stack(
        tmp_path_factory.mktemp("cleanup"),
        consent="approve",
        link=(("zoom", STAFF), ("google", STAFF)),
        workers=1,
        cron=True,
        MEETBRIDGE_WORKER_PROCESSES="2",
    ) as running:
        settings = json.loads(
            flask(
                running.stack,
                "sites",
                "settings",
                running.site["site_id"],
                "--grace-minutes",
                "0",
                "--retention-days",
                "1",
            )
        )
        assert settings["grace_minutes"] == 0 and settings["retention_days"] == 1
        yield running.stack, running.redis, running.site, running.linker, running.sandbox


def post(stack, site, booking_id: str, start: str, end: str) -> None:
    body = signing.body_of(signing.event(id=booking_id, start=start, end=end))
    answer = requests.post(
        f"{stack.base_url}/v1/sites/{site['site_id']}/events",
        data=body,
        headers=signing.headers(site["secret"], body),
        verify=str(stack.certs.bundle),
        timeout=10,
    )
    assert answer.status_code == 202, answer.text


def meeting_of(sandbox, site, booking_id: str) -> dict | None:
    marker = "mb-" + hashlib.sha256(f"{site['site_id']}|{booking_id}".encode()).hexdigest()[:20]
    found = [m for m in sandbox.state()["zoom_meetings"] if marker in (m.get("agenda") or "")]
    return found[0] if found else None


def _rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))


def zoom_ended(stack, meeting_id) -> dict:
    """Zoom's signed `meeting.ended` for one meeting; the JSON answer."""
    from service.privacy.zoom_webhooks import sign

    body = json.dumps({"event": "meeting.ended", "event_ts": 1, "payload": {"object": {"id": meeting_id}}})
    stamp = str(int(time.time()))
    signature = "v0=" + sign("sandbox-zoom-webhook", f"v0:{stamp}:{body}".encode())
    answer = requests.post(
        f"{stack.base_url}/v1/zoom/events",
        data=body,
        headers={
            "x-zm-signature": signature,
            "x-zm-request-timestamp": stamp,
            "Content-Type": "application/json",
        },
        verify=str(stack.certs.bundle),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def deletes(sandbox, meeting_id) -> int:
    return sum(
        1
        for c in sandbox.state()["calls"]
        if c["method"] == "DELETE" and c["path"].endswith(f"/meetings/{meeting_id}")
    )


def test_cleanup_by_cron_by_the_cli_and_by_zoom_then_sites_delete(env):
    stack, redis, site, linker, sandbox = env
    r = redis.client()
    # 1. cron: a booking that ended in 2000 is synced, then its meeting deleted and its record purged.
    post(stack, site, "past-1", "2000-01-03T10:00:00+00:00", "2000-01-03T10:30:00+00:00")
    first = processes.wait_for(
        lambda: meeting_of(sandbox, site, "past-1"), timeout=60, what="meeting created"
    )
    processes.wait_for(
        lambda: (meeting_of(sandbox, site, "past-1") or {}).get("deleted"), timeout=120, what="cron's cleanup"
    )
    processes.wait_for(
        lambda: not r.exists(keys.booking(site["site_id"], "past-1")), timeout=30, what="purge"
    )
    assert deletes(sandbox, first["id"]) == 1

    # 2. the operator's `cleanup --once`, racing cron: still one deletion per meeting.
    post(stack, site, "past-2", "2000-01-04T10:00:00+00:00", "2000-01-04T10:30:00+00:00")
    second = processes.wait_for(
        lambda: meeting_of(sandbox, site, "past-2"), timeout=60, what="meeting created"
    )
    processes.wait_for(
        lambda: r.hget(keys.booking(site["site_id"], "past-2"), "state") == b"synced",
        timeout=60,
        what="synced",
    )
    json.loads(flask(stack, "cleanup", "--once"))
    processes.wait_for(lambda: meeting_of(sandbox, site, "past-2")["deleted"], timeout=90, what="cleanup")
    assert deletes(sandbox, second["id"]) == 1

    # 3. Zoom says the meeting of a booking that starts tomorrow ended (a host tried it early): it is kept,
    # with its join link, even through a cleanup run; once a booking has ended, the same webhook makes its
    # cleanup due at once instead of after the grace period.
    tomorrow = time.time() + 86400
    post(stack, site, "early", _rfc3339(tomorrow), _rfc3339(tomorrow + 1800))
    early = processes.wait_for(lambda: meeting_of(sandbox, site, "early"), timeout=60, what="meeting created")
    key = keys.booking(site["site_id"], "early")
    processes.wait_for(lambda: r.hget(key, "state") == b"synced", timeout=60, what="synced")
    assert zoom_ended(stack, early["id"]) == {"status": "kept"}
    json.loads(flask(stack, "cleanup", "--once"))
    assert not meeting_of(sandbox, site, "early")["deleted"] and deletes(sandbox, early["id"]) == 0
    status = linker.signed("GET", f"/v1/sites/{site['site_id']}/bookings/early").json()
    assert status["state"] == "synced" and status["zoom"]["join_url"] == early["join_url"]

    flask(stack, "sites", "settings", site["site_id"], "--grace-minutes", "60")
    ended = time.time() - 60
    post(stack, site, "ended", _rfc3339(ended - 1800), _rfc3339(ended))
    live = processes.wait_for(lambda: meeting_of(sandbox, site, "ended"), timeout=60, what="meeting created")
    key = keys.booking(site["site_id"], "ended")
    processes.wait_for(lambda: r.hget(key, "state") == b"synced", timeout=60, what="synced")
    assert zoom_ended(stack, live["id"]) == {"status": "scheduled"}
    processes.wait_for(
        lambda: meeting_of(sandbox, site, "ended")["deleted"], timeout=60, what="early cleanup"
    )
    processes.wait_for(lambda: r.ttl(key) > 0, timeout=30, what="record expiry")
    assert r.expiretime(key) == int(ended) + 86400 and not r.hget(key, "join")
    assert not meeting_of(sandbox, site, "early")["deleted"]

    # 4. `sites delete`: nothing of the site is left in Redis, its grants are revoked.
    report = json.loads(flask(stack, "sites", "delete", site["site_id"], "--yes"))
    assert report["accounts_revoked_at_provider"] == 2
    assert site["site_id"].encode() not in processes.redis_dump(r)
    assert all(g["revoked"] for g in sandbox.state()["grants"])
    assert "Sam Staff" not in stack.logs() and "cus@example.com" not in stack.logs()
