"""The Procfile's processes for real: gunicorn with the project's config, an RQ worker, rq cron."""

from __future__ import annotations

import re
import ssl

import pytest

from service.storage.queues import HEARTBEAT_KEY
from tests import processes
from tests.tls_probe import handshake

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    folder = tmp_path_factory.mktemp("stack")
    redis = processes.RedisServer(folder / "redis")
    redis.start()
    stack = processes.Stack(folder, redis.url, workers=1, cron=True)
    stack.redis = redis
    try:
        stack.start(sandbox=False)
        yield stack
    finally:
        stack.stop()
        redis.stop()


def test_readyz_over_tls13(stack):
    status, body = stack.get("/readyz")
    assert status == 200, body
    assert handshake(stack.port, str(stack.certs.ca), ssl.TLSVersion.TLSv1_3) == "TLSv1.3"


def test_tls12_handshake_is_refused(stack):
    with pytest.raises(ssl.SSLError):
        handshake(stack.port, str(stack.certs.ca), ssl.TLSVersion.TLSv1_2)


def test_hsts_over_https(stack):
    import urllib.request

    context = ssl.create_default_context(cafile=str(stack.certs.ca))
    with urllib.request.urlopen(stack.base_url + "/healthz", context=context) as answer:  # noqa: S310
        assert "max-age" in answer.headers["Strict-Transport-Security"]


def test_cron_enqueues_and_the_worker_runs_the_heartbeat(stack):
    client = stack.redis.client()
    beat = processes.wait_for(lambda: client.get(HEARTBEAT_KEY), timeout=60, what="the cron heartbeat")
    assert float(beat) > 0
    status, body = stack.get("/metrics")
    assert status == 200
    match = re.search(rb"^meetbridge_cron_heartbeat_timestamp_seconds (\S+)$", body, re.M)
    assert match and float(match.group(1)) == pytest.approx(float(client.get(HEARTBEAT_KEY)), abs=120)


def test_metrics_merge_every_gunicorn_worker(stack):
    def count(body: bytes) -> float:
        pattern = rb'^meetbridge_http_requests_total\{endpoint="/healthz",method="GET",status="200"\} (\S+)$'
        match = re.search(pattern, body, re.M)
        return float(match.group(1)) if match else 0.0

    before = count(stack.get("/metrics")[1])
    for _ in range(30):  # new connections each time, spread over both gunicorn workers
        assert stack.get("/healthz")[0] == 200
    assert count(stack.get("/metrics")[1]) == before + 30


def test_logs_are_json_lines_with_request_ids(stack):
    import json

    stack.get("/healthz", headers={"X-Request-ID": "stack-probe-1"})
    processes.wait_for(
        lambda: "stack-probe-1" in stack.services["web"].log_text(), what="the request's log line"
    )
    lines = [line for line in stack.services["web"].log_text().splitlines() if "stack-probe-1" in line]
    record = json.loads(lines[0])
    assert record["request_id"] == "stack-probe-1" and record["status"] == 200
