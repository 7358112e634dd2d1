"""`make run` itself: the whole stack comes up, answers /readyz over TLS 1.3 only, and Ctrl-C stops
every process it started."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from tests import processes
from tests.tls_probe import handshake

pytestmark = pytest.mark.stack

ROOT = Path(__file__).resolve().parent.parent


def _session_members(sid: int) -> list[int]:
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def _redis_members(folder: Path) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if str(folder).encode() in cmdline and b"redis-server" in cmdline:
                found.append(int(entry.name))
    return found


def test_make_run_brings_up_the_stack_and_ctrl_c_stops_it(tmp_path):
    port, sandbox_port = processes.free_port(), processes.free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("MEETBRIDGE_", "REDIS_URL", "GOOGLE_", "ZOOM_", "PROMETHEUS_"))
    }
    env.update(
        {
            "PORT": str(port),
            "SANDBOX_PORT": str(sandbox_port),
            "MEETBRIDGE_DATA_DIR": str(tmp_path),
            "MEETBRIDGE_PUBLIC_URL": f"https://localhost:{port}",
        }
    )
    log = open(tmp_path / "make-run.log", "wb")  # noqa: SIM115
    make = subprocess.Popen(
        ["make", "run"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    ca = str(tmp_path / "tls" / "ca.pem")
    try:
        started = time.monotonic()

        def ready():
            assert make.poll() is None, (tmp_path / "make-run.log").read_text()
            try:
                return processes.https_get(f"https://localhost:{port}/readyz", ca, timeout=2)[0] == 200
            except (OSError, FileNotFoundError):
                return False

        processes.wait_for(ready, timeout=120, interval=0.5, what="make run's /readyz")
        elapsed = time.monotonic() - started
        assert elapsed < 120
        assert handshake(port, ca, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
        with pytest.raises(ssl.SSLError):
            handshake(port, ca, ssl.TLSVersion.TLSv1_2)
        # The sandbox runs too, over TLS, and the banner says where everything is.
        assert processes.https_get(f"https://localhost:{sandbox_port}/_sandbox/state", ca)[0] == 200
        processes.wait_for(
            lambda: b"MeetBridge is up." in (tmp_path / "make-run.log").read_bytes(), what="the banner"
        )
        # The embedded Redis keeps an append-only file in the data folder.
        assert (tmp_path / "redis").is_dir() and _redis_members(tmp_path)
    finally:
        os.killpg(make.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
        try:
            make.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(make.pid, signal.SIGKILL)
            raise
        finally:
            log.close()
    processes.wait_for(lambda: not _session_members(make.pid), timeout=20, what="every process to stop")
    processes.wait_for(lambda: not _redis_members(tmp_path), timeout=20, what="the embedded Redis to stop")
    output = (tmp_path / "make-run.log").read_text()
    assert "embedded Redis stopped" in output
    assert any(p.name.startswith("appendonly") for p in (tmp_path / "redis").rglob("*")), output
