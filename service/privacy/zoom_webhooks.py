"""`POST /v1/zoom/events`: Zoom's webhooks (the app's Event Subscriptions).

Every request must carry `x-zm-request-timestamp` (Unix seconds, within 5 minutes of our clock) and
`x-zm-signature: v0=<hex HMAC-SHA256 of "v0:{timestamp}:{raw body}">`, keyed with
`ZOOM_WEBHOOK_SECRET_TOKEN`; anything else is 401 before the body is read as JSON.

- `endpoint.url_validation`: answers `{"plainToken", "encryptedToken"}` (hex HMAC-SHA256 of the plain
  token with the same secret), which Zoom checks when the endpoint is saved and every 72 hours.
- `meeting.ended`: once the booking whose meeting it is (`keys.ZOOM_MEETINGS`) has ended (its recorded
  end has passed), it becomes due for cleanup now and a cleanup run is queued, so the meeting is deleted
  minutes after it ends, not after the grace period. A meeting ended before its booking's end (a host
  who starts it early to test it, or ends it by mistake) is kept, with its join link (`kept`): the
  booking's own cleanup, at its end plus the grace period, deletes it.
- `app_deauthorized`: the user removed the app. As the Marketplace requires, everything obtained
  through it is deleted: every account's tokens linked to that Zoom user, and the Zoom meeting ids and
  join links of their bookings (service.privacy.erasure.forget_zoom_user). Each site concerned is told with a
  signed `account.needs_relink` (`reason: "deauthorized"`), so WordPress shows that the staff member's
  Zoom account must be linked again before their next Zoom booking.
- `meeting.updated` (a new `start_time` or `duration` in `payload.object`) and `meeting.deleted` of a
  MeetBridge meeting: a job (`workers.changes.zoom_event`) applies the change to its booking under the
  booking's lock (workers.external: the Google event follows a move; a delete applies the site's
  `external_delete` policy; MeetBridge's own updates change nothing). Other meetings are ignored.
- Any other event is acknowledged and ignored (200), so Zoom does not retry it.

Each handler is idempotent: Zoom retries deliveries it thinks failed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import time

from flask import Blueprint, current_app, jsonify, request
from rq import Queue

from service.changes import watches
from service.http.web import error_body
from service.privacy import erasure
from service.sites import results
from service.storage import keys, redis_client
from service.storage.queues import MAINTENANCE, SYNC

log = logging.getLogger(__name__)

bp = Blueprint("zoom_webhooks", __name__)

#: Zoom's `start_time` in a webhook: UTC, to the second.
_UTC_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
#: Largest difference (seconds) between `x-zm-request-timestamp` and our clock.
TOLERANCE = 300


def sign(secret: str, message: bytes) -> str:
    """Hex HMAC-SHA256, as Zoom computes it."""
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def _verify() -> str | None:
    """The reason the request is not from Zoom, or None."""
    timestamp = request.headers.get("x-zm-request-timestamp", "")
    signature = request.headers.get("x-zm-signature", "")
    if not timestamp.isdigit() or not signature:
        return "bad_signature"
    secret = str(current_app.config["ZOOM_WEBHOOK_SECRET_TOKEN"] or "")
    expected = "v0=" + sign(secret, b"v0:" + timestamp.encode() + b":" + request.get_data(cache=True))
    if not secret or not hmac.compare_digest(expected.encode(), signature.encode()):
        return "bad_signature"
    if abs(time.time() - int(timestamp)) > TOLERANCE:
        return "timestamp_out_of_tolerance"
    return None


@bp.post("/v1/zoom/events")
def zoom_events():
    problem = _verify()
    if problem:
        return error_body(401, problem, "not signed by Zoom with the configured secret token, or stale")
    try:
        body = json.loads(request.get_data(cache=True))
    except (ValueError, RecursionError):
        return error_body(400, "malformed_json", "the body is not valid JSON")
    if not isinstance(body, dict) or not isinstance(body.get("event"), str):
        return error_body(422, "invalid_event", "the body must be an object with an `event`", field="event")
    payload = body.get("payload")
    if not isinstance(payload, dict):
        return error_body(422, "invalid_event", "`payload` must be an object", field="payload")
    event = body["event"]
    if event == "endpoint.url_validation":
        return _url_validation(payload)
    if event == "meeting.ended":
        return _meeting_ended(payload)
    if event == "app_deauthorized":
        return _deauthorized(payload)
    if event in ("meeting.updated", "meeting.deleted"):
        return _meeting_changed(event, payload, body.get("event_ts"))
    return jsonify({"status": "ignored"})


def _meeting_changed(event: str, payload: dict, event_ts):
    meeting = payload.get("object")
    meeting_id = meeting.get("id") if isinstance(meeting, dict) else None
    if isinstance(meeting_id, bool) or not isinstance(meeting_id, int | str) or not str(meeting_id).isdigit():
        return error_body(422, "invalid_event", "`payload.object.id` is missing", field="payload.object.id")
    if meeting.get("occurrence_id") or meeting.get("occurrences"):
        return jsonify({"status": "ignored"})  # MeetBridge's meetings are single (type 2)
    start_time, duration = meeting.get("start_time"), meeting.get("duration")
    if event == "meeting.updated":
        if start_time is not None and not (isinstance(start_time, str) and _UTC_TIME.match(start_time)):
            return error_body(
                422,
                "invalid_event",
                "`start_time` must be a UTC time (yyyy-MM-ddTHH:mm:ssZ)",
                field="payload.object.start_time",
            )
        if duration is not None and (
            isinstance(duration, bool) or not isinstance(duration, int) or duration < 1
        ):
            return error_body(
                422, "invalid_event", "`duration` must be minutes", field="payload.object.duration"
            )
        if start_time is None and duration is None:
            return jsonify({"status": "ignored"})  # a change of something MeetBridge does not follow
    r = redis_client.get()
    member = r.hget(keys.ZOOM_MEETINGS, str(meeting_id))
    if member is None:
        return jsonify({"status": "ignored"})
    site_id, _, booking_id = member.decode().partition("|")
    ts = event_ts if isinstance(event_ts, int) and not isinstance(event_ts, bool) else 0
    args = (site_id, booking_id, str(meeting_id), event)
    if event == "meeting.updated":
        args += (start_time, duration, ts)
    job = "workers.changes.zoom_event"
    watches.enqueue(r, SYNC, job, args, site_id=site_id, booking_id=booking_id, description=f"zoom {event}")
    log.info("zoom %s: booking %s/%s queued", event, site_id, booking_id)
    return jsonify({"status": "queued"})


def _url_validation(payload: dict):
    plain = payload.get("plainToken")
    if not isinstance(plain, str) or not plain:
        return error_body(422, "invalid_event", "`payload.plainToken` is missing", field="payload.plainToken")
    secret = str(current_app.config["ZOOM_WEBHOOK_SECRET_TOKEN"])
    return jsonify({"plainToken": plain, "encryptedToken": sign(secret, plain.encode())})


def _meeting_ended(payload: dict):
    meeting = payload.get("object")
    meeting_id = meeting.get("id") if isinstance(meeting, dict) else None
    if isinstance(meeting_id, bool) or not isinstance(meeting_id, int | str) or not str(meeting_id).isdigit():
        return error_body(422, "invalid_event", "`payload.object.id` is missing", field="payload.object.id")
    r = redis_client.get()
    member = r.hget(keys.ZOOM_MEETINGS, str(meeting_id))
    if member is None:
        return jsonify({"status": "ignored"})
    site_id, _, booking_id = member.decode().partition("|")
    zoom_id, end = r.hmget(keys.booking(site_id, booking_id), "zoom_id", "end")
    if zoom_id != str(meeting_id).encode():
        r.hdel(keys.ZOOM_MEETINGS, str(meeting_id))  # a stale entry
        return jsonify({"status": "ignored"})
    if end is None or float(end) > time.time():
        log.info("zoom meeting.ended: booking %s/%s has not ended yet: meeting kept", site_id, booking_id)
        return jsonify({"status": "kept"})
    r.zadd(keys.MEETINGS_DUE, {member: time.time()}, xx=True, lt=True)
    Queue(MAINTENANCE, connection=r).enqueue(
        "workers.cleanup.run_job",
        result_ttl=600,
        failure_ttl=7 * 24 * 3600,
        description="cleanup (meeting.ended)",
    )
    log.info("zoom meeting.ended: booking %s/%s is due for cleanup", site_id, booking_id)
    return jsonify({"status": "scheduled"})


def _deauthorized(payload: dict):
    user_id = payload.get("user_id")
    if not isinstance(user_id, str) or not user_id or len(user_id) > 128:
        return error_body(422, "invalid_event", "`payload.user_id` is missing", field="payload.user_id")
    r = redis_client.get()
    affected = erasure.forget_zoom_user(r, user_id)
    for site_id, staff_id in affected:
        if r.exists(keys.site(site_id)):
            results.enqueue_result(
                r,
                site_id,
                "account.needs_relink",
                {"provider": "zoom", "staff_id": staff_id, "reason": "deauthorized"},
            )
    log.info("zoom app_deauthorized: %d account(s) forgotten", len(affected))
    return jsonify({"status": "deleted", "accounts": len(affected)})
