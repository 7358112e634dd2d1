"""Leases of a running sync job: its booking lock and its ledger entry, renewed while it works.

The booking lock lives `LOCK_SECONDS`, not the job's whole timeout: a background thread of the worker
process extends it every `RENEW_EVERY` seconds (and pushes back the booking's next look in the
ledger) for as long as the job runs. A worker killed at any line stops renewing, so its lock is gone
within `LOCK_SECONDS` and the reconciler finds the booking due soon after, instead of waiting for a
job timeout. A renewal that finds the lock taken over (it expired during a stall) stops renewing it.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager

import redis
from redis.lock import Lock

from service.storage import ledger

log = logging.getLogger(__name__)

#: Lifetime of a booking lock between renewals.
LOCK_SECONDS = 15
#: How often a running job's lock and ledger entry are renewed.
RENEW_EVERY = 5.0


class _Renewer:
    """One daemon thread per worker process, renewing every lease held by the process's jobs."""

    def __init__(self):
        self._held: dict[int, tuple[Lock, str, str]] = {}
        self._guard = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wake = threading.Event()

    def hold(self, lock: Lock, site_id: str, booking_id: str) -> int:
        with self._guard:
            handle = id(lock)
            self._held[handle] = (lock, site_id, booking_id)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="lease-renewer", daemon=True)
                self._thread.start()
            return handle

    def drop(self, handle: int) -> None:
        with self._guard:
            self._held.pop(handle, None)

    def _run(self) -> None:
        while not self._wake.wait(RENEW_EVERY):
            with self._guard:
                held = list(self._held.items())
            for handle, (lock, site_id, booking_id) in held:
                self._renew(handle, lock, site_id, booking_id)

    def _renew(self, handle: int, lock: Lock, site_id: str, booking_id: str) -> None:
        try:
            lock.reacquire()
            pipe = lock.redis.pipeline(transaction=False)
            ledger.renew(pipe, "bookings", site_id, booking_id)
            pipe.execute()
        except redis.exceptions.RedisError as exc:
            if not self._holds(handle):
                return  # the job finished and released it while this renewal ran: nothing was lost
            if isinstance(exc, redis.exceptions.LockError):
                log.warning("booking lock of %s/%s was lost; no longer renewing it", site_id, booking_id)
                self.drop(handle)
            else:
                log.warning("booking lock of %s/%s not renewed: %s", site_id, booking_id, type(exc).__name__)

    def _holds(self, handle: int) -> bool:
        with self._guard:
            return handle in self._held


_RENEWER = _Renewer()


@contextmanager
def renewed(lock: Lock, site_id: str, booking_id: str):
    """Keep `lock` (already acquired) and the booking's ledger entry alive while the block runs."""
    handle = _RENEWER.hold(lock, site_id, booking_id)
    try:
        yield
    finally:
        _RENEWER.drop(handle)


def booking_lock(r: redis.Redis, key: str, wait: float) -> Lock:
    """The booking's lock: `LOCK_SECONDS` long, renewed by `renewed`, waiting at most `wait` for it."""
    # Not thread-local: the renewing thread must see the token the job's thread acquired with.
    return r.lock(key, timeout=LOCK_SECONDS, blocking_timeout=wait, thread_local=False)
