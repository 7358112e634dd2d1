"""`MEETBRIDGE_DURABLE_ACK`: the events endpoint answers 202 only once a replica (or the append-only
file) confirmed the event, against a real primary and replica."""

from __future__ import annotations

import signal

import pytest

from service import create_app, vault_keys
from service.sites import registry
from service.storage import keys, redis_client
from service.storage.durability import NotDurable
from tests import signing
from tests.processes import RedisServer
from tests.storage.redis_topology import replica_of


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    primary = RedisServer(tmp_path_factory.mktemp("primary"))
    primary.start()
    replica = replica_of(tmp_path_factory.mktemp("replica"), primary)
    yield primary, replica
    replica.proc.send_signal(signal.SIGCONT)
    replica.stop()
    primary.stop()


def app_for(primary: RedisServer, tmp_path, mode: str):
    return create_app(
        {
            "TESTING": True,
            "REDIS_URL": primary.url,
            "MEETBRIDGE_DATA_DIR": str(tmp_path),
            "DURABLE_ACK": mode,
            "DURABLE_ACK_REPLICAS": 1,
            "DURABLE_ACK_TIMEOUT_MS": 300,
        }
    )


def post(client, site, booking_id: str, msg_id: str):
    body = signing.body_of(signing.event(id=booking_id))
    headers = signing.headers(site["secret"], body, msg_id=msg_id)
    return client.post(f"/v1/sites/{site['site_id']}/events", data=body, headers=headers)


def new_site(app):
    with app.app_context():
        return registry.create(redis_client.get(), vault_keys.get(), "Shop", "https://shop.example.com")


def test_replica_mode_answers_202_once_the_replica_has_the_event(pair, tmp_path):
    primary, replica = pair
    app = app_for(primary, tmp_path, "replica")
    site = new_site(app)
    answer = post(app.test_client(), site, "b-ok", "msg_ok")
    assert answer.status_code == 202, answer.get_json()
    # Confirmed means the replica already has it: read at once, no waiting.
    assert replica.client().hget(keys.booking(site["site_id"], "b-ok"), "state") == b"pending"


def test_replica_mode_answers_503_while_no_replica_confirms_and_200_on_the_retry(pair, tmp_path):
    primary, replica = pair
    app = app_for(primary, tmp_path, "replica")
    site = new_site(app)
    client = app.test_client()
    replica.proc.send_signal(signal.SIGSTOP)
    try:
        answer = post(client, site, "b-late", "msg_late")
        assert answer.status_code == 503, answer.data
        assert answer.get_json()["error"] == "not_queued"
    finally:
        replica.proc.send_signal(signal.SIGCONT)
    retry = post(client, site, "b-late", "msg_late")
    assert retry.status_code == 200 and retry.get_json()["status"] == "accepted"


def test_a_replay_on_another_web_host_is_not_acknowledged_before_a_replica_has_the_event(pair, tmp_path):
    """The retry after a 503 may reach another web host (its own connection, which wrote nothing): its
    200 must wait for the replica like the 202 would, or a failover loses what it acknowledged."""
    primary, replica = pair
    first_host = app_for(primary, tmp_path, "replica")
    site = new_site(first_host)
    other_host = app_for(primary, tmp_path, "replica").test_client()  # its own connection
    replica.proc.send_signal(signal.SIGSTOP)
    try:
        assert post(first_host.test_client(), site, "b-moved", "msg_moved").status_code == 503
        replay = post(other_host, site, "b-moved", "msg_moved")
        assert replay.status_code == 503, replay.get_json()  # not 200: no replica has the event yet
    finally:
        replica.proc.send_signal(signal.SIGCONT)
    assert post(other_host, site, "b-moved", "msg_moved").status_code == 200


def test_off_answers_202_whatever_the_replica_does(pair, tmp_path):
    primary, replica = pair
    app = app_for(primary, tmp_path, "off")
    site = new_site(app)
    replica.proc.send_signal(signal.SIGSTOP)
    try:
        assert post(app.test_client(), site, "b-fast", "msg_fast").status_code == 202
    finally:
        replica.proc.send_signal(signal.SIGCONT)


def test_aof_mode_asks_for_waitaof_and_never_acknowledges_what_it_cannot_confirm(pair, tmp_path):
    primary, _replica = pair
    app = app_for(primary, tmp_path, "aof")
    site = new_site(app)
    answer = post(app.test_client(), site, "b-aof", "msg_aof")
    version = tuple(int(part) for part in primary.client().info("server")["redis_version"].split(".")[:2])
    if version >= (7, 2):  # WAITAOF: the primary's append-only file and the replica's, fsynced
        assert answer.status_code == 202, answer.data
    else:  # no WAITAOF before Redis 7.2: nothing can confirm, so nothing is acknowledged
        assert answer.status_code == 503, answer.data


def test_a_worker_write_that_must_survive_a_failover_waits_for_the_replica(pair, tmp_path):
    primary, replica = pair
    app = app_for(primary, tmp_path, "replica")
    with app.app_context():
        redis_client.write_durably("SET", "mb:test:intent", "1")
        assert replica.client().get("mb:test:intent") == b"1"
        replica.proc.send_signal(signal.SIGSTOP)
        try:
            with pytest.raises(NotDurable):
                redis_client.write_durably("SET", "mb:test:intent", "2")
        finally:
            replica.proc.send_signal(signal.SIGCONT)
