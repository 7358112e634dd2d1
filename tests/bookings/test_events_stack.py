"""Booking events through the real stack: gunicorn (two worker processes, threads) and redis-server.

Every answer of DESIGN section 3 "Booking events in" and "Booking status" over HTTPS, sites made and
rotated with the operator CLI against the same Redis, concurrency across gunicorn's worker processes,
rotation despite the per-process site cache, and Redis being killed and restarted. The Redis test
runs last (pytest keeps file order) and leaves Redis running.
"""

from __future__ import annotations

import json
import random
import subprocess
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from rq import Queue
from rq.job import Job

from service.storage import keys
from tests import processes, signing

pytestmark = pytest.mark.stack

SYNC_QUEUE = "rq:queue:sync"


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("events-stack")
    server = processes.RedisServer(folder / "redis")
    server.start()
    stack = processes.Stack(folder, server.url, workers=0)
    stack.redis = server
    try:
        stack.start(sandbox=False)
        yield stack
    finally:
        stack.stop()
        server.stop()


@pytest.fixture(scope="module")
def r(stack):
    return stack.redis.client()


def cli(stack, *args: str) -> dict:
    """Run `flask --app service sites ARGS` as the operator does, against the stack's Redis."""
    done = subprocess.run(
        [str(processes.BIN / "flask"), "--app", "service", "sites", *args],
        env=stack.env,
        cwd=processes.ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, f"sites {args} failed:\n{done.stdout}\n{done.stderr}"
    return json.loads(done.stdout)


def new_site(stack, name: str = "Shop") -> dict:
    site = cli(stack, "create", "--name", name, "--url", "https://shop.example.com")
    assert site["site_id"].startswith("site_") and site["secret"].startswith("whsec_")
    return site


@pytest.fixture(scope="module")
def site(stack):
    return new_site(stack)


def events_url(stack, site_id: str) -> str:
    return f"{stack.base_url}/v1/sites/{site_id}/events"


def post(
    stack,
    site: dict,
    payload,
    *,
    secret: str | None = None,
    site_id: str | None = None,
    msg_id: str | None = None,
    timestamp: int | None = None,
    headers: dict | None = None,
    request_id: str | None = None,
    session: requests.Session | None = None,
) -> requests.Response:
    """One signed delivery, on its own connection unless `session` is given (so deliveries spread
    over gunicorn's workers)."""
    body = signing.body_of(payload)
    sent = signing.headers(secret or site["secret"], body, msg_id=msg_id, timestamp=timestamp)
    sent.update(headers or {})
    if request_id:
        sent["X-Request-ID"] = request_id
    return (session or requests).post(
        events_url(stack, site_id or site["site_id"]),
        data=body,
        headers=sent,
        verify=str(stack.certs.ca),
        timeout=30,
    )


def get_status(
    stack, site: dict, booking_id: str, *, secret: str | None = None, sign_path=None, request_id=None
):
    path = f"/v1/sites/{site['site_id']}/bookings/{booking_id}"
    headers = signing.request_headers(secret or site["secret"], "GET", sign_path or path)
    if request_id:
        headers["X-Request-ID"] = request_id
    return requests.get(stack.base_url + path, headers=headers, verify=str(stack.certs.ca), timeout=30)


def queued_ids(r) -> list[str]:
    return [raw.decode() for raw in r.lrange(SYNC_QUEUE, 0, -1)]


def jobs_of(r, site_id: str) -> list[Job]:
    """The queued sync jobs of one site."""
    jobs = Job.fetch_many(queued_ids(r), connection=r)
    return [job for job in jobs if job is not None and job.args[0] == site_id]


def assert_json_error(answer: requests.Response, status: int, code: str | None = None) -> dict:
    assert answer.status_code == status, (answer.status_code, answer.text)
    assert answer.headers["Content-Type"].startswith("application/json"), answer.headers
    assert "Traceback" not in answer.text
    data = answer.json()
    if code is not None:
        assert data["error"] == code, data
    return data


def worker_pids(stack, request_ids) -> dict[str, int]:
    """Which gunicorn worker process answered each request, from the web process's JSON log."""
    wanted = set(request_ids)

    def answered():
        found = {}
        for line in stack.services["web"].log_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("request_id") in wanted and "status" in record:
                found[record["request_id"]] = record["pid"]
        return found if len(found) == len(wanted) else None

    return processes.wait_for(answered, timeout=10, what="the requests' log lines")


def concurrently(calls, workers: int):
    """Run the zero-argument `calls` on `workers` threads that start together; results in call order."""
    barrier = threading.Barrier(min(workers, len(calls)))
    started = threading.local()

    def run(call):
        if not getattr(started, "done", False):  # each thread waits once, for the first wave
            started.done = True
            barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(max_workers=barrier.parties) as pool:
        return list(pool.map(run, calls))


def until_both_workers(stack, send, *, batch: int = 10, rounds: int = 6) -> list[requests.Response]:
    """Call `send(request_id)` in concurrent batches until both gunicorn workers have answered."""
    answers, pids = [], set()
    for _ in range(rounds):
        ids = [f"probe-{uuid.uuid4().hex[:12]}" for _ in range(batch)]
        answers += concurrently([lambda rid=rid: send(rid) for rid in ids], batch)
        pids |= set(worker_pids(stack, ids).values())
        if len(pids) >= 2:
            return answers
    raise AssertionError(f"only gunicorn worker(s) {pids} answered {len(answers)} requests")


# --- 202 / 200 ------------------------------------------------------------------------------------


def test_accepted_event_is_202_with_exactly_one_rq_job(stack, site, r):
    before = set(queued_ids(r))
    answer = post(stack, site, signing.event(id="b-accept"), msg_id="msg_accept")
    assert answer.status_code == 202, answer.text
    assert answer.json() == {
        "status": "accepted",
        "booking_id": "b-accept",
        "revision": 1,
        "webhook_id": "msg_accept",
    }
    new = [job_id for job_id in queued_ids(r) if job_id not in before]
    assert len(new) == 1 and r.llen(SYNC_QUEUE) == len(before) + 1
    job = Job.fetch(new[0], connection=r)
    assert job.func_name == "workers.sync.sync_booking"
    assert job.origin == "sync"
    site_id, booking_id, revision, event_type, sealed = job.args
    assert (site_id, booking_id, revision, event_type) == (site["site_id"], "b-accept", 1, "booking.created")
    assert isinstance(sealed, bytes) and b"cus@example.com" not in sealed
    assert Queue("sync", connection=r).count == len(before) + 1


def test_repeated_webhook_id_is_200_with_the_byte_identical_body(stack, site, r):
    first = post(stack, site, signing.event(id="b-repeat"), msg_id="msg_repeat")
    assert first.status_code == 202, first.text
    count = r.llen(SYNC_QUEUE)
    for _ in range(3):
        again = post(stack, site, signing.event(id="b-repeat"), msg_id="msg_repeat")
        assert again.status_code == 200, again.text
        assert again.content == first.content
        assert again.headers["Content-Type"] == "application/json"
    assert r.llen(SYNC_QUEUE) == count
    assert len([job for job in jobs_of(r, site["site_id"]) if job.args[1] == "b-repeat"]) == 1


def test_stale_revision_is_acknowledged_and_ignored(stack, site, r):
    newest = post(stack, site, signing.event("booking.cancelled", id="b-stale", revision=3))
    assert newest.status_code == 202 and newest.json()["status"] == "accepted", newest.text
    count = r.llen(SYNC_QUEUE)
    for late_revision in (2, 3):
        late = post(stack, site, signing.event("booking.updated", id="b-stale", revision=late_revision))
        assert late.status_code == 202, late.text
        assert late.json()["status"] == "ignored" and late.json()["revision"] == late_revision
    assert r.llen(SYNC_QUEUE) == count
    status = get_status(stack, site, "b-stale")
    assert status.status_code == 200, status.text
    assert status.json()["revision"] == 3 and status.json()["last_event"] == "booking.cancelled"


# --- 4xx ------------------------------------------------------------------------------------------


@pytest.fixture
def nothing_queued(r):
    before = r.llen(SYNC_QUEUE)
    yield
    assert r.llen(SYNC_QUEUE) == before


def test_malformed_json_is_400(stack, site, nothing_queued):
    assert_json_error(post(stack, site, b'{"type": "booking.created", '), 400, "malformed_json")


def test_missing_signature_headers_are_401(stack, site, nothing_queued):
    body = signing.body_of(signing.event(id="b-unsigned"))
    answer = requests.post(
        events_url(stack, site["site_id"]),
        data=body,
        headers={"Content-Type": "application/json"},
        verify=str(stack.certs.ca),
        timeout=30,
    )
    assert_json_error(answer, 401, "bad_signature")
    signed = signing.headers(site["secret"], body)
    for missing in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        headers = {name: value for name, value in signed.items() if name.lower() != missing}
        answer = requests.post(
            events_url(stack, site["site_id"]),
            data=body,
            headers=headers,
            verify=str(stack.certs.ca),
            timeout=30,
        )
        assert answer.status_code == 401, (missing, answer.text)


def test_bad_signature_is_401(stack, site, nothing_queued):
    other = "whsec_" + "QUJD" * 8  # a well-formed secret that is not the site's
    assert_json_error(post(stack, site, signing.event(id="b-bad"), secret=other), 401, "bad_signature")
    body = signing.body_of(signing.event(id="b-tampered"))
    headers = signing.headers(site["secret"], body)
    tampered = body.replace(b"Intro call", b"Intro cull")
    answer = requests.post(
        events_url(stack, site["site_id"]),
        data=tampered,
        headers=headers,
        verify=str(stack.certs.ca),
        timeout=30,
    )
    assert_json_error(answer, 401, "bad_signature")


@pytest.mark.parametrize("skew", [-360, 360])
def test_timestamp_six_minutes_off_is_401(stack, site, skew, nothing_queued):
    answer = post(stack, site, signing.event(id="b-skew"), timestamp=int(time.time()) + skew)
    assert_json_error(answer, 401, "timestamp_out_of_tolerance")


def test_unknown_site_is_404(stack, site, nothing_queued):
    answer = post(stack, site, signing.event(id="b-nosite"), site_id="site_doesnotexist0000")
    assert_json_error(answer, 404, "unknown_site")


def test_body_over_64_kib_is_413(stack, site, r):
    count = r.llen(SYNC_QUEUE)
    answer = post(stack, site, signing.event(id="b-big", title="x" * (65 * 1024)))
    assert_json_error(answer, 413)
    assert r.llen(SYNC_QUEUE) == count
    # The connection handling survived: the next event on the same site is fine.
    assert post(stack, site, signing.event(id="b-after-big")).status_code == 202


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain"])
def test_non_json_content_type_is_415(stack, site, content_type, nothing_queued):
    answer = post(stack, site, signing.event(id="b-form"), headers={"Content-Type": content_type})
    assert_json_error(answer, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start": "2030-12-01 10:00"}, "booking.start"),
        ({"timezone": "Mars/Olympus"}, "booking.timezone"),
        ({"revision": "one"}, "booking.revision"),
    ],
)
def test_schema_violation_is_422_naming_the_field(stack, site, r, change, field, nothing_queued):
    answer = post(stack, site, signing.event(id="b-invalid", **change))
    assert assert_json_error(answer, 422, "invalid_event")["field"] == field
    assert not r.keys("*b-invalid*")


# --- Booking status -------------------------------------------------------------------------------


def test_booking_status_through_the_stack(stack, site):
    assert post(stack, site, signing.event(id="b-status", revision=2)).status_code == 202
    answer = get_status(stack, site, "b-status")
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["booking_id"] == "b-status" and data["state"] == "pending" and data["revision"] == 2
    assert data["last_event"] == "booking.created" and data["created_at"] <= data["updated_at"]
    assert not set(json.dumps(data).split('"')) & set(signing.PERSONAL)

    assert_json_error(get_status(stack, site, "b-never-sent"), 404, "unknown_booking")
    unsigned = requests.get(
        f"{stack.base_url}/v1/sites/{site['site_id']}/bookings/b-status",
        verify=str(stack.certs.ca),
        timeout=30,
    )
    assert_json_error(unsigned, 401)
    # The signature covers the path: a signature made for another booking does not open this one.
    other_path = f"/v1/sites/{site['site_id']}/bookings/b-accept"
    assert_json_error(get_status(stack, site, "b-status", sign_path=other_path), 401, "bad_signature")


# --- Concurrency across gunicorn's worker processes -----------------------------------------------


def burst(stack, site, payload, msg_id: str, request_ids: list[str]) -> list[requests.Response]:
    """Deliver the same signed event once per request id, on separate connections, all at once."""
    # TLS handshakes are done beforehand, so the deliveries reach the workers together.
    sessions = [requests.Session() for _ in request_ids]
    try:
        warm = concurrently(
            [
                lambda s=s: s.get(stack.base_url + "/healthz", verify=str(stack.certs.ca), timeout=30)
                for s in sessions
            ],
            len(sessions),
        )
        assert {answer.status_code for answer in warm} == {200}
        return concurrently(
            [
                lambda rid=rid, s=s: post(stack, site, payload, msg_id=msg_id, request_id=rid, session=s)
                for rid, s in zip(request_ids, sessions, strict=True)
            ],
            len(sessions),
        )
    finally:
        for session in sessions:
            session.close()


@pytest.mark.parametrize("attempt", range(3))  # a lost race is a matter of luck: give it three chances
def test_40_concurrent_deliveries_of_one_event_queue_one_job(stack, site, r, attempt):
    booking_id = f"b-concurrent-{attempt}"
    count = r.llen(SYNC_QUEUE)
    ids = [f"dup-{uuid.uuid4().hex[:12]}" for _ in range(40)]
    answers = burst(stack, site, signing.event(id=booking_id), f"msg_{uuid.uuid4().hex}", ids)
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 39 + [202], statuses
    assert len({answer.content for answer in answers}) == 1
    assert json.loads(answers[0].content)["status"] == "accepted"
    assert r.llen(SYNC_QUEUE) == count + 1
    assert len([job for job in jobs_of(r, site["site_id"]) if job.args[1] == booking_id]) == 1
    assert len(set(worker_pids(stack, ids).values())) == 2, "both gunicorn workers should have answered"


def test_200_distinct_events_out_of_order_keep_the_newest_revision(stack, r):
    site = new_site(stack, "Busy shop")
    bookings = [f"b-race-{n}" for n in range(20)]
    events = []
    for booking_id in bookings:
        for revision in range(1, 11):
            kind = "booking.created" if revision == 1 else "booking.updated"
            if revision == 10 and booking_id.endswith(("3", "7")):
                kind = "booking.cancelled"
            events.append((booking_id, revision, kind))
    random.Random(20261201).shuffle(events)
    ids = [f"race-{uuid.uuid4().hex[:12]}" for _ in events]

    def send(booking_id, revision, kind, rid):
        return post(stack, site, signing.event(kind, id=booking_id, revision=revision), request_id=rid)

    answers = concurrently(
        [lambda e=e, rid=rid: send(*e, rid) for e, rid in zip(events, ids, strict=True)], 16
    )
    assert {answer.status_code for answer in answers} == {202}, [
        a.text for a in answers if a.status_code != 202
    ]
    accepted = {
        (answer.json()["booking_id"], answer.json()["revision"])
        for answer in answers
        if answer.json()["status"] == "accepted"
    }
    ignored = [answer for answer in answers if answer.json()["status"] == "ignored"]
    assert len(accepted) + len(ignored) == 200
    jobs = jobs_of(r, site["site_id"])
    assert len(jobs) == len(accepted)
    assert {(job.args[1], job.args[2]) for job in jobs} == accepted
    for booking_id in bookings:
        record = r.hgetall(keys.booking(site["site_id"], booking_id))
        assert record[b"rev"] == b"10", (booking_id, record.get(b"rev"))
        expected = "booking.cancelled" if booking_id.endswith(("3", "7")) else "booking.updated"
        assert record[b"event"] == expected.encode()
        assert (booking_id, 10) in accepted
    assert len(set(worker_pids(stack, ids).values())) == 2


# --- Rotation -------------------------------------------------------------------------------------


def test_rotation_through_the_cli_despite_the_site_cache(stack):
    site = new_site(stack, "Rotating shop")
    first = site["secret"]

    def deliver(secret):
        return lambda rid: post(stack, site, signing.event(id=f"b-{rid}"), secret=secret, request_id=rid)

    # Both gunicorn workers now hold the site, with only the first secret, in their 30 s cache.
    assert {a.status_code for a in until_both_workers(stack, deliver(first))} == {202}

    rotated = cli(stack, "rotate-secret", site["site_id"], "--grace-hours", "1")
    second = rotated["secret"]
    assert second != first and rotated["previous_secrets_valid_until"] > time.time() + 3500
    # In the grace period both are accepted at once, by every worker.
    assert {a.status_code for a in until_both_workers(stack, deliver(second))} == {202}
    assert {a.status_code for a in until_both_workers(stack, deliver(first))} == {202}

    revoked = cli(stack, "rotate-secret", site["site_id"], "--grace-hours", "0")
    third = revoked["secret"]
    assert revoked["previous_secrets_valid_until"] is None
    # Now only the newest: both earlier secrets are refused at once, by every worker, although every
    # worker's cached copy (loaded during the grace period) still accepts them.
    for old in (first, second):
        refused = until_both_workers(stack, deliver(old))
        assert {a.status_code for a in refused} == {401}, [a.text for a in refused]
        assert {a.json()["error"] for a in refused} == {"bad_signature"}
    assert {a.status_code for a in until_both_workers(stack, deliver(third))} == {202}


def test_revoked_secret_is_refused_at_once_on_booking_status(stack):
    site = new_site(stack, "Rotating shop 2")
    assert post(stack, site, signing.event(id="b-rotating")).status_code == 202

    def status(secret):
        return lambda rid: get_status(stack, site, "b-rotating", secret=secret, request_id=rid)

    # Both gunicorn workers now hold the site, with only the first secret, in their 30 s cache.
    assert {a.status_code for a in until_both_workers(stack, status(site["secret"]))} == {200}
    revoked = cli(stack, "rotate-secret", site["site_id"], "--grace-hours", "0")
    refused = until_both_workers(stack, status(site["secret"]))
    assert {a.status_code for a in refused} == {401}, [a.status_code for a in refused]
    assert {a.status_code for a in until_both_workers(stack, status(revoked["secret"]))} == {200}


# --- Privacy --------------------------------------------------------------------------------------


def test_personal_data_is_neither_in_redis_nor_in_the_log(stack, site, r):
    for revision, kind in ((1, "booking.created"), (2, "booking.updated"), (3, "booking.cancelled")):
        answer = post(stack, site, signing.event(kind, id="b-private", revision=revision))
        assert answer.status_code == 202 and answer.json()["status"] == "accepted", answer.text
    assert post(stack, site, signing.event(id="b-private-bad", start="bad")).status_code == 422
    assert post(stack, site, signing.event(id="b-private", revision=1)).json()["status"] == "ignored"
    dump = processes.redis_dump(r)
    assert b"b-private" in dump and b"workers.sync.sync_booking" in dump  # the scan sees the data
    log = stack.services["web"].log_text()
    assert "b-private" in log
    for personal in signing.PERSONAL:
        assert personal.encode() not in dump, personal
        assert personal not in log, personal


# --- Redis down (last: it kills and restarts the stack's Redis) -----------------------------------


def test_redis_killed_is_503_and_after_restart_nothing_is_lost(stack, site, r):
    before = post(stack, site, signing.event(id="b-crash"), msg_id="msg_before_crash")
    assert before.status_code == 202, before.text
    jobs_before = queued_ids(r)
    crash_job = [job for job in jobs_of(r, site["site_id"]) if job.args[1] == "b-crash"]
    assert len(crash_job) == 1

    stack.redis.kill()
    try:
        down = until_both_workers(
            stack, lambda rid: post(stack, site, signing.event(id=f"b-{rid}"), request_id=rid), batch=4
        )
        for answer in down:
            assert_json_error(answer, 503)
        # A site no worker has cached needs Redis to authenticate: also a JSON 503.
        uncached = {"site_id": "site_notcachedanywhere0", "secret": site["secret"]}
        assert_json_error(post(stack, uncached, signing.event(id="b-uncached")), 503)
        assert_json_error(get_status(stack, site, "b-crash"), 503)

        def readyz(rid):
            return requests.get(
                stack.base_url + "/readyz",
                headers={"X-Request-ID": rid},
                verify=str(stack.certs.ca),
                timeout=30,
            )

        for answer in until_both_workers(stack, readyz, batch=4):
            assert answer.status_code == 503 and answer.json()["checks"]["redis"] == "unreachable"
    finally:
        if stack.redis.proc.poll() is not None:
            stack.redis.start()  # same folder and port: it reads its append-only file back

    stack.wait_ready()
    assert queued_ids(r) == jobs_before, "jobs accepted before the crash must survive it"
    assert Job.fetch(crash_job[0].id, connection=r).args[1] == "b-crash"
    replay = post(stack, site, signing.event(id="b-crash"), msg_id="msg_before_crash")
    assert replay.status_code == 200 and replay.content == before.content
    assert queued_ids(r) == jobs_before
    after = until_both_workers(
        stack, lambda rid: post(stack, site, signing.event(id=f"b-{rid}"), request_id=rid), batch=4
    )
    assert {answer.status_code for answer in after} == {202}
    assert r.llen(SYNC_QUEUE) == len(jobs_before) + len(after)
    assert "Traceback" not in stack.services["web"].log_text()
