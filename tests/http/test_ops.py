"""/healthz, /readyz, /metrics, and what every answer carries (request id, headers, JSON errors, logs)."""

from __future__ import annotations

import json
import logging

from service import create_app, logs
from tests.processes import free_port


def test_healthz(client):
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "ok"}


def test_readyz_checks_redis_and_the_vault(client):
    answer = client.get("/readyz")
    assert answer.status_code == 200
    assert answer.get_json() == {"status": "ready", "checks": {"redis": "ok", "vault": "ok"}}


def test_readyz_is_503_when_redis_is_unreachable(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "MEETBRIDGE_DATA_DIR": str(tmp_path),
        }
    )
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.get_json()["checks"]["redis"] == "unreachable"


def test_security_headers_on_every_answer(client):
    for path in ("/healthz", "/no-such-page"):
        answer = client.get(path)
        assert answer.headers["Strict-Transport-Security"].startswith("max-age=")
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


def test_request_id_is_echoed_or_generated(client):
    assert client.get("/healthz", headers={"X-Request-ID": "abc-123"}).headers["X-Request-ID"] == "abc-123"
    generated = client.get("/healthz", headers={"X-Request-ID": "bad id; with spaces"}).headers[
        "X-Request-ID"
    ]
    assert len(generated) == 32 and generated != "bad id; with spaces"


def test_errors_are_json_never_html(client):
    answer = client.get("/no-such-page")
    assert answer.status_code == 404
    assert answer.get_json()["error"] == "not_found"
    answer = client.post("/healthz")
    assert answer.status_code == 405
    assert answer.get_json()["error"] == "method_not_allowed"


def test_unexpected_exception_is_a_plain_500(app):
    @app.get("/boom")
    def boom():
        raise RuntimeError("secret detail that must not leak")

    answer = app.test_client().get("/boom")
    assert answer.status_code == 500
    assert answer.get_json()["error"] == "internal_error"
    assert b"secret detail" not in answer.data and b"Traceback" not in answer.data


def test_metrics_count_requests_and_report_queue_depth(client):
    client.get("/healthz")
    body = client.get("/metrics").get_data(as_text=True)
    assert 'meetbridge_http_requests_total{endpoint="/healthz",method="GET",status="200"}' in body
    assert "meetbridge_http_request_duration_seconds_bucket" in body
    assert 'meetbridge_queue_depth{queue="sync"} 0.0' in body
    assert "meetbridge_cron_heartbeat_timestamp_seconds 0.0" in body


def test_metrics_queue_depth_follows_the_queue(client, app):
    from rq import Queue

    from service.storage import redis_client

    Queue("sync", connection=redis_client.get(app)).enqueue("workers.heartbeat.beat")
    body = client.get("/metrics").get_data(as_text=True)
    assert 'meetbridge_queue_depth{queue="sync"} 1.0' in body


def test_log_lines_are_json_with_the_request_id(capsys):
    config = logs._dict_config("INFO")
    logging.config.dictConfig(config)
    try:
        token = logs.correlation_id.set("req-42")
        logging.getLogger("service.test").info("booking %s accepted", "b1")
        logs.correlation_id.reset(token)
    finally:
        logging.getLogger().handlers.clear()
    line = capsys.readouterr().err.strip().splitlines()[-1]
    record = json.loads(line)
    assert record["request_id"] == "req-42"
    assert record["message"] == "booking b1 accepted"
    assert record["level"] == "INFO" and record["logger"] == "service.test"
