"""Real Redis topologies on loopback for the storage tests: a primary with replicas, Sentinels, TLS."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis

from tests.processes import RedisServer, Service, free_port, wait_for


def replica_of(folder: Path, primary: RedisServer) -> RedisServer:
    """A started replica of `primary`, caught up with it."""
    replica = RedisServer(folder)
    replica.start()
    replica.client().replicaof("127.0.0.1", primary.port)
    wait_for(lambda: streaming(primary, 1), timeout=30, what="the replica streaming")
    return replica


def streaming(primary: RedisServer, count: int) -> bool:
    info = primary.client().info("replication")
    offset = int(info.get("master_repl_offset", 0))
    found = [info.get(f"slave{n}") or {} for n in range(int(info.get("connected_slaves", 0)))]
    online = [r for r in found if r.get("state") == "online" and int(r.get("offset", -1)) >= offset]
    return len(online) >= count


def sentinel(folder: Path, primary: RedisServer, name: str = "mb") -> tuple[Service, int]:
    """One Sentinel (quorum 1) watching `primary`, with a one-second down-after; (process, port)."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    config = folder / "sentinel.conf"
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndir {folder}\n"
        f"sentinel monitor {name} 127.0.0.1 {primary.port} 1\n"
        f"sentinel down-after-milliseconds {name} 1000\nsentinel failover-timeout {name} 5000\n"
    )
    binary = shutil.which("redis-server") or "redis-server"
    service = Service(f"sentinel-{port}", [binary, str(config), "--sentinel"], {}, folder).start()
    client = redis.Redis("127.0.0.1", port, socket_timeout=1)

    def knows_replicas() -> bool:
        try:
            return bool(client.sentinel_slaves(name))
        except redis.RedisError:
            return False

    wait_for(knows_replicas, timeout=30, interval=0.2, what="the Sentinel finding the replica")
    return service, port


def stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.kill()
        process.wait()


def pause(server: RedisServer, seconds: float | None = None) -> None:
    """SIGSTOP (and, after `seconds`, SIGCONT) a server: a replica that stopped confirming."""
    import signal

    server.proc.send_signal(signal.SIGSTOP)
    if seconds is not None:
        time.sleep(seconds)
        server.proc.send_signal(signal.SIGCONT)
