"""The failover drill, shortened (`make drill` runs the long one): Redis primary, two replicas and
three Sentinels, two web hosts and two worker hosts with cron, each in its own network namespace;
the primary is SIGKILLed mid-load with durable acks on. Needs root and iproute2 (CI has both)."""

from __future__ import annotations

import subprocess

import pytest

from scripts import drill, netns

pytestmark = [
    pytest.mark.stack,
    pytest.mark.skipif(netns.available() is not None, reason=str(netns.available())),
]


def test_a_killed_primary_loses_and_duplicates_nothing_acknowledged(tmp_path):
    with drill.Drill(tmp_path, durable="replica", bookings=24, clients=4, lag=0.3) as running:
        result = running.run()
        namespaces = [running.net.namespace(host) for host in drill.HOSTS]
        logs = running.logs()
    assert result.ok, result.summary() + "\n" + logs[-6000:]
    assert result.acknowledged == 24 and result.lost == [] and result.duplicates == []
    assert result.failover_seconds is not None and result.answers_503 > 0  # the switch was seen, as 503s
    assert all(result.jobs_by_host.values()) and all(result.acks_by_web.values())
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert not any(name in listed for name in namespaces)  # nothing outlives the drill


def test_a_failed_drill_still_removes_its_namespaces(tmp_path, monkeypatch):
    def broken(self, host: str) -> None:
        raise RuntimeError("a host failed to start")

    monkeypatch.setattr(drill.Drill, "_start_sentinel", broken)
    running = drill.Drill(tmp_path, durable="off", bookings=1, clients=1)
    with pytest.raises(RuntimeError, match="failed to start"):
        running.__enter__()
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert running.net.namespace("redis1") not in listed
    assert not [name for name, service in running.services.items() if service.alive()]
