"""Zoom API v2 under `/zoom/v2`: `GET /users/me`, meetings create/list (`/users/{userId}/meetings`)
and get/patch/delete (`/meetings/{meetingId}`).

A token only sees its own user's meetings (others answer 404 code 3001). Creates and updates count
against a per-user, per-UTC-day limit (default 100) answered with Zoom's 429 and `Retry-After`.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
import logging
import secrets
from typing import Any

from flask import Blueprint, Response, jsonify, request

from sandbox import oauth, staff_knobs, timeutil, zoom_rules
from sandbox.errors import zoom_error
from sandbox.state import SandboxState, get_state

logger = logging.getLogger(__name__)

bp = Blueprint("zoom_api", __name__, url_prefix="/zoom/v2")

LIST_TYPES = {"scheduled", "live", "upcoming", "upcoming_meetings", "previous_meetings"}
MAX_PAGE_SIZE = 300
DEFAULT_SETTINGS: dict[str, Any] = {
    "host_video": False,
    "participant_video": False,
    "cn_meeting": False,
    "in_meeting": False,
    "join_before_host": False,
    "jbh_time": 0,
    "mute_upon_entry": False,
    "watermark": False,
    "use_pmi": False,
    "approval_type": 2,
    "audio": "voip",
    "auto_recording": "none",
    "enforce_login": False,
    "enforce_login_domains": "",
    "alternative_hosts": "",
    "close_registration": False,
    "waiting_room": False,
    "meeting_authentication": False,
}
"""Settings of a new meeting unless the body says otherwise."""

_LIST_FIELDS = ("uuid", "id", "host_id", "topic", "type", "start_time", "duration", "timezone", "agenda")


def user_id_for(email: str) -> str:
    """A stable 22-character Zoom-style user id for an e-mail address."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(email.encode()).digest()).decode()
    return "".join(ch for ch in digest if ch.isalnum())[:22]


def _user(state: SandboxState, email: str) -> dict[str, Any]:
    if email not in state.zoom_users:
        name = email.split("@")[0].replace(".", " ").title().split()
        created = timeutil.zoom_time(timeutil.from_epoch(state.now()))
        user_id = user_id_for(email)
        pmi = int(hashlib.sha256(email.encode()).hexdigest(), 16) % 9_000_000_000 + 1_000_000_000
        state.zoom_users[email] = {
            "id": user_id,
            "first_name": name[0] if name else "",
            "last_name": " ".join(name[1:]),
            "email": email,
            "type": 2,
            "role_name": "Owner",
            "pmi": pmi,
            "use_pmi": False,
            "personal_meeting_url": f"https://zoom.us/j/{pmi}",
            "timezone": "UTC",
            "verified": 1,
            "dept": "",
            "created_at": created,
            "last_login_time": created,
            "language": "en-US",
            "status": "active",
            "account_id": user_id_for("account:" + email),
        }
    return state.zoom_users[email]


def _authenticate() -> tuple[dict[str, Any] | None, Response | None]:
    token = oauth.bearer_token(request.headers.get("Authorization"))
    state = get_state()
    with state.lock:
        grant, expired = state.lookup_access_token("zoom", token or "")
        if grant is None:
            return None, zoom_error(401, 124, "Invalid access token.")
        if expired:
            return None, zoom_error(401, 124, "Access token is expired.")
        return copy.deepcopy(_user(state, grant.user)), None


def _check_user_path(user: dict[str, Any], user_id: str) -> Response | None:
    if user_id in ("me", user["id"]) or user_id.lower() == user["email"]:
        return None
    return zoom_error(404, 1001, f"User does not exist: {user_id}.")


def _daily_limited(state: SandboxState, user: dict[str, Any]) -> Response | None:
    """Count one create/update, or answer Zoom's daily-limit 429 (caller holds the lock)."""
    now = timeutil.from_epoch(state.now())
    key = (user["id"], now.date().isoformat())
    if state.zoom_daily.get(key, 0) >= state.daily_limit:
        midnight = dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
        message = (
            f"You have exceeded the daily rate limit ({state.daily_limit}) of Meeting Create/Update API "
            "requests permitted for this particular user. You may resume these requests at GMT 00:00:00."
        )
        headers = {
            "Retry-After": str(max(1, int((midnight - now).total_seconds()))),
            "X-RateLimit-Type": "Daily-limit",
            "X-RateLimit-Limit": str(state.daily_limit),
            "X-RateLimit-Remaining": "0",
        }
        return zoom_error(429, 429, message, headers=headers)
    state.zoom_daily[key] = state.zoom_daily.get(key, 0) + 1
    return None


def _new_meeting_id(state: SandboxState) -> int:
    while True:
        meeting_id = secrets.randbelow(99_000_000_000) + 1_000_000_000
        if meeting_id not in state.zoom_meetings:
            return meeting_id


def _apply(meeting: dict[str, Any], body: dict[str, Any], user: dict[str, Any]) -> None:
    """Copy body fields onto a meeting; settings merge; start_time normalised to UTC."""
    for key, value in body.items():
        if key == "settings":
            meeting["settings"].update(copy.deepcopy(value))
        elif key not in ("schedule_for", "start_time"):
            meeting[key] = copy.deepcopy(value)
    if "start_time" in body:
        start = zoom_rules.parse_start(body["start_time"], meeting.get("timezone") or user["timezone"])
        meeting["start_time"] = timeutil.zoom_time(start)
    if "password" in body:
        meeting["join_url"] = f"https://zoom.us/j/{meeting['id']}?pwd={_pwd_token(meeting['password'])}"
        meeting["encrypted_password"] = _pwd_token(meeting["password"])


def _pwd_token(password: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(password.encode()).digest()).decode().rstrip("=")[:32]


def _create(state: SandboxState, user: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    meeting_id = _new_meeting_id(state)
    now = timeutil.from_epoch(state.now())
    password = body.get("password") or secrets.token_urlsafe(6)[:6].replace("-", "a").replace("_", "b")
    meeting: dict[str, Any] = {
        "uuid": base64.b64encode(secrets.token_bytes(16)).decode(),
        "id": meeting_id,
        "host_id": user["id"],
        "host_email": user["email"],
        "topic": "Zoom meeting",
        "type": 2,
        "status": "waiting",
        "start_time": timeutil.zoom_time(now),
        "duration": 60,
        "timezone": user["timezone"],
        "agenda": "",
        "created_at": timeutil.zoom_time(now),
        "start_url": f"https://zoom.us/s/{meeting_id}?zak={secrets.token_urlsafe(24)}",
        "join_url": "",
        "password": password,
        "h323_password": password,
        "pstn_password": password,
        "encrypted_password": "",
        "settings": copy.deepcopy(DEFAULT_SETTINGS),
        "pre_schedule": False,
    }
    _apply(meeting, {**body, "password": password}, user)
    state.zoom_meetings[meeting_id] = {"owner_email": user["email"], "deleted": False, "meeting": meeting}
    return meeting


@bp.get("/users/<user_id>")
def get_user(user_id: str) -> Response:
    """users.get for the token's own user (`me`, their id or e-mail)."""
    user, error = _authenticate()
    error = error or _check_user_path(user, user_id)
    return error or jsonify(user)


@bp.post("/users/<user_id>/meetings")
def create_meeting(user_id: str) -> Response:
    """meetings.create: 201 with the meeting."""
    user, error = _authenticate()
    error = error or _check_user_path(user, user_id)
    if error is not None:
        return error
    body, error = zoom_rules.read_body("/users/{userId}/meetings", "post")
    if error is not None:
        return error
    state = get_state()
    with state.lock:
        limited = _daily_limited(state, user)
        if limited is not None:
            return limited
        meeting = _create(state, user, body)
        response = jsonify(meeting)
    logger.info("sandbox zoom: meeting %s created", meeting["id"])
    response.status_code = 201
    response.headers["Content-Location"] = f"{request.host_url}zoom/v2/meetings/{meeting['id']}"
    return response


def _owned(state: SandboxState, user: dict[str, Any], meeting_id: str) -> dict[str, Any] | None:
    record = state.zoom_meetings.get(int(meeting_id)) if meeting_id.isdigit() else None
    if record is None or record["deleted"] or record["owner_email"] != user["email"]:
        return None
    return record


def _missing(meeting_id: str) -> Response:
    return zoom_error(404, 3001, f"Meeting does not exist: {meeting_id}.")


@bp.get("/meetings/<meeting_id>")
def get_meeting(meeting_id: str) -> Response:
    """meetings.get."""
    user, error = _authenticate()
    if error is not None:
        return error
    state = get_state()
    with state.lock:
        record = _owned(state, user, meeting_id)
        return jsonify(record["meeting"]) if record else _missing(meeting_id)


@bp.patch("/meetings/<meeting_id>")
def update_meeting(meeting_id: str) -> Response:
    """meetings.update: 204."""
    user, error = _authenticate()
    if error is not None:
        return error
    body, error = zoom_rules.read_body("/meetings/{meetingId}", "patch")
    if error is not None:
        return error
    state = get_state()
    with state.lock:
        record = _owned(state, user, meeting_id)
        if record is None:
            return _missing(meeting_id)
        limited = _daily_limited(state, user)
        if limited is not None:
            return limited
        meeting = record["meeting"]
        if "timezone" in body and "start_time" not in body:
            body = {**body, "start_time": meeting["start_time"]}
        before = copy.deepcopy(meeting)
        _apply(meeting, body, user)
        changed = [k for k in body if k in meeting and meeting[k] != before.get(k)]
        if changed:
            staff_knobs.meeting_updated(
                state,
                record,
                {k: before.get(k) for k in changed},
                {k: meeting[k] for k in changed},
                user["email"],
            )
    logger.info("sandbox zoom: meeting %s updated", meeting_id)
    return Response(status=204)


@bp.delete("/meetings/<meeting_id>")
def delete_meeting(meeting_id: str) -> Response:
    """meetings.delete: 204; the meeting stays in /_sandbox/state flagged deleted."""
    user, error = _authenticate()
    if error is not None:
        return error
    state = get_state()
    with state.lock:
        record = _owned(state, user, meeting_id)
        if record is None:
            return _missing(meeting_id)
        record["deleted"] = True
        staff_knobs.meeting_deleted(state, record, user["email"])
    logger.info("sandbox zoom: meeting %s deleted", meeting_id)
    return Response(status=204)


def _list_params() -> tuple[str, int, int, Response | None]:
    kind = request.args.get("type", "scheduled")
    if kind not in LIST_TYPES:
        return (
            kind,
            0,
            0,
            zoom_error(
                400, 300, "Validation Failed.", errors=[{"field": "type", "message": "Invalid field."}]
            ),
        )
    raw_size = request.args.get("page_size", "30")
    if not raw_size.isdigit() or int(raw_size) < 1:
        return (
            kind,
            0,
            0,
            zoom_error(
                400, 300, "Validation Failed.", errors=[{"field": "page_size", "message": "Invalid field."}]
            ),
        )
    token = request.args.get("next_page_token")
    try:
        offset = json.loads(base64.urlsafe_b64decode(token.encode()))["offset"] if token else 0
    except (ValueError, KeyError, TypeError):
        return kind, 0, 0, zoom_error(400, 300, "Invalid parameter: next_page_token.")
    return kind, min(int(raw_size), MAX_PAGE_SIZE), int(offset), None


def _listed(meeting: dict[str, Any], kind: str, now: dt.datetime) -> bool:
    start = dt.datetime.strptime(meeting["start_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    ended = start + dt.timedelta(minutes=meeting.get("duration") or 0) <= now
    if kind == "live":
        return False
    if kind in ("upcoming", "upcoming_meetings"):
        return not ended
    if kind == "previous_meetings":
        return ended
    return True


@bp.get("/users/<user_id>/meetings")
def list_meetings(user_id: str) -> Response:
    """meetings.list with type, page_size and next_page_token."""
    user, error = _authenticate()
    error = error or _check_user_path(user, user_id)
    kind, size, offset, param_error = _list_params()
    if error or param_error:
        return error or param_error
    state = get_state()
    with state.lock:
        now = timeutil.from_epoch(state.now())
        found = [
            {
                **{f: r["meeting"].get(f) for f in _LIST_FIELDS},
                "created_at": r["meeting"]["created_at"],
                "join_url": r["meeting"]["join_url"],
            }
            for r in state.zoom_meetings.values()
            if not r["deleted"] and r["owner_email"] == user["email"] and _listed(r["meeting"], kind, now)
        ]
    found.sort(key=lambda m: (m["start_time"], m["id"]))
    more = offset + size < len(found)
    next_token = (
        base64.urlsafe_b64encode(json.dumps({"offset": offset + size}).encode()).decode() if more else ""
    )
    return jsonify(
        {
            "page_size": size,
            "total_records": len(found),
            "next_page_token": next_token,
            "meetings": found[offset : offset + size],
        }
    )
