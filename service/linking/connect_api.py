"""`POST /v1/sites/{site_id}/connect-links`: a single-use link that starts linking a staff account.

Signed like the events (Standard Webhooks on the raw body). Body, no other fields: `provider` (`google`
| `zoom`), `staff_id` (1-64 of `A-Z a-z 0-9 . _ : -`), `return_url` (an http(s) URL on the site's
registered origin, at most 2000 characters, no user info), all required; `staff_name` optional (the
staff member's display name, 1-100 characters, no control characters), shown on the connect screen,
kept only sealed in the link's record and never logged. Answers `201`
`{"url", "expires_at"}`; `400` malformed JSON, `401`/`404` as the events, `409` a replayed
`webhook-id` (one link per signed request), `415` not JSON, `422` naming the field.
"""

from __future__ import annotations

import logging
import re
import time
from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify

from service import vault_keys
from service.accounts import vault
from service.bookings.booking_schema import ID_PATTERN
from service.http.web import error_body
from service.linking import connect_links
from service.sites import site_auth
from service.sites.registry import Site
from service.storage import redis_client

log = logging.getLogger(__name__)

bp = Blueprint("connect_api", __name__)

FIELDS = ("provider", "staff_id", "return_url")
OPTIONAL = ("staff_name",)
MAX_URL = 2000
MAX_NAME = 100
REPLAY_WINDOW = 15 * 60
"""Seconds a used `webhook-id` is remembered: longer than the signature's 5-minute tolerance either way."""
_STAFF_ID = re.compile(ID_PATTERN)
_DEFAULT_PORTS = {"http": 80, "https": 443}


class Invalid(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


def origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL, or None when it is not one."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    return scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[scheme]


def validate(data: object, site_url: str) -> dict[str, str]:
    """The checked body.

    Raises:
        Invalid: naming the first field that is wrong.
    """
    if not isinstance(data, dict):
        raise Invalid("(root)", "the body must be a JSON object")
    for name in FIELDS:
        if name not in data:
            raise Invalid(name, f"{name} is required")
        if not isinstance(data[name], str):
            raise Invalid(name, f"{name} must be a string")
    extra = sorted(set(data) - set(FIELDS) - set(OPTIONAL))
    if extra:
        raise Invalid(extra[0], f"unknown field {extra[0]!r}")
    if data["provider"] not in vault.PROVIDERS:
        raise Invalid("provider", "provider must be 'google' or 'zoom'")
    if not 0 < len(data["staff_id"]) <= 64 or not _STAFF_ID.search(data["staff_id"]):
        raise Invalid("staff_id", "staff_id must be 1-64 characters of A-Z a-z 0-9 . _ : -")
    url = data["return_url"]
    if len(url) > MAX_URL or any(ch.isspace() or ord(ch) < 32 or ch == "\\" for ch in url):
        raise Invalid("return_url", f"return_url must be a URL of at most {MAX_URL} characters")
    if "@" in (urlsplit(url).netloc or "") or origin_of(url) is None:
        raise Invalid("return_url", "return_url must be an http(s) URL without user info")
    if origin_of(url) != origin_of(site_url):
        raise Invalid("return_url", "return_url must be on the site's registered origin")
    checked = {name: data[name] for name in FIELDS}
    if "staff_name" in data:
        checked["staff_name"] = _staff_name(data["staff_name"])
    return checked


def _staff_name(value: object) -> str:
    name = value.strip() if isinstance(value, str) else ""
    if not 0 < len(name) <= MAX_NAME or any(ord(ch) < 32 or 0x7F <= ord(ch) < 0xA0 for ch in name):
        raise Invalid("staff_name", f"staff_name must be 1-{MAX_NAME} characters without control characters")
    return name


@bp.post("/v1/sites/<site_id>/connect-links")
@site_auth.signed_json
def create_link(site: Site, webhook_id: str, data: object):
    site_id = site.id
    try:
        body = validate(data, site.url)
    except Invalid as exc:
        return error_body(422, "invalid_request", exc.message, field=exc.field)
    if not site_auth.first_use(site_id, webhook_id, REPLAY_WINDOW):
        return error_body(409, "replayed_request", "this webhook-id was already used; sign a new request")
    ttl = min(int(current_app.config.get("CONNECT_LINK_TTL", connect_links.LINK_TTL)), connect_links.LINK_TTL)
    expires_at = time.time() + ttl
    provider, staff_id, name = body["provider"], body["staff_id"], body.get("staff_name", "")
    link = connect_links.Link(site_id, provider, staff_id, body["return_url"], expires_at, name)
    token = connect_links.create(redis_client.get(), link, ttl, vault_keys.get())
    if token is None:  # the site was removed since its request was verified
        return error_body(404, "unknown_site", "no such site")
    log.info(
        "connect link for %s staff %s of site %s (request %s)",
        link.provider,
        link.staff_id,
        site_id,
        webhook_id,
    )
    url = str(current_app.config["PUBLIC_URL"]).rstrip("/") + "/connect/" + token
    answer = jsonify({"url": url, "expires_at": vault.rfc3339(expires_at)})
    answer.status_code = 201
    return answer
