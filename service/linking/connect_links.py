"""Connect links and OAuth states: the short-lived, single-use records behind the connect screens.

A connect link is a random token (256 bits) handed to WordPress; Redis keeps only its SHA-256, with
the site, provider, staff id and return URL, for at most 10 minutes. The staff member's display name,
when the site sends one for the connect screen, is kept only sealed with the vault keys in that same
record (bound to the link's hash) and goes nowhere else: not into the OAuth state, not into a log.

Pressing "Continue" consumes the link (GETDEL: two tabs cannot both use it) and creates an OAuth
state, also kept by hash, holding the PKCE verifier sealed with the vault keys and a hash of the
browser's cookie nonce; the provider's callback consumes that in turn. Both keys expire on their own, are
written only while their site exists, and are named in the site's connect index, so erasing the site
deletes them at once.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import time
from dataclasses import asdict, dataclass, field, replace

import redis

from service.crypto import DecryptError, Keyring
from service.storage import keys

LINK_TTL = 600
"""Longest life of a connect link, and of a consent once started (seconds)."""

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


@dataclass(frozen=True)
class Link:
    """What a connect link (and after it, an OAuth state) stands for."""

    site_id: str
    provider: str
    staff_id: str
    return_url: str
    expires_at: float
    staff_name: str = field(default="", repr=False)
    """Shown on the connect screen only; stored sealed, dropped once the link is used."""


@dataclass(frozen=True)
class Consent:
    """A started consent: the link's details, the PKCE verifier and the browser binding."""

    link: Link
    code_verifier: str
    nonce_hash: str


def digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def well_formed(token: str) -> bool:
    """Whether `token` looks like one of ours (43 base64url characters): anything else is not looked up."""
    return bool(_TOKEN.match(token))


# KEYS: the site's record, the new key, the site's connect index. ARGV: value, seconds.
# Written only while the site exists, and named in its index in the same step, so a site's erasure
# (which deletes the record first, then what the index names) leaves none behind.
_STORE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if not redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2], 'NX') then return 0 end
redis.call('SADD', KEYS[3], KEYS[2])
if redis.call('TTL', KEYS[3]) < tonumber(ARGV[2]) then redis.call('EXPIRE', KEYS[3], ARGV[2]) end
return 1
"""


def _store(r: redis.Redis, site_id: str, key: str, value: str, ttl: int) -> bool:
    return bool(r.eval(_STORE, 3, keys.site(site_id), key, keys.site_connect(site_id), value, ttl))


def create(r: redis.Redis, link: Link, ttl: int, keyring: Keyring | None = None) -> str | None:
    """Store a link for `ttl` seconds; returns its token (shown once, never stored), or None when the
    site no longer exists.

    Args:
        keyring: seals `link.staff_name` (required when there is one).
    """
    token = secrets.token_urlsafe(32)
    token_hash = digest(token)
    record: dict = _plain(link)
    if link.staff_name:
        if keyring is None:
            raise ValueError("a staff name is only stored sealed: pass the keyring")
        sealed = keyring.seal(link.staff_name.encode(), name_aad(token_hash))
        record["name"] = base64.b64encode(sealed).decode()
    if not _store(r, link.site_id, keys.connect_link(token_hash), json.dumps(record), ttl):
        return None
    return token


def name_aad(token_hash: str) -> bytes:
    return f"connect-name|{token_hash}".encode()


def peek(r: redis.Redis, token: str, keyring: Keyring | None = None) -> Link | None:
    """The link, if unused and unexpired (for showing the page; does not consume it). With `keyring`,
    its staff name is opened too (a name no key opens is left out)."""
    if not well_formed(token):
        return None
    token_hash = digest(token)
    return _link(r.get(keys.connect_link(token_hash)), keyring, token_hash)


def consume(r: redis.Redis, token: str) -> Link | None:
    """Use the link up atomically (its sealed staff name goes with it); None when it is unknown,
    used or expired."""
    return _link(r.getdel(keys.connect_link(digest(token)))) if well_formed(token) else None


def _plain(link: Link) -> dict:
    """The link's fields that are stored as they are (everything but the staff name)."""
    record = asdict(link)
    del record["staff_name"]
    return record


def _link(raw: bytes | None, keyring: Keyring | None = None, token_hash: str = "") -> Link | None:
    if raw is None:
        return None
    record = json.loads(raw)
    sealed = record.pop("name", None)
    link = Link(**record)
    if link.expires_at <= time.time():
        return None
    if sealed and keyring is not None:
        try:
            name, _stale = keyring.open(base64.b64decode(sealed), name_aad(token_hash))
        except DecryptError:
            return link
        return replace(link, staff_name=name.decode())
    return link


def pkce_aad(state_hash: str) -> bytes:
    return f"pkce|{state_hash}".encode()


def start_consent(r: redis.Redis, keyring: Keyring, link: Link, nonce: str) -> tuple[str, str] | None:
    """Create the OAuth state for a consumed link; returns `(state, code_verifier)`, or None when the
    site no longer exists."""
    state = secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-], within RFC 7636's 43-128
    state_hash = digest(state)
    sealed = keyring.seal(verifier.encode(), pkce_aad(state_hash))
    record = {
        "link": _plain(link),
        "verifier": base64.b64encode(sealed).decode(),
        "nonce_hash": digest(nonce),
    }
    if not _store(r, link.site_id, keys.oauth_state(state_hash), json.dumps(record), LINK_TTL):
        return None
    return state, verifier


def finish_consent(r: redis.Redis, keyring: Keyring, state: str) -> Consent | None:
    """Take the consent of `state` atomically; None when unknown, already used or expired.

    Raises:
        service.crypto.DecryptError: the stored verifier was tampered with.
    """
    if not well_formed(state):
        return None
    state_hash = digest(state)
    raw = r.getdel(keys.oauth_state(state_hash))
    if raw is None:
        return None
    record = json.loads(raw)
    verifier, _stale = keyring.open(base64.b64decode(record["verifier"]), pkce_aad(state_hash))
    return Consent(Link(**record["link"]), verifier.decode(), record["nonce_hash"])


def browser_matches(consent: Consent, nonce: str | None) -> bool:
    """Whether the browser at the callback carries the cookie nonce of the one that started the consent."""
    return nonce is not None and hmac.compare_digest(digest(nonce), consent.nonce_hash)
