"""AES-256-GCM envelopes for the token vault and for personal data carried inside queued jobs.

Key format (`MEETBRIDGE_VAULT_KEYS`): comma-separated entries, each `[kid:]key`, where `key` is the
base64url encoding (padding optional) of exactly 32 random bytes and `kid` is an optional label of 1-32
characters from `A-Z a-z 0-9 . _ -`. Without a label the key id is the first 8 hex digits of the key's
SHA-256. The FIRST entry encrypts; every entry decrypts. To rotate: put a new key first, keep the old one
second until `open()` no longer reports stale blobs (callers re-seal what they open), then remove it.
`generate_key()` prints a fresh entry.

Envelope (30 bytes of overhead):

    version (1 byte, 0x01) | key tag (1 byte) | nonce (12 random bytes) | ciphertext | GCM tag (16 bytes)

The key tag is the first byte of HMAC-SHA256(key, "meetbridge vault key tag"), a short pointer rather than
the key id, so that renaming a label never strands old blobs and the envelope stays small. Two keys may
share a tag (1 in 256); `open()` then simply tries both. The first two bytes are authenticated together
with the caller's associated data, which binds a blob to its context (e.g. `b"token|site_1|zoom|7"`):
opened under any other context it fails.

Nothing in this module logs, and no exception message contains key material or plaintext.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import string
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ENV_NAME = "MEETBRIDGE_VAULT_KEYS"
"""The environment variable the keyring is configured from (named in every parse error)."""

VERSION = 1
"""Envelope format version, the first byte of every blob."""

KEY_BYTES = 32
"""AES-256."""

NONCE_BYTES = 12
"""GCM's standard nonce size; random per seal."""

TAG_BYTES = 16
"""GCM authentication tag size."""

HEADER_BYTES = 2
"""Version byte and key tag byte."""

OVERHEAD = HEADER_BYTES + NONCE_BYTES + TAG_BYTES
"""Bytes an envelope adds to its plaintext (30)."""

_KID_CHARS = frozenset(string.ascii_letters + string.digits + "._-")
_B64URL_CHARS = frozenset(string.ascii_letters + string.digits + "-_")
_MAX_KID = 32
_TAG_LABEL = b"meetbridge vault key tag"


class DecryptError(Exception):
    """A blob could not be opened: unknown key, wrong associated data, tampering or a bad format."""


@dataclass(frozen=True, slots=True)
class _Key:
    kid: str
    tag: int
    aead: AESGCM

    def __repr__(self) -> str:  # never show the cipher object (or anything derived from the key)
        return f"_Key(kid={self.kid!r})"


def generate_key(kid: str | None = None) -> str:
    """Create a new keyring entry.

    Args:
        kid: an optional label; without one, the id is derived from the key.

    Returns:
        `kid:<base64url>` or `<base64url>` (43 characters, unpadded), ready for `MEETBRIDGE_VAULT_KEYS`.

    Raises:
        ValueError: `kid` is not 1-32 characters of `A-Z a-z 0-9 . _ -`.
    """
    key = base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode("ascii").rstrip("=")
    if kid is None:
        return key
    if not _valid_kid(kid):
        raise ValueError(f"key id must be 1-{_MAX_KID} characters of A-Z a-z 0-9 . _ -")
    return f"{kid}:{key}"


class Keyring:
    """The vault keys: the first seals, all open."""

    __slots__ = ("_keys", "_by_tag")

    def __init__(self, keys: Iterable[tuple[str, bytes]]) -> None:
        """Build a keyring from `(key id, 32-byte key)` pairs, current key first.

        Args:
            keys: the keys; at least one, ids unique, each key 32 bytes and different from the others.

        Raises:
            ValueError: no keys, a key of the wrong length, or a repeated id or key.
        """
        entries: list[_Key] = []
        seen_ids: set[str] = set()
        seen_keys: set[bytes] = set()
        for kid, key in keys:
            if len(key) != KEY_BYTES:
                raise ValueError(f"{ENV_NAME}: key {kid!r} must be {KEY_BYTES} bytes")
            if kid in seen_ids:
                raise ValueError(f"{ENV_NAME}: key id {kid!r} appears more than once")
            fingerprint = hashlib.sha256(key).digest()
            if fingerprint in seen_keys:
                raise ValueError(f"{ENV_NAME}: key {kid!r} repeats an earlier key")
            seen_ids.add(kid)
            seen_keys.add(fingerprint)
            tag = hmac.new(key, _TAG_LABEL, hashlib.sha256).digest()[0]
            entries.append(_Key(kid, tag, AESGCM(key)))
        if not entries:
            raise ValueError(f"{ENV_NAME} holds no keys")
        self._keys: tuple[_Key, ...] = tuple(entries)
        by_tag: dict[int, list[_Key]] = {}
        for entry in entries:
            by_tag.setdefault(entry.tag, []).append(entry)
        self._by_tag: dict[int, tuple[_Key, ...]] = {tag: tuple(group) for tag, group in by_tag.items()}

    @classmethod
    def from_config(cls, value: str) -> Keyring:
        """Parse `MEETBRIDGE_VAULT_KEYS` (format in the module docstring).

        Args:
            value: the variable's value.

        Returns:
            The keyring; its first key seals.

        Raises:
            ValueError: the value is empty or an entry is malformed; the message names the variable and
                the entry's position (and its label, if any), never key material.
        """
        if not value or not value.strip():
            raise ValueError(f"{ENV_NAME} is empty: set it to one or more comma-separated keys")
        pairs = [_parse_entry(position, entry.strip()) for position, entry in enumerate(value.split(","), 1)]
        return cls(pairs)

    @property
    def current_kid(self) -> str:
        """The id of the key that seals."""
        return self._keys[0].kid

    @property
    def kids(self) -> tuple[str, ...]:
        """All key ids, current first."""
        return tuple(entry.kid for entry in self._keys)

    def __repr__(self) -> str:
        return f"Keyring(kids={self.kids!r})"

    def seal(self, plaintext: bytes, aad: bytes) -> bytes:
        """Encrypt with the current key.

        Args:
            plaintext: the data to protect.
            aad: associated data naming the blob's context; the same bytes are needed to open it.

        Returns:
            The envelope, `len(plaintext) + OVERHEAD` bytes.
        """
        current = self._keys[0]
        header = bytes((VERSION, current.tag))
        nonce = os.urandom(NONCE_BYTES)
        return header + nonce + current.aead.encrypt(nonce, plaintext, header + aad)

    def open(self, blob: bytes, aad: bytes) -> tuple[bytes, bool]:
        """Decrypt an envelope made by `seal()`.

        Args:
            blob: the envelope.
            aad: the associated data it was sealed with.

        Returns:
            `(plaintext, stale)`; `stale` is True when a key other than the current one sealed it, so the
            caller should seal the plaintext again and store the new blob.

        Raises:
            DecryptError: the blob is truncated, of an unknown version, sealed with a key that is not in the
                keyring, tampered with, or opened with different associated data.
        """
        if len(blob) < OVERHEAD:
            raise DecryptError("vault blob is too short")
        if blob[0] != VERSION:
            raise DecryptError("vault blob has an unknown format version")
        candidates = self._by_tag.get(blob[1])
        if candidates is None:
            raise DecryptError(f"vault blob was sealed with a key that is not in {ENV_NAME}")
        header = blob[:HEADER_BYTES]
        nonce = blob[HEADER_BYTES : HEADER_BYTES + NONCE_BYTES]
        sealed = blob[HEADER_BYTES + NONCE_BYTES :]
        for entry in candidates:
            try:
                plaintext = entry.aead.decrypt(nonce, sealed, header + aad)
            except InvalidTag:
                continue
            return plaintext, entry is not self._keys[0]
        raise DecryptError("vault blob failed authentication (tampered, wrong context or wrong key)")

    def seal_json(self, obj: Any, aad: bytes) -> bytes:
        """Seal a JSON-serializable value (compact UTF-8 JSON inside).

        Args:
            obj: the value.
            aad: associated data, as for `seal()`.

        Returns:
            The envelope.

        Raises:
            TypeError: `obj` is not JSON-serializable.
            ValueError: `obj` contains NaN or infinity.
        """
        text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
        return self.seal(text.encode("utf-8"), aad)

    def open_json(self, blob: bytes, aad: bytes) -> tuple[Any, bool]:
        """Open an envelope made by `seal_json()`.

        Args:
            blob: the envelope.
            aad: the associated data it was sealed with.

        Returns:
            `(value, stale)`, as for `open()`.

        Raises:
            DecryptError: as for `open()`, or the plaintext is not JSON.
        """
        plaintext, stale = self.open(blob, aad)
        try:
            return json.loads(plaintext), stale
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise DecryptError("vault blob does not hold JSON") from None


def _parse_entry(position: int, entry: str) -> tuple[str, bytes]:
    kid, sep, encoded = entry.rpartition(":")
    where = f"{ENV_NAME} entry {position}" + (f" ({kid!r})" if sep and _valid_kid(kid) else "")
    if not entry:
        raise ValueError(f"{where} is empty")
    if sep and not _valid_kid(kid):
        raise ValueError(f"{where}: the key id must be 1-{_MAX_KID} characters of A-Z a-z 0-9 . _ -")
    encoded = encoded.rstrip("=")
    if not encoded or not _B64URL_CHARS.issuperset(encoded):
        raise ValueError(f"{where} is not base64url (expected [kid:]<43 characters of A-Z a-z 0-9 - _>)")
    try:
        key = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"{where} is not valid base64url") from None
    if len(key) != KEY_BYTES:
        raise ValueError(f"{where} must decode to {KEY_BYTES} bytes, not {len(key)}")
    return (kid if sep else hashlib.sha256(key).hexdigest()[:8]), key


def _valid_kid(kid: str) -> bool:
    return 0 < len(kid) <= _MAX_KID and _KID_CHARS.issuperset(kid)
