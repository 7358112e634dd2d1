"""AES-256-GCM envelopes: round trips, context binding, tamper detection, rotation, key parsing."""

from __future__ import annotations

import base64

import pytest

from service import crypto
from service.crypto import DecryptError, Keyring

KEY_A = crypto.generate_key("a")
KEY_B = crypto.generate_key("b")
AAD = b"token|site_1|zoom|7"


def material(entry: str) -> str:
    return entry.rpartition(":")[2]


def test_round_trip_and_size():
    ring = Keyring.from_config(KEY_A)
    for plaintext in (b"", b"x", b"secret token" * 100):
        blob = ring.seal(plaintext, AAD)
        assert len(blob) == len(plaintext) + crypto.OVERHEAD == len(plaintext) + 30
        assert blob[0] == crypto.VERSION
        assert ring.open(blob, AAD) == (plaintext, False)
        if len(plaintext) >= 8:
            assert plaintext[:8] not in blob


def test_two_seals_differ():
    ring = Keyring.from_config(KEY_A)
    first, second = ring.seal(b"same", AAD), ring.seal(b"same", AAD)
    assert first != second
    assert first[2:14] != second[2:14]


def test_associated_data_binds_the_context():
    ring = Keyring.from_config(KEY_A)
    blob = ring.seal(b"refresh-token", AAD)
    for other in (b"", b"token|site_1|zoom|8", b"token|site_2|zoom|7", AAD + b"x"):
        with pytest.raises(DecryptError):
            ring.open(blob, other)


def test_any_single_byte_tamper_fails():
    ring = Keyring.from_config(KEY_A)
    blob = ring.seal(b"hello world", AAD)
    for index in range(len(blob)):
        for flip in (0x01, 0x80):
            tampered = bytearray(blob)
            tampered[index] ^= flip
            with pytest.raises(DecryptError):
                ring.open(bytes(tampered), AAD)


def test_truncated_and_extended_blobs_fail():
    ring = Keyring.from_config(KEY_A)
    blob = ring.seal(b"hello", AAD)
    for bad in (b"", blob[:1], blob[: crypto.OVERHEAD - 1], blob[:-1], blob + b"\0"):
        with pytest.raises(DecryptError):
            ring.open(bad, AAD)


def test_rotation_old_key_second_is_stale_then_gone():
    old_ring = Keyring.from_config(KEY_A)
    blob = old_ring.seal(b"tok", AAD)

    rotated = Keyring.from_config(f"{KEY_B},{KEY_A}")
    assert rotated.current_kid == "b" and rotated.kids == ("b", "a")
    plaintext, stale = rotated.open(blob, AAD)
    assert (plaintext, stale) == (b"tok", True)
    resealed = rotated.seal(plaintext, AAD)
    assert rotated.open(resealed, AAD) == (b"tok", False)
    assert old_ring.open(blob, AAD) == (b"tok", False)

    removed = Keyring.from_config(KEY_B)
    with pytest.raises(DecryptError):
        removed.open(blob, AAD)


def test_unknown_key_message_names_the_variable():
    blob = Keyring.from_config(KEY_A).seal(b"tok", AAD)
    stranger = Keyring.from_config(KEY_B)
    if blob[1] != stranger.seal(b"", b"")[1]:  # the 1-byte key tags differ (255 times in 256)
        with pytest.raises(DecryptError, match="MEETBRIDGE_VAULT_KEYS"):
            stranger.open(blob, AAD)


def test_keys_sharing_a_tag_are_both_tried():
    # Find two keys whose 1-byte tags collide, then check each opens its own blobs in either order.
    by_tag: dict[int, bytes] = {}
    for counter in range(10_000):
        key = counter.to_bytes(32, "big")
        tag = Keyring([("probe", key)]).seal(b"", b"")[1]
        if tag in by_tag:
            first, second = by_tag[tag], key
            break
        by_tag[tag] = key
    else:  # pragma: no cover - impossible by the pigeonhole principle
        pytest.fail("no tag collision found")
    one, two = Keyring([("one", first)]), Keyring([("two", second)])
    both = Keyring([("two", second), ("one", first)])
    assert both.open(one.seal(b"from one", AAD), AAD) == (b"from one", True)
    assert both.open(two.seal(b"from two", AAD), AAD) == (b"from two", False)
    with pytest.raises(DecryptError):
        one.open(two.seal(b"x", AAD), AAD)


def test_json_helpers():
    ring = Keyring.from_config(f"{KEY_B},{KEY_A}")
    value = {"access_token": "at", "expires_at": 1_800_000_000, "scopes": ["a", "b"], "name": "Zoë"}
    blob = ring.seal_json(value, AAD)
    assert ring.open_json(blob, AAD) == (value, False)
    old_blob = Keyring.from_config(KEY_A).seal_json([1, None], AAD)
    assert ring.open_json(old_blob, AAD) == ([1, None], True)
    with pytest.raises(DecryptError):
        ring.open_json(ring.seal(b"\xff not json", AAD), AAD)
    with pytest.raises(DecryptError):
        ring.open_json(blob, b"other")
    with pytest.raises(ValueError):
        ring.seal_json(float("nan"), AAD)
    with pytest.raises(TypeError):
        ring.seal_json({1, 2}, AAD)


# --- key format ----------------------------------------------------------------------------------------


def test_generate_key_format():
    entry = crypto.generate_key()
    assert ":" not in entry and len(entry) == 43
    assert len(base64.urlsafe_b64decode(entry + "=")) == 32
    assert crypto.generate_key("2026-01").startswith("2026-01:")
    with pytest.raises(ValueError):
        crypto.generate_key("bad id!")


def test_derived_key_id_and_padding_and_whitespace():
    entry = crypto.generate_key()
    ring = Keyring.from_config(f" {entry}= ")
    assert len(ring.current_kid) == 8 and int(ring.current_kid, 16) >= 0
    assert Keyring.from_config(entry).current_kid == ring.current_kid
    labelled = Keyring.from_config(f"dev1:{entry}")
    assert labelled.current_kid == "dev1"
    # The label is not part of the envelope: renaming a key does not strand its blobs.
    assert labelled.open(ring.seal(b"x", AAD), AAD) == (b"x", False)


def test_config_service_format_is_accepted():
    # service.config writes dev keys as f"dev1:{urlsafe_b64encode(32 bytes).rstrip('=')}".
    key = base64.urlsafe_b64encode(bytes(range(32))).decode().rstrip("=")
    assert Keyring.from_config(f"dev1:{key}").kids == ("dev1",)


def _too_long() -> str:
    return base64.urlsafe_b64encode(b"k" * 33).decode()


PARSE_ERRORS = [
    ("", "is empty"),
    ("   ", "is empty"),
    (f"{KEY_A},", "entry 2 is empty"),
    (f"{KEY_A},,{KEY_B}", "entry 2 is empty"),
    ("a:", "entry 1 ('a') is not base64url"),
    ("a:not*base64*at*all*not*base64*at*all*not*base", "entry 1 ('a') is not base64url"),
    ("a:" + base64.b64encode(b"\xfb" * 32).decode(), "is not base64url"),  # standard alphabet
    ("a:" + base64.urlsafe_b64encode(b"k" * 16).decode(), "must decode to 32 bytes, not 16"),
    ("a:" + _too_long(), "must decode to 32 bytes, not 33"),
    ("a:" + "A" * 41, "not valid base64url"),
    (f"bad id:{material(KEY_A)}", "the key id must be"),
    (f"{'x' * 33}:{material(KEY_A)}", "the key id must be"),
    (f"a:b:{material(KEY_A)}", "the key id must be"),
    (f"{KEY_A},{KEY_A}", "key id 'a' appears more than once"),
    (f"{KEY_A},a:{material(KEY_B)}", "key id 'a' appears more than once"),
    (f"x:{material(KEY_A)},y:{material(KEY_A)}", "key 'y' repeats an earlier key"),
    (f"{material(KEY_A)},{material(KEY_A)}", "appears more than once"),
]


# Ids from the expected message keep random key material out of test names.
@pytest.mark.parametrize(("value", "expected"), PARSE_ERRORS, ids=[expected for _, expected in PARSE_ERRORS])
def test_parse_errors_name_the_variable_but_never_the_key(value, expected):
    with pytest.raises(ValueError) as info:
        Keyring.from_config(value)
    message = str(info.value)
    assert "MEETBRIDGE_VAULT_KEYS" in message
    assert expected in message
    for entry in value.split(","):
        secret = material(entry.strip()).rstrip("=")
        if len(secret) >= 8:
            assert secret not in message
            assert secret[:8] not in message


def test_constructor_checks():
    with pytest.raises(ValueError, match="no keys"):
        Keyring([])
    with pytest.raises(ValueError, match="must be 32 bytes"):
        Keyring([("short", b"k" * 16)])


def test_no_key_material_or_plaintext_in_errors_or_repr():
    ring = Keyring.from_config(f"{KEY_B},{KEY_A}")
    raw_keys = [base64.urlsafe_b64decode(material(k) + "=") for k in (KEY_A, KEY_B)]
    blob = ring.seal(b"super secret plaintext", AAD)
    texts = [repr(ring), repr(ring._keys[0])]
    for bad_aad in (b"other", AAD):
        bad_blob = blob if bad_aad != AAD else blob[:-1] + bytes([blob[-1] ^ 1])
        with pytest.raises(DecryptError) as info:
            ring.open(bad_blob, bad_aad)
        texts.append(str(info.value))
        texts.append(repr(info.value))
        assert info.value.__cause__ is None or not str(info.value.__cause__)
    for text in texts:
        assert "secret plaintext" not in text
        for entry, raw in zip((KEY_A, KEY_B), raw_keys, strict=True):
            assert material(entry) not in text
            assert raw.hex()[:8] not in text
    assert "a" in ring.kids and "Keyring(kids=('b', 'a'))" == repr(ring)
