"""gunicorn settings for the web process (`Procfile`: web). Read from the environment at start-up.

TLS 1.3 is the minimum: gunicorn's `ssl_context` hook (its `--ssl-version` option is ignored by
current gunicorn). Prometheus metrics from all workers are merged through a multiprocess folder.
"""

import os
import shutil
import tempfile

# Before anything imports prometheus_client: every worker writes its samples to this folder.
_metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if not _metrics_dir:
    _metrics_dir = tempfile.mkdtemp(prefix="meetbridge-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir

from service.http.tls import server_context  # noqa: E402
from service.logs import gunicorn_logconfig  # noqa: E402

bind = [os.environ.get("MEETBRIDGE_BIND", f"0.0.0.0:{os.environ.get('PORT', '8443')}")]
workers = int(os.environ.get("WEB_CONCURRENCY", str(2 * (os.cpu_count() or 1) + 1)))
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "6"))
keepalive = 5
timeout = 30
graceful_timeout = 20
accesslog = None  # the app logs every request itself, as JSON with its request id
logger_class = "service.logs.GunicornLogger"
logconfig_dict = gunicorn_logconfig(os.environ.get("MEETBRIDGE_LOG_LEVEL", "INFO"))

certfile = os.environ.get("MEETBRIDGE_TLS_CERT") or None
keyfile = os.environ.get("MEETBRIDGE_TLS_KEY") or None
if not (certfile and keyfile) and os.environ.get("MEETBRIDGE_ALLOW_PLAINTEXT") != "1":
    raise SystemExit(
        "MeetBridge serves TLS 1.3 only: set MEETBRIDGE_TLS_CERT and MEETBRIDGE_TLS_KEY "
        "(or MEETBRIDGE_ALLOW_PLAINTEXT=1 behind a TLS-terminating proxy)"
    )


def ssl_context(conf, default_ssl_context_factory):
    return server_context(default_ssl_context_factory())


def on_starting(server):
    # Stale files from an earlier run would be summed into this run's counters.
    shutil.rmtree(_metrics_dir, ignore_errors=True)
    os.makedirs(_metrics_dir, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
