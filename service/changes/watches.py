"""Google watch channels on the staff members' calendars, so a change made in Google Calendar reaches
MeetBridge as a push notification (`POST /v1/google/notifications`).

One channel per linked Google account that has MeetBridge events (`keys.google_watched`). A channel's
secret token is never stored: it is an HMAC of the channel id with the server's secret key, recomputed
when a notification arrives. The channel (id, resource id, expiration) is kept in `keys.google_watch`,
the global `keys.google_channel` maps a channel id back to its account, and `keys.WATCHES_DUE` says
when the cron renews it (a new channel, then the old one stopped). A channel is stopped
(`channels.stop`) when the account is unlinked, the site erased, or no booking needs it any more.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import time
from datetime import timedelta
from typing import Any

import redis
from flask import current_app
from rq import Queue, Retry

from service.bookings import lifecycle
from service.exceptions import (
    AccountNotLinked,
    Gone,
    NeedsRelink,
    ProviderRejected,
    ProviderUnavailable,
    RateLimited,
    TokenBusy,
)
from service.providers import clients
from service.storage import keys

log = logging.getLogger(__name__)

CALENDAR = "primary"
#: Lifetime asked of a new channel (Google's `params.ttl`, seconds); Google may grant less.
CHANNEL_TTL = 7 * 24 * 3600
#: A channel is renewed this long before it expires.
RENEW_BEFORE = 24 * 3600
#: The route answering Google's notifications.
ROUTE = "/v1/google/notifications"
#: How long a queued "open a channel" job keeps others from being queued for the same account.
ENSURE_HOLD = 60


def enqueue(
    r: redis.Redis, queue: str, func: str, args: tuple, *, site_id: str, booking_id: str | None = None,
    delay: float | None = None, description: str, job_timeout: int = 120, pipeline=None,
) -> str:  # fmt: skip
    """Queue a job that carries ids only, named in its booking's (or site's) index so an erasure deletes
    it (on `pipeline` when given, else at once); returns its id."""
    options = dict(
        result_ttl=0,
        failure_ttl=24 * 3600,
        job_timeout=job_timeout,
        description=description,
        retry=Retry(max=3, interval=[5, 30, 120]),  # an unexpected crash is tried again
    )
    pipe = pipeline if pipeline is not None else r.pipeline(transaction=True)
    rq_queue = Queue(queue, connection=r)
    if delay:
        job = rq_queue.enqueue_in(timedelta(seconds=delay), func, args=args, pipeline=pipe, **options)
    else:
        job = rq_queue.enqueue(func, args=args, pipeline=pipe, **options)
    lifecycle.index_job(pipe, site_id, booking_id, job.id)
    if pipeline is None:
        pipe.execute()
    return job.id


def member(site_id: str, staff_id: str) -> str:
    return f"{site_id}|{staff_id}"


def channel_token(channel_id: str, secret_key: str | None = None) -> str:
    """The channel's secret token (`X-Goog-Channel-Token`): HMAC-SHA256 of its id with the server key."""
    key = (secret_key or str(current_app.config["SECRET_KEY"])).encode()
    digest = hmac.new(key, f"google-channel|{channel_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def token_matches(channel_id: str, presented: str) -> bool:
    return hmac.compare_digest(channel_token(channel_id).encode(), presented.encode())


def new_channel_id() -> str:
    """A fresh channel id (Google allows `[A-Za-z0-9-_+/=]`, at most 64 characters)."""
    return "mbch-" + secrets.token_hex(16)


def address() -> str:
    return str(current_app.config["PUBLIC_URL"]).rstrip("/") + ROUTE


def record(r: redis.Redis, site_id: str, staff_id: str) -> dict[str, str]:
    """The account's channel (`ch`, `rid`, `exp` in ms), decoded; empty when none."""
    values = r.hmget(keys.google_watch(site_id, staff_id), "ch", "rid", "exp")
    return {name: raw.decode() for name, raw in zip(("ch", "rid", "exp"), values, strict=True) if raw}


def account_of(r: redis.Redis, channel_id: str) -> tuple[str, str] | None:
    """(site, staff) of a live channel id, or None (unknown, expired, or replaced)."""
    raw = r.get(keys.google_channel(channel_id))
    if raw is None:
        return None
    site_id, _, staff_id = raw.decode().partition("|")
    if r.hget(keys.google_watch(site_id, staff_id), "ch") != channel_id.encode():
        return None
    return site_id, staff_id


def needed(r: redis.Redis, site_id: str, staff_id: str, now: float | None = None) -> bool:
    """Whether a booking of the account with a Google event has not ended yet."""
    return bool(r.zcount(keys.google_watched(site_id, staff_id), now or time.time(), "+inf"))


def renew_at(expires: float, now: float | None = None) -> float:
    """When a channel expiring at `expires` is renewed: `RENEW_BEFORE` ahead, or halfway through a
    shorter lifetime than Google granted."""
    now = now or time.time()
    return expires - min(RENEW_BEFORE, max(0.0, expires - now) / 2)


def next_look(r: redis.Redis, site_id: str, staff_id: str, expires: float) -> float:
    """When the cron looks at the channel next: its renewal, or the end of the last booking it watches
    if that comes first (then a channel no booking needs is stopped)."""
    last = r.zrange(keys.google_watched(site_id, staff_id), -1, -1, withscores=True)
    return min(renew_at(expires), last[0][1] + 60) if last else renew_at(expires)


def open_channel(r: redis.Redis, site_id: str, staff_id: str) -> dict[str, Any]:
    """Open a channel on the account's calendar and record it (the previous one stays recorded as `old`
    for the caller to stop). Raises what `clients.call` raises."""
    channel_id = new_channel_id()
    body = {
        "id": channel_id,
        "type": "web_hook",
        "address": address(),
        "token": channel_token(channel_id),
        "params": {"ttl": str(CHANNEL_TTL)},
    }
    calendar = clients.calendar()
    answer = clients.call(site_id, "google", staff_id, lambda token: calendar.watch(token, CALENDAR, body))
    expiration = int(answer.get("expiration") or (time.time() + CHANNEL_TTL) * 1000)
    resource_id = str(answer["resourceId"])
    watch_key = keys.google_watch(site_id, staff_id)
    previous = r.hmget(watch_key, "ch", "rid")
    expires_in = max(60, int(expiration / 1000 - time.time()) + 3600)
    with r.pipeline(transaction=True) as pipe:
        pipe.hset(watch_key, mapping={"ch": channel_id, "rid": resource_id, "exp": expiration})
        pipe.set(keys.google_channel(channel_id), member(site_id, staff_id), ex=expires_in)
        pipe.zadd(
            keys.WATCHES_DUE, {member(site_id, staff_id): next_look(r, site_id, staff_id, expiration / 1000)}
        )
        pipe.sadd(keys.site_watches(site_id), staff_id)
        pipe.execute()
    log.info("google watch of %s/%s opened (channel %s)", site_id, staff_id, channel_id)
    old_channel, old_resource = (v.decode() if v else None for v in previous)
    return {"ch": channel_id, "rid": resource_id, "exp": expiration, "old": (old_channel, old_resource)}


def stop_channel(site_id: str, staff_id: str, channel_id: str, resource_id: str) -> bool:
    """channels.stop without waiting on failures; True when Google stopped it (or never knew it)."""
    calendar = clients.calendar()
    try:
        clients.call(
            site_id,
            "google",
            staff_id,
            lambda token: calendar.stop_channel(token, channel_id, resource_id),
            policy=clients.Policy.no_wait(),
        )
    except Gone:
        pass
    except (
        AccountNotLinked,
        NeedsRelink,
        ProviderRejected,
        ProviderUnavailable,
        RateLimited,
        TokenBusy,
    ) as exc:
        log.warning("google channel %s of %s/%s not stopped (%s); it expires on its own",
                    channel_id, site_id, staff_id, type(exc).__name__)  # fmt: skip
        return False
    log.info("google channel %s of %s/%s stopped", channel_id, site_id, staff_id)
    return True


def forget(r: redis.Redis, site_id: str, staff_id: str, *, stop: bool = True) -> bool:
    """Stop the account's channel at Google (with `stop`, while its token still works) and forget it
    and its sync token. Returns whether a channel was recorded."""
    watch = record(r, site_id, staff_id)
    r.delete(
        keys.google_watch(site_id, staff_id),
        keys.google_sync_pending(site_id, staff_id),
        keys.google_watch_opening(site_id, staff_id),
    )
    r.zrem(keys.WATCHES_DUE, member(site_id, staff_id))
    r.srem(keys.site_watches(site_id), staff_id)
    if not watch.get("ch"):
        return False
    r.delete(keys.google_channel(watch["ch"]))
    if stop and watch.get("rid"):
        stop_channel(site_id, staff_id, watch["ch"], watch["rid"])
    return True


def forget_site(r: redis.Redis, site_id: str) -> int:
    """Stop and forget every channel of the site, and the bookings they watched (site erasure)."""
    watched = {raw.decode() for raw in r.smembers(keys.site_watches(site_id))}
    linked = {raw.decode().partition(":")[2] for raw in r.smembers(keys.accounts(site_id))}
    stopped = 0
    for staff_id in sorted(watched | linked):
        stopped += forget(r, site_id, staff_id)
        r.delete(keys.google_watched(site_id, staff_id), keys.google_sync_pending(site_id, staff_id))
    return stopped
