"""The Redis connection shared by the web app, the CLI and the workers.

Created unbound and attached with `init_app`, as Flask extensions are; one connection pool per
process (redis-py re-creates it after a fork). Redis is either one URL (`REDIS_URL`: `redis://`,
`rediss://` or `unix://`) or a primary found through Redis Sentinel (`REDIS_SENTINELS` and
`REDIS_SENTINEL_MASTER`, redis-py's Sentinel client): then every new connection asks the Sentinels
where the primary is, so after a failover the next command (or the retry of a failed one) reaches the
new primary without a restart, and a connection to a demoted primary is dropped at its first write.
The ACL user and password (`REDIS_USERNAME`, `REDIS_PASSWORD`) and TLS (CA, client certificate)
apply to either.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

import redis
from flask import Flask, current_app
from redis.sentinel import Sentinel

from service.storage.durability import DurableAck
from service.storage.group_commit import GroupCommit

_EXTENSION = "meetbridge.redis"

#: Timeouts short enough that an unreachable Redis becomes a quick 503.
_TIMEOUTS = {"socket_timeout": 5, "socket_connect_timeout": 2}


def connect(settings: str | Mapping[str, object]) -> redis.Redis:
    """A client for a Redis URL, or for the settings of service.config (URL or Sentinels)."""
    if isinstance(settings, str):
        settings = {"REDIS_URL": settings}
    options: dict[str, object] = {**_TIMEOUTS, "health_check_interval": 30, "retry_on_timeout": False}
    if settings.get("REDIS_USERNAME"):
        options["username"] = settings["REDIS_USERNAME"]
    if settings.get("REDIS_PASSWORD"):
        options["password"] = settings["REDIS_PASSWORD"]
    sentinels = settings.get("REDIS_SENTINELS")
    if sentinels:
        tls = _tls(settings) if settings.get("REDIS_TLS") else {}
        sentinel_options = {**_TIMEOUTS, **tls}
        if settings.get("REDIS_SENTINEL_USERNAME"):
            sentinel_options["username"] = settings["REDIS_SENTINEL_USERNAME"]
        if settings.get("REDIS_SENTINEL_PASSWORD"):
            sentinel_options["password"] = settings["REDIS_SENTINEL_PASSWORD"]
        if isinstance(sentinels, str):  # `host:port,host:port` as in the environment
            pairs = (item.strip().rpartition(":") for item in sentinels.split(","))
            sentinels = [(host, int(port)) for host, _, port in pairs]
        manager = Sentinel(list(sentinels), sentinel_kwargs=sentinel_options, **options, **tls)
        return manager.master_for(str(settings["REDIS_SENTINEL_MASTER"]), check_connection=True)
    url = str(settings["REDIS_URL"])
    if urlsplit(url).scheme == "rediss":  # the scheme picks the TLS connection class itself
        options.update({key: value for key, value in _tls(settings).items() if key != "ssl"})
    return redis.Redis.from_url(url, **options)


def _tls(settings: Mapping[str, object]) -> dict[str, object]:
    """redis-py's TLS options: the CA that signed Redis's certificate, and our client certificate."""
    options: dict[str, object] = {"ssl": True, "ssl_cert_reqs": "required"}
    if settings.get("REDIS_TLS_CA"):
        options["ssl_ca_certs"] = settings["REDIS_TLS_CA"]
    if settings.get("REDIS_TLS_CERT"):
        options["ssl_certfile"] = settings["REDIS_TLS_CERT"]
        options["ssl_keyfile"] = settings["REDIS_TLS_KEY"]
    return options


def init_app(app: Flask) -> None:
    """Attach a Redis client for the app's Redis settings."""
    app.extensions[_EXTENSION] = connect(app.config)


def get(app: Flask | None = None) -> redis.Redis:
    """The Redis client of `app` (default: the current app)."""
    return (app or current_app).extensions[_EXTENSION]


def write_durably(*command):
    """Run one write command and, with a durable acknowledgement configured, confirm it on the same
    connection before returning: for a record that must survive a failover before the caller acts on
    it (the intent written before a Zoom meeting is created).

    Raises:
        NotDurable: too few replicas confirmed it in time (the write may or may not survive).
        redis.RedisError: Redis failed.

    Returns:
        The command's reply.
    """
    client = get()
    durable = DurableAck.from_settings(current_app.config)
    if durable is None:
        return client.execute_command(*command)
    with client.pipeline(transaction=False) as pipe:
        pipe.execute_command(*command)
        pipe.execute_command(*durable.command)
        reply, verdict = pipe.execute(raise_on_error=False)
    if isinstance(reply, redis.exceptions.ResponseError):
        raise reply
    failure = durable.failure(verdict)
    if failure is not None:
        raise failure
    return reply


def calls(app: Flask | None = None) -> GroupCommit:
    """The process's `GroupCommit` for plain commands of hot paths (see service.storage.group_commit)."""
    flask_app = app or current_app
    found = flask_app.extensions.get(_CALLS)
    if found is None:
        found = flask_app.extensions[_CALLS] = GroupCommit(get(flask_app))
    return found


_CALLS = "meetbridge.redis_calls"
