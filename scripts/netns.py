"""Test hosts on this machine: Linux network namespaces joined by one bridge, for the failover drill.

Each host is a namespace with one veth leg on a private /24 (10.231.N.0/24, N chosen free) whose
other leg is on a bridge in the root namespace; the bridge has the subnet's `.1`, so the process
that made the network (the drill's driver, the sandbox, the stand-in WordPress site) is reachable
from every host and reaches every host. No host has a default route: traffic goes nowhere but
between these hosts and the driver. Needs root and iproute2 (`ip netns`).

Every name carries the creating process's id (`mbd<pid>…`): `Network.destroy` removes what one run
made, and `sweep_stale` removes what runs that died without cleaning up left behind.
"""

from __future__ import annotations

import fcntl
import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

SUBNET_PREFIX = "10.231"
_LOCKS = Path("/run/lock") if Path("/run/lock").is_dir() else Path("/tmp")  # noqa: S108 - lock files only
_NAME = re.compile(r"^mbd(\d+)")


class NetworkError(RuntimeError):
    """The namespaces could not be made (not root, no iproute2, no free subnet)."""


def available() -> str | None:
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "the drill's network namespaces need root"
    if shutil.which("ip") is None:
        return "the drill needs iproute2 (`ip`): apt-get install iproute2"
    return None


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check, timeout=30)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_stale() -> list[str]:
    """Delete namespaces and bridges left by drills whose process is gone; returns their names."""
    removed = []
    listed = _ip("netns", "list", check=False).stdout.split()
    links = re.findall(r"^\d+: ([^:@]+)", _ip("-o", "link", "show", check=False).stdout, re.M)
    for name in [*listed, *links]:
        match = _NAME.match(name)
        if match and not _alive(int(match.group(1))):
            if name in listed:
                _ip("netns", "del", name, check=False)
            else:
                _ip("link", "del", name, check=False)
            removed.append(name)
    return removed


@dataclass
class Network:
    """Hosts by name, each with an address; `exec_argv` runs a command inside one."""

    hosts: list[str]
    tag: str = field(default_factory=lambda: str(os.getpid()))
    subnet: int | None = None
    addresses: dict[str, str] = field(default_factory=dict)
    _lock: object | None = None

    @property
    def bridge(self) -> str:
        return f"mbd{self.tag}br"

    @property
    def gateway(self) -> str:
        """The driver's address (the bridge in the root namespace)."""
        return f"{SUBNET_PREFIX}.{self.subnet}.1"

    def namespace(self, host: str) -> str:
        return f"mbd{self.tag}-{host}"

    def exec_argv(self, host: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.namespace(host), *argv]

    def create(self) -> Network:
        reason = available()
        if reason:
            raise NetworkError(reason)
        sweep_stale()
        self._claim_subnet()
        try:
            _ip("link", "add", self.bridge, "type", "bridge")
            _ip("addr", "add", f"{self.gateway}/24", "dev", self.bridge)
            _ip("link", "set", self.bridge, "up")
            for index, host in enumerate(self.hosts):
                self._add_host(index, host)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
            self.destroy()
            raise NetworkError(f"could not build the drill's network: {getattr(exc, 'stderr', exc)}") from exc
        return self

    def _add_host(self, index: int, host: str) -> None:
        namespace, outside, inside = self.namespace(host), f"mbd{self.tag}v{index}", f"mbd{self.tag}h{index}"
        address = f"{SUBNET_PREFIX}.{self.subnet}.{10 + index}"
        _ip("netns", "add", namespace)
        _ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        _ip("link", "set", inside, "netns", namespace)
        _ip("link", "set", outside, "master", self.bridge, "up")
        _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", inside)
        _ip("-n", namespace, "link", "set", inside, "up")
        _ip("-n", namespace, "link", "set", "lo", "up")
        self.addresses[host] = address

    def _claim_subnet(self) -> None:
        """The first 10.231.N.0/24 no interface here uses, held by a lock file while this run lasts."""
        used = _ip("-o", "addr", "show", check=False).stdout
        for candidate in range(1, 255):
            if f" {SUBNET_PREFIX}.{candidate}." in used:
                continue
            handle = open(_LOCKS / f"meetbridge-drill-{candidate}.lock", "w")  # noqa: SIM115 - held open
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.close()
                continue
            self.subnet, self._lock = candidate, handle
            return
        raise NetworkError(f"no free {SUBNET_PREFIX}.N.0/24 subnet for the drill")

    def destroy(self) -> None:
        """Delete every namespace (their veth legs go with them) and the bridge; release the subnet."""
        for host in self.hosts:
            _ip("netns", "del", self.namespace(host), check=False)
        _ip("link", "del", self.bridge, check=False)
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Network:
        return self.create()

    def __exit__(self, *exc) -> None:
        self.destroy()
