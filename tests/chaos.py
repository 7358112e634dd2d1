"""A chaos run through the real stack, and its verdict.

Many bookings' events are sent concurrently (creates, reschedules, cancels, a few reordered, replays
of a `webhook-id` already acknowledged, duplicates of an event's content under a new `webhook-id`),
each event resent with its own `webhook-id` until the service acknowledges it (as the plugin's outbox
does), while a chaos thread SIGKILLs an RQ worker process every 1–3 s, kills the whole worker group
(pool process, workers, their forked schedulers) and starts it again, and SIGKILLs Redis and starts it
again. Then it waits until every booking is final and judges the outcome against the sandbox's state
and call log, Redis, the stand-in site's received results and the logs: nothing made twice, nothing
lost, nothing stuck, nothing in the wrong state, every result delivered, nothing personal in the clear.

Redis runs with `appendfsync always` here. With `everysec` (the default) Redis answers before its
append-only file has the write whenever a background fsync is still running (it postpones the write
up to 2 s), so a SIGKILL of Redis may legitimately lose an event already answered 202; that is the
durability the operator chose, not a fault of the service, and a test that kills Redis must not count
it as one. `always` makes every acknowledged event survive the kill, so any loss is the service's.

Used by tests/workers/test_chaos_stack.py (a small run in `make test`) and bench/run.py (the full one).
"""

from __future__ import annotations

import heapq
import json
import math
import os
import random
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import redis
import requests
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq.job import Job

from service.providers.google_calendar import event_id
from service.storage import keys, ledger
from tests import processes, signing
from tests.site_stack import SiteStack, site_stack

STAFF = "7"
#: Booking states that end a sync (anything else is still owed).
FINAL = {b"synced", b"cancelled", b"failed"}
#: Result type the site must receive for the newest revision, by that revision's event type.
RESULT_OF = {"booking.created": "booking.synced", "booking.updated": "booking.synced",
             "booking.cancelled": "booking.cancelled"}  # fmt: skip
#: First booking's start; each booking starts three hours after the one before.
BASE = datetime(2031, 1, 6, 8, 0, tzinfo=timezone(timedelta(hours=1)))


@dataclass(frozen=True)
class Config:
    """One chaos run.

    Args:
        bookings: how many bookings.
        worker_processes: RQ worker processes in the pool.
        send_seconds: the bookings' first events start spread over this long; the group and Redis
            kills fall inside it.
        group_kills: times the whole worker group is SIGKILLed and started again.
        redis_kills: times Redis is SIGKILLed and started again.
        kill_every: seconds from one worker process's SIGKILL to the next (uniform in this range).
        senders: threads sending events.
        latency_ms: added by the sandbox to every provider call (jobs last long enough to be killed).
        final_deadline: seconds after the last kill to wait for every booking to be final.
        seed: of every random choice (the plan and the chaos).
    """

    bookings: int = 60
    worker_processes: int = 4
    send_seconds: float = 25.0
    group_kills: int = 1
    redis_kills: int = 1
    kill_every: tuple[float, float] = (1.0, 3.0)
    senders: int = 6
    latency_ms: int = 150
    final_deadline: float = 120.0
    seed: int = 13


# -- the plan: what each booking's site sends ---------------------------------------------------------


@dataclass
class Send:
    """One POST of a booking event, resent under the same `webhook-id` until it is acknowledged."""

    booking_id: str
    kind: str  # original | replay (same webhook-id again) | duplicate (same content, new webhook-id)
    event_type: str
    revision: int
    body: bytes
    webhook_id: str
    gap: float  # seconds after the booking's previous send was acknowledged
    statuses: list[int] = field(default_factory=list)  # every answer (0: no answer)
    answer: str | None = None  # the acknowledged body's status: accepted | ignored
    acked_at: float | None = None


@dataclass
class Booking:
    booking_id: str
    start_at: float  # seconds into the send window of its first send
    sends: list[Send]
    versions: dict[int, tuple[str, dict]]  # revision -> (event type, booking payload)
    personal: list[str]  # its title, the customer's name and e-mail

    @property
    def acked_revision(self) -> int:
        """The newest revision the service acknowledged (0: none)."""
        return max((s.revision for s in self.sends if s.acked_at is not None), default=0)


def plan(config: Config) -> list[Booking]:
    """Every booking's events, in the order its site sends them (deterministic for a seed)."""
    rng = random.Random(config.seed)
    return [_booking(rng, index, config.send_seconds) for index in range(config.bookings)]


def _booking(rng: random.Random, index: int, window: float) -> Booking:
    booking_id = f"chaos-{index}"
    tag = f"{rng.getrandbits(40):010x}"
    details = {
        "title": f"Session {tag}",
        "customer": {"email": f"guest-{tag}@example.org", "name": f"Guest {tag.upper()}"},
    }
    start = BASE + timedelta(hours=3 * index)
    versions = {1: ("booking.created", _times(start, 30))}
    for _ in range(rng.choices([0, 1, 2], weights=[50, 35, 15])[0]):
        start += timedelta(hours=rng.randint(1, 72))
        versions[len(versions) + 1] = ("booking.updated", _times(start, rng.choice([30, 45, 60])))
    if rng.random() < 0.3:
        versions[len(versions) + 1] = ("booking.cancelled", versions[len(versions)][1])
    payloads = {
        rev: (kind, {"id": booking_id, "revision": rev, **details, **times})
        for rev, (kind, times) in versions.items()
    }

    def send(kind: str, rev: int, webhook_id: str | None = None) -> Send:
        event_type, payload = payloads[rev]
        body = signing.body_of({"type": event_type, "booking": {**signing.EXAMPLE_BOOKING, **payload}})
        webhook_id = webhook_id or f"msg_{rng.getrandbits(128):032x}"
        return Send(booking_id, kind, event_type, rev, body, webhook_id, gap=rng.uniform(0.1, 1.5))

    sends = [send("original", rev) for rev in payloads]
    if len(sends) > 1 and rng.random() < 0.1:
        sends[0], sends[1] = sends[1], sends[0]  # the update overtakes the create; the create is ignored
    for kind, chance in (("replay", 0.35), ("duplicate", 0.35)):
        if rng.random() < chance:
            at = rng.randrange(len(sends))
            earlier = sends[rng.randrange(at + 1)]
            again = send(kind, earlier.revision, earlier.webhook_id if kind == "replay" else None)
            sends.insert(at + 1, again)
    personal = [details["title"], details["customer"]["email"], details["customer"]["name"]]
    return Booking(booking_id, rng.uniform(0, window), sends, payloads, personal)


def _times(start: datetime, minutes: int) -> dict:
    return {"start": start.isoformat(), "end": (start + timedelta(minutes=minutes)).isoformat()}


# -- sending -------------------------------------------------------------------------------------------


class Senders:
    """Threads sending every booking's events in its order, bookings interleaved: a booking's next
    event goes out its `gap` after the previous one was acknowledged; an answer other than 200/202
    (Redis down: 503; no answer at all) is retried under the same `webhook-id` every half second."""

    GIVE_UP = 120.0  # seconds one event is retried before it counts as never acknowledged

    def __init__(self, env: SiteStack, bookings: list[Booking], threads: int):
        self.env = env
        self.bookings = bookings
        self.threads = threads
        self.url = f"{env.stack.base_url}/v1/sites/{env.site['site_id']}/events"
        self._cv = threading.Condition()
        self._heap: list[tuple[float, int, int]] = []
        self._active = 0

    def run(self) -> None:
        start = time.monotonic()
        self._heap = [(start + b.start_at, index, 0) for index, b in enumerate(self.bookings) if b.sends]
        heapq.heapify(self._heap)
        self._active = len(self._heap)
        threads = [threading.Thread(target=self._loop, name=f"sender-{n}") for n in range(self.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def _loop(self) -> None:
        session = requests.Session()
        while (item := self._next()) is not None:
            index, cursor = item
            sends = self.bookings[index].sends
            self._send(session, sends[cursor])
            with self._cv:
                if cursor + 1 < len(sends):
                    heapq.heappush(self._heap, (time.monotonic() + sends[cursor + 1].gap, index, cursor + 1))
                else:
                    self._active -= 1
                self._cv.notify_all()

    def _next(self) -> tuple[int, int] | None:
        with self._cv:
            while True:
                if not self._heap:
                    if self._active == 0:
                        return None
                    self._cv.wait(0.5)
                    continue
                due, index, cursor = self._heap[0]
                wait = due - time.monotonic()
                if wait <= 0:
                    heapq.heappop(self._heap)
                    return index, cursor
                self._cv.wait(wait)

    def _send(self, session: requests.Session, send: Send) -> None:
        give_up = time.monotonic() + self.GIVE_UP
        while time.monotonic() < give_up:
            headers = signing.headers(self.env.site["secret"], send.body, msg_id=send.webhook_id)
            try:
                answer = session.post(
                    self.url,
                    data=send.body,
                    headers=headers,
                    verify=str(self.env.stack.certs.bundle),
                    timeout=15,
                )
            except requests.RequestException:
                send.statuses.append(0)
                session = requests.Session()
                time.sleep(0.5)
                continue
            send.statuses.append(answer.status_code)
            if answer.status_code in (200, 202):
                send.answer = answer.json()["status"]
                send.acked_at = time.monotonic()
                return
            if answer.status_code < 500:
                return  # rejected: shows up in the verdict as never acknowledged
            time.sleep(0.5)


# -- chaos ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldJob:
    """A job a worker was running when it was killed."""

    job_id: str
    kind: str  # sync | deliver | other
    booking_id: str | None = None
    revision: int | None = None


@dataclass
class Kill:
    kind: str  # worker | group | redis
    at: float
    pids: list[int]
    held: list[HeldJob] = field(default_factory=list)


class Chaos(threading.Thread):
    """SIGKILLs a random worker process every `kill_every` seconds (one holding a job two times in
    three, when any does); kills the whole worker group `group_kills` times and Redis `redis_kills`
    times at fixed points of the send window; stops `tail` seconds after `sending_done` is set."""

    def __init__(self, env: SiteStack, config: Config, sending_done: threading.Event, tail: float = 2.0):
        super().__init__(name="chaos", daemon=True)
        self.env = env
        self.config = config
        self.sending_done = sending_done
        self.tail = tail
        self.rng = random.Random(config.seed + 1)
        self.kills: list[Kill] = []
        self.errors: list[str] = []
        self._r = redis.Redis.from_url(
            env.redis.url, socket_timeout=2, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )

    def run(self) -> None:
        try:
            self._run()
        except Exception as exc:  # reported in the verdict, not lost in a thread
            self.errors.append(repr(exc))

    def _run(self) -> None:
        config = self.config
        start = time.monotonic()
        groups, redis_kills = config.group_kills, config.redis_kills
        special = [(start + config.send_seconds * (k + 1) / (groups + 1), "group") for k in range(groups)]
        # Redis between two group kills: half a group interval before each evenly spread point.
        special += [
            (start + config.send_seconds * ((k + 1) / (redis_kills + 1) - 0.5 / (groups + 1)), "redis")
            for k in range(redis_kills)
        ]
        special.sort()
        next_kill = start + self.rng.uniform(*config.kill_every)
        done_at = None
        while True:
            now = time.monotonic()
            if special and now >= special[0][0]:
                _, what = special.pop(0)
                if what == "group":
                    self._kill_group()
                else:
                    self._kill_redis()
                next_kill = time.monotonic() + self.rng.uniform(*config.kill_every)
            elif now >= next_kill:
                self._kill_worker()
                next_kill = time.monotonic() + self.rng.uniform(*config.kill_every)
            if self.sending_done.is_set():
                done_at = done_at or now
                if not special and now - done_at >= self.tail:
                    return
            time.sleep(0.05)

    @property
    def pool(self) -> processes.Service:
        return self.env.stack.services["worker0"]

    def worker_pids(self) -> list[int]:
        """The pool's worker processes (its children; their forked schedulers are grandchildren)."""
        if not self.pool.alive():
            return []
        out = subprocess.run(["pgrep", "-P", str(self.pool.proc.pid)], capture_output=True, text=True)
        return [int(pid) for pid in out.stdout.split()]

    def held_jobs(self) -> dict[int, HeldJob]:
        """Worker pid -> the job it is running, from RQ's worker registry (empty while Redis is down)."""
        try:
            workers = list(self._r.smembers("rq:workers"))
            pipe = self._r.pipeline(transaction=False)
            for key in workers:
                pipe.hmget(
                    key if key.startswith(b"rq:worker:") else b"rq:worker:" + key, "pid", "current_job"
                )
            held = {}
            for pid, job_id in pipe.execute():
                if pid and job_id:
                    held[int(pid)] = self._describe(job_id.decode())
            return held
        except redis.exceptions.RedisError:
            return {}

    def _describe(self, job_id: str) -> HeldJob:
        try:
            job = Job.fetch(job_id, connection=self._r)
            if job.func_name == "workers.sync.sync_booking":
                return HeldJob(job_id, "sync", job.args[1], int(job.args[2]))
            if job.func_name == "workers.deliver.deliver_result":
                return HeldJob(job_id, "deliver")
        except Exception:  # noqa: S110 - a job that vanished meanwhile is simply not described
            pass
        return HeldJob(job_id, "other")

    def _kill_worker(self) -> None:
        pids = self.worker_pids()
        if not pids:
            return
        held = self.held_jobs()
        busy = [pid for pid in pids if pid in held]
        pid = self.rng.choice(busy if busy and self.rng.random() < 2 / 3 else pids)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        self.kills.append(Kill("worker", time.monotonic(), [pid], [held[pid]] if pid in held else []))

    def _kill_group(self) -> None:
        pids = self.worker_pids()
        held = self.held_jobs()
        pool = self.pool
        pool.signal(signal.SIGKILL)
        self.kills.append(
            Kill("group", time.monotonic(), [pool.proc.pid], [held[p] for p in pids if p in held])
        )
        pool.stop()  # reaps the killed group and closes its log
        time.sleep(self.rng.uniform(1.0, 3.0))  # no worker at all for a while
        self.env.stack.start_worker(0)

    def _kill_redis(self) -> None:
        self.env.redis.kill()
        self.kills.append(Kill("redis", time.monotonic(), []))
        time.sleep(1.0)
        self.env.redis.start()


# -- waiting and judging -------------------------------------------------------------------------------


@dataclass
class Verdict:
    """What a chaos run did and how it ended (problems name booking ids only)."""

    bookings: int
    sends: dict[str, int]  # original / replay / duplicate
    reordered: int
    unacknowledged: int
    retried_sends: int  # sends that needed more than one POST (Redis down, a lost answer)
    replays_not_seen: int  # a replay answered otherwise than 200 (its first acknowledgment was lost)
    kills: dict[str, int]  # worker / group / redis
    jobs_killed: int  # jobs running in a killed worker that had not finished yet
    recovery: list[float]  # per killed job: kill -> its booking settled (a delivery: its result at the site)
    recovery_to_site: list[float]  # per killed sync job: kill -> its booking's result at the site
    unrecovered: int
    last_kill_to_final: float | None  # None: not every booking was final by the deadline
    slowest: str  # the booking that became final last, and when it settled and was told
    slowest_recovery: str  # the killed job that took longest, and how it was killed
    duplicates: int
    lost: int
    stuck: int
    wrong: int
    failed: int  # bookings that ended failed, plus sync_failed results sent for any revision
    undelivered: int
    told_twice: int  # revisions whose result was sent under two message ids (settled twice)
    owed: dict[str, int]  # what `flask --app service ledger` still lists
    leaks: list[str]
    chaos_errors: list[str]
    problems: list[str]

    @property
    def invariants(self) -> dict[str, int]:
        return {
            "duplicates": self.duplicates, "lost": self.lost, "stuck": self.stuck, "wrong": self.wrong,
            "failed": self.failed, "undelivered": self.undelivered, "owed": sum(self.owed.values()),
            "personal leaks": len(self.leaks),
        }  # fmt: skip

    def summary(self) -> str:
        p50, p99 = percentile(self.recovery, 0.5), percentile(self.recovery, 0.99)
        site50, site99 = percentile(self.recovery_to_site, 0.5), percentile(self.recovery_to_site, 0.99)
        final = _s(self.last_kill_to_final) if self.last_kill_to_final is not None else "never"
        return (
            f"{self.bookings} bookings, sends {self.sends}, kills {self.kills}, "
            f"jobs killed {self.jobs_killed}, final {final} after the last kill, "
            f"recovery p50 {_s(p50)} p99 {_s(p99)} "
            f"(to the result at the site {_s(site50)} {_s(site99)}), invariants {self.invariants}, "
            f"unacknowledged {self.unacknowledged}, replays not seen {self.replays_not_seen}, "
            f"told twice {self.told_twice}, slowest {self.slowest}, "
            f"slowest recovery {self.slowest_recovery}, "
            f"chaos errors {self.chaos_errors}, problems {self.problems[:20]}"
        )


def _s(value: float | None) -> str:
    return f"{value:.1f}s" if value is not None else "-"


class SettleWatcher(threading.Thread):
    """Notes, every `interval` seconds, the revision each booking has settled (`applied`) and when it
    was first seen, so the recovery of a killed sync job can be timed."""

    def __init__(self, env: SiteStack, booking_ids: list[str], interval: float = 0.25):
        super().__init__(name="settle-watcher", daemon=True)
        self.keys = [keys.booking(env.site["site_id"], booking_id) for booking_id in booking_ids]
        self.booking_ids = booking_ids
        self.interval = interval
        self.seen: dict[str, list[tuple[float, int]]] = {booking_id: [] for booking_id in booking_ids}
        self._stop_event = threading.Event()
        self._r = redis.Redis.from_url(
            env.redis.url, socket_timeout=2, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
        )

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            self._look()
        self._look()  # what settled since the last look (the very last settles end the wait)

    def _look(self) -> None:
        try:
            pipe = self._r.pipeline(transaction=False)
            for key in self.keys:
                pipe.hget(key, "applied")
            values = pipe.execute()
        except redis.exceptions.RedisError:
            return
        now = time.monotonic()
        for booking_id, applied in zip(self.booking_ids, values, strict=True):
            seen = self.seen[booking_id]
            if applied is not None and (not seen or seen[-1][1] != int(applied)):
                seen.append((now, int(applied)))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def settled_at(self, booking_id: str, revision: int) -> list[float]:
        """When the booking was seen to have settled `revision` or a newer one."""
        return [at for at, applied in self.seen[booking_id] if applied >= revision]


class Run:
    """One chaos run against a running site stack (see `chaos_stack`)."""

    def __init__(self, env: SiteStack, config: Config):
        self.env = env
        self.config = config
        self.bookings = plan(config)
        self._r = redis.Redis.from_url(
            env.redis.url, socket_timeout=5, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
        )

    def execute(self) -> Verdict:
        self.env.sandbox.post("latency", {"ms": self.config.latency_ms})
        self.env.sandbox.post("daily-limit", {"limit": 1_000_000})
        sending_done = threading.Event()
        watcher = SettleWatcher(self.env, [b.booking_id for b in self.bookings])
        chaos = self.chaos = Chaos(self.env, self.config, sending_done)
        watcher.start()
        chaos.start()
        try:
            Senders(self.env, self.bookings, self.config.senders).run()
        finally:
            sending_done.set()
            chaos.join()
        if not self.env.stack.services["worker0"].alive():
            self.env.stack.start_worker(0)  # the chaos thread died between a group kill and the restart
        last_kill = max((kill.at for kill in chaos.kills), default=time.monotonic())
        try:
            final_at = self._wait_final(last_kill + self.config.final_deadline)
        finally:
            watcher.stop()
        return self._judge(chaos, watcher, last_kill, final_at)

    # -- waiting --------------------------------------------------------------------------------------

    def _wait_final(self, deadline: float) -> float | None:
        while time.monotonic() < deadline:
            try:
                if self._all_final():
                    return time.monotonic()
            except redis.exceptions.RedisError:
                pass
            time.sleep(0.25)
        return None

    def _all_final(self) -> bool:
        site_id = self.env.site["site_id"]
        pipe = self._r.pipeline(transaction=False)
        for booking in self.bookings:
            pipe.hmget(keys.booking(site_id, booking.booking_id), "rev", "applied", "state")
        pipe.zcard(ledger.BOOKINGS)
        pipe.zcard(ledger.RESULTS)
        *records, owed_bookings, owed_results = pipe.execute()
        if owed_bookings or owed_results:
            return False
        delivered = self._delivered()
        for booking, (rev, applied, state) in zip(self.bookings, records, strict=True):
            wanted = booking.acked_revision
            if not wanted:
                continue
            if rev is None or int(rev) != wanted or int(applied or 0) != wanted or state not in FINAL:
                return False
            if (booking.booking_id, wanted) not in delivered:
                return False
        return True

    def _delivered(self) -> dict[tuple[str, int], str]:
        """(booking id, revision) -> the type of the first result the site received for it."""
        found: dict[tuple[str, int], str] = {}
        for result in list(self.env.double.results):
            data = result.get("data") or {}
            if "booking_id" in data:
                found.setdefault((data["booking_id"], int(data["revision"])), result["type"])
        return found

    # -- judging --------------------------------------------------------------------------------------

    def _judge(
        self, chaos: Chaos, watcher: SettleWatcher, last_kill: float, final_at: float | None
    ) -> Verdict:
        sandbox = self.env.sandbox.state()
        verdict = Verdict(
            bookings=len(self.bookings),
            sends=_count(s.kind for b in self.bookings for s in b.sends),
            reordered=sum(1 for b in self.bookings if b.sends and b.sends[0].revision != 1),
            unacknowledged=sum(1 for b in self.bookings for s in b.sends if s.acked_at is None),
            retried_sends=sum(1 for b in self.bookings for s in b.sends if len(s.statuses) > 1),
            replays_not_seen=sum(
                1 for b in self.bookings for s in b.sends if s.kind == "replay" and s.statuses[-1:] != [200]
            ),
            kills=_count(kill.kind for kill in chaos.kills),
            jobs_killed=0, recovery=[], recovery_to_site=[], unrecovered=0,
            last_kill_to_final=(final_at - last_kill) if final_at is not None else None,
            duplicates=0, lost=0, stuck=0, wrong=0, failed=0, undelivered=0, told_twice=0,
            slowest=self._slowest(watcher, last_kill), slowest_recovery="none",
            owed=self._owed(), leaks=self._leaks(), chaos_errors=chaos.errors, problems=[],
        )  # fmt: skip
        self._recovery(verdict, chaos, watcher)
        self._duplicates_in_call_log(verdict, sandbox)
        site_id = self.env.site["site_id"]
        delivered = self._delivered()
        for booking in self.bookings:
            record = self._r.hgetall(keys.booking(site_id, booking.booking_id))
            self._judge_booking(verdict, booking, record, sandbox, delivered)
        self._judge_results(verdict)
        return verdict

    def _slowest(self, watcher: SettleWatcher, last_kill: float) -> str:
        """Which booking was final last: when (after the last kill) it settled and the site had it."""
        told: dict[tuple[str, int], float] = {}
        for result in list(self.env.double.results):
            data = result.get("data") or {}
            if "booking_id" in data:
                key = (data["booking_id"], int(data["revision"]))
                told[key] = min(told.get(key, math.inf), result["received_at"])
        slowest, latest = "none", -math.inf
        for booking in self.bookings:
            wanted = booking.acked_revision
            settled = min(watcher.settled_at(booking.booking_id, wanted), default=math.inf)
            at = told.get((booking.booking_id, wanted), math.inf)
            if max(settled, at) > latest:
                latest = max(settled, at)
                slowest = (
                    f"{booking.booking_id} rev {wanted}: settled {settled - last_kill:+.1f}s, "
                    f"told {at - last_kill:+.1f}s after the last kill"
                )
        return slowest

    def _judge_results(self, verdict: Verdict) -> None:
        """No attempt gave up (the providers never refuse here), and no revision was settled twice."""
        messages: dict[tuple[str, int], set[str]] = {}
        for result in list(self.env.double.results):
            data = result.get("data") or {}
            if "booking_id" not in data:
                continue
            if result["type"] == "booking.sync_failed":
                verdict.failed += 1
                verdict.problems.append(f"{data['booking_id']} rev {data['revision']}: sync_failed")
            messages.setdefault((data["booking_id"], int(data["revision"])), set()).add(result["webhook_id"])
        for (booking_id, revision), ids in messages.items():
            if len(ids) > 1:
                verdict.told_twice += 1
                verdict.problems.append(f"{booking_id} rev {revision}: {len(ids)} results")

    def _recovery(self, verdict: Verdict, chaos: Chaos, watcher: SettleWatcher) -> None:
        """Per job running in a killed worker: how long until its work was done. A sync job's work is
        done when its booking has settled its revision (or a newer one), a delivery's when the site has
        its result; a job whose work was done before the kill landed is not counted."""
        results = list(self.env.double.results)
        for kill in chaos.kills:
            for job in kill.held:
                unsure = 0.0  # a settle seen this soon after the kill may have come before it
                if job.kind == "sync":
                    done = watcher.settled_at(job.booking_id, job.revision)
                    unsure = watcher.interval
                    told = [
                        r["received_at"] for r in results
                        if r["data"].get("booking_id") == job.booking_id
                        and int(r["data"].get("revision", 0)) >= job.revision
                    ]  # fmt: skip
                elif job.kind == "deliver":
                    done = [r["received_at"] for r in results if r["webhook_id"] == job.job_id]
                    told = []
                else:
                    continue
                if any(t < kill.at + unsure for t in done):
                    continue  # it had finished its work before the kill landed
                verdict.jobs_killed += 1
                if done:
                    took = min(done) - kill.at
                    if took >= max(verdict.recovery, default=0):
                        what = job.booking_id and f"{job.booking_id} rev {job.revision}"
                        about = job.booking_id or job.job_id
                        again = sum(
                            1 for later in chaos.kills if kill.at < later.at < min(done)
                            for held in later.held if (held.booking_id or held.job_id) == about
                        )  # fmt: skip
                        verdict.slowest_recovery = (
                            f"{job.kind} {what or job.job_id} ({kill.kind} kill, killed {again} more"
                            f" time(s) while recovering): {took:.1f}s"
                        )
                    verdict.recovery.append(took)
                else:
                    verdict.unrecovered += 1
                    verdict.problems.append(
                        f"killed {job.kind} job of {job.booking_id or job.job_id} never done"
                    )
                if told:
                    verdict.recovery_to_site.append(min(told) - kill.at)

    def _duplicates_in_call_log(self, verdict: Verdict, sandbox: dict) -> None:
        """Every successful Zoom create and Google insert in the call log is one booking's first."""
        calls = sandbox["calls"]
        creates = sum(
            1 for c in calls
            if c["provider"] == "zoom" and c["method"] == "POST" and c["path"].endswith("/meetings")
            and c["status"] == 201
        )  # fmt: skip
        inserts = sum(
            1 for c in calls
            if c["provider"] == "google" and c["method"] == "POST" and c["path"].endswith("/events")
            and c["status"] == 200
        )  # fmt: skip
        meetings = {m["agenda"] for m in sandbox["zoom_meetings"] if "MeetBridge" in (m.get("agenda") or "")}
        events = {e["id"] for e in sandbox["google_events"]}
        if sandbox["calls_total"] > len(calls):
            verdict.problems.append("the sandbox's call log overflowed: creates not checked")
            return
        if creates != len(meetings) or inserts != len(events):
            verdict.duplicates += abs(creates - len(meetings)) + abs(inserts - len(events))
            verdict.problems.append(
                f"{creates} Zoom creates for {len(meetings)} bookings' meetings, "
                f"{inserts} Google inserts for {len(events)} events"
            )

    def _judge_booking(self, verdict: Verdict, booking: Booking, record: dict, sandbox, delivered) -> None:
        bid, wanted = booking.booking_id, booking.acked_revision
        marker = _marker(self.env.site["site_id"], bid)
        meetings = [m for m in sandbox["zoom_meetings"] if marker in (m.get("agenda") or "")]
        live = [m for m in meetings if not m["deleted"]]
        eid = event_id(self.env.site["site_id"], bid)
        events = [e for e in sandbox["google_events"] if e["id"] == eid]
        if len(meetings) > 1 or len(events) > 1:
            verdict.duplicates += 1
            verdict.problems.append(f"{bid}: {len(meetings)} meetings made, {len(events)} events")
        if not wanted:
            return
        event_type, payload = booking.versions[wanted]
        rev, applied = int(record.get(b"rev", 0)), int(record.get(b"applied", 0))
        state = record.get(b"state")
        if rev < wanted:
            verdict.lost += 1
            verdict.problems.append(f"{bid}: acknowledged rev {wanted}, Redis has rev {rev}")
            return
        if state not in FINAL or applied < rev:
            verdict.stuck += 1
            verdict.problems.append(f"{bid}: rev {rev} {state!r}, applied {applied}")
            return
        if state == b"failed":
            verdict.failed += 1
            verdict.problems.append(f"{bid}: failed: {record.get(b'error', b'').decode()[:120]}")
        expected = "cancelled" if event_type == "booking.cancelled" else "synced"
        wrong = self._wrong(expected, state.decode(), payload, live, events)
        if wrong:
            verdict.wrong += 1
            verdict.problems.append(f"{bid} rev {wanted}: {wrong}")
        if delivered.get((bid, wanted)) != RESULT_OF[event_type]:
            verdict.undelivered += 1
            verdict.problems.append(f"{bid}: result for rev {wanted}: {delivered.get((bid, wanted))}")

    @staticmethod
    def _wrong(expected: str, state: str, payload: dict, live: list, events: list) -> str | None:
        confirmed = [e for e in events if e.get("status") != "cancelled"]
        if state != expected:
            return f"state {state}, expected {expected}"
        if expected == "cancelled":
            if live or confirmed:
                return f"cancelled with {len(live)} live meeting(s) and {len(confirmed)} live event(s)"
            return None
        start, end = (datetime.fromisoformat(payload[k]) for k in ("start", "end"))
        if len(live) != 1 or len(confirmed) != 1:
            return f"synced with {len(live)} live meeting(s) and {len(confirmed)} live event(s)"
        meeting, event = live[0], confirmed[0]
        meeting_start = datetime.strptime(meeting["start_time"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        minutes = math.ceil((end - start).total_seconds() / 60)
        if meeting_start != start or meeting["duration"] != minutes:
            return f"meeting at {meeting['start_time']} for {meeting['duration']} min"
        event_start = datetime.fromisoformat(event["start"]["dateTime"])
        event_end = datetime.fromisoformat(event["end"]["dateTime"])
        if (event_start, event_end) != (start, end):
            return f"event from {event_start.isoformat()} to {event_end.isoformat()}"
        return None

    def _owed(self) -> dict[str, int]:
        """What the operator's `flask --app service ledger` lists as owed."""
        out = subprocess.run(
            [str(processes.BIN / "flask"), "--app", "service", "ledger"],
            env=self.env.stack.env, capture_output=True, text=True, check=True, cwd=processes.ROOT,
        )  # fmt: skip
        listed = json.loads(out.stdout)
        return {kind: listed[kind]["owed"] for kind in ledger.KINDS}

    def _leaks(self) -> list[str]:
        """The first characters of each personal value found in Redis or a log (empty: none)."""
        stored = processes.redis_dump(self._r)
        logs = self.env.stack.logs()
        needles = [*signing.PERSONAL, "zoom.us/j/", "calendar/event?eid"]
        needles += [value for booking in self.bookings for value in booking.personal]
        return [n[:8] + "…" for n in needles if n.encode() in stored or n in logs]


def percentile(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile (None for no values)."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(len(ordered) * fraction) - 1))]


def _count(values) -> dict[str, int]:
    counted: dict[str, int] = {}
    for value in values:
        counted[value] = counted.get(value, 0) + 1
    return counted


def _marker(site_id: str, booking_id: str) -> str:
    import hashlib

    return "mb-" + hashlib.sha256(f"{site_id}|{booking_id}".encode()).hexdigest()[:20]


@contextmanager
def chaos_stack(folder: Path, config: Config, **env) -> Iterator[SiteStack]:
    """The stack a chaos run needs: Redis with `appendfsync always` (see the module docstring), the
    cron process (reconciler), a pool of `config.worker_processes` workers with the production
    maintenance interval, staff 7 linked to Zoom and Google."""
    with site_stack(
        folder,
        consent="approve",
        link=(("zoom", STAFF), ("google", STAFF)),
        redis_fsync="always",
        workers=1,
        cron=True,
        MEETBRIDGE_WORKER_PROCESSES=str(config.worker_processes),
        MEETBRIDGE_WORKER_MAINTENANCE_INTERVAL="30",
        SANDBOX_THREADS="32",
        **env,
    ) as running:
        yield running


def run(folder: Path, config: Config) -> Verdict:
    """A whole chaos run in a fresh stack under `folder`."""
    with chaos_stack(folder, config) as env:
        return Run(env, config).execute()
