"""Lease renewal against a real Redis: a lock released by its job while a renewal runs is not reported
as lost; a lock another owner took over is, and is renewed no more."""

from __future__ import annotations

import logging

import redis

from workers import leases


def _lock(r: redis.Redis, name: str = "mb:lock:test") -> leases.Lock:
    lock = leases.booking_lock(r, name, wait=0.1)
    assert lock.acquire()
    return lock


def test_a_lock_released_by_its_job_during_a_renewal_is_not_reported_lost(redis_url, caplog):
    r = redis.Redis.from_url(redis_url)
    renewer = leases._Renewer()
    lock = _lock(r)
    handle = renewer.hold(lock, "s1", "b1")
    held = list(renewer._held.items())  # the renewer's snapshot, taken before the job ends
    renewer.drop(handle)  # the job ends: drops its lease, then releases the lock
    lock.release()
    with caplog.at_level(logging.WARNING, logger="workers.leases"):
        for h, (lk, site, booking) in held:
            renewer._renew(h, lk, site, booking)
    assert [rec.getMessage() for rec in caplog.records] == []


def test_a_lock_taken_over_is_reported_lost_and_no_longer_renewed(redis_url, caplog):
    r = redis.Redis.from_url(redis_url)
    renewer = leases._Renewer()
    lock = _lock(r)
    handle = renewer.hold(lock, "s1", "b1")
    r.set("mb:lock:test", b"another-owner")  # it expired during a stall and someone else holds it
    with caplog.at_level(logging.WARNING, logger="workers.leases"):
        renewer._renew(handle, lock, "s1", "b1")
    assert [rec.getMessage() for rec in caplog.records] == [
        "booking lock of s1/b1 was lost; no longer renewing it"
    ]
    assert handle not in renewer._held
    assert r.get("mb:lock:test") == b"another-owner"


def test_a_held_lock_is_extended(redis_url):
    r = redis.Redis.from_url(redis_url)
    renewer = leases._Renewer()
    lock = _lock(r)
    handle = renewer.hold(lock, "s1", "b1")
    r.pexpire("mb:lock:test", 1000)
    renewer._renew(handle, lock, "s1", "b1")
    assert r.pttl("mb:lock:test") > 1000 * leases.LOCK_SECONDS - 2000
    renewer.drop(handle)
    lock.release()
