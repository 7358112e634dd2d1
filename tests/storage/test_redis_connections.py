"""How MeetBridge reaches Redis past one host: through Sentinel (and after its failover), over TLS with
a client certificate, and as the least-privileged ACL users of deploy/redis/users.acl."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import time

import pytest
import redis

from scripts import local_tls
from scripts.drill import render_acl
from service import create_app, vault_keys
from service.sites import registry
from service.storage import redis_client
from tests import signing
from tests.processes import RedisServer, free_port, wait_for
from tests.storage.redis_topology import replica_of, sentinel, stop

ROLES = ("web", "worker", "cron", "admin", "backup", "replica", "sentinel")


def post(client, site, booking_id: str):
    body = signing.body_of(signing.event(id=booking_id))
    headers = signing.headers(site["secret"], body, msg_id=f"msg_{booking_id}")
    return client.post(f"/v1/sites/{site['site_id']}/events", data=body, headers=headers)


def test_through_sentinel_the_app_follows_a_failover_answering_503_meanwhile(tmp_path):
    primary = RedisServer(tmp_path / "primary")
    primary.start()
    replica = replica_of(tmp_path / "replica", primary)
    watcher, port = sentinel(tmp_path / "sentinel", primary)
    try:
        app = create_app(
            {
                "TESTING": True,
                "MEETBRIDGE_DATA_DIR": str(tmp_path),
                "REDIS_SENTINELS": f"127.0.0.1:{port}",
                "REDIS_SENTINEL_MASTER": "mb",
            }
        )
        with app.app_context():
            site = registry.create(redis_client.get(), vault_keys.get(), "Shop", "https://shop.example.com")
        client = app.test_client()
        assert post(client, site, "before").status_code == 202
        wait_for(lambda: replica.client().exists(f"mb:s:{site['site_id']}:bk:before"), what="replication")
        primary.kill()
        answers, deadline = [], time.monotonic() + 30
        while time.monotonic() < deadline:  # a booking sent during the switch is retried, as WordPress does
            answers.append(post(client, site, "during").status_code)
            if answers[-1] == 202:
                break
            time.sleep(0.05)
        assert answers[-1] == 202 and set(answers[:-1]) <= {503}, answers
        assert 503 in answers  # the switch was not instant: it answered 503, never a 500 or a false 202
        role = redis.Redis("127.0.0.1", replica.port).role()
        assert role[0] == b"master"  # the app now writes to the promoted replica
        assert post(client, site, "before").status_code == 200  # what the old primary had, the new one has
    finally:
        watcher.stop()
        replica.stop()
        stop(primary.proc)


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    """A redis-server that speaks TLS only (client certificates required) with the shipped ACL users."""
    folder = tmp_path_factory.mktemp("tls-redis")
    certs = local_tls.ensure_dev_certificates(folder / "tls")
    passwords = {role: secrets.token_urlsafe(12) for role in ROLES}
    (folder / "users.acl").write_text(render_acl(passwords))
    port = free_port()
    binary = shutil.which("redis-server") or "redis-server"
    proc = subprocess.Popen(
        [
            binary,
            "--port",
            "0",
            "--tls-port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--dir",
            str(folder),
            "--tls-cert-file",
            str(certs.cert),
            "--tls-key-file",
            str(certs.key),
            "--tls-ca-cert-file",
            str(certs.ca),
            "--tls-auth-clients",
            "yes",
            "--aclfile",
            str(folder / "users.acl"),
            "--save",
            "",
            "--logfile",
            str(folder / "redis.log"),
        ],  # fmt: skip
        stdin=subprocess.DEVNULL,
    )
    settings = {
        "REDIS_URL": f"rediss://127.0.0.1:{port}/0",
        "REDIS_TLS_CA": str(certs.ca),
        "REDIS_TLS_CERT": str(certs.cert),
        "REDIS_TLS_KEY": str(certs.key),
    }

    def as_role(role: str, **changes) -> redis.Redis:
        return redis_client.connect(
            {**settings, "REDIS_USERNAME": f"meetbridge-{role}", "REDIS_PASSWORD": passwords[role], **changes}
        )

    def up() -> bool:
        try:
            return as_role("admin").ping()
        except redis.RedisError:
            return proc.poll() is not None

    wait_for(up, timeout=15, what="redis-server with TLS")
    assert proc.poll() is None, (folder / "redis.log").read_text()
    yield as_role, port
    stop(proc)


def test_tls_with_a_client_certificate_and_an_acl_user(secured):
    as_role, port = secured
    assert as_role("web").set("mb:tls-check", "1")
    with pytest.raises(redis.ConnectionError):  # no client certificate: the handshake fails
        as_role("web", REDIS_TLS_CERT=None, REDIS_TLS_KEY=None).ping()
    with pytest.raises(redis.ConnectionError):  # plain text to the TLS port
        redis_client.connect(f"redis://127.0.0.1:{port}/0").ping()
    with pytest.raises(redis.AuthenticationError):  # a wrong password
        as_role("web", REDIS_PASSWORD="wrong").ping()


@pytest.mark.parametrize("role", ["web", "worker", "cron", "admin"])
@pytest.mark.parametrize(
    "command",
    [("FLUSHALL",), ("FLUSHDB",), ("KEYS", "*"), ("CONFIG", "GET", "maxmemory"), ("SWAPDB", "0", "1"),
     ("SCRIPT", "FLUSH"), ("SHUTDOWN",), ("REPLICAOF", "NO", "ONE"), ("MONITOR",), ("ACL", "LIST")],
)  # fmt: skip
def test_no_application_role_may_run_a_dangerous_command(secured, role, command):
    as_role, _port = secured
    with pytest.raises(redis.exceptions.NoPermissionError):
        as_role(role).execute_command(*command)


def test_each_role_reaches_only_the_keys_it_needs(secured):
    as_role, _port = secured
    web, worker, cron = as_role("web"), as_role("worker"), as_role("cron")
    worker.hset("rq:worker:w1", "state", "idle")
    worker.hset("mb:s:site_1:acct:zoom:7", "status", "active")
    # The web role never needs RQ's worker bookkeeping, and never blocks on a queue.
    with pytest.raises(redis.exceptions.NoPermissionError):
        web.hgetall("rq:worker:w1")
    with pytest.raises(redis.exceptions.NoPermissionError):
        web.blpop(["rq:queue:sync"], timeout=1)
    # cron (scheduler and reconciler) never reads linked accounts' tokens or sites' secrets.
    with pytest.raises(redis.exceptions.NoPermissionError):
        cron.hgetall("mb:s:site_1:acct:zoom:7")
    with pytest.raises(redis.exceptions.NoPermissionError):
        cron.hgetall("mb:site:site_1")
    assert cron.zadd("mb:owed:bookings", {"site_1|b": 1}) == 1
    # Backups list ids (site ids, booking key names, account members), never a record's content.
    backup = as_role("backup")
    assert list(backup.scan_iter(match="mb:s:*", count=100)) and backup.smembers("mb:sites") == set()
    with pytest.raises(redis.exceptions.NoPermissionError):
        backup.hgetall("mb:s:site_1:acct:zoom:7")
    # Sentinel and replication get no data commands at all.
    for role in ("backup", "sentinel", "replica"):
        with pytest.raises(redis.exceptions.NoPermissionError):
            as_role(role).get("mb:tls-check")
    # The default user is off: no name, no entry.
    with pytest.raises(redis.exceptions.AuthenticationError):
        as_role("web", REDIS_USERNAME=None, REDIS_PASSWORD="anything").ping()


def test_through_sentinel_over_tls_with_client_certificates(tmp_path):
    certs = local_tls.ensure_dev_certificates(tmp_path / "tls")
    tls = [
        "--tls-cert-file", str(certs.cert), "--tls-key-file", str(certs.key),
        "--tls-ca-cert-file", str(certs.ca), "--tls-auth-clients", "yes", "--tls-replication", "yes",
    ]  # fmt: skip
    binary = shutil.which("redis-server") or "redis-server"
    redis_port, sentinel_port = free_port(), free_port()
    primary = subprocess.Popen(
        [binary, "--port", "0", "--tls-port", str(redis_port), "--bind", "127.0.0.1", "--save", "",
         "--dir", str(tmp_path), "--logfile", str(tmp_path / "redis.log"), *tls],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    config = tmp_path / "sentinel.conf"
    config.write_text(f"sentinel monitor mb 127.0.0.1 {redis_port} 1\n")
    watcher = subprocess.Popen(
        [binary, str(config), "--sentinel", "--port", "0", "--tls-port", str(sentinel_port),
         "--bind", "127.0.0.1", "--logfile", str(tmp_path / "sentinel.log"), *tls],
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    settings = {
        "REDIS_SENTINELS": [("127.0.0.1", sentinel_port)],
        "REDIS_SENTINEL_MASTER": "mb",
        "REDIS_TLS": True,
        "REDIS_TLS_CA": str(certs.ca),
        "REDIS_TLS_CERT": str(certs.cert),
        "REDIS_TLS_KEY": str(certs.key),
    }
    try:
        client = redis_client.connect(settings)

        def answers() -> bool:
            try:
                return client.set("mb:over-tls", "1")
            except redis.RedisError:
                return False

        wait_for(answers, timeout=20, what="the primary through a TLS Sentinel")
        assert client.get("mb:over-tls") == b"1"
        with pytest.raises(redis.ConnectionError):  # the same Sentinel without TLS settings
            redis_client.connect({**settings, "REDIS_TLS": False}).ping()
    finally:
        stop(watcher)
        stop(primary)
