"""Redis settings past one host (service.config): Sentinels, TLS files, durable acknowledgement."""

from __future__ import annotations

import pytest
import redis

from service import config
from service.storage.durability import DurableAck, NotDurable

BASE = {"MEETBRIDGE_ENV": "development"}


def load(tmp_path, **environ):
    return config.load({**BASE, "MEETBRIDGE_DATA_DIR": str(tmp_path), **environ})


def test_sentinels_are_parsed_and_replace_the_embedded_redis(tmp_path):
    loaded = load(tmp_path, REDIS_SENTINELS="10.0.0.1:26379, sentinel-b:26380", REDIS_SENTINEL_MASTER="mb")
    assert loaded["REDIS_SENTINELS"] == [("10.0.0.1", 26379), ("sentinel-b", 26380)]
    assert loaded["REDIS_URL"] is None and not loaded.get("EMBEDDED_REDIS")
    assert load(tmp_path)["REDIS_SENTINELS"] == [] and load(tmp_path)["EMBEDDED_REDIS"]


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"REDIS_SENTINELS": "a:1"}, "REDIS_SENTINEL_MASTER"),
        ({"REDIS_SENTINEL_MASTER": "mb"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "a", "REDIS_SENTINEL_MASTER": "mb"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "a:99999", "REDIS_SENTINEL_MASTER": "mb"}, "REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "a:1", "REDIS_SENTINEL_MASTER": "mb", "REDIS_URL": "redis://x"}, "REDIS_URL"),
        ({"REDIS_TLS": "1"}, "REDIS_TLS"),
        ({"REDIS_TLS_CA": "/nonexistent/ca.pem"}, "REDIS_TLS_CA"),
        ({"REDIS_TLS_CERT": __file__}, "REDIS_TLS_KEY"),
        ({"MEETBRIDGE_DURABLE_ACK": "sometimes"}, "MEETBRIDGE_DURABLE_ACK"),
        ({"MEETBRIDGE_DURABLE_ACK": "replica", "MEETBRIDGE_DURABLE_ACK_REPLICAS": "0"}, "REPLICAS"),
        ({"MEETBRIDGE_DURABLE_ACK_TIMEOUT_MS": "0"}, "MEETBRIDGE_DURABLE_ACK_TIMEOUT_MS"),
    ],
)
def test_a_bad_redis_setting_stops_start_up_naming_the_variable(tmp_path, environ, named):
    with pytest.raises(config.ConfigError, match=named):
        load(tmp_path, **environ)


def test_durable_ack_settings_become_the_wait_command(tmp_path):
    assert DurableAck.from_settings(load(tmp_path)) is None
    replica = DurableAck.from_settings(load(tmp_path, MEETBRIDGE_DURABLE_ACK="replica"))
    assert replica.command == ("WAIT", 1, 1000)
    aof = DurableAck.from_settings(
        load(tmp_path, MEETBRIDGE_DURABLE_ACK="AOF", MEETBRIDGE_DURABLE_ACK_REPLICAS="0")
    )
    assert aof.command == ("WAITAOF", 1, 0, 1000)


def test_durable_ack_reads_redis_answers():
    replica, aof = DurableAck("replica", 2, 100), DurableAck("aof", 1, 100)
    assert replica.failure(2) is None and isinstance(replica.failure(1), NotDurable)
    assert aof.failure([1, 1]) is None
    assert isinstance(aof.failure([0, 1]), NotDurable) and isinstance(aof.failure([1, 0]), NotDurable)
    assert isinstance(replica.failure(redis.exceptions.ResponseError("unknown command")), NotDurable)
