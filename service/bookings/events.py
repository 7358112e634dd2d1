"""`POST /v1/sites/{site_id}/events`: booking events from WordPress, verified and durably queued.

Order of checks: site and signature on the raw body (404/401, 413 when the body is over 64 KiB),
then media type (415), JSON (400) and schema (422, also for arrays/objects nested more than
`MAX_DEPTH` levels); then one Redis script records the id, the revision and the job together (202,
or 200 with the first answer for a `webhook-id` already seen).
Redis unreachable or out of memory: 503 and nothing written. During a Sentinel failover the same 503
(the connection to the old primary fails, the next one asks the Sentinels again). With a durable
acknowledgement (`MEETBRIDGE_DURABLE_ACK`), also 503 when no replica (or append-only file) confirmed
the event in time: it may be stored, and the retry with the same `webhook-id` finds out.
`fast_receive` answers the success cases without Flask (service.http.fast_path); everything else is
answered here. Both leave the decision on a verified event (validate, seal, accept, answer) to one
handler, `_handle`. Personal data (names, e-mails, title) goes into the job only sealed with the vault
keys, and is never logged.
"""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable

import redis
from flask import Blueprint, Flask, Response, current_app
from werkzeug.datastructures import EnvironHeaders

from service import vault_keys
from service.bookings import booking_schema
from service.bookings.intake import Intake, StaleSite
from service.bookings.records import event_aad
from service.http import fast_path
from service.http.web import error_body
from service.sites import site_auth, webhooks
from service.sites.registry import Site
from service.storage import redis_client
from service.storage.durability import DurableAck, NotDurable
from service.storage.queues import SYNC

log = logging.getLogger(__name__)

bp = Blueprint("events", __name__)

ROUTE = "/v1/sites/<site_id>/events"


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


def _intake(app: Flask | None = None) -> Intake:
    app = app or current_app
    intake = app.extensions.get("meetbridge.intake")
    if intake is None:
        durable = DurableAck.from_settings(app.config)
        intake = app.extensions["meetbridge.intake"] = Intake(
            redis_client.get(app), SYNC, int(app.config["SYNC_JOB_TIMEOUT"]), durable
        )
    return intake


def _event_fields(app: Flask, site_id: str, webhook_id: str, data: dict, event) -> dict:
    """What the intake records for a valid event: ids, type, revision, and the booking sealed."""
    booking = event.booking
    sealed = vault_keys.get(app).seal(
        json.dumps(data["booking"], separators=(",", ":")).encode(),
        event_aad(site_id, booking.id, booking.revision),
    )
    return {
        "site_id": site_id,
        "webhook_id": webhook_id,
        "event_type": event.type,
        "booking_id": booking.id,
        "revision": booking.revision,
        "sealed": sealed,
    }


def _log_outcome(fields: dict, outcome) -> None:
    log.info(
        "event %s %s booking %s rev %s: %s",
        fields["webhook_id"], fields["event_type"], fields["booking_id"], fields["revision"],
        outcome.status, extra={"site_id": fields["site_id"]},
    )  # fmt: skip


def _handle(
    app: Flask, site: Site, webhook_id: str, data: object, *, explain: bool = False,
    reload: Callable[[], Site] | None = None,
) -> fast_path.Answer:  # fmt: skip
    """The decision on a verified event, for the route and the fast path alike: validate it, seal the
    booking, let the intake accept it; the answer, with the log line to write once it is given.

    Args:
        explain: validate with the schema's explanations (the route's 422 names the field).
        reload: the site afresh, when the intake finds the copy in hand stale (the route); None: raise.

    Raises:
        booking_schema.SchemaError: the event breaks the schema.
        StaleSite: the site changed since it was cached (and `reload` is None, or the reload was stale).
        site_auth.AuthError: from `reload`.
        redis.RedisError: the event could not be stored.
    """
    event = booking_schema.validate_event(data, explain=explain)
    fields = _event_fields(app, site.id, webhook_id, data, event)
    intake = _intake(app)
    try:
        outcome = intake.accept(site_version=site.version, **fields)
    except StaleSite:
        if reload is None:
            raise
        outcome = intake.accept(site_version=reload().version, **fields)
    return fast_path.Answer(outcome.http_status, outcome.body, lambda: _log_outcome(fields, outcome))


@bp.post(ROUTE)
# The intake's script checks the site's version itself, in the round trip that accepts the event.
@site_auth.signed_json(check_version=False, too_deep=_too_deep_answer)
def receive(site: Site, webhook_id: str, data: object):
    if _too_deep(data):
        return _too_deep_answer()

    def reload() -> Site:
        return site_auth.authenticate(site.id, fresh=True)[0]

    try:
        answer = _handle(current_app, site, webhook_id, data, explain=True, reload=reload)
    except booking_schema.SchemaError as exc:
        return error_body(422, "invalid_event", exc.message, field=exc.field)
    except (redis.RedisError, StaleSite) as exc:
        log.error("event %s for site %s not queued: %s", webhook_id, site.id, type(exc).__name__)
        return _not_queued()
    answer.log()
    return Response(answer.body, status=answer.status, mimetype="application/json")


_NOT_QUEUED = (503, "not_queued", "the event could not be stored durably; retry later")


def _not_queued():
    return error_body(*_NOT_QUEUED)


def fast_receive(app: Flask, environ: dict, site_id: str) -> fast_path.Answer | None:
    """`receive` for an acceptable event (202 accepted or ignored, 200 seen), on the raw environ; None
    for anything else (signature, site, size, media type, JSON, schema, a stale cached site), which
    the route then answers with the body read here put back."""
    mimetype = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    try:
        length = int(environ.get("CONTENT_LENGTH") or -1)
    except ValueError:
        return None
    if mimetype != "application/json" or not 0 < length <= int(app.config["MAX_CONTENT_LENGTH"]):
        return None
    if environ.get("HTTP_TRANSFER_ENCODING"):
        return None
    body = environ["wsgi.input"].read(length)
    environ["wsgi.input"] = io.BytesIO(body)  # the route reads it again if it answers
    if len(body) != length:
        return None
    site, _cached = site_auth.cache(app).get(site_id, app=app)
    if site is None:
        return None
    try:
        webhook_id = webhooks.verify(site.active_keys(), EnvironHeaders(environ), body)
        data = json.loads(body)
    except (webhooks.WebhookError, ValueError, RecursionError):
        return None
    try:
        # Without the depth check: the schema's closed objects and typed fields admit 3 levels.
        return _handle(app, site, webhook_id, data)
    except (booking_schema.SchemaError, StaleSite):
        return None  # the route explains, or reloads the site
    except NotDurable as exc:  # answered here: the route would find the event already seen
        log.error("event %s for site %s not confirmed: %s", webhook_id, site.id, exc)
        status, code, message = _NOT_QUEUED
        body = json.dumps({"error": code, "message": message}).encode()
        return fast_path.Answer(status, body, None)
