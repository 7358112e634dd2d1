"""What keeps an erased booking erased, and what lets erasure find everything of a booking cheaply.

- **Indexes.** The intake's script adds each booking to its site's set (`keys.site_bookings`) and each
  event's idempotency record and job to the booking's index (`keys.booking_index`); a postponed sync
  and a result delivery add their jobs too. Erasure and export read these, so they cost what the
  booking or the site holds, never a scan of the server.
- **Tombstone.** Erasing a booking deletes its record and writes `keys.booking_tombstone` in the same
  transaction. The intake's script answers an event for a tombstoned booking `ignored` and writes
  nothing, so a late or replayed event never re-creates it. An erased site's tombstone is its missing
  record: site ids are random and never reused, and every write below checks the record.
- **Writes only while the booking lives.** A job's writes to a booking's record go through
  `hset_if_live` (a Lua HSET that applies only while both the booking's and the site's records exist),
  never a plain HSET that would re-create an erased record. A job whose write is refused raises
  `Erased`, after undoing what it had just created at a provider.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import redis

from service.storage import keys


class Erased(Exception):
    """The booking (or its site) was erased while a job worked on it: the job stops."""


# KEYS: booking record, site record. ARGV: field, value, ... Applies only while both exist.
_HSET_IF_LIVE = """
if redis.call('EXISTS', KEYS[1]) == 0 or redis.call('EXISTS', KEYS[2]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV))
return 1
"""


def hset_if_live(r: redis.Redis, site_id: str, booking_id: str, fields: Mapping[str, object]) -> bool:
    """Set `fields` on the booking's record, only while it and its site exist. False: erased."""
    return bool(r.execute_command(*hset_if_live_command(site_id, booking_id, fields)))


def hset_if_live_command(site_id: str, booking_id: str, fields: Mapping[str, object]) -> tuple:
    """The Redis command of `hset_if_live` (for callers that send it their own way); it answers 0 when
    the booking or its site was erased."""
    flat: list[object] = []
    for name, value in fields.items():
        flat += [name, value]
    return ("EVAL", _HSET_IF_LIVE, 2, keys.booking(site_id, booking_id), keys.site(site_id), *flat)


def is_erased(r: redis.Redis, site_id: str, booking_id: str) -> bool:
    """Whether the booking was erased (its tombstone lives) or its site is gone."""
    pipe = r.pipeline(transaction=False)
    pipe.exists(keys.booking_tombstone(site_id, booking_id))
    pipe.exists(keys.site(site_id))
    tombstone, site = pipe.execute()
    return bool(tombstone) or not site


def job_member(job_id: str) -> str:
    """A job's member in a booking's index."""
    return f"j:{job_id}"


def webhook_member(webhook_id: str) -> str:
    """An idempotency record's member in a booking's index."""
    return f"w:{webhook_id}"


def index_job(pipe, site_id: str, booking_id: str | None, job_id: str) -> None:
    """Name a job in its booking's index (or, with no booking, in its site's), on `pipe`."""
    if booking_id is None:
        key, member = keys.site_jobs(site_id), job_id
    else:
        key, member = keys.booking_index(site_id, booking_id), job_member(job_id)
    pipe.sadd(key, member)
    pipe.expire(key, keys.JOB_INDEX_SECONDS)


def read_index(r, site_id: str, booking_id: str) -> tuple[list[str], list[str]]:
    """(job ids, idempotency record keys) the booking's index names."""
    jobs, records = [], []
    for raw in r.smembers(keys.booking_index(site_id, booking_id)):
        kind, _, value = raw.decode().partition(":")
        if kind == "j":
            jobs.append(value)
        elif kind == "w":
            records.append(keys.idempotency(site_id, value))
    return sorted(jobs), sorted(records)


def bury(pipe, site_id: str, booking_id: str, now: float | None = None) -> None:
    """Write the booking's tombstone on `pipe` (ids only: the key names the booking, the value is a time)."""
    moment = time.time() if now is None else now
    pipe.set(keys.booking_tombstone(site_id, booking_id), int(moment), ex=keys.TOMBSTONE_SECONDS)


# KEYS: the site's booking index. ARGV: record key prefix, tombstone key prefix, booking ids.
_PRUNE = """
local pruned = 0
for i = 3, #ARGV do
  if redis.call('EXISTS', ARGV[1] .. ARGV[i]) == 0 and redis.call('EXISTS', ARGV[2] .. ARGV[i]) == 0 then
    pruned = pruned + redis.call('SREM', KEYS[1], ARGV[i])
  end
end
return pruned
"""


def prune_site_index(r: redis.Redis, site_id: str, booking_ids: list[str]) -> int:
    """Drop from the site's index the given ids whose record and tombstone are both gone (the record
    expired after the retention window); checked atomically, so a booking re-created meanwhile stays."""
    if not booking_ids:
        return 0
    prefixes = (keys.booking(site_id, ""), keys.booking_tombstone(site_id, ""))
    return int(r.eval(_PRUNE, 1, keys.site_bookings(site_id), *prefixes, *booking_ids))
