"""Settings: every variable of DESIGN's contract, read from the environment by small explicit parsers.

Nothing here runs at import time. `load(environ)` returns a plain mapping that `create_app` puts into
`app.config`. Two modes, chosen by `MEETBRIDGE_ENV`:

- `production` (the default): every secret must be given; a missing one stops start-up with a
  `ConfigError` naming the variable.
- `development` (what `make run` sets): safe local defaults. Secrets are generated once and kept in
  `var/dev-secrets.json` (mode 0600, never committed); providers default to the local sandbox unless
  real credentials are configured.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlsplit

PROJECT_ROOT = Path(__file__).resolve().parent.parent

#: Real provider endpoints, used whenever the variables are unset (and not in sandbox mode).
GOOGLE_DEFAULTS = {
    "GOOGLE_AUTHORIZE_URL": "https://accounts.google.com/o/oauth2/v2/auth",
    "GOOGLE_TOKEN_URL": "https://oauth2.googleapis.com/token",
    "GOOGLE_REVOKE_URL": "https://oauth2.googleapis.com/revoke",
    "GOOGLE_CALENDAR_API_ENDPOINT": "https://www.googleapis.com/calendar/v3/",
}
ZOOM_DEFAULTS = {
    "ZOOM_AUTHORIZE_URL": "https://zoom.us/oauth/authorize",
    "ZOOM_TOKEN_URL": "https://zoom.us/oauth/token",
    "ZOOM_REVOKE_URL": "https://zoom.us/oauth/revoke",
    "ZOOM_API_BASE": "https://api.zoom.us/v2",
}

#: Where the sandbox serves each provider endpoint, relative to its base URL.
SANDBOX_PATHS = {
    "GOOGLE_AUTHORIZE_URL": "/google/o/oauth2/v2/auth",
    "GOOGLE_TOKEN_URL": "/google/token",
    "GOOGLE_REVOKE_URL": "/google/revoke",
    "GOOGLE_CALENDAR_API_ENDPOINT": "/google/calendar/v3/",
    "ZOOM_AUTHORIZE_URL": "/zoom/oauth/authorize",
    "ZOOM_TOKEN_URL": "/zoom/oauth/token",
    "ZOOM_REVOKE_URL": "/zoom/oauth/revoke",
    "ZOOM_API_BASE": "/zoom/v2",
}

#: The sandbox's own client credentials (see sandbox/README.md); not secrets.
SANDBOX_CLIENTS = {
    "GOOGLE_CLIENT_ID": "sandbox-google-client",
    "GOOGLE_CLIENT_SECRET": "sandbox-google-secret",  # noqa: S105 - public sandbox value
    "ZOOM_CLIENT_ID": "sandbox-zoom-client",
    "ZOOM_CLIENT_SECRET": "sandbox-zoom-secret",  # noqa: S105 - public sandbox value
}

MODES = ("development", "production")


class ConfigError(RuntimeError):
    """A setting is missing or malformed; the message names the variable."""


def _text(environ: Mapping[str, str], name: str) -> str | None:
    value = environ.get(name, "").strip()
    return value or None


def _url(environ: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    value = _text(environ, name) or default
    if value is None:
        return None
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https", "redis", "rediss", "unix") or not (parts.netloc or parts.path):
        raise ConfigError(f"{name} must be a URL, got {value!r}")
    return value


def _int(environ: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = _text(environ, name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


def _mode(environ: Mapping[str, str]) -> str:
    mode = (_text(environ, "MEETBRIDGE_ENV") or "production").lower()
    if mode not in MODES:
        raise ConfigError(f"MEETBRIDGE_ENV must be one of {', '.join(MODES)}, got {mode!r}")
    return mode


def data_dir(environ: Mapping[str, str] = os.environ) -> Path:
    """The folder for local state: embedded Redis data, dev certificates, dev secrets."""
    return Path(_text(environ, "MEETBRIDGE_DATA_DIR") or PROJECT_ROOT / "var").resolve()


def dev_secrets(folder: Path) -> dict[str, str]:
    """Development-only secrets, generated on first use and kept in `folder/dev-secrets.json`.

    Several processes may start at once on a fresh folder: the file is written under a temporary
    name and published with a hard link, which fails if another process published first, so nobody
    ever reads a half-written file and everyone ends up with the same secrets.
    """
    path = folder / "dev-secrets.json"
    if not path.exists():
        folder.mkdir(parents=True, exist_ok=True)
        key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        values = {"MEETBRIDGE_SECRET_KEY": secrets.token_urlsafe(32), "MEETBRIDGE_VAULT_KEYS": f"dev1:{key}"}
        draft = folder / f".dev-secrets.{os.getpid()}.{secrets.token_hex(4)}"
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(values, handle)
        try:
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return json.loads(path.read_text())


def _providers(environ: Mapping[str, str], mode: str) -> dict[str, object]:
    """Provider credentials and endpoints; in development, the sandbox fills what is not configured."""
    sandbox = _url(environ, "MEETBRIDGE_SANDBOX_URL")
    if mode == "development" and sandbox is None:
        sandbox = f"https://localhost:{_int(environ, 'SANDBOX_PORT', 8444, 1)}"
    out: dict[str, object] = {}
    for provider, defaults in (("GOOGLE", GOOGLE_DEFAULTS), ("ZOOM", ZOOM_DEFAULTS)):
        client_id = _text(environ, f"{provider}_CLIENT_ID")
        use_sandbox = mode == "development" and client_id is None
        out[f"{provider}_USES_SANDBOX"] = use_sandbox
        for key in (f"{provider}_CLIENT_ID", f"{provider}_CLIENT_SECRET"):
            out[key] = SANDBOX_CLIENTS[key] if use_sandbox else _text(environ, key)
        for key, real in defaults.items():
            default = sandbox.rstrip("/") + SANDBOX_PATHS[key] if use_sandbox else real
            out[key] = _url(environ, key, default)
    return out


def load(environ: Mapping[str, str] = os.environ) -> dict[str, object]:
    """Read every setting from `environ`.

    Args:
        environ: the environment to read (defaults to the process environment).

    Returns:
        A mapping of Flask config keys.

    Raises:
        ConfigError: a variable is malformed, or missing in production mode.
    """
    mode = _mode(environ)
    folder = data_dir(environ)
    port = _int(environ, "PORT", 8443, 1)
    config: dict[str, object] = {
        "MEETBRIDGE_ENV": mode,
        "DATA_DIR": str(folder),
        "REDIS_URL": _url(environ, "REDIS_URL"),
        "PUBLIC_URL": _url(
            environ, "MEETBRIDGE_PUBLIC_URL", f"https://localhost:{port}" if mode == "development" else None
        ),
        "SECRET_KEY": _text(environ, "MEETBRIDGE_SECRET_KEY"),
        "VAULT_KEYS": _text(environ, "MEETBRIDGE_VAULT_KEYS"),
        "TLS_CERT": _text(environ, "MEETBRIDGE_TLS_CERT"),
        "TLS_KEY": _text(environ, "MEETBRIDGE_TLS_KEY"),
        "ZOOM_WEBHOOK_SECRET_TOKEN": _text(environ, "ZOOM_WEBHOOK_SECRET_TOKEN"),
        "LOG_LEVEL": (_text(environ, "MEETBRIDGE_LOG_LEVEL") or "INFO").upper(),
        "MAX_CONTENT_LENGTH": 64 * 1024,
        "SYNC_JOB_TIMEOUT": _int(environ, "MEETBRIDGE_SYNC_JOB_TIMEOUT", 120, 5),
        "FAULT_INJECTION": mode == "development" and _text(environ, "MEETBRIDGE_FAULT_INJECTION") == "1",
        "CONNECT_LINK_TTL": _int(environ, "MEETBRIDGE_CONNECT_LINK_TTL", 600, 1),
        "AVAILABILITY_CACHE_SECONDS": _int(environ, "MEETBRIDGE_AVAILABILITY_CACHE_SECONDS", 30, 0),
    }
    if int(config["CONNECT_LINK_TTL"]) > 600:
        raise ConfigError(
            "MEETBRIDGE_CONNECT_LINK_TTL must be at most 600 (connect links live 10 minutes at most)"
        )
    if int(config["AVAILABILITY_CACHE_SECONDS"]) > 60:
        raise ConfigError(
            "MEETBRIDGE_AVAILABILITY_CACHE_SECONDS must be at most 60 (busy times are kept a minute at most)"
        )
    config.update(_providers(environ, mode))
    config.update(_redis(environ))
    if config["REDIS_URL"] is None and not config["REDIS_SENTINELS"]:
        config["REDIS_URL"] = f"unix://{folder / 'redis' / 'redis.sock'}"
        config["EMBEDDED_REDIS"] = True
    if mode == "development":
        generated = dev_secrets(folder)
        config["SECRET_KEY"] = config["SECRET_KEY"] or generated["MEETBRIDGE_SECRET_KEY"]
        config["VAULT_KEYS"] = config["VAULT_KEYS"] or generated["MEETBRIDGE_VAULT_KEYS"]
        config["ZOOM_WEBHOOK_SECRET_TOKEN"] = config["ZOOM_WEBHOOK_SECRET_TOKEN"] or "sandbox-zoom-webhook"
    else:
        require(config, _REQUIRED_IN_PRODUCTION)
    return config


#: What `MEETBRIDGE_DURABLE_ACK` may say: answer 202 at once, after a replica has the write (WAIT), or
#: after the append-only file has it on disk (WAITAOF: the primary's, and the replicas' asked for).
DURABLE_ACK_MODES = ("off", "replica", "aof")


def _sentinels(environ: Mapping[str, str]) -> list[tuple[str, int]]:
    """`REDIS_SENTINELS` (`host:port,host:port,…`) as (host, port) pairs."""
    raw = _text(environ, "REDIS_SENTINELS")
    if raw is None:
        return []
    found = []
    for item in raw.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"REDIS_SENTINELS must be host:port,host:port,…, got {item.strip()!r}")
        found.append((host.strip("[]"), int(port)))
    return found


def _redis(environ: Mapping[str, str]) -> dict[str, object]:
    """Where Redis is (one URL, or Sentinels and a master name), who we are there, TLS, durable acks."""
    sentinels = _sentinels(environ)
    master = _text(environ, "REDIS_SENTINEL_MASTER")
    if sentinels and _text(environ, "REDIS_URL"):
        raise ConfigError("set either REDIS_URL or REDIS_SENTINELS (with REDIS_SENTINEL_MASTER), not both")
    if bool(sentinels) != bool(master):
        raise ConfigError("REDIS_SENTINELS and REDIS_SENTINEL_MASTER go together: set both or neither")
    tls = (_text(environ, "REDIS_TLS") or "0") == "1"
    if not sentinels and tls:
        raise ConfigError("REDIS_TLS=1 is for REDIS_SENTINELS; with REDIS_URL use a rediss:// URL")
    files = {}
    for name in ("REDIS_TLS_CA", "REDIS_TLS_CERT", "REDIS_TLS_KEY"):
        files[name] = _text(environ, name)
        if files[name] and not Path(files[name]).is_file():
            raise ConfigError(f"{name} must name a readable file, got {files[name]!r}")
    if bool(files["REDIS_TLS_CERT"]) != bool(files["REDIS_TLS_KEY"]):
        raise ConfigError("REDIS_TLS_CERT and REDIS_TLS_KEY (the client certificate) go together")
    ack = (_text(environ, "MEETBRIDGE_DURABLE_ACK") or "off").lower()
    if ack not in DURABLE_ACK_MODES:
        choices = ", ".join(DURABLE_ACK_MODES)
        raise ConfigError(f"MEETBRIDGE_DURABLE_ACK must be one of {choices}, got {ack!r}")
    replicas = _int(environ, "MEETBRIDGE_DURABLE_ACK_REPLICAS", 1, 0)
    if ack == "replica" and replicas < 1:
        raise ConfigError("MEETBRIDGE_DURABLE_ACK=replica needs MEETBRIDGE_DURABLE_ACK_REPLICAS >= 1")
    return {
        "REDIS_SENTINELS": sentinels,
        "REDIS_SENTINEL_MASTER": master,
        "REDIS_USERNAME": _text(environ, "REDIS_USERNAME"),
        "REDIS_PASSWORD": _text(environ, "REDIS_PASSWORD"),
        "REDIS_SENTINEL_USERNAME": _text(environ, "REDIS_SENTINEL_USERNAME"),
        "REDIS_SENTINEL_PASSWORD": _text(environ, "REDIS_SENTINEL_PASSWORD"),
        "REDIS_TLS": tls,
        **files,
        "DURABLE_ACK": ack,
        "DURABLE_ACK_REPLICAS": replicas,
        "DURABLE_ACK_TIMEOUT_MS": _int(environ, "MEETBRIDGE_DURABLE_ACK_TIMEOUT_MS", 1000, 1),
    }


#: Flask config key -> environment variable, for the secrets production cannot start without.
_REQUIRED_IN_PRODUCTION = {
    "PUBLIC_URL": "MEETBRIDGE_PUBLIC_URL",
    "SECRET_KEY": "MEETBRIDGE_SECRET_KEY",
    "VAULT_KEYS": "MEETBRIDGE_VAULT_KEYS",
    "GOOGLE_CLIENT_ID": "GOOGLE_CLIENT_ID",
    "GOOGLE_CLIENT_SECRET": "GOOGLE_CLIENT_SECRET",
    "ZOOM_CLIENT_ID": "ZOOM_CLIENT_ID",
    "ZOOM_CLIENT_SECRET": "ZOOM_CLIENT_SECRET",
    "ZOOM_WEBHOOK_SECRET_TOKEN": "ZOOM_WEBHOOK_SECRET_TOKEN",
}


def require(config: Mapping[str, object], names: Mapping[str, str]) -> None:
    """Raise `ConfigError` naming every variable whose setting is empty."""
    missing = [env for key, env in names.items() if not config.get(key)]
    if missing:
        raise ConfigError(
            "missing required setting(s): "
            + ", ".join(missing)
            + " (set them in the environment, or MEETBRIDGE_ENV=development for local defaults)"
        )
