"""`POST /v1/sites/{site_id}/events` through the app and a real Redis: every answer of the contract."""

from __future__ import annotations

import json
import threading
import time

import pytest
import standardwebhooks
from rq import Queue
from rq.job import Job

from service import create_app, vault_keys
from service.bookings.records import event_aad
from service.sites import registry
from service.storage import keys, redis_client
from tests import signing
from tests.processes import free_port


@pytest.fixture
def site(app):
    with app.app_context():
        return registry.create(redis_client.get(), vault_keys.get(), "Shop", "https://shop.example.com")


def post(client, site, payload, *, secret=None, path=None, **header_options):
    body = signing.body_of(payload)
    headers = signing.headers(secret or site["secret"], body, **header_options)
    return client.post(path or f"/v1/sites/{site['site_id']}/events", data=body, headers=headers)


def sync_queue(app):
    return Queue("sync", connection=redis_client.get(app))


def test_accepts_a_signed_event_and_queues_one_job(client, app, site):
    answer = post(client, site, signing.event())
    assert answer.status_code == 202, answer.get_json()
    assert answer.get_json()["status"] == "accepted"
    queue = sync_queue(app)
    assert queue.count == 1
    job = Job.fetch(queue.job_ids[0], connection=redis_client.get(app))
    assert job.func_name == "workers.sync.sync_booking"
    site_id, booking_id, revision, event_type, sealed = job.args
    assert (site_id, booking_id, revision, event_type) == (site["site_id"], "123", 1, "booking.created")
    with app.app_context():
        plain, _ = vault_keys.get().open(sealed, event_aad(site_id, "123", 1))
    assert json.loads(plain)["customer"]["email"] == "cus@example.com"
    record = redis_client.get(app).hgetall(keys.booking(site["site_id"], "123"))
    assert record[b"state"] == b"pending" and record[b"rev"] == b"1"


def test_same_webhook_id_answers_200_with_the_same_body_and_queues_nothing_more(client, app, site):
    first = post(client, site, signing.event(), msg_id="msg_same")
    again = post(client, site, signing.event(), msg_id="msg_same")
    assert first.status_code == 202 and again.status_code == 200
    assert again.data == first.data
    assert sync_queue(app).count == 1


def test_a_replay_answered_200_writes_so_a_durable_ack_covers_the_first_write(client, app, site):
    """The 200 for a `webhook-id` already seen is an acknowledgement too: the replay writes (the same
    record, its expiry kept), so the durable acknowledgement's WAIT on the answering connection covers
    the event's first write, even when another connection or web host made it."""
    r = redis_client.get(app)
    first = post(client, site, signing.event(), msg_id="msg_replayed")
    record = keys.idempotency(site["site_id"], "msg_replayed")
    ttl, value = r.ttl(record), r.get(record)
    writes = r.info("persistence")["rdb_changes_since_last_save"]  # Redis's count of writes
    again = post(client, site, signing.event(), msg_id="msg_replayed")
    assert (first.status_code, again.status_code) == (202, 200)
    assert r.info("persistence")["rdb_changes_since_last_save"] > writes, "the replay wrote nothing"
    assert r.get(record) == value and ttl - 2 <= r.ttl(record) <= ttl


def test_idempotency_is_remembered_at_least_72_hours(client, app, site):
    post(client, site, signing.event(), msg_id="msg_ttl")
    ttl = redis_client.get(app).ttl(keys.idempotency(site["site_id"], "msg_ttl"))
    assert ttl >= 72 * 3600


def test_older_revision_is_acknowledged_and_ignored(client, app, site):
    assert post(client, site, signing.event("booking.cancelled", revision=3)).status_code == 202
    late = post(client, site, signing.event("booking.updated", revision=2))
    assert late.status_code == 202
    assert late.get_json()["status"] == "ignored"
    assert sync_queue(app).count == 1
    record = redis_client.get(app).hgetall(keys.booking(site["site_id"], "123"))
    assert record[b"rev"] == b"3" and record[b"event"] == b"booking.cancelled"


def test_malformed_json_is_400(client, site):
    answer = post(client, site, b'{"type": ')
    assert answer.status_code == 400 and answer.get_json()["error"] == "malformed_json"


def test_missing_signature_is_401(client, site):
    body = signing.body_of(signing.event())
    answer = client.post(f"/v1/sites/{site['site_id']}/events", data=body, content_type="application/json")
    assert answer.status_code == 401


def test_wrong_secret_is_401(client, app, site):
    other = registry.create(redis_client.get(app), vault_keys.get(app), "Other", "https://other.example.com")
    answer = post(client, site, signing.event(), secret=other["secret"])
    assert answer.status_code == 401 and answer.get_json()["error"] == "bad_signature"


def test_tampered_body_is_401(client, site):
    body = signing.body_of(signing.event())
    headers = signing.headers(site["secret"], body)
    tampered = body.replace(b"Intro call", b"Intro cull")
    answer = client.post(f"/v1/sites/{site['site_id']}/events", data=tampered, headers=headers)
    assert answer.status_code == 401


@pytest.mark.parametrize("skew", [-301, 301, -3600])
def test_timestamp_outside_five_minutes_is_401(client, site, skew):
    answer = post(client, site, signing.event(), timestamp=int(time.time()) + skew)
    assert answer.status_code == 401 and answer.get_json()["error"] == "timestamp_out_of_tolerance"


@pytest.mark.parametrize("skew", [-290, 290])
def test_timestamp_inside_five_minutes_is_accepted(client, site, skew):
    assert post(client, site, signing.event(), timestamp=int(time.time()) + skew).status_code == 202


def test_unknown_site_is_404(client, site):
    answer = post(client, site, signing.event(), path="/v1/sites/site_doesnotexist0000/events")
    assert answer.status_code == 404 and answer.get_json()["error"] == "unknown_site"


def test_body_over_64_kib_is_413(client, site):
    payload = signing.event(title="x" * (65 * 1024))
    assert post(client, site, payload).status_code == 413


def test_non_json_is_415(client, site):
    body = b"type=booking.created"
    headers = {**signing.headers(site["secret"], body), "Content-Type": "application/x-www-form-urlencoded"}
    answer = client.post(f"/v1/sites/{site['site_id']}/events", data=body, headers=headers)
    assert answer.status_code == 415


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"start": "2030-12-01 10:00"}, "booking.start"),
        ({"end": "2030-12-01T09:00:00+01:00"}, "booking.end"),
        ({"timezone": "Mars/Olympus"}, "booking.timezone"),
        ({"revision": "one"}, "booking.revision"),
        ({"title": "t" * 201}, "booking.title"),
    ],
)
def test_schema_violation_is_422_naming_the_field(client, app, site, change, field):
    answer = post(client, site, signing.event(**change))
    assert answer.status_code == 422
    assert answer.get_json()["field"] == field
    assert sync_queue(app).count == 0
    assert not redis_client.get(app).exists(keys.booking(site["site_id"], "123"))


def test_reference_library_signatures_are_accepted(client, site):
    body = signing.body_of(signing.event())
    signer = standardwebhooks.Webhook(site["secret"])
    from datetime import UTC, datetime

    msg_id = "msg_reference_lib"
    signature = signer.sign(msg_id, datetime.now(tz=UTC), body.decode())
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": signature,
        "Content-Type": "application/json",
    }
    answer = client.post(f"/v1/sites/{site['site_id']}/events", data=body, headers=headers)
    assert answer.status_code == 202, answer.get_json()


def test_rotation_accepts_old_and_new_secret_then_only_the_new(client, app, site):
    r, keyring = redis_client.get(app), vault_keys.get(app)
    rotated = registry.rotate_secret(r, keyring, site["site_id"], grace_seconds=3600)
    assert post(client, site, signing.event(id="a"), secret=site["secret"]).status_code == 202
    assert post(client, site, signing.event(id="b"), secret=rotated["secret"]).status_code == 202
    registry.rotate_secret(r, keyring, site["site_id"], grace_seconds=0)
    assert post(client, site, signing.event(id="c"), secret=rotated["secret"]).status_code == 401


def test_rotation_takes_effect_despite_the_cache(client, app, site):
    assert post(client, site, signing.event(id="warm")).status_code == 202  # caches the site
    rotated = registry.rotate_secret(
        redis_client.get(app), vault_keys.get(app), site["site_id"], grace_seconds=0
    )
    assert post(client, site, signing.event(id="new"), secret=rotated["secret"]).status_code == 202
    assert post(client, site, signing.event(id="old"), secret=site["secret"]).status_code == 401


def test_deleted_site_is_404_despite_the_cache(client, app, site):
    assert post(client, site, signing.event(id="warm")).status_code == 202
    registry.delete(redis_client.get(app), site["site_id"])
    assert post(client, site, signing.event(id="after")).status_code == 404


def test_personal_data_is_never_in_redis_in_the_clear(client, app, site):
    for rev, kind in ((1, "booking.created"), (2, "booking.updated"), (3, "booking.cancelled")):
        assert post(client, site, signing.event(kind, revision=rev)).status_code == 202
    r = redis_client.get(app)
    dump = b""
    for key in r.scan_iter():
        dump += key
        kind = r.type(key)
        if kind == b"hash":
            dump += b"".join(k + v for k, v in r.hgetall(key).items())
        elif kind == b"string":
            dump += r.get(key)
        elif kind == b"list":
            dump += b"".join(r.lrange(key, 0, -1))
        elif kind in (b"set",):
            dump += b"".join(r.smembers(key))
        elif kind == b"zset":
            dump += b"".join(member for member, _ in r.zrange(key, 0, -1, withscores=True))
    for personal in signing.PERSONAL:
        assert personal.encode() not in dump


def test_personal_data_is_never_logged(client, site, caplog):
    caplog.set_level("DEBUG")
    post(client, site, signing.event())
    post(client, site, signing.event(start="bad"))
    text = "\n".join(record.getMessage() + str(record.__dict__) for record in caplog.records)
    for personal in signing.PERSONAL:
        assert personal not in text


def test_redis_unreachable_is_503(tmp_path, site):
    app = create_app(
        {
            "TESTING": True,
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "MEETBRIDGE_DATA_DIR": str(tmp_path),
        }
    )
    answer = post(app.test_client(), site, signing.event())
    assert answer.status_code == 503
    assert b"Traceback" not in answer.data


def test_redis_out_of_memory_is_503_and_nothing_is_written(client, app, site):
    assert post(client, site, signing.event(id="warm")).status_code == 202  # site cached
    r = redis_client.get(app)
    before = r.dbsize()
    r.config_set("maxmemory", 1)
    try:
        answer = post(client, site, signing.event(id="oom"), msg_id="msg_oom")
    finally:
        r.config_set("maxmemory", 0)
    assert answer.status_code == 503
    assert r.dbsize() == before
    assert not r.exists(keys.idempotency(site["site_id"], "msg_oom"))
    # Once Redis has memory again the same delivery is accepted as new.
    assert post(client, site, signing.event(id="oom"), msg_id="msg_oom").status_code == 202


def test_concurrent_deliveries_of_one_id_create_one_job(app, site):
    body = signing.body_of(signing.event())
    headers = signing.headers(site["secret"], body, msg_id="msg_concurrent")
    answers = []

    def deliver():
        answers.append(
            app.test_client().post(f"/v1/sites/{site['site_id']}/events", data=body, headers=headers)
        )

    threads = [threading.Thread(target=deliver) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses == [200] * 15 + [202]
    assert len({answer.data for answer in answers}) == 1
    assert sync_queue(app).count == 1
