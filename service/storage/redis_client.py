"""The Redis connection shared by the web app, the CLI and the workers.

Created unbound and attached with `init_app`, as Flask extensions are; one connection pool per
process (redis-py re-creates it after a fork).
"""

from __future__ import annotations

import redis
from flask import Flask, current_app

from service.storage.group_commit import GroupCommit

_EXTENSION = "meetbridge.redis"


def connect(url: str) -> redis.Redis:
    """A client with timeouts short enough that an unreachable Redis becomes a quick 503."""
    return redis.Redis.from_url(
        url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30, retry_on_timeout=False
    )


def init_app(app: Flask) -> None:
    """Attach a Redis client for `app.config["REDIS_URL"]`."""
    app.extensions[_EXTENSION] = connect(app.config["REDIS_URL"])


def get(app: Flask | None = None) -> redis.Redis:
    """The Redis client of `app` (default: the current app)."""
    return (app or current_app).extensions[_EXTENSION]


def calls(app: Flask | None = None) -> GroupCommit:
    """The process's `GroupCommit` for plain commands of hot paths (see service.storage.group_commit)."""
    flask_app = app or current_app
    found = flask_app.extensions.get(_CALLS)
    if found is None:
        found = flask_app.extensions[_CALLS] = GroupCommit(get(flask_app))
    return found


_CALLS = "meetbridge.redis_calls"
