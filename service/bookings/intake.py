"""Accepting a booking event in one Redis round trip: idempotency, ordering and the queued job together.

RQ's own enqueue costs several round trips, and doing `SET NX` before it leaves a window in which an
id is remembered but its job was never written. Here the job is built by RQ (so workers read it as
any RQ job), its commands are recorded on an unexecuted pipeline and written into the Lua script,
which runs them only if the site is unchanged, the `webhook-id` is new and the revision is newer
than the last accepted one. The same script records the booking as owed in the ledger
(service.storage.ledger) and names its job in the booking's record, so a job that vanishes is found
and put back by the reconciler; it adds the booking to its site's index and the event's idempotency
record and job to the booking's (service.bookings.lifecycle), and refuses every event of a booking
whose erasure tombstone lives. A script runs atomically and reaches the append-only file as one unit:
either everything is in Redis or nothing is.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import redis
from rq import Callback, Queue, Retry
from rq.utils import now, utcformat

from service.bookings import lifecycle
from service.storage import keys, ledger
from service.storage.durability import DurableAck
from service.storage.group_commit import GroupCommit

#: How long a `webhook-id` is remembered (the contract says at least 72 hours).
IDEMPOTENCY_SECONDS = 73 * 3600
#: The job that applies a booking event (workers/sync.py).
SYNC_JOB = "workers.sync.sync_booking"
#: How long a failed job (and the sealed personal data in its payload) is kept for inspection.
FAILURE_TTL = 7 * 24 * 3600
#: RQ retries of a sync job that crashed (a bug, a killed worker); after the last, the booking is failed.
CRASH_RETRY_INTERVALS = [5, 30, 120, 600, 1800]
#: A finished sync job is deleted at once, sealed payload and all (`result_ttl` 0). Only a job that ends
#: without settling its booking (Redis failed under it) keeps itself this long, for the reconciler to
#: put back by its id (workers/sync.py).
UNSETTLED_JOB_TTL = 24 * 3600


def sync_job_options(timeout: int, *, enqueue_in: bool = False) -> dict:
    """RQ options of every sync job, whether queued by the intake or postponed by a worker.

    Args:
        timeout: seconds the job may run.
        enqueue_in: name the timeout as `Queue.enqueue_in` wants it (`job_timeout`), not `create_job`.
    """
    return {
        ("job_timeout" if enqueue_in else "timeout"): timeout,
        "result_ttl": 0,
        "failure_ttl": FAILURE_TTL,
        "retry": Retry(max=len(CRASH_RETRY_INTERVALS), interval=CRASH_RETRY_INTERVALS),
        "on_failure": Callback("workers.sync.on_sync_failure"),
    }


# KEYS: site, idempotency record, booking record, ledger, tombstone, booking index, site's bookings.
# ARGV: see `Intake.accept`; the job's own values follow from ARGV[_HEAD_ARGS + 1] (the job id first).
_SCRIPT_HEAD = """
if redis.call('HGET', KEYS[1], 'ver') ~= ARGV[1] then return {'stale_site'} end
local seen = redis.call('GET', KEYS[2])
if seen then
  -- Written again as it is: this connection then has a write after the event's first one (made by
  -- any connection or web host), so the durable acknowledgement's WAIT covers that one too.
  redis.call('SET', KEYS[2], seen, 'KEEPTTL')
  return {'seen', seen}
end
local rev = redis.call('HGET', KEYS[3], 'rev')
if not rev and redis.call('EXISTS', KEYS[5]) == 1 then return {'erased', ARGV[12]} end
if tonumber(ARGV[3]) <= tonumber(rev or '0') then
  redis.call('SET', KEYS[2], ARGV[5], 'EX', ARGV[2])
  redis.call('SADD', KEYS[6], ARGV[11])
  redis.call('EXPIRE', KEYS[6], ARGV[13])
  return {'stale_revision', ARGV[5]}
end
redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[2])
redis.call('HSET', KEYS[3], 'rev', ARGV[3], 'state', 'pending', 'event', ARGV[7], 'updated', ARGV[6],
  'job', ARGV[14])
if redis.call('HSETNX', KEYS[3], 'created', ARGV[6]) == 1 then redis.call('SADD', KEYS[7], ARGV[10]) end
redis.call('ZADD', KEYS[4], ARGV[9], ARGV[8])
redis.call('SADD', KEYS[6], ARGV[11], 'j:' .. ARGV[14])  -- lifecycle.job_member
redis.call('EXPIRE', KEYS[6], ARGV[13])
"""
_SCRIPT_TAIL = """
return {'accepted', ARGV[4]}
"""
#: ARGV of the script before the job's own values (see `Intake.accept`); the job id comes first.
_HEAD_ARGS = 13


_IGNORED_REASON = "an event with this or a newer revision was already accepted"
_ERASED_REASON = "this booking was erased"


class StaleSite(Exception):
    """The site's record changed (secret rotated, site deleted) since it was cached: reload, retry."""


@dataclass(frozen=True)
class Outcome:
    """What the script decided, and the JSON body to answer with."""

    status: str  # accepted | seen | stale_revision | erased
    body: bytes

    @property
    def http_status(self) -> int:
        return 200 if self.status == "seen" else 202


class Intake:
    """Per-process: the registered script and the RQ queue (which caches the Redis version).

    With `durable` (service.storage.durability), an event is answered only once the check after its
    batch confirmed it; otherwise `accept` raises `NotDurable` (the event is in Redis, a retry with
    the same `webhook-id` answers 200 once it is confirmed).
    """

    def __init__(
        self, connection: redis.Redis, queue_name: str, job_timeout: int, durable: DurableAck | None = None
    ):
        self.connection = connection
        self.job_options = sync_job_options(job_timeout)
        self.queue = Queue(queue_name, connection=connection)
        self.template = JobTemplate(self.queue, SYNC_JOB, self.job_options)
        self.script = connection.register_script(
            _SCRIPT_HEAD + self.template.lua(_HEAD_ARGS + 1) + _SCRIPT_TAIL
        )
        self._commit = GroupCommit(connection, self.script, durable)

    def accept(
        self, *, site_id: str, site_version: str, webhook_id: str, event_type: str,
        booking_id: str, revision: int, sealed: bytes,
    ) -> Outcome:  # fmt: skip
        """Record the event and queue its job, unless it was seen or is older than the newest.

        Raises:
            StaleSite: the caller's copy of the site is out of date.
            redis.RedisError: Redis unreachable, out of memory, ... (the event was written whole or
                not at all; a retry with the same `webhook-id` finds out which).
            NotDurable: written, but not confirmed by replicas or the append-only file in time.
        """
        # Both possible answers, for the script to pick from: `{"status": …, "booking_id": …, …}`.
        ids = json.dumps({"booking_id": booking_id, "revision": revision, "webhook_id": webhook_id})[1:]
        accepted = '{"status": "accepted", ' + ids
        ignored = '{"status": "ignored", "reason": "' + _IGNORED_REASON + '", ' + ids
        erased = '{"status": "ignored", "reason": "' + _ERASED_REASON + '", ' + ids
        job_values = self.template.values(
            (site_id, booking_id, revision, event_type, sealed), description=f"sync {event_type}"
        )
        moment = time.time()
        now = f"{moment:.3f}"
        args = [
            site_version,
            IDEMPOTENCY_SECONDS,
            revision,
            accepted,
            ignored,
            now,
            event_type,
            ledger.member(site_id, booking_id),
            f"{moment + ledger.LEASE:.3f}",
            booking_id,
            lifecycle.webhook_member(webhook_id),
            erased,
            keys.JOB_INDEX_SECONDS,
            *job_values,
        ]
        event_keys = (
            keys.site(site_id),
            keys.idempotency(site_id, webhook_id),
            keys.booking(site_id, booking_id),
            ledger.BOOKINGS,
            keys.booking_tombstone(site_id, booking_id),
            keys.booking_index(site_id, booking_id),
            keys.site_bookings(site_id),
        )
        result = self._commit.run(event_keys, args)
        status = result[0].decode()
        if status == "stale_site":
            raise StaleSite(site_id)
        return Outcome(status, result[1])


class JobTemplate:
    """RQ's own commands to enqueue one job, recorded once per process by RQ itself and turned into
    Lua for the intake script: everything that is the same for every job is written into the script,
    and only the job id, its timestamps, payload and description are passed with each call.

    Creating and enqueueing a job through RQ costs about 70 µs of CPU per event (most of it a fresh
    zlib stream per payload and serializer look-ups), and passing all of RQ's fields to the script
    as arguments costs the client and Redis about as much again. The payload is what RQ's serializer
    makes, left uncompressed (RQ reads a payload that is not a zlib stream as it is; the payload is
    mostly sealed bytes, which do not compress). A test checks that a worker reads these jobs
    exactly as RQ-made ones.
    """

    _VARYING = ("created_at", "enqueued_at", "data", "description")

    def __init__(self, queue: Queue, func: str, options: dict):
        job = queue.create_job(func, args=(), description="template", **options)
        recorder = queue.connection.pipeline(transaction=False)
        queue.enqueue_job(job, pipeline=recorder)
        encode = queue.connection.get_encoder().encode
        self._func = func
        self._serializer = job.serializer
        self._job_key, self._job_id = job.key, job.id
        self._key_prefix = job.key[: -len(job.id)]
        self._commands = [[encode(arg) for arg in command] for command, _options in recorder.command_stack]
        recorder.reset()
        if not self._job_key.endswith(self._job_id):
            raise RuntimeError("RQ's job keys changed shape: update JobTemplate")
        fields = {
            field.decode() for command in self._commands if command[0] == b"HSET" for field in command[2::2]
        }
        missing = [name for name in self._VARYING if name not in fields]
        if missing or not any(command[0] == b"RPUSH" for command in self._commands):
            raise RuntimeError(f"RQ's enqueue changed shape (missing {missing}): update JobTemplate")

    def lua(self, first: int) -> str:
        """Lua that writes the job, reading its values from `ARGV[first]` on (see `values`)."""
        job_id = f"ARGV[{first}]"
        variable = {
            "created_at": f"ARGV[{first + 1}]",
            "enqueued_at": f"ARGV[{first + 1}]",
            "data": f"ARGV[{first + 2}]",
            "description": f"ARGV[{first + 3}]",
        }
        job_key = f"{_lua_string(self._key_prefix.encode())} .. {job_id}"
        lines = []
        for command in self._commands:
            name, *args = command
            parts = [_lua_string(name)]
            if name == b"HSET" and args[0] == self._job_key.encode():
                parts.append(job_key)
                for field, value in zip(args[1::2], args[2::2], strict=True):
                    parts += [_lua_string(field), variable.get(field.decode()) or _lua_string(value)]
            elif name == b"RPUSH":
                parts += [_lua_string(args[0]), job_id]
            elif any(self._job_id.encode() in arg for arg in args):
                raise RuntimeError(f"RQ's enqueue changed shape ({name!r} names the job): update JobTemplate")
            else:
                parts += [_lua_string(arg) for arg in args]
            lines.append(f"redis.call({', '.join(parts)})")
        return "\n".join(lines) + "\n"

    def values(self, args: tuple, description: str) -> list:
        """The arguments `lua()` reads for a job running `func(*args)`: id, time, payload, description."""
        return [
            str(uuid.uuid4()),
            utcformat(now()),
            self._serializer.dumps((self._func, None, args, {})),
            description,
        ]


def _lua_string(value: bytes) -> str:
    """A Lua string literal for any bytes (decimal escapes for everything but letters and digits)."""
    return '"' + "".join(chr(b) if chr(b).isalnum() and b < 128 else f"\\{b:03d}" for b in value) + '"'
