"""Cleanup: what MeetBridge promises to forget, done on a schedule.

`run()` is one idempotent pass, run every minute by `rq cron` (workers/schedule.py enqueues
`run_job`) and by `flask --app service cleanup --once` for operators who use system cron:

1. **Meetings and retention** (`keys.MEETINGS_DUE`, scored by end + the site's grace period): the
   Zoom meeting is deleted (a 404 counts as done), the sealed join URL and event link are dropped,
   and the record is set to expire at end + the site's retention window (Redis removes it then; a
   record already past it is deleted at once). Records from before key expiry, listed in
   `keys.RETENTION_DUE`, are drained the same way.
2. **Failed jobs**: RQ keeps a failed job (and the sealed personal data in its payload) for its
   `failure_ttl` (7 days for sync and delivery jobs) by a Redis expiry on the job itself; a failed job
   of a MeetBridge queue registered for longer (RQ's default is a year) is cut down to 7 days.
3. **Account health**: accounts whose daily check is due (`keys.ACCOUNTS_DUE`) get a
   `workers.accounts.check_account` job; a dead grant then marks the account `needs_relink` and tells
   the site. Once a day a sweep adds newly linked accounts to the index.

Idempotency records, delivery bookkeeping, locks and OAuth states carry their own Redis expiry.

Cost follows the work that is due: members are claimed from the sorted sets by score range in batches.
Safe to overlap: a run holds `keys.CLEANUP_LOCK` (a lease renewed per batch), and even without it (a
lease that lapsed) each claim is atomic: a Lua script moves the due members' scores to a private
lease time, so a second run does not see them; the work on a booking happens under the booking's
lock and only while its score is still that lease (a sync that rescheduled it wins). A failure puts
the member back, due for the next run; a crash leaves it due when the lease ends.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass

import redis
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry

from service.accounts import vault
from service.bookings import meetings
from service.sites import site_settings
from service.storage import keys, queues, redis_client

log = logging.getLogger(__name__)

#: Members claimed per batch.
BATCH = 200
#: Seconds a claimed member stays hidden from other runs (longer than any provider call with retries).
LEASE = 600
#: Seconds before a member whose work failed is due again (the next cron run).
RETRY = 60
#: Seconds before a meeting whose Zoom account must be linked again is tried again.
RELINK_RETRY = 3600
#: Seconds the run's lock lives without renewal.
LOCK_SECONDS = 300
#: Longest a failed job of a MeetBridge queue is kept (it may carry sealed personal data).
FAILED_JOB_MAX_AGE = 7 * 24 * 3600
#: Seconds between two health checks of one account.
ACCOUNT_CHECK_INTERVAL = 24 * 3600
#: Seconds the booking lock is awaited before the booking is left for the next run.
BOOKING_LOCK_WAIT = 5.0

# KEYS[1] sorted set; ARGV: now, limit, lease score. Returns member, old score, member, old score, ...
_CLAIM = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, ARGV[2])
for i = 1, #due, 2 do redis.call('ZADD', KEYS[1], ARGV[3], due[i]) end
return due
"""

# Put a claimed member back at ARGV[3], only if it still carries our lease ARGV[2].
_REQUEUE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) == tonumber(ARGV[2]) then
  redis.call('ZADD', KEYS[1], ARGV[3], ARGV[1])
  return 1
end
return 0
"""

# Finish a booking's cleanup if its member still carries our lease. KEYS: index, booking record, Zoom
# index; ARGV: member, lease, expire_at (0: keep the record as it is), now, zoom meeting id or ''.
_FINISH = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score or tonumber(score) ~= tonumber(ARGV[2]) then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[5] ~= '' and redis.call('HGET', KEYS[3], ARGV[5]) == ARGV[1] then
  redis.call('HDEL', KEYS[3], ARGV[5])
end
if redis.call('EXISTS', KEYS[2]) == 0 then return 1 end
redis.call('HDEL', KEYS[2], 'join', 'glink', 'zintent')
if redis.call('HGET', KEYS[2], 'error') == '' then redis.call('HDEL', KEYS[2], 'error') end
local created = redis.call('HGET', KEYS[2], 'created')
if created and string.find(created, '.', 1, true) then
  redis.call('HSET', KEYS[2], 'created', string.format('%d', math.floor(tonumber(created))))
end
-- Written again, so a hash that held the long sealed values goes back to the compact encoding.
local fields = redis.call('HGETALL', KEYS[2])
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[2], unpack(fields))
local expire_at = tonumber(ARGV[3])
if expire_at > 0 then
  if expire_at <= tonumber(ARGV[4]) then redis.call('DEL', KEYS[2]) return 2 end
  redis.call('EXPIREAT', KEYS[2], ARGV[3])
end
return 1
"""


@dataclass
class Report:
    """What one run did (printed by `cleanup --once`, returned by the cron job)."""

    meetings_deleted: int = 0
    meetings_already_gone: int = 0
    bookings_cleaned: int = 0
    bookings_purged: int = 0
    retried_later: int = 0
    skipped: int = 0
    failed_jobs_shortened: int = 0
    accounts_checks_queued: int = 0
    locked_out: bool = False

    def as_dict(self) -> dict[str, int | bool]:
        return asdict(self)


class Claims:
    """Atomic claims on a sorted set of due members."""

    def __init__(self, r: redis.Redis, key: str):
        self.r = r
        self.key = key
        self._claim = r.register_script(_CLAIM)
        self._requeue = r.register_script(_REQUEUE)

    def take(self, now: float, limit: int) -> tuple[float, list[tuple[str, float]]]:
        """Claim up to `limit` members due at `now`; returns the lease score and (member, due score)."""
        lease = _lease_score(now)
        raw = self._claim(keys=[self.key], args=[repr(now), limit, repr(lease)])
        pairs = [(raw[i].decode(), float(raw[i + 1])) for i in range(0, len(raw), 2)]
        return lease, pairs

    def put_back(self, member: str, lease: float, due: float) -> None:
        self._requeue(keys=[self.key], args=[member, repr(lease), repr(due)])


def _lease_score(now: float) -> float:
    # Unique per claim (a random fraction of a second), so "still mine" is an exact score comparison.
    return float(int(now) + LEASE) + (uuid.uuid4().int % 1_000_000) / 1_000_000


def run(r: redis.Redis | None = None, *, now: float | None = None, use_lock: bool = True) -> Report:
    """One cleanup pass (needs the app context: provider settings and the vault keys)."""
    r = r or redis_client.get()
    now = time.time() if now is None else now
    report = Report()
    lock = r.lock(keys.CLEANUP_LOCK, timeout=LOCK_SECONDS, blocking_timeout=0) if use_lock else None
    if lock is not None and not lock.acquire():
        log.info("cleanup: another run holds the lock")
        report.locked_out = True
        return report
    try:
        renew = (lambda: lock.reacquire()) if lock is not None else (lambda: None)
        _bookings(r, keys.MEETINGS_DUE, now, report, renew)
        _bookings(r, keys.RETENTION_DUE, now, report, renew)
        _failed_jobs(r, now, report)
        _accounts(r, now, report)
    finally:
        if lock is not None:
            try:
                lock.release()
            except redis.exceptions.LockError:
                log.warning("cleanup: the run's lock had expired")
    log.info("cleanup: %s", report.as_dict())
    return report


def run_job() -> dict[str, int | bool]:
    """The cron job (enqueued every minute by workers/schedule.py)."""
    return run().as_dict()


# -- meetings and retention ---------------------------------------------------------------------------


def _bookings(r: redis.Redis, index: str, now: float, report: Report, renew: Callable[[], None]) -> None:
    claims = Claims(r, index)
    finish = r.register_script(_FINISH)
    while True:
        lease, batch = claims.take(now, BATCH)
        for member, due in batch:
            _booking(r, claims, finish, index, member, lease, due, now, report)
        if len(batch) < BATCH:
            return
        renew()


def _booking(r, claims: Claims, finish, index: str, member: str, lease: float, due: float, now, report):
    site_id, _, booking_id = member.partition("|")
    key = keys.booking(site_id, booking_id)
    lock = r.lock(keys.booking_lock(site_id, booking_id), timeout=LOCK_SECONDS, blocking_timeout=0.0)
    if not _acquire(lock):
        claims.put_back(member, lease, now + RETRY)
        report.retried_later += 1
        return
    try:
        score = r.zscore(index, member)
        if score is None or score != lease:
            report.skipped += 1  # rescheduled by a sync, or erased, while it waited
            return
        record = r.hgetall(key)
        zoom_id = record.get(b"zoom_id", b"").decode()
        if record and index == keys.MEETINGS_DUE and _meeting_alive(record):
            outcome = _delete_meeting(site_id, booking_id, record)
            if outcome in ("retry", "relink"):
                claims.put_back(member, lease, now + (RETRY if outcome == "retry" else RELINK_RETRY))
                report.retried_later += 1
                return
            if outcome == "deleted":
                report.meetings_deleted += 1
            elif outcome == "gone":
                report.meetings_already_gone += 1
        expire_at = _expire_at(r, site_id, record, now) if record else 0
        if index == keys.RETENTION_DUE and r.zscore(keys.MEETINGS_DUE, member) is not None:
            r.zrem(index, member)  # a legacy entry: the meeting's own cleanup sets the expiry
            report.skipped += 1
            return
        done = finish(
            keys=[index, key, keys.ZOOM_MEETINGS], args=[member, repr(lease), expire_at, now, zoom_id]
        )
        if done == 2:
            report.bookings_purged += 1
        elif done == 1:
            report.bookings_cleaned += 1
    finally:
        try:
            lock.release()
        except redis.exceptions.LockError:
            log.warning("cleanup: booking lock of %s/%s had expired", site_id, booking_id)


def _acquire(lock) -> bool:
    deadline = time.monotonic() + BOOKING_LOCK_WAIT
    while True:
        if lock.acquire(blocking=False):
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def _meeting_alive(record: dict[bytes, bytes]) -> bool:
    """Whether the booking may still have a meeting at Zoom (a cancellation deleted it already)."""
    return bool(record.get(b"zoom_id")) and record.get(b"state") != b"cancelled"


def _expire_at(r: redis.Redis, site_id: str, record: dict[bytes, bytes], now: float) -> int:
    days = int(site_settings.load(r, site_id)["retention_days"])
    end = record.get(b"end") or record.get(b"updated") or repr(now).encode()
    return int(float(end)) + 86400 * days


def _delete_meeting(site_id: str, booking_id: str, record: dict[bytes, bytes]) -> str:
    """`deleted`, `gone` (404, or nothing left to do), `retry` or `relink`."""
    staff_id = record.get(b"staff", b"").decode()
    zoom_id = record[b"zoom_id"].decode()
    if not staff_id:
        log.warning(
            "cleanup: booking %s/%s has no staff id; its meeting cannot be reached", site_id, booking_id
        )
        return "gone"
    return meetings.delete_zoom_meeting(site_id, booking_id, staff_id, zoom_id)


# -- failed jobs --------------------------------------------------------------------------------------


def _failed_jobs(r: redis.Redis, now: float, report: Report) -> None:
    """Drop expired entries of each queue's failed registry (RQ's own expiry removed the jobs) and cut
    any failed job kept longer than `FAILED_JOB_MAX_AGE` (or forever) down to it."""
    limit = now + FAILED_JOB_MAX_AGE
    for name in queues.ALL:
        registry = FailedJobRegistry(name, connection=r)
        registry.cleanup(timestamp=now)
        too_long = r.zrangebyscore(registry.key, f"({limit}", "+inf") + r.zrangebyscore(
            registry.key, "-inf", "(0"
        )
        if not too_long:
            continue
        with r.pipeline(transaction=False) as pipe:
            for raw in too_long:
                job_key = Job.key_for(raw.decode())
                pipe.expireat(job_key, int(limit))
                pipe.expireat(f"rq:results:{raw.decode()}", int(limit))
                pipe.zadd(registry.key, {raw: limit})
            pipe.execute()
        report.failed_jobs_shortened += len(too_long)


# -- account health -----------------------------------------------------------------------------------


def _accounts(r: redis.Redis, now: float, report: Report) -> None:
    if r.set(keys.ACCOUNTS_SWEPT, repr(now), nx=True, ex=ACCOUNT_CHECK_INTERVAL):
        sweep_accounts(r, now)
    claims = Claims(r, keys.ACCOUNTS_DUE)
    queue = Queue(queues.MAINTENANCE, connection=r)
    while True:
        _lease, batch = claims.take(now, BATCH)
        gone = []
        for member, _due in batch:
            site_id, provider, staff_id = member.split("|", 2)
            status = r.hget(keys.account(site_id, provider, staff_id), "status")
            if status is None:
                gone.append(member)  # unlinked or erased
                continue
            if status.decode() == vault.ACTIVE:
                queue.enqueue(
                    "workers.accounts.check_account",
                    site_id,
                    provider,
                    staff_id,
                    result_ttl=3600,
                    failure_ttl=FAILED_JOB_MAX_AGE,
                    description=f"check {provider} account",
                )
                report.accounts_checks_queued += 1
            r.zadd(keys.ACCOUNTS_DUE, {member: now + ACCOUNT_CHECK_INTERVAL})
        if gone:
            r.zrem(keys.ACCOUNTS_DUE, *gone)
        if len(batch) < BATCH:
            return


def sweep_accounts(r: redis.Redis, now: float) -> int:
    """Add every linked account not yet in `ACCOUNTS_DUE`, due now (once a day: O(accounts))."""
    added = 0
    for raw_site in r.sscan_iter(keys.SITES, count=500):
        site_id = raw_site.decode()
        members = [f"{site_id}|{m.decode().replace(':', '|', 1)}" for m in r.smembers(keys.accounts(site_id))]
        if members:
            added += r.zadd(keys.ACCOUNTS_DUE, dict.fromkeys(members, now), nx=True)
    return added
