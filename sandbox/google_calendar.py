"""Google Calendar v3 events: insert/get/patch/update/delete/list under `/google/calendar/v3/`.

The base is what google-api-python-client composes from `api_endpoint` + the method path, so
`build("calendar", "v3", client_options={"api_endpoint": "<host>/google/calendar/v3/"})` works.
Deleting marks an event `cancelled` (ids stay taken forever: re-inserting answers 409 `duplicate`,
deleting again 410 `deleted`, GET answers 200 with `status: cancelled`).
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import secrets
from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandbox import google_push, google_rules, timeutil
from sandbox.errors import google_bad_request, google_error
from sandbox.google_bearer import authenticate
from sandbox.state import SandboxState, get_state

logger = logging.getLogger(__name__)

bp = Blueprint("google_calendar", __name__, url_prefix="/google/calendar/v3")

_READ_ONLY = {"kind", "etag", "id", "htmlLink", "created", "updated", "creator", "organizer", "iCalUID"}
_BASE32HEX = "0123456789abcdefghijklmnopqrstuv"


def not_found() -> Response:
    """Google's 404."""
    return google_error(404, "notFound", "Not Found")


def calendar_key(user: str, calendar_id: str) -> tuple[str, str] | None:
    """The user's own calendar for `primary` or their e-mail; None for anything else."""
    if calendar_id == "primary" or calendar_id.lower() == user:
        return user, "primary"
    return None


def read_json() -> tuple[Any, Response | None]:
    """The request's JSON body, or Google's parse error."""
    try:
        return json.loads(request.get_data() or b"null"), None
    except (ValueError, UnicodeDecodeError):
        return None, google_bad_request("Parse Error", "parseError")


def _stamp(state: SandboxState, event: dict[str, Any], key: tuple[str, str], *, notify: bool = True) -> None:
    """A new etag and `updated` time, the change numbered for sync tokens, the calendar's channels told."""
    google_push.record_change(state, key, event["id"], notify=notify)
    state.google_counter += 1
    now = timeutil.from_epoch(state.now())
    event["updated"] = timeutil.google_time(now)
    event["etag"] = f'"{int(state.now() * 1000)}{state.google_counter:06d}"'


def _new_id() -> str:
    return "".join(secrets.choice(_BASE32HEX) for _ in range(26))


def _html_link(event_id: str, user: str) -> str:
    eid = base64.urlsafe_b64encode(f"{event_id} {user}".encode()).decode().rstrip("=")
    return f"https://www.google.com/calendar/event?eid={eid}"


def _user_fields(body: dict[str, Any]) -> dict[str, Any]:
    fields = {k: copy.deepcopy(v) for k, v in body.items() if k not in _READ_ONLY}
    for attendee in fields.get("attendees") or []:
        attendee.setdefault("responseStatus", "needsAction")
    return fields


def _merge(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """Patch semantics: objects merge, arrays and scalars replace, null clears."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            _merge(target[key], value)
        else:
            target[key] = copy.deepcopy(value)


def _precheck(method: str, calendar_id: str) -> tuple[str, tuple[str, str] | None, Response | None]:
    user, error = authenticate("events", method)
    if error is not None:
        return "", None, error
    error = google_rules.check_send_updates(request.args.get("sendUpdates"))
    if error is not None:
        return user, None, error
    key = calendar_key(user, calendar_id)
    return user, key, None if key else not_found()


@bp.post("/calendars/<calendar_id>/events")
def insert(calendar_id: str) -> Response:
    """events.insert."""
    user, key, error = _precheck("insert", calendar_id)
    body, parse_error = read_json()
    error = error or parse_error or google_rules.check_body(body)
    if error is None and "id" in body:
        error = google_rules.check_id(body["id"])
    error = error or google_rules.check_times(body)
    if error is not None:
        return error
    state = get_state()
    with state.lock:
        events = state.google_events.setdefault(key, {})
        event_id = body.get("id") or _new_id()
        if event_id in events:
            return google_error(409, "duplicate", "The requested identifier already exists.")
        now = timeutil.google_time(timeutil.from_epoch(state.now()))
        event = {
            "kind": "calendar#event",
            "etag": "",
            "id": event_id,
            "status": "confirmed",
            "htmlLink": _html_link(event_id, user),
            "created": now,
            "updated": now,
            "creator": {"email": user, "self": True},
            "organizer": {"email": user, "self": True},
            "iCalUID": f"{event_id}@google.com",
            "sequence": 0,
            "reminders": {"useDefault": True},
            "eventType": "default",
        }
        event.update(_user_fields(body))
        event["sequence"] = 0
        events[event_id] = event
        _stamp(state, event, key)
        logger.info("sandbox google: event %s inserted", event_id)
        return jsonify(event)


@bp.get("/calendars/<calendar_id>/events/<event_id>")
def get(calendar_id: str, event_id: str) -> Response:
    """events.get (a deleted event answers 200 with status `cancelled`)."""
    _, key, error = _precheck("get", calendar_id)
    if error is not None:
        return error
    state = get_state()
    with state.lock:
        event = state.google_events.get(key, {}).get(event_id)
        return jsonify(event) if event is not None else not_found()


def _modify(method: str, calendar_id: str, event_id: str) -> Response:
    """events.patch / events.update: validate, merge or replace, bump sequence."""
    _, key, error = _precheck(method, calendar_id)
    body, parse_error = read_json()
    error = error or parse_error or google_rules.check_body(body)
    if error is not None:
        return error
    state = get_state()
    with state.lock:
        current = state.google_events.get(key, {}).get(event_id)
        if current is None:
            return not_found()
        updated = copy.deepcopy(current)
        if method == "patch":
            _merge(updated, _user_fields(body))
        else:
            kept = {k: v for k, v in updated.items() if k in _READ_ONLY}
            updated = {
                **kept,
                "status": "confirmed",
                "reminders": {"useDefault": True},
                "eventType": "default",
            }
            updated.update(_user_fields(body))
        time_error = google_rules.check_times(updated)
        if time_error is not None:
            return time_error
        updated["sequence"] = current.get("sequence", 0) + 1
        state.google_events[key][event_id] = updated
        _stamp(state, updated, key)
        logger.info("sandbox google: event %s %sd", event_id, method)
        return jsonify(updated)


@bp.patch("/calendars/<calendar_id>/events/<event_id>")
def patch(calendar_id: str, event_id: str) -> Response:
    """events.patch."""
    return _modify("patch", calendar_id, event_id)


@bp.put("/calendars/<calendar_id>/events/<event_id>")
def update(calendar_id: str, event_id: str) -> Response:
    """events.update."""
    return _modify("update", calendar_id, event_id)


@bp.delete("/calendars/<calendar_id>/events/<event_id>")
def delete(calendar_id: str, event_id: str) -> Response:
    """events.delete: marks the event cancelled; a second delete answers 410."""
    _, key, error = _precheck("delete", calendar_id)
    if error is not None:
        return error
    state = get_state()
    with state.lock:
        event = state.google_events.get(key, {}).get(event_id)
        if event is None:
            return not_found()
        if event["status"] == "cancelled":
            return google_error(410, "deleted", "Resource has been deleted")
        event["status"] = "cancelled"
        _stamp(state, event, key)
    logger.info("sandbox google: event %s deleted", event_id)
    return Response(status=204)


def _bool_arg(name: str) -> bool:
    return request.args.get(name, "false").lower() == "true"


def _list_params() -> tuple[dict[str, Any], Response | None]:
    params: dict[str, Any] = {}
    for name in ("timeMin", "timeMax"):
        raw = request.args.get(name)
        if raw is not None:
            params[name] = timeutil.parse_rfc3339(raw)
            if params[name] is None:
                return params, google_bad_request("Bad Request", "badRequest")
    if "timeMin" in params and "timeMax" in params and params["timeMax"] <= params["timeMin"]:
        return params, google_bad_request("The specified time range is empty.", "timeRangeEmpty")
    raw_max = request.args.get("maxResults", "250")
    if not raw_max.isdigit() or not 1 <= int(raw_max) <= 2500:
        return params, google_bad_request(
            f"Invalid value '{raw_max}'. Values must be within the range: [1, 2500]"
        )
    params["maxResults"] = int(raw_max)
    order_by = request.args.get("orderBy")
    if order_by not in (None, "startTime", "updated"):
        return params, google_bad_request(f"Invalid value for orderBy: {order_by}", "invalidParameter")
    if order_by == "startTime" and not _bool_arg("singleEvents"):
        message = "The requested ordering is not available for the particular query."
        return params, google_bad_request(message, "badRequest")
    token = request.args.get("pageToken")
    try:
        params["offset"] = int(base64.urlsafe_b64decode(token.encode()).decode()) if token else 0
    except (ValueError, UnicodeDecodeError):
        return params, google_bad_request("Invalid page token value.", "invalid")
    params["orderBy"] = order_by
    return params, None


def _matches(event: dict[str, Any], params: dict[str, Any]) -> bool:
    if event["status"] == "cancelled" and not _bool_arg("showDeleted"):
        return False
    start, end = google_rules.instant(event["start"]), google_rules.instant(event["end"])
    if "timeMin" in params and end <= params["timeMin"]:
        return False
    if "timeMax" in params and start >= params["timeMax"]:
        return False
    if request.args.get("iCalUID") and event.get("iCalUID") != request.args["iCalUID"]:
        return False
    for wanted in request.args.getlist("privateExtendedProperty"):
        name, _, value = wanted.partition("=")
        if event.get("extendedProperties", {}).get("private", {}).get(name) != value:
            return False
    query = request.args.get("q", "").lower()
    text = " ".join(str(event.get(f, "")) for f in ("summary", "description", "location")).lower()
    return query in text


@bp.get("/calendars/<calendar_id>/events")
def list_events(calendar_id: str) -> Response:
    """events.list with timeMin/timeMax/maxResults/pageToken/showDeleted/orderBy/q/iCalUID."""
    user, key, error = _precheck("list", calendar_id)
    params, param_error = _list_params()
    if error or param_error:
        return error or param_error
    state = get_state()
    with state.lock:
        if request.args.get("syncToken"):
            found, sync_error = google_push.changed_since(state, key, request.args["syncToken"], request.args)
            if sync_error is not None:
                return sync_error
            found = copy.deepcopy(found)
        else:
            found = [
                copy.deepcopy(e) for e in state.google_events.get(key, {}).values() if _matches(e, params)
            ]
        now = timeutil.google_time(timeutil.from_epoch(state.now()))
        next_sync = google_push.sync_token(state, key)
    if params["orderBy"] == "updated":
        found.sort(key=lambda e: e["updated"])
    else:
        found.sort(key=lambda e: (google_rules.instant(e["start"]), e["id"]))
    offset, size = params["offset"], params["maxResults"]
    body: dict[str, Any] = {
        "kind": "calendar#events",
        "etag": f'"{secrets.token_hex(8)}"',
        "summary": user,
        "updated": now,
        "timeZone": "UTC",
        "accessRole": "owner",
        "defaultReminders": [],
        "items": found[offset : offset + size],
    }
    with state.lock:
        state.google_items_listed += len(body["items"])
    if offset + size < len(found):
        body["nextPageToken"] = base64.urlsafe_b64encode(str(offset + size).encode()).decode()
    else:
        body["nextSyncToken"] = next_sync
    return jsonify(body)
