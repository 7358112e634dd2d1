"""`POST /v1/sites/{site_id}/events`: booking events from WordPress, verified and durably queued.

Order of checks: site and signature on the raw body (404/401, 413 when the body is over 64 KiB),
then media type (415), JSON (400) and schema (422, also for arrays/objects nested more than
`MAX_DEPTH` levels); then one Redis script records the id, the revision and the job together (202,
or 200 with the first answer for a `webhook-id` already seen).
Redis unreachable or out of memory: 503 and nothing written. Personal data (names, e-mails, title)
goes into the job only sealed with the vault keys, and is never logged.
"""

from __future__ import annotations

import json
import logging

import redis
from flask import Blueprint, Response, current_app

from service import booking_schema, redis_client, site_auth, vault_keys
from service.intake import Intake, StaleSite
from service.web import error_body
from workers.queues import SYNC

log = logging.getLogger(__name__)

bp = Blueprint("events", __name__)


def event_aad(site_id: str, booking_id: str, revision: int) -> bytes:
    """Associated data binding a sealed event payload to its site, booking and revision."""
    return f"event|{site_id}|{booking_id}|{revision}".encode()


MAX_DEPTH = 16
"""Deepest nesting of arrays and objects looked at (a valid event has 3 levels). Deeper bodies are
refused before jsonschema, whose error messages `repr()` the offending value recursively."""
TOO_DEEP = f"is nested more than {MAX_DEPTH} levels deep"


def _too_deep(data: object) -> bool:
    """Whether `data` nests arrays/objects more than MAX_DEPTH levels (iteratively: no recursion)."""
    level = [data] if isinstance(data, dict | list) else []  # the containers at nesting level 1
    for _depth in range(MAX_DEPTH):
        if not level:
            return False
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, dict | list)
        ]
    return bool(level)


def _too_deep_answer():
    return error_body(422, "invalid_event", TOO_DEEP, field=booking_schema.ROOT)


def _intake() -> Intake:
    intake = current_app.extensions.get("meetbridge.intake")
    if intake is None:
        intake = current_app.extensions["meetbridge.intake"] = Intake(
            redis_client.get(), SYNC, int(current_app.config["SYNC_JOB_TIMEOUT"])
        )
    return intake


@bp.post("/v1/sites/<site_id>/events")
def receive(site_id: str):
    try:
        # The script below checks the site's version itself, in the round trip that accepts the event.
        site, webhook_id, data = site_auth.signed_json(
            site_id, check_version=False, too_deep=_too_deep_answer
        )
    except site_auth.Rejected as exc:
        return exc.response
    if _too_deep(data):
        return _too_deep_answer()
    try:
        event = booking_schema.validate_event(data)
    except booking_schema.SchemaError as exc:
        return error_body(422, "invalid_event", exc.message, field=exc.field)
    booking = event.booking
    sealed = vault_keys.get().seal(
        json.dumps(data["booking"], separators=(",", ":")).encode(),
        event_aad(site_id, booking.id, booking.revision),
    )
    fields = {
        "site_id": site_id,
        "webhook_id": webhook_id,
        "event_type": event.type,
        "booking_id": booking.id,
        "revision": booking.revision,
        "sealed": sealed,
    }
    try:
        try:
            outcome = _intake().accept(site_version=site.version, **fields)
        except StaleSite:
            site, _ = site_auth.authenticate(site_id, fresh=True)
            outcome = _intake().accept(site_version=site.version, **fields)
    except site_auth.AuthError as exc:
        return error_body(exc.status, exc.code, exc.message)
    except (redis.RedisError, StaleSite) as exc:
        log.error("event %s for site %s not queued: %s", webhook_id, site_id, type(exc).__name__)
        return error_body(503, "not_queued", "the event could not be stored durably; retry later")
    log.info(
        "event %s %s booking %s rev %s: %s",
        webhook_id, event.type, booking.id, booking.revision, outcome.status,
        extra={"site_id": site_id},
    )  # fmt: skip
    return Response(outcome.body, status=outcome.http_status, mimetype="application/json")
