"""Real processes for tests and benchmarks: Redis, the web app under the project's gunicorn config,
RQ workers, the sandbox. Each is started the way the Procfile starts it and stopped with its
whole process group, so nothing outlives a test."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import redis

from scripts import embedded_redis

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float = 30.0, interval: float = 0.05, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value; raise TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


class RedisServer:
    """A throwaway redis-server with MeetBridge's durability settings (`fsync`: its `appendfsync`
    policy, by default MEETBRIDGE_REDIS_FSYNC or `everysec`)."""

    def __init__(self, folder: Path, port: int | None = None, fsync: str | None = None):
        self.folder = folder
        self.port = port or free_port()
        self.fsync = fsync
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def unix_url(self) -> str:
        """The same server over its unix socket (cheaper than loopback TCP for a Redis on the host)."""
        return f"unix://{self.folder / 'redis.sock'}"

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url)

    def start(self) -> None:
        binary = embedded_redis.executable(prefer_system=True)
        self.proc = embedded_redis.start(self.folder, port=self.port, binary=binary, fsync=self.fsync)

    def stop(self) -> None:
        if self.proc is not None:
            embedded_redis.stop(self.proc)

    def kill(self) -> None:
        """SIGKILL: no chance to flush anything beyond what the append-only file already has."""
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()


class Service:
    """A long-running child process in its own process group, logging to a file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Service:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=ROOT,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal(self, signum: int) -> None:
        if self.alive():
            os.killpg(self.proc.pid, signum)

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None:
            return
        self.signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.signal(signal.SIGKILL)
            self.proc.wait()
        # Forked children (gunicorn workers, RQ work horses) go with the group.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._log.close()

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def https_get(url: str, cafile: str, timeout: float = 5.0, **kwargs) -> tuple[int, bytes]:
    """GET over TLS trusting `cafile`; returns (status, body) for any HTTP status."""
    context = ssl.create_default_context(cafile=cafile)
    request = urllib.request.Request(url, **kwargs)  # noqa: S310 - https only in tests
    try:
        with urllib.request.urlopen(request, context=context, timeout=timeout) as answer:  # noqa: S310
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


class Stack:
    """The Procfile's processes (web, worker, optionally cron) plus the sandbox, on free ports.

    Configured as `make run` configures them (development mode, local TLS), but with Redis given by
    the caller and every file in `folder`.
    """

    def __init__(self, folder: Path, redis_url: str, *, workers: int = 1, cron: bool = False, **env):
        from scripts import local_tls

        self.folder = folder
        self.certs = local_tls.ensure_dev_certificates(folder / "tls")
        self.port = free_port()
        self.sandbox_port = free_port()
        self.base_url = f"https://localhost:{self.port}"
        self.sandbox_url = f"https://localhost:{self.sandbox_port}"
        self.env = {
            **os.environ,
            "MEETBRIDGE_ENV": "development",
            "MEETBRIDGE_DATA_DIR": str(folder),
            "REDIS_URL": redis_url,
            "PORT": str(self.port),
            "SANDBOX_PORT": str(self.sandbox_port),
            "MEETBRIDGE_SANDBOX_URL": self.sandbox_url,
            "MEETBRIDGE_PUBLIC_URL": self.base_url,
            "SANDBOX_REDIRECT_URIS": ",".join(
                f"{self.base_url}/oauth/{provider}/callback" for provider in ("google", "zoom")
            ),
            "MEETBRIDGE_TLS_CERT": str(self.certs.cert),
            "MEETBRIDGE_TLS_KEY": str(self.certs.key),
            "REQUESTS_CA_BUNDLE": str(self.certs.bundle),
            "SSL_CERT_FILE": str(self.certs.bundle),
            "HTTPLIB2_CA_CERTS": str(self.certs.bundle),
            "WEB_CONCURRENCY": "2",
            "MEETBRIDGE_WORKER_PROCESSES": "1",
            "MEETBRIDGE_WORKER_MAINTENANCE_INTERVAL": "5",
            "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PYTHONUNBUFFERED": "1",
            **env,
        }
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.services: dict[str, Service] = {}
        self.workers = workers
        self.cron = cron

    def _service(self, name: str, argv: list[str]) -> Service:
        service = Service(name, argv, self.env, self.folder)
        self.services[name] = service
        return service.start()

    def start_sandbox(self) -> Service:
        return self._service(
            "sandbox",
            [
                str(BIN / "gunicorn"), "--config", "sandbox/gunicorn.conf.py",
                "--bind", f"127.0.0.1:{self.sandbox_port}",
                "--certfile", str(self.certs.cert), "--keyfile", str(self.certs.key),
                "sandbox:create_app()",
            ],
        )  # fmt: skip

    def start_web(self) -> Service:
        return self._service(
            "web", [str(BIN / "gunicorn"), "--config", "gunicorn.conf.py", "service.wsgi:app"]
        )

    def start_worker(self, index: int = 0) -> Service:
        return self._service(f"worker{index}", [str(BIN / "flask"), "--app", "service", "worker"])

    def start_cron(self) -> Service:
        return self._service("cron", [str(BIN / "flask"), "--app", "service", "cron"])

    def start(self, sandbox: bool = True) -> Stack:
        if sandbox:
            self.start_sandbox()
        self.start_web()
        for index in range(self.workers):
            self.start_worker(index)
        if self.cron:
            self.start_cron()
        self.wait_ready()
        return self

    def get(self, path: str, **kwargs) -> tuple[int, bytes]:
        return https_get(self.base_url + path, str(self.certs.bundle), **kwargs)

    def wait_ready(self, timeout: float = 60.0) -> None:
        def ready():
            for name, service in self.services.items():
                if not service.alive():
                    raise RuntimeError(f"{name} exited:\n{service.log_text()[-3000:]}")
            try:
                return self.get("/readyz", timeout=2)[0] == 200
            except OSError:
                return False

        wait_for(ready, timeout=timeout, what="/readyz of the web process")

    def logs(self) -> str:
        return "\n".join(service.log_text() for service in self.services.values())

    def stop(self) -> None:
        for service in reversed(list(self.services.values())):
            service.stop()


def redis_dump(r: redis.Redis) -> bytes:
    """Every key and value in Redis, of every type; RQ's compressed job payloads decompressed too
    (RQ reads a payload as zlib or else as it is), so a search of it finds anything stored in the clear."""
    import zlib

    parts = []
    for key in r.scan_iter(count=1000):
        parts.append(key)
        kind = r.type(key)
        if kind == b"string":
            parts.append(r.get(key) or b"")
        elif kind == b"hash":
            for field, value in r.hgetall(key).items():
                parts += [field, value]
                if key.startswith(b"rq:job:") and field == b"data":
                    try:
                        parts.append(zlib.decompress(value))
                    except zlib.error:
                        pass  # stored uncompressed, already in `parts`
        elif kind == b"list":
            parts += r.lrange(key, 0, -1)
        elif kind == b"set":
            parts += r.smembers(key)
        elif kind == b"zset":
            parts += [member for member, _score in r.zrange(key, 0, -1, withscores=True)]
        elif kind == b"stream":
            for _id, entry in r.xrange(key):
                for field, value in entry.items():
                    parts += [field, value]
        else:
            raise AssertionError(f"unexpected Redis type {kind!r} of {key!r}")
    return b"\n".join(parts)
