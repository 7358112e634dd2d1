"""The ledger: the work MeetBridge owes, kept in Redis beside the work itself.

RQ is a fast path, not the record: a job can be handed to a dead worker's connection, or stall behind
a lock a killed worker left. So every booking event accepted (the intake's Lua script) and every result
queued for a site is also written here, in a sorted set scored by when it should next be looked at;
settling the booking's newest revision, or delivering the result, removes it. The reconciler
(workers/reconcile.py) looks at what is due and puts back whatever no job is working on.

Members name ids only: `{site_id}|{booking_id}` and `{site_id}|{message_id}`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import redis

#: Sorted set: bookings whose newest revision is not settled yet, scored by when to look at them next.
BOOKINGS = "mb:owed:bookings"
#: Sorted set: results not yet delivered to their site, scored by when to look at them next.
RESULTS = "mb:owed:results"
#: Both, as the operator sees them (`flask --app service ledger`, `/metrics`).
KINDS = {"bookings": BOOKINGS, "results": RESULTS}

LEASE = 20
"""Seconds owed work may go without a sign of progress (a job holding the booking's lock renews it)
before the reconciler looks at it. With the lock's 15 s lifetime and a reconciler pass every 5 s, a
job killed at any line is running again within about 25 s of the kill."""


def member(site_id: str, item_id: str) -> str:
    """The ledger member of a booking or a result."""
    return f"{site_id}|{item_id}"


def split(raw: bytes | str) -> tuple[str, str]:
    """(site id, booking or message id) of a member (site ids never contain `|`)."""
    text = raw.decode() if isinstance(raw, bytes) else raw
    site_id, _, item_id = text.partition("|")
    return site_id, item_id


def owe(pipe, kind: str, site_id: str, item_id: str, at: float | None = None) -> None:
    """Record work as owed, to be looked at `LEASE` seconds after `at` (default now)."""
    pipe.zadd(KINDS[kind], {member(site_id, item_id): (at if at is not None else time.time()) + LEASE})


def renew(pipe, kind: str, site_id: str, item_id: str, at: float | None = None) -> None:
    """Push back the next look at work that is still owed (never re-adds settled work)."""
    score = (at if at is not None else time.time()) + LEASE
    pipe.zadd(KINDS[kind], {member(site_id, item_id): score}, xx=True)


def look_again(pipe, kind: str, site_id: str, item_id: str, at: float) -> None:
    """Look at work that is still owed again at `at` (never re-adds settled work)."""
    pipe.zadd(KINDS[kind], {member(site_id, item_id): at}, xx=True)


def settle(pipe, kind: str, site_id: str, item_id: str) -> None:
    """The work is done (or there is nothing left to do): forget it."""
    pipe.zrem(KINDS[kind], member(site_id, item_id))


def forget_site(r: redis.Redis, site_id: str) -> int:
    """Drop everything owed to or for an erased site (a scan of the ledger: it holds owed work only)."""
    removed = 0
    for key in KINDS.values():
        members = list(r.zscan_iter(key, match=member(_glob_escape(site_id), "*")))
        if members:
            removed += r.zrem(key, *(raw for raw, _score in members))
    return removed


def _glob_escape(text: str) -> str:
    return "".join("\\" + char if char in "*?[]\\" else char for char in text)


_CLAIM = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) <= tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
return 0
"""


class Claims:
    """Claiming due members one at a time, so two reconcilers never act on the same one at once: a
    claim moves the member's score to `LEASE` from now only if it is still due."""

    def __init__(self, r: redis.Redis):
        self._claim = r.register_script(_CLAIM)

    def claim(self, kind: str, raw_member: bytes, now: float) -> bool:
        return bool(self._claim(keys=[KINDS[kind]], args=[raw_member, now, now + LEASE]))


def due(r: redis.Redis, kind: str, now: float, batch: int) -> list[bytes]:
    """Members of `kind` due at `now`, oldest first (at most `batch`)."""
    return r.zrangebyscore(KINDS[kind], "-inf", now, start=0, num=batch)


@dataclass(frozen=True)
class Summary:
    """How much is owed and for how long (what `/metrics` and the CLI report)."""

    size: int
    overdue: int
    oldest_due_seconds: float


def summary(r: redis.Redis, kind: str, now: float | None = None) -> Summary:
    """Size of the ledger, how many are past their lease, and how long the most overdue one has been."""
    now = now if now is not None else time.time()
    key = KINDS[kind]
    pipe = r.pipeline(transaction=False)
    pipe.zcard(key)
    pipe.zcount(key, "-inf", now)
    pipe.zrange(key, 0, 0, withscores=True)
    size, overdue, first = pipe.execute()
    oldest = max(0.0, now - first[0][1]) if first else 0.0
    return Summary(size=size, overdue=overdue, oldest_due_seconds=oldest)


def listing(r: redis.Redis, kind: str, limit: int) -> list[tuple[str, str, float]]:
    """(site id, item id, when next looked at) of the first `limit` owed items, soonest first."""
    return [(*split(raw), score) for raw, score in r.zrange(KINDS[kind], 0, limit - 1, withscores=True)]
