"""`/_sandbox/` knobs that change things as the staff member would in Google Calendar's or Zoom's own
apps, and Zoom's event webhooks (signed as Zoom signs them).

Google (each change notifies the calendar's watch channels and enters the sync-token change log):
- `POST /_sandbox/google/move` `{"event_id", "start", "end"}` (RFC 3339): the event dragged elsewhere.
- `POST /_sandbox/google/delete` `{"event_id"}`: the event deleted.
- `POST /_sandbox/google/personal` `{"user", "count", "round"}`: `count` unrelated personal events of
  the user's calendar added (first round) or changed (later rounds), with titles and guests' e-mails;
  the calendar's channels are told once, as Google coalesces a burst of changes.
- `POST /_sandbox/google/invalidate-sync-tokens`: every sync token issued so far answers 410.
- `POST /_sandbox/google/channel-ttl` `{"seconds"}`: the longest lifetime granted to new channels.

Zoom:
- `POST /_sandbox/zoom/webhook` `{"url", "secret_token"}`: where the app's event subscription posts.
- `POST /_sandbox/zoom/update` `{"meeting_id", "start_time", "duration"}`: the meeting rescheduled.
- `POST /_sandbox/zoom/delete` `{"meeting_id"}`: the meeting deleted.
Meetings changed through the API (`PATCH`/`DELETE /meetings/{id}`) send the same events, as Zoom does.
"""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import hmac
import json
import time
from typing import Any

from flask import Blueprint, Response, jsonify

from sandbox import google_push, timeutil
from sandbox.knobs import KnobError, _body, _int, _knob_error
from sandbox.state import SandboxState, get_state

bp = Blueprint("staff_knobs", __name__, url_prefix="/_sandbox")
bp.register_error_handler(KnobError, _knob_error)  # a knob used wrongly answers 400 with the reason


def _find_event(state: SandboxState, event_id: Any) -> tuple[tuple[str, str], dict[str, Any]]:
    for key, events in state.google_events.items():
        if event_id in events:
            return key, events[event_id]
    raise KnobError("no such event")


def _time(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    parsed = timeutil.parse_rfc3339(value) if isinstance(value, str) else None
    if parsed is None:
        raise KnobError(f"{name} must be an RFC 3339 time")
    return value


def _touch(state: SandboxState, key: tuple[str, str], event: dict[str, Any], *, notify: bool = True) -> None:
    from sandbox.google_calendar import _stamp

    event["sequence"] = event.get("sequence", 0) + 1
    _stamp(state, event, key, notify=notify)


@bp.post("/google/move")
def google_move() -> Response:
    body = _body()
    start, end = _time(body, "start"), _time(body, "end")
    state = get_state()
    with state.lock:
        key, event = _find_event(state, body.get("event_id"))
        if event["status"] == "cancelled":
            raise KnobError("the event is deleted")
        event["start"] = {**event.get("start", {}), "dateTime": start}
        event["end"] = {**event.get("end", {}), "dateTime": end}
        _touch(state, key, event)
        return jsonify(copy.deepcopy(event))


@bp.post("/google/delete")
def google_delete() -> Response:
    body = _body()
    state = get_state()
    with state.lock:
        key, event = _find_event(state, body.get("event_id"))
        event["status"] = "cancelled"
        _touch(state, key, event)
        return jsonify({"deleted": event["id"]})


@bp.post("/google/personal")
def google_personal() -> Response:
    body = _body()
    user = body.get("user")
    if not isinstance(user, str) or "@" not in user:
        raise KnobError("user must be an e-mail address")
    count, round_ = _int(body, "count", minimum=1), _int(body, "round", minimum=0, default=0)
    key = (user.lower(), "primary")
    state = get_state()
    with state.lock:
        events = state.google_events.setdefault(key, {})
        base = dt.datetime.fromtimestamp(state.now(), dt.UTC).replace(minute=0, second=0, microsecond=0)
        for n in range(count):
            event_id = f"personal{n:05d}"
            start = base + dt.timedelta(days=1 + n % 30, hours=n % 9)
            event = events.setdefault(event_id, {"kind": "calendar#event", "id": event_id, "sequence": -1})
            event.update(
                status="confirmed",
                summary=f"Private: therapy session {n} (round {round_})",
                description=f"Personal note {n}: call mum about the results",
                attendees=[{"email": f"friend{n}@personal.example", "displayName": f"Friend {n}"}],
                start={"dateTime": timeutil.google_time(start)},
                end={"dateTime": timeutil.google_time(start + dt.timedelta(minutes=45))},
                organizer={"email": user, "self": True},
            )
            _touch(state, key, event, notify=False)
        google_push.notify_calendar(state, key)
    return jsonify({"changed": count})


@bp.post("/google/invalidate-sync-tokens")
def invalidate_sync_tokens() -> Response:
    state = get_state()
    with state.lock:
        state.sync_epoch += 1
    return jsonify({"epoch": state.sync_epoch})


@bp.post("/google/channel-ttl")
def channel_ttl() -> Response:
    seconds = _int(_body(), "seconds", minimum=1)
    state = get_state()
    with state.lock:
        state.google_channel_ttl = seconds
    return jsonify({"seconds": seconds})


# -- Zoom ----------------------------------------------------------------------------------------


@bp.post("/zoom/webhook")
def zoom_webhook() -> Response:
    body = _body()
    url, secret = body.get("url"), body.get("secret_token")
    if (
        not isinstance(url, str)
        or not url.startswith("https://")
        or not isinstance(secret, str)
        or not secret
    ):
        raise KnobError("url (https) and secret_token are required")
    state = get_state()
    with state.lock:
        state.zoom_webhook = {"url": url, "secret_token": secret}
    return jsonify({"url": url})


def _meeting(state: SandboxState, meeting_id: Any) -> dict[str, Any]:
    if isinstance(meeting_id, str) and meeting_id.isdigit():
        meeting_id = int(meeting_id)  # Zoom's ids are numbers; sites and results carry them as strings
    record = state.zoom_meetings.get(meeting_id) if isinstance(meeting_id, int) else None
    if record is None or record["deleted"]:
        raise KnobError("no such meeting")
    return record


@bp.post("/zoom/update")
def zoom_update() -> Response:
    body = _body()
    start = body.get("start_time")
    if not isinstance(start, str) or not start.endswith("Z") or timeutil.parse_rfc3339(start) is None:
        raise KnobError("start_time must be a UTC time like 2030-12-01T10:00:00Z")
    duration = _int(body, "duration", minimum=1)
    state = get_state()
    with state.lock:
        record = _meeting(state, body.get("meeting_id"))
        meeting = record["meeting"]
        old = {"start_time": meeting["start_time"], "duration": meeting["duration"]}
        meeting.update(start_time=start, duration=duration)
        meeting_updated(
            state, record, old, {"start_time": start, "duration": duration}, record["owner_email"]
        )
    return jsonify(copy.deepcopy(meeting))


@bp.post("/zoom/delete")
def zoom_delete() -> Response:
    body = _body()
    state = get_state()
    with state.lock:
        record = _meeting(state, body.get("meeting_id"))
        record["deleted"] = True
        meeting_deleted(state, record, record["owner_email"])
    return jsonify({"deleted": record["meeting"]["id"]})


def _base(record: dict[str, Any], operator: str) -> dict[str, Any]:
    meeting = record["meeting"]
    return {
        "account_id": "sbx" + hashlib.sha256(record["owner_email"].encode()).hexdigest()[:19],
        "operator": operator,
        "operator_id": meeting["host_id"],
        "operation": "single",
        "object": {"id": meeting["id"], "uuid": meeting["uuid"]},
    }


def meeting_updated(
    state: SandboxState, record: dict[str, Any], old: dict[str, Any], new: dict[str, Any], operator: str
) -> None:
    """Post `meeting.updated` with the changed fields (`object`) and their old values (`old_object`)."""
    payload = _base(record, operator)
    payload["object"].update(new)
    payload["old_object"] = {**payload["object"], **old}
    payload["time_stamp"] = int(time.time() * 1000)
    _send(state, "meeting.updated", payload)


def meeting_deleted(state: SandboxState, record: dict[str, Any], operator: str) -> None:
    meeting = record["meeting"]
    payload = _base(record, operator)
    payload["object"].update(
        {
            name: meeting.get(name)
            for name in ("host_id", "topic", "type", "start_time", "duration", "timezone")
        }
    )
    _send(state, "meeting.deleted", payload)


def _send(state: SandboxState, event: str, payload: dict[str, Any]) -> None:
    """Queue one signed event (caller holds the lock); nothing when no subscription is set."""
    target = state.zoom_webhook
    if target is None:
        return
    body = json.dumps({"event": event, "payload": payload, "event_ts": int(time.time() * 1000)}).encode()
    timestamp = str(int(time.time()))
    digest = hmac.new(
        target["secret_token"].encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256
    ).hexdigest()
    headers = {
        "Content-Type": "application/json",
        "x-zm-request-timestamp": timestamp,
        "x-zm-signature": f"v0={digest}",
        "x-zm-trackingid": "sbx_" + hashlib.sha256(body).hexdigest()[:24],
    }
    state.outbox.put(("zoom", target["url"], headers, body))
