"""`make drill`: the multi-host failover drill, on this machine, in network namespaces (scripts/netns.py).

Hosts: `redis1` (Redis primary and Sentinel 1), `redis2` and `redis3` (a replica and a Sentinel
each: with `MEETBRIDGE_DURABLE_ACK=replica`, a failover must leave a replica to confirm writes), two
web hosts (gunicorn, TLS) and two worker hosts with `rq cron` (work1 runs one worker process, work2 a
pool of two). Every process finds Redis through the three Sentinels and logs in as its own ACL user
from deploy/redis/users.acl (passwords made up for the run). The sandbox providers and a stand-in
WordPress site run in the driver, on the bridge's address. Sentinel's down-after is 1 s.

The drill links a Zoom and a Google account, then sends bookings through both web hosts from a few
client threads; each booking is retried with the same `webhook-id` on any answer but 200/202, as
WordPress's outbox does. Once a third of them were acknowledged, the replicas are paused for `--lag`
seconds (SIGSTOP: replicas that fell behind, as a slow link or disk makes them) and the Redis primary
is SIGKILLed. It then checks that Sentinel promoted a replica, that every acknowledged booking was
synced exactly once (one Zoom meeting; Google's event ids are deterministic), that both worker hosts
ran jobs, that no process ended, and how long after the kill intake answered 202 again.
`python -m scripts.drill --durable off replica` runs it once per mode; `--json` prints the figures.
The driver imports the tests' helpers (signing, the stand-in site, the connect flow), as bench/ does.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import signal
import sys
import tempfile
import threading
import time
import types
from dataclasses import asdict, dataclass, field
from pathlib import Path

import redis
import requests

from scripts import local_tls
from scripts.netns import Network
from service.config import dev_secrets
from service.crypto import Keyring
from service.sites import registry
from tests import signing
from tests.processes import BIN, ROOT, Service, free_port, wait_for
from tests.site_double import SiteDouble
from tests.site_stack import Linker, Sandbox

HOSTS = ["redis1", "redis2", "redis3", "web1", "web2", "work1", "work2"]
SENTINEL_HOSTS = ["redis1", "redis2", "redis3"]
MASTER = "mb"
REDIS_PORT, SENTINEL_PORT, WEB_PORT = 6379, 26379, 8080
ROLES = ("web", "worker", "cron", "admin", "backup", "replica", "sentinel")
STAFF = "7"


@dataclass
class Result:
    """What one drill found; `ok` says whether it met the bar. 0 lost and 0 duplicates are required
    only with a durable acknowledgement: without it, a write the replicas had not received when the
    primary died is gone (an acknowledged booking, or the Zoom intent whose loss lets a retry create
    a second meeting), and the drill reports how many."""

    durable: str
    bookings: int
    lag: float = 0.0
    acknowledged: int = 0
    lost: list[str] = field(default_factory=list)
    not_synced: list[str] = field(default_factory=list)
    duplicates: list[str] = field(default_factory=list)
    answers_503: int = 0
    connection_errors: int = 0
    failover_seconds: float | None = None  # primary killed -> first 202 to a request sent after the kill
    sentinel_seconds: float | None = None  # primary killed -> Sentinels name the new primary
    jobs_by_host: dict[str, int] = field(default_factory=dict)
    acks_by_web: dict[str, int] = field(default_factory=dict)
    exited: list[str] = field(default_factory=list)  # processes (but the killed primary) that ended
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def judge(self) -> Result:
        if self.failover_seconds is None:
            self.problems.append("intake never answered 202 after the primary was killed")
        if self.exited:
            self.problems.append(f"processes ended instead of following the failover: {self.exited}")
        if self.sentinel_seconds is None:
            self.problems.append("the Sentinels did not promote the replica")
        if self.not_synced:
            self.problems.append(f"{len(self.not_synced)} stored booking(s) never synced (stuck)")
        if self.durable != "off" and (self.lost or self.duplicates):
            self.problems.append(f"lost {len(self.lost)}, duplicated {len(self.duplicates)} with durable ack")
        if len([n for n in self.jobs_by_host.values() if n]) < 2:
            self.problems.append(f"the worker hosts did not share the work: {self.jobs_by_host}")
        if len([n for n in self.acks_by_web.values() if n]) < 2:
            self.problems.append(f"the web hosts did not share the intake: {self.acks_by_web}")
        return self

    def summary(self) -> str:
        lines = [
            f"durable ack {self.durable}, replicas {self.lag:.1f} s behind at the kill: "
            f"{self.acknowledged}/{self.bookings} acknowledged "
            f"(web {self.acks_by_web}), lost {len(self.lost)}, duplicates {len(self.duplicates)}, "
            f"not synced {len(self.not_synced)}",
            f"  Sentinel promoted the replica {_seconds(self.sentinel_seconds)} after the kill; intake "
            f"answered 202 again {_seconds(self.failover_seconds)} after it ({self.answers_503} answers 503, "
            f"{self.connection_errors} connection errors meanwhile)",
            f"  jobs run by worker host: {self.jobs_by_host}",
        ]
        lines += [f"  PROBLEM: {problem}" for problem in self.problems]
        return "\n".join(lines)


def _seconds(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def render_acl(passwords: dict[str, str]) -> str:
    """deploy/redis/users.acl with each role's password (role -> password) hashed in."""
    spec = importlib.util.spec_from_file_location("render_acl", ROOT / "deploy" / "redis" / "render_acl.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    template = (ROOT / "deploy" / "redis" / "users.acl").read_text()
    return module.render(
        template, {f"MEETBRIDGE_REDIS_{r.upper()}_PASSWORD": p for r, p in passwords.items()}
    )


class Drill:
    """The hosts and their processes; `run` sends the load, kills the primary and checks the outcome."""

    def __init__(
        self,
        folder: Path,
        *,
        durable: str = "replica",
        bookings: int = 60,
        clients: int = 6,
        lag: float = 0.0,
        workers: bool = True,
        web_durable: dict[str, str] | None = None,
    ):
        self.folder = folder
        self.durable = durable
        self.bookings = bookings
        self.clients = clients
        self.lag = lag  # seconds the replicas fall behind (SIGSTOP) just before the primary dies
        self.workers = workers  # False: web hosts only (the benchmark of the intake)
        self.web_durable = web_durable or {}  # web host -> its own MEETBRIDGE_DURABLE_ACK (benchmark)
        self.net = Network(HOSTS)
        self.passwords = {role: secrets.token_urlsafe(18) for role in ROLES}
        self.services: dict[str, Service] = {}
        self.double: SiteDouble | None = None

    # -- bring-up ---------------------------------------------------------------------------------------
    def __enter__(self) -> Drill:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop(timeout=5)
        if self.double is not None:
            self.double.__exit__(None, None, None)
        self.net.destroy()

    def _start(self) -> None:
        self.net.create()
        gateway = self.net.gateway
        self.certs = local_tls.ensure_dev_certificates(
            self.folder / "tls", (gateway, *self.net.addresses.values())
        )
        self.data = self.folder / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.keyring = Keyring.from_config(dev_secrets(self.data)["MEETBRIDGE_VAULT_KEYS"])
        (self.folder / "users.acl").write_text(render_acl(self.passwords))
        self._start_redis("redis1", None)
        self._start_redis("redis2", self.net.addresses["redis1"])
        self._start_redis("redis3", self.net.addresses["redis1"])
        for host in SENTINEL_HOSTS:
            self._start_sentinel(host)
        self.sandbox_port = free_port()
        self.sandbox_url = f"https://{gateway}:{self.sandbox_port}"
        self.public_url = self.web_url("web1")
        self._spawn("sandbox", None, [
            str(BIN / "gunicorn"), "--config", "sandbox/gunicorn.conf.py",
            "--bind", f"{gateway}:{self.sandbox_port}",
            "--certfile", str(self.certs.cert), "--keyfile", str(self.certs.key), "sandbox:create_app()",
        ], self._env("admin"))  # fmt: skip
        self.double = SiteDouble(host=gateway).__enter__()
        for host in ("web1", "web2"):
            env = self._env("web", MEETBRIDGE_BIND=f"{self.net.addresses[host]}:{WEB_PORT}")
            env["MEETBRIDGE_DURABLE_ACK"] = self.web_durable.get(host, self.durable)
            self._spawn(
                host, host, [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "service.wsgi:app"], env
            )
        # work1 runs one worker process (the command's own restart loop), work2 a pool of two (RQ's).
        for host, pool in (("work1", "1"), ("work2", "2")) if self.workers else ():
            self._spawn(
                f"{host}-worker",
                host,
                [str(BIN / "flask"), "--app", "service", "worker"],
                self._env("worker", MEETBRIDGE_WORKER_PROCESSES=pool),
            )
            self._spawn(
                f"{host}-cron", host, [str(BIN / "flask"), "--app", "service", "cron"], self._env("cron")
            )
        for host in ("web1", "web2"):
            wait_for(lambda h=host: self._ready(h), timeout=90, what=f"/readyz on {host}")
        self.redis = self.admin_client()
        wait_for(self._sentinels_ready, timeout=60, interval=0.5, what="Sentinels that know both replicas")
        wait_for(
            self._replicas_streaming, timeout=30, interval=0.2, what="replicas streaming from the primary"
        )
        # The stand-in WordPress is a plain-http server in one of the drill's own namespaces (a private
        # test network on this machine), so its callback URL is allowed over http.
        self.site = registry.create(self.redis, self.keyring, "Drill Shop", self.double.url, allow_http=True)
        self.double.secret = self.site["secret"]
        stack = types.SimpleNamespace(
            base_url=self.public_url, certs=self.certs, sandbox_url=self.sandbox_url
        )
        Sandbox(stack).post("consent", {"mode": "approve"})
        linker = Linker(stack, self.site, self.double.return_url())
        for provider in ("zoom", "google"):
            outcome = linker.link(provider, STAFF)
            if outcome.get("meetbridge_status") != "connected":
                raise RuntimeError(f"linking {provider} failed: {outcome}")

    def _start_redis(self, host: str, primary: str | None) -> None:
        folder = self.folder / host
        folder.mkdir(parents=True, exist_ok=True)
        argv = [
            shutil.which("redis-server") or "redis-server",
            "--bind", self.net.addresses[host], "--port", str(REDIS_PORT), "--dir", str(folder),
            "--daemonize", "no", "--logfile", str(folder / "redis.log"), "--save", "",
            "--appendonly", "yes", "--appendfsync", "everysec", "--maxmemory-policy", "noeviction",
            "--aclfile", str(self.folder / "users.acl"),
            "--masteruser", "meetbridge-replica", "--masterauth", self.passwords["replica"],
        ]  # fmt: skip
        if primary:
            argv += ["--replicaof", primary, str(REDIS_PORT)]
        self._spawn(f"{host}-redis", host, argv, dict(os.environ))

    def _start_sentinel(self, host: str) -> None:
        folder = self.folder / f"{host}-sentinel"
        folder.mkdir(parents=True, exist_ok=True)
        config = folder / "sentinel.conf"
        config.write_text(
            "\n".join(
                [
                    f"bind {self.net.addresses[host]}",
                    f"port {SENTINEL_PORT}",
                    f"dir {folder}",
                    f"logfile {folder / 'sentinel.log'}",
                    f"sentinel monitor {MASTER} {self.net.addresses['redis1']} {REDIS_PORT} 2",
                    f"sentinel down-after-milliseconds {MASTER} 1000",
                    f"sentinel failover-timeout {MASTER} 10000",
                    f"sentinel parallel-syncs {MASTER} 1",
                    f"sentinel auth-user {MASTER} meetbridge-sentinel",
                    f"sentinel auth-pass {MASTER} {self.passwords['sentinel']}",
                    "",
                ]
            )
        )
        binary = shutil.which("redis-server") or "redis-server"
        self._spawn(f"{host}-sentinel", host, [binary, str(config), "--sentinel"], dict(os.environ))

    def _spawn(self, name: str, host: str | None, argv: list[str], env: dict) -> Service:
        command = argv if host is None else self.net.exec_argv(host, argv)
        service = Service(name, command, env, self.folder).start()
        self.services[name] = service
        return service

    def web_url(self, host: str) -> str:
        return f"https://{self.net.addresses[host]}:{WEB_PORT}"

    def sentinels(self) -> str:
        return ",".join(f"{self.net.addresses[h]}:{SENTINEL_PORT}" for h in SENTINEL_HOSTS)

    def _env(self, role: str, **extra) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("MEETBRIDGE_", "REDIS_", "PROMETHEUS_", "GOOGLE_", "ZOOM_"))
        }
        env.update(
            MEETBRIDGE_ENV="development",
            MEETBRIDGE_DATA_DIR=str(self.data),
            REDIS_SENTINELS=self.sentinels(),
            REDIS_SENTINEL_MASTER=MASTER,
            REDIS_USERNAME=f"meetbridge-{role}",
            REDIS_PASSWORD=self.passwords[role],
            MEETBRIDGE_DURABLE_ACK=self.durable,
            MEETBRIDGE_DURABLE_ACK_TIMEOUT_MS="1000",
            MEETBRIDGE_PUBLIC_URL=self.public_url,
            MEETBRIDGE_SANDBOX_URL=self.sandbox_url,
            MEETBRIDGE_TLS_CERT=str(self.certs.cert),
            MEETBRIDGE_TLS_KEY=str(self.certs.key),
            MEETBRIDGE_LOG_LEVEL="INFO",
            MEETBRIDGE_WORKER_MAINTENANCE_INTERVAL="5",
            MEETBRIDGE_SYNC_JOB_TIMEOUT="20",
            SANDBOX_REDIRECT_URIS=",".join(
                f"{self.public_url}/oauth/{p}/callback" for p in ("google", "zoom")
            ),
            REQUESTS_CA_BUNDLE=str(self.certs.bundle),
            SSL_CERT_FILE=str(self.certs.bundle),
            HTTPLIB2_CA_CERTS=str(self.certs.bundle),
            WEB_CONCURRENCY="1",
            GUNICORN_THREADS="6",
            PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            PYTHONUNBUFFERED="1",
            **extra,
        )
        return env

    def admin_client(self) -> redis.Redis:
        from service.storage import redis_client

        return redis_client.connect(
            {
                "REDIS_SENTINELS": [(self.net.addresses[h], SENTINEL_PORT) for h in SENTINEL_HOSTS],
                "REDIS_SENTINEL_MASTER": MASTER,
                "REDIS_USERNAME": "meetbridge-admin",
                "REDIS_PASSWORD": self.passwords["admin"],
            }
        )

    def _ready(self, host: str) -> bool:
        for name, service in self.services.items():
            if not service.alive():
                raise RuntimeError(f"{name} exited:\n{service.log_text()[-3000:]}")
        try:
            answer = requests.get(f"{self.web_url(host)}/readyz", timeout=2, verify=str(self.certs.bundle))
            return answer.status_code == 200
        except requests.RequestException:
            return False

    def _sentinels_ready(self) -> bool:
        """Every Sentinel knows the two replicas and the other two Sentinels (they learn it from INFO
        and hello messages every few seconds; a failover before that finds no replica to promote)."""
        for host in SENTINEL_HOSTS:
            try:
                client = redis.Redis(self.net.addresses[host], SENTINEL_PORT, socket_timeout=1)
                replicas = client.sentinel_slaves(MASTER)
                others = client.sentinel_sentinels(MASTER)
            except redis.RedisError:
                return False
            healthy = [r for r in replicas if not (r["is_sdown"] or r["is_odown"])]
            if len(healthy) < 2 or len(others) < 2:
                return False
        return True

    def _replicas_streaming(self) -> bool:
        """Both replicas online and caught up: after its first full sync a replica is sent the writes
        made meanwhile only once it acknowledges (within a second), and a kill before that loses more
        than any running system would."""
        info = self.redis.info("replication")
        replicas = [info.get(f"slave{n}") or {} for n in range(int(info.get("connected_slaves", 0)))]
        offset = int(info.get("master_repl_offset", 0))
        return len(replicas) == 2 and all(
            r.get("state") == "online" and int(r.get("offset", -1)) >= offset for r in replicas
        )

    def master_address(self) -> str | None:
        for host in SENTINEL_HOSTS:
            try:
                client = redis.Redis(self.net.addresses[host], SENTINEL_PORT, socket_timeout=1)
                found = client.sentinel_get_master_addr_by_name(MASTER)
                if found:
                    address = found[0]
                    return address.decode() if isinstance(address, bytes) else str(address)
            except redis.RedisError:
                continue
        return None

    # -- the drill ------------------------------------------------------------------------------------
    def run(self, kill_after: int | None = None, settle_timeout: float = 90.0) -> Result:
        result = Result(self.durable, self.bookings, self.lag)
        kill_after = kill_after or max(1, self.bookings // 3)
        acks: dict[str, tuple[float, float, str]] = {}  # booking -> (sent, answered, web host)
        lock = threading.Lock()
        killed: dict[str, float] = {}
        todo = list(range(self.bookings))
        webs = ["web1", "web2"]
        stop_at = time.monotonic() + 150  # the whole load phase, however badly things go
        # Paced so the load outlasts the replicas' pause and the kill: bookings are still being sent
        # (and retried) while Sentinel promotes a replica, which measures the time to 202 again.
        pace = (self.lag + 3.0) * self.clients / max(1, self.bookings)

        def kill_primary() -> None:
            replicas = [self.services[f"{host}-redis"] for host in ("redis2", "redis3")]
            if self.lag:
                for replica in replicas:
                    replica.signal(signal.SIGSTOP)
                time.sleep(self.lag)
            killed["at"] = time.monotonic()
            self.services["redis1-redis"].signal(signal.SIGKILL)
            for replica in replicas if self.lag else ():
                replica.signal(signal.SIGCONT)
            threading.Thread(target=watch_sentinels, daemon=True).start()

        killer = threading.Thread(target=kill_primary, daemon=True)

        def watch_sentinels() -> None:
            old = self.net.addresses["redis1"]
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                address = self.master_address()
                if address and address != old:
                    result.sentinel_seconds = time.monotonic() - killed["at"]
                    return
                time.sleep(0.05)

        def client(worker: int) -> None:
            session = requests.Session()
            while True:
                with lock:
                    if not todo:
                        return
                    number = todo.pop(0)
                booking_id = f"drill-{number}"
                body = signing.body_of(signing.event("booking.created", id=booking_id, revision=1))
                msg_id = f"msg_drill_{number}_{secrets.token_hex(4)}"
                attempt, deadline = 0, min(stop_at, time.monotonic() + 60)
                while time.monotonic() < deadline:
                    host = webs[(number + attempt) % 2]
                    attempt += 1
                    sent = time.monotonic()
                    try:
                        answer = session.post(
                            f"{self.web_url(host)}/v1/sites/{self.site['site_id']}/events",
                            data=body,
                            headers=signing.headers(self.site["secret"], body, msg_id=msg_id),
                            timeout=5,
                            verify=str(self.certs.bundle),
                        )
                        status = answer.status_code
                    except requests.RequestException:
                        status = None
                    with lock:
                        if status in (200, 202):
                            acks[booking_id] = (sent, time.monotonic(), host)
                            if not killer.is_alive() and "at" not in killed and len(acks) >= kill_after:
                                killer.start()
                        elif status == 503:
                            result.answers_503 += 1
                        else:
                            result.connection_errors += 1
                    if status in (200, 202):
                        break
                    time.sleep(0.1)
                time.sleep(pace)

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(self.clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(180)
        if not killer.is_alive() and "at" not in killed:
            killer.start()
        killer.join(30)
        after = [answered for sent, answered, _host in acks.values() if sent >= killed["at"]]
        if after:
            result.failover_seconds = min(after) - killed["at"]
        result.acknowledged = len(acks)
        result.acks_by_web = {h: sum(1 for *_, host in acks.values() if host == h) for h in webs}
        wait_for(lambda: result.sentinel_seconds is not None, timeout=60, what="the Sentinels' new primary")
        self._settle(result, sorted(acks), settle_timeout)
        killed_primary = "redis1-redis"
        result.exited = [
            name for name, s in self.services.items() if name != killed_primary and not s.alive()
        ]
        return result.judge()

    def _settle(self, result: Result, acknowledged: list[str], timeout: float) -> None:
        """Wait until every acknowledged booking that the new primary holds is synced; then count."""
        r = self.admin_client()
        site_id = self.site["site_id"]

        def states() -> dict[str, str | None]:
            with r.pipeline(transaction=False) as pipe:
                for booking_id in acknowledged:
                    pipe.hget(f"mb:s:{site_id}:bk:{booking_id}", "state")
                found = pipe.execute()
            return {b: s.decode() if s else None for b, s in zip(acknowledged, found, strict=True)}

        deadline = time.monotonic() + timeout
        current = states()
        while time.monotonic() < deadline and any(s not in ("synced", None) for s in current.values()):
            time.sleep(0.5)
            current = states()
        result.lost = [b for b, s in current.items() if s is None]
        result.not_synced = [b for b, s in current.items() if s not in ("synced", None)]
        meetings = requests.get(
            f"{self.sandbox_url}/_sandbox/state", verify=str(self.certs.bundle), timeout=10
        )
        agendas = [m.get("agenda") or "" for m in meetings.json()["zoom_meetings"] if not m.get("deleted")]
        for booking_id in acknowledged:
            marker = "mb-" + hashlib.sha256(f"{site_id}|{booking_id}".encode()).hexdigest()[:20]
            if sum(marker in agenda for agenda in agendas) > 1:
                result.duplicates.append(booking_id)
        for host in ("work1", "work2"):  # jobs run to the end (syncs, results delivered, cron's)
            result.jobs_by_host[host] = self.services[f"{host}-worker"].log_text().count("Job OK (")

    def logs(self) -> str:
        return "\n".join(f"==== {n}\n{s.log_text()[-4000:]}" for n, s in self.services.items())


def run_drill(
    durable: str, bookings: int, clients: int, lag: float = 0.0, folder: Path | None = None
) -> Result:
    """One drill in a fresh folder (kept only on failure, for its logs)."""
    base = folder or Path(tempfile.mkdtemp(prefix=f"meetbridge-drill-{durable}-"))
    with Drill(base, durable=durable, bookings=bookings, clients=clients, lag=lag) as drill:
        result = drill.run()
        if not result.ok:
            print(drill.logs(), file=sys.stderr)
    if result.ok and folder is None:
        shutil.rmtree(base, ignore_errors=True)
    elif not result.ok:
        print(f"drill files kept in {base}", file=sys.stderr)
    return result


def _stop(signum, _frame) -> None:
    raise SystemExit(128 + signum)  # unwinds through Drill.close: no namespace or process outlives us


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _stop)
    parser = argparse.ArgumentParser(prog="make drill", description=__doc__.splitlines()[0])
    parser.add_argument("--durable", nargs="+", default=["off", "replica"], choices=["off", "replica", "aof"])
    parser.add_argument(
        "--bookings",
        type=int,
        default=60,
        help="at most ~90: the sandbox, like Zoom, allows 100 meeting creates per user a day",
    )
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument(
        "--lag", type=float, default=0.5, help="seconds the replicas are paused before the kill (0: none)"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    options = parser.parse_args(argv)
    results = [run_drill(mode, options.bookings, options.clients, options.lag) for mode in options.durable]
    if options.json:
        print(json.dumps([{**asdict(r), "ok": r.ok} for r in results], indent=2))
    else:
        print("\n".join(r.summary() for r in results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
