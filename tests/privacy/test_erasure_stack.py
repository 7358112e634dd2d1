"""Erasure that stays erased, through the real stack (gunicorn, a pool of RQ workers, `flask cron` with the
reconciler, redis-server, the sandbox with added latency, a stand-in WordPress site): a booking erased
while its sync is in flight, an old event sent again with a new webhook-id after the erasure, a site
erased while a sync is in flight, an OAuth consent finishing while its site is erased, and sync jobs
that keep no payload once finished (except one the reconciler must put back)."""

from __future__ import annotations

import json
import subprocess
import threading
import time

import pytest
import requests

from service.storage import keys, ledger
from tests import processes
from tests.site_stack import Linker, account_keys, site_stack, stack_keyring
from tests.workers.test_sync_stack import Env, event
from workers.faults import arm_key

pytestmark = pytest.mark.stack

STAFF = "7"
#: After an erasure, how long the test keeps watching for something to come back: longer than a
#: postponed sync's delay, a crash retry's first interval and the reconciler's lease plus a pass.
AFTERMATH = 30
#: Keys that expire on their own within minutes and are not indexed (see README, privacy).
SHORT_LIVED = (b":fb:", b":fbhold:", b":bklock:", b":acctlock:")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with site_stack(
        tmp_path_factory.mktemp("erasure"),
        Env,
        consent="approve",
        link=(("zoom", STAFF), ("google", STAFF)),
        workers=1,
        cron=True,
        MEETBRIDGE_WORKER_PROCESSES="3",
        MEETBRIDGE_SYNC_JOB_TIMEOUT="60",
        MEETBRIDGE_FAULT_INJECTION="1",
    ) as running:
        yield running


@pytest.fixture(autouse=True)
def no_latency_after(env):
    yield
    env.sandbox.post("latency", {"ms": 0})


def _value(r, key: bytes) -> bytes:
    kind = r.type(key)
    if kind == b"string":
        return r.get(key) or b""
    if kind == b"hash":
        return b"\n".join(part for pair in r.hgetall(key).items() for part in pair)
    if kind == b"list":
        return b"\n".join(r.lrange(key, 0, -1))
    if kind == b"set":
        return b"\n".join(r.smembers(key))
    if kind == b"zset":
        return b"\n".join(r.zrange(key, 0, -1))
    if kind == b"stream":
        return b"\n".join(v for _id, entry in r.xrange(key) for pair in entry.items() for v in pair)
    return b""


def mentions(r, needle: str, allowed: tuple[str, ...] = ()) -> list[bytes]:
    """Keys whose name or value mentions `needle` (RQ's payloads included: they are left uncompressed
    or are read as RQ reads them), short-lived unindexed keys and `allowed` keys excepted."""
    import zlib

    found = []
    for key in r.scan_iter(count=1000):
        if any(part in key for part in SHORT_LIVED) or key.decode() in allowed:
            continue
        value = _value(r, key)
        if key.startswith(b"rq:job:"):
            try:
                value += zlib.decompress(r.hget(key, "data") or b"")
            except zlib.error:
                pass
        if needle.encode() in key or needle.encode() in value:
            found.append(key)
    return found


def erase(env: Env, booking_id: str, timeout: float = 120) -> requests.Response:
    """DELETE the booking as WordPress would: again after `503 busy` (a sync held the booking)."""
    path = f"/v1/sites/{env.site['site_id']}/bookings/{booking_id}"

    def attempt():
        answer = requests.delete(
            env.stack.base_url + path,
            headers=_signed_headers(env, "DELETE", path),
            verify=env.linker.verify,
            timeout=90,
        )
        return None if answer.status_code == 503 else answer

    return processes.wait_for(attempt, timeout=timeout, interval=1, what=f"the erasure of {booking_id}")


def _signed_headers(env: Env, method: str, path: str) -> dict:
    from tests import signing

    return signing.request_headers(env.site["secret"], method, path)


def status_code(env: Env, booking_id: str) -> int:
    return env.linker.signed("GET", f"/v1/sites/{env.site['site_id']}/bookings/{booking_id}").status_code


def nothing_live(env: Env, booking_id: str) -> bool:
    event_now = env.event(booking_id)
    return all(m["deleted"] for m in env.meetings(booking_id)) and (
        event_now is None or event_now["status"] == "cancelled"
    )


def stays_gone(r, needle: str, allowed: tuple[str, ...] = (), live=lambda: True) -> None:
    """Nothing mentions `needle` once the jobs running at the erasure have ended (a sync waiting for the
    lock finds nothing and is deleted), and through the retries nothing comes back: whatever a postponed
    job, a retry or the reconciler does."""
    try:
        processes.wait_for(lambda: not mentions(r, needle, allowed), timeout=60, what=f"nothing of {needle}")
    except TimeoutError:
        left = {key: _value(r, key)[:300] for key in mentions(r, needle, allowed)}
        raise AssertionError(f"still naming {needle}: {left}") from None
    deadline = time.monotonic() + AFTERMATH
    while time.monotonic() < deadline:
        assert mentions(r, needle, allowed) == []
        assert live()
        time.sleep(2)


def watch_aftermath(env: Env, booking_id: str) -> None:
    tombstone = keys.booking_tombstone(env.site["site_id"], booking_id)
    index = keys.site_bookings(env.site["site_id"])  # names the id as long as the tombstone lives
    stays_gone(env.r, booking_id, (tombstone, index), live=lambda: nothing_live(env, booking_id))
    assert status_code(env, booking_id) == 404
    assert env.r.exists(tombstone)


def test_a_booking_erased_while_its_sync_is_in_flight_stays_erased(env):
    booking_id = "erase-inflight-1"
    env.sandbox.post("latency", {"ms": 1500})
    assert env.post(event("booking.created", booking_id, 1)).status_code == 202
    record = keys.booking(env.site["site_id"], booking_id)
    processes.wait_for(lambda: env.r.hget(record, "zintent"), timeout=30, what="the Zoom create in flight")
    moved = {"start": "2030-12-01T11:00:00+01:00", "end": "2030-12-01T11:30:00+01:00"}
    assert env.post(event("booking.updated", booking_id, 2, **moved)).status_code == 202  # waits its turn
    answer = erase(env, booking_id)
    assert answer.status_code == 200, answer.text
    watch_aftermath(env, booking_id)
    assert len(env.meetings(booking_id)) == 1  # created once, deleted once


def test_an_old_event_with_a_new_webhook_id_does_not_bring_an_erased_booking_back(env):
    booking_id = "erase-revived-1"
    assert env.post(event("booking.created", booking_id, 1)).status_code == 202
    env.result("booking.synced", booking_id, 1)
    assert erase(env, booking_id).status_code == 200
    again = env.post(event("booking.created", booking_id, 1))  # signing gives it a new webhook-id
    assert again.status_code == 202
    body = again.json()
    assert (body["status"], body["reason"], body["booking_id"]) == (
        "ignored",
        "this booking was erased",
        booking_id,
    )
    watch_aftermath(env, booking_id)
    assert len(env.meetings(booking_id)) == 1


def _second_site(env: Env, name: str) -> tuple[dict, Linker]:
    from service.sites import registry

    site = registry.create(env.r, stack_keyring(env.stack), name, env.double.url)
    return site, Linker(env.stack, site, env.double.return_url())


def _flask(env: Env, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [str(processes.BIN / "flask"), "--app", "service", *args],
        env=env.stack.env, cwd=processes.ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


def test_a_site_erased_while_a_sync_is_in_flight_leaves_nothing_live(env):
    site, linker = _second_site(env, "Second Shop")
    for provider in ("zoom", "google"):
        assert linker.link(provider, STAFF)["meetbridge_status"] == "connected"
    site_env = Env(env.stack, env.redis, env.double, site, linker, env.sandbox)
    booking_id = "erase-site-inflight-1"
    # The Zoom create is held 10 s (the sync outlasts the erasure's first wait for it); nothing else is
    # slowed: revoking the accounts at the end must not race the 10 s HTTP timeout.
    env.sandbox.post("delays", {"match": "/meetings", "ms": 10_000, "count": 1})
    assert site_env.post(event("booking.created", booking_id, 1)).status_code == 202
    record = keys.booking(site["site_id"], booking_id)
    processes.wait_for(lambda: env.r.hget(record, "zintent"), timeout=30, what="the Zoom create in flight")
    deleting = _flask(env, "sites", "delete", site["site_id"], "--yes")
    out, err = deleting.communicate(timeout=240)
    assert deleting.returncode == 0, err[-2000:]
    report = json.loads(out)
    assert report["accounts"] == 2 and report["accounts_revoked_at_provider"] == 2, err[-3000:]
    stays_gone(env.r, site["site_id"], live=lambda: nothing_live(site_env, booking_id))
    assert len(site_env.meetings(booking_id)) == 1  # created by the sync, deleted by it or the erasure


def test_a_consent_finishing_while_its_site_is_erased_links_nothing(env):
    site, linker = _second_site(env, "Third Shop")
    page = linker.press_continue(linker.link_url("zoom", STAFF), allow_redirects=False)
    assert page.status_code == 303
    consent = linker.browser.get(page.headers["Location"], allow_redirects=False, verify=linker.verify,
                                 timeout=30)  # fmt: skip
    callback = consent.headers["Location"]
    assert "/oauth/zoom/callback?" in callback
    grants_before = len(env.sandbox.state()["grants"])
    env.sandbox.post("latency", {"ms": 4000})  # the code exchange and users/me take 8 s
    box: dict = {}
    thread = threading.Thread(
        target=lambda: box.update(answer=linker.browser.get(callback, verify=linker.verify, timeout=60))
    )
    thread.start()
    time.sleep(1.0)  # the callback has checked the site and is exchanging the code
    deleting = _flask(env, "sites", "delete", site["site_id"], "--yes")
    out, err = deleting.communicate(timeout=120)
    assert deleting.returncode == 0, err[-2000:]
    thread.join(90)
    answer = box["answer"]
    assert answer.status_code == 404 and "removed" in answer.text
    assert [k for k in account_keys(env.r) if site["site_id"].encode() in k] == []
    stays_gone(env.r, site["site_id"])
    grants = env.sandbox.state()["grants"]
    assert len(grants) == grants_before + 1 and grants[-1]["revoked"]  # the fresh grant given back


def test_finished_sync_jobs_keep_no_payload_but_an_unsettled_one_is_put_back(env):
    booking_id = "payload-kept-1"
    env.r.set(arm_key("before_settle"), 1)  # Redis fails as the first attempt settles
    assert env.post(event("booking.created", booking_id, 1)).status_code == 202
    env.result("booking.synced", booking_id, 1, timeout=90)
    assert not env.r.exists(arm_key("before_settle"))
    assert "left for the reconciler" in env.stack.services["worker0"].log_text()
    assert "put back (its job was finished)" in env.stack.services["cron"].log_text()
    assert len(env.meetings(booking_id)) == 1
    member = ledger.member(env.site["site_id"], booking_id)
    processes.wait_for(lambda: env.r.zscore(ledger.BOOKINGS, member) is None, what="the ledger to settle")

    def payloads():
        return [k for k in env.r.scan_iter(match="rq:job:*") if booking_id.encode() in _job_payload(env.r, k)]

    processes.wait_for(lambda: not payloads(), timeout=15, what="finished jobs to be deleted")


def _job_payload(r, key: bytes) -> bytes:
    import zlib

    data = r.hget(key, "data") or b""
    try:
        return zlib.decompress(data)
    except zlib.error:
        return data
