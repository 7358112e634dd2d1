"""Sites: the WordPress installations allowed to send events, and their Standard Webhooks secrets.

A site record is a Redis hash. Its signing secrets are sealed with the vault keys (associated data
binds them to the site); `ver` changes whenever the secrets do, so a process that caches them can
tell, inside the same Redis round trip that accepts an event, that its copy is stale.

Results carry join links and are signed, not encrypted, so a callback URL must be `https://`; plain
`http://` is accepted only in development or to a loopback address (`127.0.0.0/8`, `[::1]`, `localhost`),
as OAuth allows for native apps, so a WordPress on the same host still works.
"""

from __future__ import annotations

import ipaddress
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import redis

from service.crypto import Keyring
from service.sites.webhooks import generate_secret, secret_bytes
from service.storage import keys

#: How long a rotated-out secret is still accepted, by default.
DEFAULT_GRACE_SECONDS = 24 * 3600
#: Default path of the wp-bridge plugin's REST route for results, under the site's origin.
DEFAULT_CALLBACK_PATH = "/wp-json/meetbridge/v1/results"


class SiteError(ValueError):
    """Bad input to a site operation; the message says which."""


@dataclass(frozen=True)
class Site:
    """A site as the service uses it: the secrets are decoded keys, never printed."""

    id: str
    name: str
    url: str
    callback_url: str
    version: str
    created_at: float
    secrets: Sequence[tuple[bytes, float]] = field(repr=False)  # (key, expires_at or 0)

    def active_keys(self, now: float | None = None) -> list[bytes]:
        """The keys accepted now: the current one and any rotated-out one still in its grace period."""
        moment = time.time() if now is None else now
        return [key for key, expires in self.secrets if not expires or expires > moment]

    def public(self) -> dict:
        """What may be shown to an operator or exported: no secrets."""
        return {
            "site_id": self.id,
            "name": self.name,
            "url": self.url,
            "callback_url": self.callback_url,
            "created_at": self.created_at,
        }


def _origin(url: str, what: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SiteError(f"{what} must be an http(s) URL, got {url!r}")
    return f"{parts.scheme}://{parts.netloc}"


def is_loopback(host: str | None) -> bool:
    """Whether `host` (a URL's hostname) names this machine: `localhost` or a loopback address."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_callback(callback: str, what: str, allow_http: bool) -> None:
    parts = urlsplit(callback)
    if parts.scheme == "https" or allow_http or is_loopback(parts.hostname):
        return
    raise SiteError(
        f"{what} must be https:// (results carry join links); plain http:// is accepted only for a "
        f"loopback address (127.0.0.1, [::1], localhost) or with MEETBRIDGE_ENV=development, got {callback!r}"
    )


def _aad(site_id: str) -> bytes:
    return f"site-secrets|{site_id}".encode()


def _seal(keyring: Keyring, site_id: str, entries: list[tuple[str, float]]) -> bytes:
    return keyring.seal_json(entries, _aad(site_id))


def _new_id() -> str:
    alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
    return "site_" + "".join(secrets.choice(alphabet) for _ in range(16))


def create(
    r: redis.Redis,
    keyring: Keyring,
    name: str,
    url: str,
    callback_url: str | None = None,
    *,
    allow_http: bool = False,
) -> dict:
    """Register a site.

    Args:
        allow_http: accept a plain `http://` callback URL to any host (development only); without it
            only a loopback host may be reached over plain HTTP.

    Returns:
        `{"site_id", "secret", "name", "url", "callback_url", "created_at"}`; the secret is shown
        only here.

    Raises:
        SiteError: the name is empty or too long, a URL is not http(s), or the callback URL is plain
            `http://` to a host other than this machine's (without `allow_http`).
    """
    name = name.strip()
    if not 0 < len(name) <= 200:
        raise SiteError("name must be 1-200 characters")
    origin = _origin(url, "--url")
    callback = callback_url.strip() if callback_url else origin + DEFAULT_CALLBACK_PATH
    _origin(callback, "--callback-url")
    what = "--callback-url" if callback_url else "the callback URL (the plugin's route under --url)"
    _check_callback(callback, what, allow_http)
    site_id = _new_id()
    secret = generate_secret()
    now = time.time()
    record = {
        "name": name,
        "url": origin,
        "callback_url": callback,
        "secrets": _seal(keyring, site_id, [(secret, 0)]),
        "ver": secrets.token_hex(8),
        "created_at": repr(now),
    }
    pipe = r.pipeline(transaction=True)
    pipe.hset(keys.site(site_id), mapping=record)
    pipe.sadd(keys.SITES, site_id)
    pipe.execute()
    return {"site_id": site_id, "secret": secret, **_public_fields(record, now)}


def _public_fields(record: dict, created: float) -> dict:
    return {
        "name": record["name"],
        "url": record["url"],
        "callback_url": record["callback_url"],
        "created_at": created,
    }


def _decode(raw: dict[bytes, bytes]) -> dict[str, bytes]:
    return {k.decode(): v for k, v in raw.items()}


def load(r: redis.Redis, keyring: Keyring, site_id: str) -> Site | None:
    """The site with its decoded secrets, or None when there is no such site."""
    if not site_id.startswith("site_") or len(site_id) > 64:
        return None
    raw = r.hgetall(keys.site(site_id))
    if not raw:
        return None
    return from_record(keyring, site_id, _decode(raw))


def from_record(keyring: Keyring, site_id: str, record: dict[str, bytes]) -> Site:
    entries, _stale = keyring.open_json(record["secrets"], _aad(site_id))
    return Site(
        id=site_id,
        name=record["name"].decode(),
        url=record["url"].decode(),
        callback_url=record["callback_url"].decode(),
        version=record["ver"].decode(),
        created_at=float(record["created_at"]),
        secrets=tuple((secret_bytes(secret), float(expires)) for secret, expires in entries),
    )


def list_all(r: redis.Redis, keyring: Keyring) -> list[dict]:
    """Every site's public fields, sorted by creation time."""
    found = []
    for raw_id in sorted(r.smembers(keys.SITES)):
        site = load(r, keyring, raw_id.decode())
        if site is not None:
            found.append(site.public())
    return sorted(found, key=lambda item: item["created_at"])


def rotate_secret(
    r: redis.Redis, keyring: Keyring, site_id: str, grace_seconds: int = DEFAULT_GRACE_SECONDS
) -> dict:
    """Issue a new secret; the previous ones stay valid for `grace_seconds` (0: revoke them now).

    Raises:
        SiteError: no such site.
    """
    key = keys.site(site_id)
    with r.pipeline(transaction=True) as pipe:
        pipe.watch(key)
        raw = pipe.hget(key, "secrets")
        if raw is None:
            raise SiteError(f"no site {site_id!r}")
        now = time.time()
        entries, _stale = keyring.open_json(raw, _aad(site_id))
        until = now + grace_seconds
        kept = []
        if grace_seconds > 0:
            kept = [(old, min(exp, until) if exp else until) for old, exp in entries if not exp or exp > now]
        secret = generate_secret()
        pipe.multi()
        pipe.hset(
            key,
            mapping={"secrets": _seal(keyring, site_id, [(secret, 0), *kept]), "ver": secrets.token_hex(8)},
        )
        pipe.execute()
    return {"site_id": site_id, "secret": secret, "previous_secrets_valid_until": until if kept else None}


def delete(r: redis.Redis, site_id: str) -> int:
    """Delete the site record, its membership of the site list, its connect links and OAuth states, and
    its site-level keys (`keys.site_level`); returns how many keys were removed. Its bookings, jobs and
    accounts are erased before this (service.privacy.erasure); what else may be under its prefix
    expires within a minute or two (locks, the availability cache)."""
    connect = [raw.decode() for raw in r.smembers(keys.site_connect(site_id))]
    removed = r.delete(keys.site(site_id), *connect, *keys.site_level(site_id))
    r.srem(keys.SITES, site_id)
    return removed
