"""service.privacy.backups against a real Redis: the id list, applying erasures after a restore, and
how long snapshots are kept."""

from __future__ import annotations

import os
import time

import pytest

from service import vault_keys
from service.privacy import backups
from service.sites import registry
from service.storage import keys, redis_client


def seed(app) -> tuple[str, str]:
    with app.app_context():
        r = redis_client.get()
        kept = registry.create(r, vault_keys.get(), "Kept", "https://kept.example.com")["site_id"]
        gone = registry.create(r, vault_keys.get(), "Gone", "https://gone.example.com")["site_id"]
    for site_id in (kept, gone):
        for booking_id in ("1", "2"):
            r.hset(
                keys.booking(site_id, booking_id),
                mapping={"state": "synced", "zoom_id": f"z{site_id}{booking_id}"},
            )
            r.zadd(keys.MEETINGS_DUE, {f"{site_id}|{booking_id}": 1})
        r.sadd(keys.accounts(site_id), "zoom:7", "google:7")
        r.hset(keys.account(site_id, "zoom", "7"), "status", "active")
    return kept, gone


def test_apply_erasures_forgets_what_the_newer_id_list_no_longer_has(app):
    kept, gone = seed(app)
    r = redis_client.get(app)
    snapshot_at = time.time()
    # After the snapshot: booking 2 of `kept` erased, the account google:7 unlinked, site `gone` erased.
    newer = backups.id_list(r)
    newer["sites"].remove(gone)
    newer["bookings"][kept].remove("2")
    newer["accounts"][kept].remove("google:7")
    with app.app_context():
        report = backups.apply_erasures(r, newer, snapshot_at)
    assert report == {"sites": 1, "bookings": 3, "accounts": 3, "jobs": 0}
    assert r.exists(keys.booking(kept, "1")) and not r.exists(keys.booking(kept, "2"))
    assert r.smembers(keys.accounts(kept)) == {b"zoom:7"}
    assert not r.exists(keys.site(gone)) and gone.encode() not in r.smembers(keys.SITES)
    assert not list(r.scan_iter(match=keys.site_prefix(gone) + "*"))
    assert {m.decode() for m in r.zrange(keys.MEETINGS_DUE, 0, -1)} == {f"{kept}|1"}


def test_an_id_list_older_than_the_snapshot_is_refused(app):
    seed(app)
    r = redis_client.get(app)
    older = backups.id_list(r)
    with pytest.raises(ValueError, match="older than the snapshot"):
        backups.apply_erasures(r, {**older, "sites": []}, time.time())
    assert len(r.smembers(keys.SITES)) == 2  # nothing forgotten


def test_snapshots_are_kept_30_days(tmp_path):
    now = time.time()
    for name, age_days in (("meetbridge-a.rdb", 31), ("meetbridge-a.ids.json", 31), ("meetbridge-b.rdb", 29)):
        path = tmp_path / name
        path.write_bytes(b"x")
        os.utime(path, (now - age_days * 86400,) * 2)
    (tmp_path / backups.LATEST_IDS).write_text("{}")
    os.utime(tmp_path / backups.LATEST_IDS, (now - 90 * 86400,) * 2)
    assert backups.prune(tmp_path, backups.KEEP_DAYS, now) == ["meetbridge-a.ids.json", "meetbridge-a.rdb"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [backups.LATEST_IDS, "meetbridge-b.rdb"]
