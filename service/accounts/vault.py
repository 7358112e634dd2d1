"""The token vault: linked Google and Zoom accounts, with their OAuth tokens sealed by the vault keys.

One Redis hash per account, `mb:s:{site}:acct:{provider}:{staff_id}` (service.storage.keys):

- `status`: `active` or `needs_relink` (the provider refused the refresh token; never deleted for it);
- `scopes`: the granted scopes, space-separated;
- `token`: the token JSON (`access_token`, `refresh_token`, `token_type`, `expires_at`, `scope`) sealed
  with AES-256-GCM, associated data `token|{site}|{provider}|{staff_id}`;
- `provider_user_id`: Zoom's opaque user id (indexed in `mb:zu:{id}` for Zoom's `app_deauthorized`);
- `created_at`, `updated_at`: Unix seconds.

Never an e-mail address or a name. The set `mb:s:{site}:accts` lists a site's accounts. Reading a
token sealed with an older key seals it again with the current one (compare-and-set, so a newer
token written meanwhile is never overwritten); `rotate()` does that for every sealed value at once.

`replace_token()` is the refresh's fenced write: it stores a refreshed token only while the account still
holds the sealed token the refresh started from (`Account.sealed`), so a refresh that outlived its lock
never overwrites a newer token.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import redis

from service.bookings import records
from service.crypto import DecryptError, Keyring
from service.sites import registry
from service.storage import keys

log = logging.getLogger(__name__)

PROVIDERS = ("google", "zoom")
"""Providers an account can be linked with."""

ACTIVE = "active"
NEEDS_RELINK = "needs_relink"

TOKEN_FIELDS = ("access_token", "refresh_token", "token_type", "expires_at", "scope")
"""The parts of a provider's token answer that are kept."""

# Replace field ARGV[1] with ARGV[3] only if it still holds ARGV[2].
_CAS = "if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) return 1 end return 0"  # noqa: E501
# Store a refreshed token only while the account exists (a concurrent unlink wins).
_UPDATE = "if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'token', ARGV[1], 'updated_at', ARGV[2]) return 1 end return 0"  # noqa: E501
# Replace the token only while it is still ARGV[1]: 1 written, 0 changed meanwhile, -1 account gone.
_FENCED = """
local current = redis.call('HGET', KEYS[1], 'token')
if not current then return -1 end
if current ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'token', ARGV[2], 'updated_at', ARGV[3])
return 1
"""
# active -> needs_relink; returns 1 only for the transition, so the site is told once.
_RELINK = "if redis.call('HGET', KEYS[1], 'status') == 'active' then redis.call('HSET', KEYS[1], 'status', 'needs_relink', 'updated_at', ARGV[1]) return 1 end return 0"  # noqa: E501


@dataclass(frozen=True)
class Account:
    """A linked account with its opened token (never printed)."""

    site_id: str
    provider: str
    staff_id: str
    status: str
    scopes: tuple[str, ...]
    created_at: float
    updated_at: float
    provider_user_id: str | None = None
    token: dict[str, Any] = field(default_factory=dict, repr=False)
    sealed: bytes = field(default=b"", repr=False)  # the token as stored when read: the refresh's fence

    def public(self) -> dict[str, Any]:
        """What the accounts API shows: no token, no provider user id."""
        return public_fields(
            self.provider, self.staff_id, self.status, self.scopes, self.created_at, self.updated_at
        )


def public_fields(
    provider: str, staff_id: str, status: str, scopes: Iterable[str], created: float, updated: float
) -> dict[str, Any]:
    return {
        "provider": provider,
        "staff_id": staff_id,
        "status": status,
        "scopes": list(scopes),
        "created_at": rfc3339(created),
        "updated_at": rfc3339(updated),
    }


def rfc3339(epoch: float) -> str:
    """`2026-12-01T10:00:00Z` (UTC, whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def token_aad(site_id: str, provider: str, staff_id: str) -> bytes:
    """Associated data binding a sealed token to its account."""
    return f"token|{site_id}|{provider}|{staff_id}".encode()


def stored_token(token: dict[str, Any]) -> dict[str, Any]:
    """The kept parts of a token answer; `expires_at` from `expires_in` when the provider gave only that."""
    kept = {name: token[name] for name in TOKEN_FIELDS if token.get(name) is not None}
    if "expires_at" not in kept and token.get("expires_in") is not None:
        kept["expires_at"] = int(time.time()) + int(token["expires_in"])
    return kept


def save(
    r: redis.Redis,
    keyring: Keyring,
    site_id: str,
    provider: str,
    staff_id: str,
    token: dict[str, Any],
    scopes: Iterable[str],
    provider_user_id: str | None = None,
) -> bool:
    """Store (or replace, on relinking) an account's token; the account becomes `active`. Only while the
    site exists, checked in the same transaction (a consent finishing while the site is erased does not
    re-create the account): False when it does not."""
    key = keys.account(site_id, provider, staff_id)
    sealed = keyring.seal_json(stored_token(token), token_aad(site_id, provider, staff_id))
    with r.pipeline(transaction=True) as pipe:
        while True:
            try:
                pipe.watch(keys.site(site_id), key)
                if not pipe.exists(keys.site(site_id)):
                    return False
                previous = pipe.hget(key, "provider_user_id")
                now = repr(time.time())
                pipe.multi()
                fields = {"status": ACTIVE, "scopes": " ".join(scopes), "token": sealed, "updated_at": now}
                pipe.hset(key, mapping=fields)
                pipe.hsetnx(key, "created_at", now)
                if previous and previous.decode() != provider_user_id:
                    pipe.srem(keys.zoom_user(previous.decode()), key)
                if provider_user_id:
                    pipe.hset(key, "provider_user_id", provider_user_id)
                    pipe.sadd(keys.zoom_user(provider_user_id), key)
                else:
                    pipe.hdel(key, "provider_user_id")
                pipe.sadd(keys.accounts(site_id), f"{provider}:{staff_id}")
                pipe.execute()
                return True
            except redis.WatchError:
                continue


def load(r: redis.Redis, keyring: Keyring, site_id: str, provider: str, staff_id: str) -> Account | None:
    """The account with its opened token, or None. A token sealed with an older key is sealed again.

    Raises:
        service.crypto.DecryptError: the token cannot be opened with any configured key.
    """
    key = keys.account(site_id, provider, staff_id)
    raw = {k.decode(): v for k, v in r.hgetall(key).items()}
    if not raw or "token" not in raw:
        return None
    aad = token_aad(site_id, provider, staff_id)
    sealed = raw["token"]
    token, stale = keyring.open_json(sealed, aad)
    if stale:
        resealed = keyring.seal_json(token, aad)
        if r.eval(_CAS, 1, key, "token", sealed, resealed):
            sealed = resealed
    uid = raw.get("provider_user_id")
    return Account(
        site_id=site_id,
        provider=provider,
        staff_id=staff_id,
        status=raw.get("status", b"").decode(),
        scopes=tuple(raw.get("scopes", b"").decode().split()),
        created_at=float(raw.get("created_at", 0)),
        updated_at=float(raw.get("updated_at", 0)),
        provider_user_id=uid.decode() if uid else None,
        token=token,
        sealed=sealed,
    )


def update_token(
    r: redis.Redis, keyring: Keyring, site_id: str, provider: str, staff_id: str, token: dict[str, Any]
) -> bool:
    """Persist a refreshed token; False when the account was unlinked meanwhile (nothing written)."""
    sealed = keyring.seal_json(stored_token(token), token_aad(site_id, provider, staff_id))
    return bool(r.eval(_UPDATE, 1, keys.account(site_id, provider, staff_id), sealed, repr(time.time())))


def replace_token(r: redis.Redis, keyring: Keyring, account: Account, token: dict[str, Any]) -> str:
    """Store a refreshed token in place of `account.token`, only while the account still holds it.

    Returns:
        `written`; `changed` (another token was stored since `account` was read, by a refresh or a
        relink: that one is newer and stays); `gone` (the account was unlinked meanwhile).
    """
    site_id, provider, staff_id = account.site_id, account.provider, account.staff_id
    sealed = keyring.seal_json(stored_token(token), token_aad(site_id, provider, staff_id))
    key = keys.account(site_id, provider, staff_id)
    done = r.eval(_FENCED, 1, key, account.sealed, sealed, repr(time.time()))
    return {1: "written", 0: "changed", -1: "gone"}[int(done)]


def mark_needs_relink(r: redis.Redis, site_id: str, provider: str, staff_id: str) -> bool:
    """Mark the account `needs_relink`; True only when this call changed it from `active`."""
    changed = bool(r.eval(_RELINK, 1, keys.account(site_id, provider, staff_id), repr(time.time())))
    if changed:
        r.hincrby(keys.STATS, "accounts_needs_relink", 1)
    return changed


def delete(r: redis.Redis, site_id: str, provider: str, staff_id: str) -> bool:
    """Forget an account (record, site index, Zoom user index); False when it was not linked."""
    key = keys.account(site_id, provider, staff_id)
    uid = r.hget(key, "provider_user_id")
    pipe = r.pipeline(transaction=True)
    pipe.delete(key)
    pipe.srem(keys.accounts(site_id), f"{provider}:{staff_id}")
    if uid:
        pipe.srem(keys.zoom_user(uid.decode()), key)
    return bool(pipe.execute()[0])


def list_site(r: redis.Redis, site_id: str) -> list[dict[str, Any]]:
    """Every account of the site, public fields only (nothing is decrypted), sorted by provider and staff."""
    members = sorted(m.decode() for m in r.smembers(keys.accounts(site_id)))
    pipe = r.pipeline(transaction=False)
    for member in members:
        provider, _, staff_id = member.partition(":")
        pipe.hmget(keys.account(site_id, provider, staff_id), "status", "scopes", "created_at", "updated_at")
    found = []
    for member, (status, scopes, created, updated) in zip(members, pipe.execute(), strict=True):
        if status is None:
            continue
        provider, _, staff_id = member.partition(":")
        found.append(
            public_fields(
                provider, staff_id, status.decode(), scopes.decode().split(), float(created), float(updated)
            )
        )
    return found


@dataclass
class RotationReport:
    """Counts of `rotate()`: values looked at, sealed again with the current key, or unreadable."""

    scanned: int = 0
    rewrapped: int = 0
    failed: int = 0
    by_kind: dict[str, dict[str, int]] = field(default_factory=dict)

    def count(self, kind: str, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)
        bucket = self.by_kind.setdefault(kind, {"scanned": 0, "rewrapped": 0, "failed": 0})
        bucket[outcome] += 1

    def as_dict(self) -> dict[str, Any]:
        return {
            "scanned": self.scanned,
            "rewrapped": self.rewrapped,
            "failed": self.failed,
            "by_kind": self.by_kind,
        }


def rotate(r: redis.Redis, keyring: Keyring) -> RotationReport:
    """Seal every value kept sealed at rest with the current key: site signing secrets, account tokens,
    and the bookings' join links and event links.

    Values already sealed with the current key are counted as scanned only. A value that no key opens
    is counted as failed and left as it is (the old key must then stay until it is dealt with). Each
    value is replaced by compare-and-set, so a newer value written meanwhile is never overwritten.
    """
    report = RotationReport()
    for raw_site in sorted(r.smembers(keys.SITES)):
        site_id = raw_site.decode()
        _rewrap(r, keyring, report, "site_secrets", keys.site(site_id), "secrets", registry._aad(site_id))
        for member in sorted(m.decode() for m in r.smembers(keys.accounts(site_id))):
            provider, _, staff_id = member.partition(":")
            key = keys.account(site_id, provider, staff_id)
            _rewrap(
                r, keyring, report, "account_tokens", key, "token", token_aad(site_id, provider, staff_id)
            )
    for site_id, booking_id in _bookings(r):
        key = keys.booking(site_id, booking_id)
        _rewrap(
            r, keyring, report, "booking_join_urls", key, "join", records.join_url_aad(site_id, booking_id)
        )
        _rewrap(
            r, keyring, report, "booking_event_links", key, "glink", records.link_aad(site_id, booking_id)
        )
    return report


def _bookings(r: redis.Redis) -> list[tuple[str, str]]:
    """(site id, booking id) of every booking record, by one SCAN of the keyspace (rotation is rare)."""
    pattern = keys.booking("*", "")  # mb:s:*:bk:
    head, _, middle = pattern.partition("*")
    found = set()
    for raw in r.scan_iter(match=pattern + "*", count=1000, _type="hash"):
        site_id, _, booking_id = raw.decode().removeprefix(head).partition(middle)
        if booking_id and ":" not in site_id:
            found.add((site_id, booking_id))
    return sorted(found)


def _rewrap(
    r: redis.Redis, keyring: Keyring, report: RotationReport, kind: str, key: str, name: str, aad: bytes
):
    for _attempt in range(3):
        blob = r.hget(key, name)
        if blob is None:
            return
        try:
            plaintext, stale = keyring.open(blob, aad)
        except DecryptError:
            log.error("vault rotate: %s in %s cannot be opened with any configured key", name, key)
            report.count(kind, "scanned")
            report.count(kind, "failed")
            return
        if not stale:
            report.count(kind, "scanned")
            return
        if r.eval(_CAS, 1, key, name, blob, keyring.seal(plaintext, aad)):
            report.count(kind, "scanned")
            report.count(kind, "rewrapped")
            return
    report.count(kind, "scanned")  # changed three times under us: whoever wrote it used the current key
