"""`POST /v1/google/notifications`: Google Calendar's push notifications of the watch channels.

Google posts an empty body with `X-Goog-Channel-ID`, `X-Goog-Channel-Token`, `X-Goog-Resource-ID`,
`X-Goog-Resource-State` (`sync` when the channel opens, `exists` or `not_exists` on a change) and
`X-Goog-Message-Number`. A notification of a live channel whose token and resource id match enqueues
one incremental sync of that calendar (`workers.changes.google_sync`), coalesced: while one is queued
no other is. Anything else (an unknown, replaced or expired channel, a wrong token) is answered 200
and ignored, counted in /metrics (`google_notifications_ignored`); only a missing channel id is 400.
Google retries a notification answered with a 5xx, so a Redis failure answers 503 (the app's handler).
"""

from __future__ import annotations

import logging

from flask import Blueprint, Response
from flask import request as http

from service.changes import watches
from service.http.web import error_body
from service.storage import keys, redis_client
from service.storage.queues import SYNC

log = logging.getLogger(__name__)

bp = Blueprint("google_push", __name__)

#: Seconds a queued incremental sync holds off other ones of the same calendar (a lost job frees it).
PENDING_SECONDS = 60
SYNC_JOB = "workers.changes.google_sync"


def _empty() -> Response:
    return Response(b"", status=200, mimetype="text/plain")


@bp.post(watches.ROUTE)
def notification():
    channel_id = http.headers.get("X-Goog-Channel-ID", "")
    if not channel_id:
        return error_body(400, "missing_channel", "X-Goog-Channel-ID is missing")
    r = redis_client.get()
    account = watches.account_of(r, channel_id[:128])
    token = http.headers.get("X-Goog-Channel-Token", "")
    if account is None or not watches.token_matches(channel_id, token):
        r.hincrby(keys.STATS, "google_notifications_ignored", 1)
        log.info("google notification of an unknown channel or with a wrong token: ignored")
        return _empty()
    site_id, staff_id = account
    if http.headers.get("X-Goog-Resource-ID", "") != watches.record(r, site_id, staff_id).get("rid"):
        r.hincrby(keys.STATS, "google_notifications_ignored", 1)
        return _empty()
    if http.headers.get("X-Goog-Resource-State", "") == "sync":
        return _empty()  # the channel is open; nothing changed yet
    if r.set(keys.google_sync_pending(site_id, staff_id), 1, nx=True, ex=PENDING_SECONDS):
        description = f"google changes {site_id}/{staff_id}"
        watches.enqueue(r, SYNC, SYNC_JOB, (site_id, staff_id), site_id=site_id, description=description)
    r.hincrby(keys.STATS, "google_notifications", 1)
    return _empty()
