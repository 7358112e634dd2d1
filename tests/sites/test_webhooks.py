"""Standard Webhooks signing and verification: the published vector, interoperability, every rejection."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from service.sites import webhooks
from service.sites.webhooks import BadSignature, MalformedHeaders, MissingHeaders, TimestampOutOfRange

# The reference libraries' test vector (standard-webhooks, libraries/python/tests/test_webhooks.py).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'
VECTOR_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

KEY = webhooks.secret_bytes(VECTOR_SECRET)
OTHER_KEY = bytes(range(32))
NOW = 1_800_000_000


def signed(
    key: bytes = KEY, msg_id: str = "msg_1", ts: int = NOW, body: bytes = b'{"a":1}'
) -> dict[str, str]:
    return webhooks.signature_headers(key, msg_id, ts, body)


# --- secrets -----------------------------------------------------------------------------------------


def test_generate_secret_format_and_randomness():
    first, second = webhooks.generate_secret(), webhooks.generate_secret()
    assert first.startswith("whsec_") and first != second
    assert len(webhooks.secret_bytes(first)) == 32
    assert base64.b64decode(first.removeprefix("whsec_")) == webhooks.secret_bytes(first)


def test_secret_bytes_with_and_without_prefix_and_padding():
    raw = webhooks.secret_bytes(VECTOR_SECRET)
    assert len(raw) == 24
    assert webhooks.secret_bytes(VECTOR_SECRET.removeprefix("whsec_")) == raw
    padded = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    assert padded.endswith("=")
    assert webhooks.secret_bytes(padded.rstrip("=")) == bytes(range(32))


@pytest.mark.parametrize(
    "value",
    ["", "whsec_", "whsec_not base64!!", "whsec_" + "A" * 8, "whsec_" + base64.b64encode(b"x" * 65).decode()],
)
def test_secret_bytes_rejects_garbage_without_echoing_it(value):
    with pytest.raises(ValueError, match="webhook secret") as info:
        webhooks.secret_bytes(value)
    if value.removeprefix("whsec_"):
        assert value.removeprefix("whsec_") not in str(info.value)


# --- signing -----------------------------------------------------------------------------------------


def test_sign_matches_published_vector():
    assert webhooks.sign(KEY, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == VECTOR_SIG


def test_verify_accepts_published_vector():
    headers = {"webhook-id": VECTOR_ID, "webhook-timestamp": str(VECTOR_TS), "webhook-signature": VECTOR_SIG}
    assert webhooks.verify([KEY], headers, VECTOR_BODY, now=VECTOR_TS + 10) == VECTOR_ID


def test_signature_headers_shape():
    headers = webhooks.signature_headers(KEY, VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    assert headers == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TS),
        "webhook-signature": VECTOR_SIG,
    }


def test_signature_headers_with_two_secrets_signs_twice():
    headers = webhooks.signature_headers([OTHER_KEY, KEY], VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    entries = headers["webhook-signature"].split(" ")
    assert len(entries) == 2 and entries[1] == VECTOR_SIG
    with pytest.raises(ValueError):
        webhooks.signature_headers([], VECTOR_ID, VECTOR_TS, VECTOR_BODY)


@pytest.mark.parametrize("msg_id", ["", "a.b", "has space", "é", "x" * 257, "tab\there"])
def test_sign_refuses_ids_verify_would_reject(msg_id):
    with pytest.raises(ValueError):
        webhooks.sign(KEY, msg_id, NOW, b"{}")


@pytest.mark.parametrize("ts", [-1, 1.5, True, "123"])
def test_sign_refuses_non_integer_timestamps(ts):
    with pytest.raises(ValueError):
        webhooks.sign(KEY, "msg_1", ts, b"{}")


# --- interoperability with the reference library ---------------------------------------------------


def test_reference_library_signs_we_verify():
    now = int(time.time())
    body = '{"type":"booking.created","booking":{"id":"123"}}'
    signature = Webhook(VECTOR_SECRET).sign(VECTOR_ID, datetime.fromtimestamp(now, tz=UTC), body)
    headers = {"webhook-id": VECTOR_ID, "webhook-timestamp": str(now), "webhook-signature": signature}
    assert webhooks.verify([KEY], headers, body.encode()) == VECTOR_ID


def test_we_sign_reference_library_verifies():
    secret = webhooks.generate_secret()
    body = '{"type":"booking.synced","ok":true}'
    headers = webhooks.signature_headers(
        webhooks.secret_bytes(secret), "msg_abc", int(time.time()), body.encode()
    )
    assert Webhook(secret).verify(body, headers) == {"type": "booking.synced", "ok": True}


def test_reference_library_accepts_our_rotation_headers():
    old, new = webhooks.generate_secret(), webhooks.generate_secret()
    body = b'{"x":1}'
    headers = webhooks.signature_headers(
        [webhooks.secret_bytes(new), webhooks.secret_bytes(old)], "msg_rot", int(time.time()), body
    )
    Webhook(old).verify(body, headers, json_parse=False)
    Webhook(new).verify(body, headers, json_parse=False)
    with pytest.raises(WebhookVerificationError):
        Webhook(webhooks.generate_secret()).verify(body, headers, json_parse=False)


# --- verification --------------------------------------------------------------------------------------


def test_headers_are_case_insensitive():
    headers = {name.title(): value for name, value in signed().items()}
    assert "Webhook-Id" in headers
    assert webhooks.verify([KEY], headers, b'{"a":1}', now=NOW) == "msg_1"
    upper = {name.upper(): value for name, value in signed().items()}
    assert webhooks.verify([KEY], upper, b'{"a":1}', now=NOW) == "msg_1"


def test_rotation_any_of_the_secrets_passes():
    for key in (KEY, OTHER_KEY):
        assert webhooks.verify([OTHER_KEY, KEY], signed(key), b'{"a":1}', now=NOW) == "msg_1"
    with pytest.raises(BadSignature):
        webhooks.verify([OTHER_KEY], signed(KEY), b'{"a":1}', now=NOW)


def test_no_secrets_means_bad_signature():
    with pytest.raises(BadSignature):
        webhooks.verify([], signed(), b'{"a":1}', now=NOW)


def test_multiple_entries_any_match_passes_and_other_versions_are_ignored():
    good = signed()["webhook-signature"]
    digest = good.removeprefix("v1,")
    header = " ".join(
        [
            "v1,Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc=",
            f"v2,{digest}",
            "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==",
            good,
        ]
    )
    headers = signed() | {"webhook-signature": header}
    assert webhooks.verify([KEY], headers, b'{"a":1}', now=NOW) == "msg_1"


def test_a_valid_digest_under_another_version_does_not_pass():
    digest = signed()["webhook-signature"].removeprefix("v1,")
    for version in ("v2", "v1a", "V1", ""):
        headers = signed() | {"webhook-signature": f"{version},{digest}"}
        with pytest.raises(BadSignature):
            webhooks.verify([KEY], headers, b'{"a":1}', now=NOW)


@pytest.mark.parametrize(
    "garbage",
    [
        "v1",
        "v1,",
        ",",
        "v1,not-base64!!",
        "v1,AAAA",
        "v1,é",
        "v1," + base64.b64encode(b"\0" * 32).decode(),
        "\x00\x01",
        "v1,,,",
    ],
)
def test_garbage_entries_are_rejected_but_do_not_hide_a_good_one(garbage):
    good = signed()["webhook-signature"]
    with pytest.raises(BadSignature):
        webhooks.verify([KEY], signed() | {"webhook-signature": garbage}, b'{"a":1}', now=NOW)
    headers = signed() | {"webhook-signature": f"{garbage} {good}"}
    assert webhooks.verify([KEY], headers, b'{"a":1}', now=NOW) == "msg_1"


def test_tampered_body_fails():
    for body in (b'{"a":2}', b'{"a":1} ', b"", b'{"a": 1}'):
        with pytest.raises(BadSignature):
            webhooks.verify([KEY], signed(), body, now=NOW)


def test_tampered_id_fails():
    with pytest.raises(BadSignature):
        webhooks.verify([KEY], signed() | {"webhook-id": "msg_2"}, b'{"a":1}', now=NOW)


def test_tampered_timestamp_fails():
    headers = signed() | {"webhook-timestamp": str(NOW + 1)}
    with pytest.raises(BadSignature):
        webhooks.verify([KEY], headers, b'{"a":1}', now=NOW)


@pytest.mark.parametrize("missing", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_headers(missing):
    headers = signed()
    del headers[missing]
    with pytest.raises(MissingHeaders):
        webhooks.verify([KEY], headers, b'{"a":1}', now=NOW)
    with pytest.raises(MissingHeaders):
        webhooks.verify([KEY], signed() | {missing: ""}, b'{"a":1}', now=NOW)


@pytest.mark.parametrize("offset", [-300, -1, 0, 1, 300])
def test_skew_within_five_minutes_passes(offset):
    assert webhooks.verify([KEY], signed(), b'{"a":1}', now=NOW + offset) == "msg_1"


@pytest.mark.parametrize("offset", [-301, 301, -86_400, 86_400])
def test_skew_beyond_five_minutes_fails_both_directions(offset):
    with pytest.raises(TimestampOutOfRange):
        webhooks.verify([KEY], signed(), b'{"a":1}', now=NOW + offset)


def test_tolerance_is_configurable_and_default_clock_is_used():
    with pytest.raises(TimestampOutOfRange):
        webhooks.verify([KEY], signed(), b'{"a":1}', now=NOW + 61, tolerance=60)
    fresh = signed(ts=int(time.time()))
    assert webhooks.verify([KEY], fresh, b'{"a":1}') == "msg_1"
    with pytest.raises(TimestampOutOfRange):
        webhooks.verify([KEY], signed(ts=int(time.time()) - 3600), b'{"a":1}')


@pytest.mark.parametrize(
    "stamp", ["hello", "1.5", f"{NOW}.0", "1e9", "-5", f"+{NOW}", f" {NOW}", f"{NOW} ", "١٢٣", "²", "9" * 40]
)
def test_non_integer_timestamp_is_malformed(stamp):
    with pytest.raises(MalformedHeaders):
        webhooks.verify([KEY], signed() | {"webhook-timestamp": stamp}, b'{"a":1}', now=NOW)


@pytest.mark.parametrize("msg_id", ["a.b", "with space", "naïve", "x" * 257, "nl\n"])
def test_malformed_id(msg_id):
    with pytest.raises(MalformedHeaders):
        webhooks.verify([KEY], signed() | {"webhook-id": msg_id}, b'{"a":1}', now=NOW)


def test_all_errors_share_the_base_class():
    for exc in (MissingHeaders, MalformedHeaders, TimestampOutOfRange, BadSignature):
        assert issubclass(exc, webhooks.WebhookError)
