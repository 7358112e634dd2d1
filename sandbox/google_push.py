"""Google Calendar push notifications: `events.watch`, `channels.stop`, the notifications themselves,
and the change log behind sync tokens.

- `POST /google/calendar/v3/calendars/{calendarId}/events/watch` with `{"id", "type": "web_hook",
  "address", "token", "params": {"ttl"}}` answers Google's `api#channel` (`resourceId`, `resourceUri`,
  `expiration` in ms as a string). Rejected as Google rejects them: a missing or malformed id, a type
  other than `web_hook`, an address that is not https, an id already in use (400 `channelIdNotUnique`).
- `POST /google/calendar/v3/channels/stop` with `{"id", "resourceId"}`: 204; an unknown channel 404.
- A new channel gets a `sync` message; every change of an event of its calendar an `exists` one, with
  Google's headers (`X-Goog-Channel-ID`, `-Token`, `-Expiration`, `X-Goog-Resource-ID`, `-URI`,
  `-State`, `X-Goog-Message-Number` increasing per channel). An expired or stopped channel is silent.
  Messages are posted by one background thread, in order; each delivery is kept in `push_log`.
- Sync tokens: every event change is numbered (`changed`); a token names the calendar, the number and
  the token epoch, and events.list with it returns what changed after it (deleted events included). The
  `invalidate` knob bumps the epoch: older tokens answer 410 `fullSyncRequired`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import logging
import queue
import re
import threading
from email.utils import formatdate
from typing import Any

import requests
from flask import Blueprint, Response, jsonify

from sandbox.errors import google_bad_request, google_error
from sandbox.google_bearer import authenticate
from sandbox.state import SandboxState, get_state

logger = logging.getLogger(__name__)

bp = Blueprint("google_push", __name__, url_prefix="/google/calendar/v3")

DEFAULT_TTL = 604800
"""Seconds a channel lives when `params.ttl` is not given (Google: one week)."""
MAX_TTL = 30 * 24 * 3600
_CHANNEL_ID = re.compile(r"^[A-Za-z0-9\-_+/=]{1,64}$")
_RESTRICTIONS = ("timeMin", "timeMax", "q", "iCalUID", "privateExtendedProperty", "orderBy", "updatedMin")


def _read_json() -> tuple[Any, Response | None]:
    from sandbox.google_calendar import read_json

    return read_json()


def resource_uri(calendar: str) -> str:
    return f"https://www.googleapis.com/calendar/v3/calendars/{calendar}/events?alt=json"


@bp.post("/calendars/<calendar_id>/events/watch")
def watch(calendar_id: str) -> Response:
    """events.watch."""
    from sandbox.google_calendar import calendar_key, not_found

    user, error = authenticate("events", "watch")
    if error is not None:
        return error
    key = calendar_key(user, calendar_id)
    if key is None:
        return not_found()
    body, error = _read_json()
    if error is not None:
        return error
    if not isinstance(body, dict):
        return google_bad_request("Parse Error", "parseError")
    channel_id, kind, address = body.get("id"), body.get("type"), body.get("address")
    if not channel_id:
        return google_bad_request("Missing required field: id", "required")
    if not isinstance(channel_id, str) or not _CHANNEL_ID.match(channel_id):
        return google_bad_request(f"Invalid channel id: {channel_id}", "channelIdInvalid")
    if kind not in ("web_hook", "webhook"):
        return google_bad_request(f"Invalid value for: {kind} is not a valid value", "invalidParameter")
    if not isinstance(address, str) or not address.lower().startswith("https://"):
        return google_bad_request(f"WebHook callback must be HTTPS: {address}", "push.webhookUrlNotHttps")
    params = body.get("params") or {}
    raw_ttl = params.get("ttl", str(DEFAULT_TTL)) if isinstance(params, dict) else None
    if not isinstance(raw_ttl, str) or not raw_ttl.isdigit():
        return google_bad_request(f"Invalid value for: ttl: {raw_ttl}", "invalidParameter")
    state = get_state()
    with state.lock:
        if channel_id in state.google_channels:
            return google_bad_request(f"Channel id {channel_id} not unique", "channelIdNotUnique")
        ttl = min(int(raw_ttl), MAX_TTL, state.google_channel_ttl or MAX_TTL)
        expiration = int((state.now() + ttl) * 1000)
        state.google_resource_ids.setdefault(key, "sbx" + base64.b32encode(key[0].encode()).decode()[:24])
        channel = {
            "kind": "api#channel",
            "id": channel_id,
            "resourceId": state.google_resource_ids[key],
            "resourceUri": resource_uri(calendar_id),
            "token": body.get("token"),
            "expiration": str(expiration),
        }
        state.google_channels[channel_id] = {
            **channel,
            "address": address,
            "key": key,
            "user": user,
            "number": 0,
            "stopped": False,
        }
        _notify(state, state.google_channels[channel_id], "sync")
    logger.info("sandbox google: channel %s opened", channel_id)
    return jsonify({k: v for k, v in channel.items() if v is not None})


@bp.post("/channels/stop")
def stop() -> Response:
    """channels.stop."""
    user, error = authenticate("channels", "stop")
    if error is not None:
        return error
    body, error = _read_json()
    if error is not None:
        return error
    if not isinstance(body, dict) or not body.get("id") or not body.get("resourceId"):
        return google_bad_request("Missing required field: id or resourceId", "required")
    state = get_state()
    with state.lock:
        channel = state.google_channels.get(body["id"])
        if channel is None or channel["stopped"] or channel["resourceId"] != body["resourceId"]:
            return google_error(404, "notFound", f"Channel '{body['id']}' not found for project.")
        if channel["user"] != user:
            return google_error(403, "forbidden", "Forbidden")
        channel["stopped"] = True
    logger.info("sandbox google: channel %s stopped", body["id"])
    return Response(status=204)


# -- change log and notifications ------------------------------------------------------------------


def record_change(state: SandboxState, key: tuple[str, str], event_id: str, *, notify: bool = True) -> None:
    """Number a change of an event (caller holds the lock) and tell the calendar's live channels."""
    state.google_change_counter += 1
    state.google_changed.setdefault(key, {})[event_id] = state.google_change_counter
    if notify:
        notify_calendar(state, key)


def notify_calendar(state: SandboxState, key: tuple[str, str]) -> None:
    for channel in state.google_channels.values():
        if (
            channel["key"] == key
            and not channel["stopped"]
            and int(channel["expiration"]) > state.now() * 1000
        ):
            _notify(state, channel, "exists")


def _notify(state: SandboxState, channel: dict[str, Any], resource_state: str) -> None:
    channel["number"] += 1
    headers = {
        "X-Goog-Channel-ID": channel["id"],
        "X-Goog-Channel-Expiration": formatdate(int(channel["expiration"]) / 1000, usegmt=True),
        "X-Goog-Resource-ID": channel["resourceId"],
        "X-Goog-Resource-URI": channel["resourceUri"],
        "X-Goog-Resource-State": resource_state,
        "X-Goog-Message-Number": str(channel["number"]),
        "Content-Length": "0",
    }
    if channel.get("token"):
        headers["X-Goog-Channel-Token"] = channel["token"]
    state.outbox.put(("google", channel["address"], headers, b""))


def sync_token(state: SandboxState, key: tuple[str, str]) -> str:
    raw = json.dumps({"u": key[0], "c": key[1], "n": state.google_change_counter, "e": state.sync_epoch})
    return "sbx" + base64.urlsafe_b64encode(raw.encode()).decode()


def changed_since(
    state: SandboxState, key: tuple[str, str], token: str, args
) -> tuple[list[dict[str, Any]] | None, Response | None]:
    """The events of the calendar changed after `token` (caller holds the lock), or Google's error."""
    if any(name in args for name in _RESTRICTIONS) or args.get("showDeleted", "").lower() == "false":
        message = "Sync token cannot be used with other request restrictions."
        return None, google_bad_request(message, "syncTokenWithRequestRestrictions")
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token[3:].encode())) if token.startswith("sbx") else {}
    except (ValueError, UnicodeDecodeError):
        decoded = {}
    if not decoded:
        return None, google_bad_request("Invalid sync token value.", "invalid")
    if decoded.get("e") != state.sync_epoch or (decoded.get("u"), decoded.get("c")) != key:
        message = "Sync token is no longer valid, a full sync is required."
        return None, google_error(410, "fullSyncRequired", message)
    changed = state.google_changed.get(key, {})
    events = state.google_events.get(key, {})
    return [dict(events[eid]) for eid, n in changed.items() if n > decoded["n"] and eid in events], None


class Outbox:
    """One background thread posting notifications and webhooks in the order they were queued."""

    def __init__(self, state: SandboxState) -> None:
        self._queue: queue.Queue = queue.Queue()
        self._state = state
        self._session = requests.Session()
        self._thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def put(self, item) -> None:
        with self._guard:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="sandbox-outbox", daemon=True)
                self._thread.start()
        self._queue.put(item)

    def _run(self) -> None:
        while True:
            provider, url, headers, body = self._queue.get()
            status: int | str
            try:
                answer = self._session.post(
                    url, headers=headers, data=body, timeout=10, allow_redirects=False
                )
                status = answer.status_code
            except requests.RequestException as exc:
                status = type(exc).__name__
            with self._state.lock:
                self._state.push_log.append(
                    {
                        "provider": provider,
                        "url": url,
                        "headers": {k: v for k, v in headers.items() if k != "Content-Length"},
                        "status": status,
                        "at": dt.datetime.now(dt.UTC).isoformat(),
                    }
                )
