"""The indexes erasure and export read, the erased booking's tombstone, and the writes that respect it,
against a real redis-server (the sandbox served in a thread where a provider is called).

Cost is checked by counting the commands Redis processed (`INFO stats`), not by timing: erasing a
booking and exporting a site must send the same commands whether 10 or 2,000 other bookings with queued
jobs are on the server."""

from __future__ import annotations

import json

import pytest
from rq import Queue
from rq.registry import ScheduledJobRegistry

from service import vault_keys
from service.accounts import vault
from service.bookings import intake, lifecycle
from service.bookings.records import event_aad
from service.linking import connect_links
from service.privacy import erasure
from service.sites import registry
from service.storage import keys, queues, redis_client
from tests import cleanup_env, signing
from workers import meeting, sync

sandbox_url = cleanup_env.sandbox_url  # fixtures
world = cleanup_env.world


@pytest.fixture
def ctx(app):
    with app.app_context():
        r = redis_client.get()
        site = registry.create(r, vault_keys.get(), "Shop", "https://shop.example.com")
        yield r, site["site_id"]


def accept(r, site_id: str, booking_id: str, revision: int = 1, webhook_id: str | None = None):
    """An event through the intake's own script (as the events route calls it)."""
    sealed = vault_keys.get().seal(
        json.dumps(signing.event()["booking"]).encode(), event_aad(site_id, booking_id, revision)
    )
    return intake.Intake(r, queues.SYNC, 60).accept(
        site_id=site_id, site_version=r.hget(keys.site(site_id), "ver").decode(),
        webhook_id=webhook_id or f"msg_{booking_id}_{revision}", event_type="booking.updated",
        booking_id=booking_id, revision=revision, sealed=sealed,
    )  # fmt: skip


def index_of(r, site_id: str, booking_id: str) -> set[str]:
    return {m.decode() for m in r.smembers(keys.booking_index(site_id, booking_id))}


def test_the_intake_indexes_the_booking_its_events_and_its_job(ctx):
    r, site_id = ctx
    assert accept(r, site_id, "b1", 2, "msg_a").status == "accepted"
    assert accept(r, site_id, "b1", 1, "msg_late").status == "stale_revision"
    job_id = r.hget(keys.booking(site_id, "b1"), "job").decode()
    assert index_of(r, site_id, "b1") == {"w:msg_a", "w:msg_late", f"j:{job_id}"}
    assert 0 < r.ttl(keys.booking_index(site_id, "b1")) <= keys.JOB_INDEX_SECONDS
    assert r.smembers(keys.site_bookings(site_id)) == {b"b1"}
    assert lifecycle.read_index(r, site_id, "b1") == (
        [job_id],
        sorted([keys.idempotency(site_id, "msg_a"), keys.idempotency(site_id, "msg_late")]),
    )


def test_an_erased_booking_takes_no_event_and_nothing_is_written(ctx):
    r, site_id = ctx
    accept(r, site_id, "gone")
    assert erasure.erase_booking(r, site_id, "gone")["jobs_removed"] == 1
    before = sorted(r.keys("*"))
    outcome = accept(r, site_id, "gone", 1, "msg_new_id")  # an old event with a new webhook-id
    assert outcome.status == "erased" and outcome.http_status == 202
    assert json.loads(outcome.body)["reason"] == "this booking was erased"
    assert sorted(r.keys("*")) == before  # no record, idempotency record, index or job
    assert accept(r, site_id, "gone", 9, "msg_newer").status == "erased"  # however new
    assert accept(r, site_id, "other").status == "accepted"


def test_a_job_writes_only_while_the_booking_and_its_site_exist(ctx):
    r, site_id = ctx
    accept(r, site_id, "w")
    assert lifecycle.hset_if_live(r, site_id, "w", {"zintent": 1})
    assert r.hget(keys.booking(site_id, "w"), "zintent") == b"1"
    assert not lifecycle.hset_if_live(r, site_id, "nobooking", {"zintent": 1})
    assert not r.exists(keys.booking(site_id, "nobooking"))
    r.delete(keys.site(site_id))  # the first step of a site's erasure
    assert not lifecycle.hset_if_live(r, site_id, "w", {"zoom_id": "1"})
    assert r.hget(keys.booking(site_id, "w"), "zoom_id") is None


def test_postponed_and_settled_jobs_are_indexed_and_an_erased_booking_gets_none(ctx):
    r, site_id = ctx
    accept(r, site_id, "p")
    sync._postpone(r, site_id, "p", 1, "booking.updated", b"sealed", 0, "busy", 30)
    postponed = r.hget(keys.booking(site_id, "p"), "job").decode()
    sync.settle(r, site_id, "p", 1, meeting.Outcome.failure("x"))
    (result,) = Queue(queues.DELIVER, connection=r).get_job_ids()
    assert {f"j:{postponed}", f"j:{result}"} <= index_of(r, site_id, "p")
    erasure.erase_booking(r, site_id, "p")
    assert ScheduledJobRegistry(queues.SYNC, connection=r).count == 0  # the postponed job went too
    assert Queue(queues.DELIVER, connection=r).count == 0
    sync._postpone(r, site_id, "p", 1, "booking.updated", b"sealed", 0, "busy", 30)
    sync.settle(r, site_id, "p", 1, meeting.Outcome.failure("late"))
    assert ScheduledJobRegistry(queues.SYNC, connection=r).count == 0
    assert Queue(queues.DELIVER, connection=r).count == 0
    assert not r.exists(keys.booking(site_id, "p")) and not r.exists(keys.booking_index(site_id, "p"))


def _commands(r) -> int:
    return int(r.info("stats")["total_commands_processed"])


def _cost(r, action) -> int:
    """Commands Redis processed for `action()` (the measuring INFO counts the same each time)."""
    before = _commands(r)
    action()
    return _commands(r) - before


@pytest.mark.parametrize("kind", ["erase", "export"])
def test_erasure_and_export_send_the_same_commands_whatever_else_is_stored(app, kind):
    costs = []
    for others in (10, 2000):
        redis_client.get(app).flushall()
        with app.app_context():
            r = redis_client.get()
            site = registry.create(r, vault_keys.get(), "Shop", "https://a.example.com")
            other = registry.create(r, vault_keys.get(), "Other", "https://b.example.com")["site_id"]
            for n in range(others):
                accept(r, other, f"o{n}")
                if n == others - 10:  # a booking's jobs sit near the end of the queue
                    for booking_id in ("x", "y", "z"):
                        accept(r, site["site_id"], booking_id)
            if kind == "erase":
                erasure.erase_booking(r, site["site_id"], "x")  # once before: scripts loaded, clients made
                costs.append(_cost(r, lambda r=r, s=site["site_id"]: erasure.erase_booking(r, s, "y")))
            else:
                path = f"/v1/sites/{site['site_id']}/export"
                answer = {}

                def export(path=path, secret=site["secret"], answer=answer):
                    headers = signing.request_headers(secret, "GET", path)
                    answer["a"] = app.test_client().get(path, headers=headers)

                export()
                costs.append(_cost(r, export))
                assert answer["a"].status_code == 200
                assert [b["booking_id"] for b in answer["a"].get_json()["bookings"]] == ["x", "y", "z"]
    assert costs[0] == costs[1], costs


def test_connect_links_and_oauth_states_are_indexed_and_go_with_their_site(ctx):
    r, site_id = ctx
    link = connect_links.Link(site_id, "zoom", "7", "https://shop.example.com/wp-admin/", 2e9)
    token = connect_links.create(r, link, 600)
    started = connect_links.start_consent(r, vault_keys.get(), link, "nonce")
    assert token and started
    named = {m.decode() for m in r.smembers(keys.site_connect(site_id))}
    assert named == {keys.connect_link(connect_links.digest(token)), keys.oauth_state(
        connect_links.digest(started[0]))}  # fmt: skip
    assert 0 < r.ttl(keys.site_connect(site_id)) <= 600
    erasure.erase_site(r, site_id)
    assert r.exists(*named, keys.site_connect(site_id)) == 0
    assert connect_links.create(r, link, 600) is None  # the site is gone: nothing is written
    assert connect_links.start_consent(r, vault_keys.get(), link, "nonce") is None
    assert r.keys("mb:connect:*") == [] and r.keys("mb:oauth:*") == []


def test_an_account_is_saved_only_while_its_site_exists(ctx):
    r, site_id = ctx
    token = {"access_token": "at", "refresh_token": "rt", "expires_in": 3600}
    assert vault.save(r, vault_keys.get(), site_id, "zoom", "7", token, ["s"], "uid")
    r.delete(keys.site(site_id))
    assert not vault.save(r, vault_keys.get(), site_id, "google", "7", token, ["s"])
    assert not r.exists(keys.account(site_id, "google", "7"))
    assert r.smembers(keys.accounts(site_id)) == {b"zoom:7"}


def test_export_drops_ids_whose_record_expired_and_keeps_tombstones(ctx):
    r, site_id = ctx
    for booking_id in ("live", "expired", "erased"):
        accept(r, site_id, booking_id)
    erasure.erase_booking(r, site_id, "erased")
    r.delete(keys.booking(site_id, "expired"))  # as Redis does at the end of the retention window
    assert lifecycle.prune_site_index(r, site_id, ["live", "expired", "erased"]) == 1
    assert r.smembers(keys.site_bookings(site_id)) == {b"live", b"erased"}


def test_over_the_limit_nothing_is_erased(world):
    from service.privacy import privacy_api

    w = world
    meeting_id = w.booking("kept", 2_000_000_000)
    limit, _window = privacy_api.LIMITS["erase"]
    for n in range(limit):
        assert _signed_delete(w, f"none{n}").status_code == 404
    answer = _signed_delete(w, "kept")
    assert answer.status_code == 429 and answer.get_json()["error"] == "rate_limited"
    assert w.r.exists(keys.booking(w.site_id, "kept")) and not w.meeting_deleted(meeting_id)


def _signed_delete(w, booking_id: str):
    path = f"/v1/sites/{w.site_id}/bookings/{booking_id}"
    return w.app.test_client().delete(path, headers=signing.request_headers(w.site["secret"], "DELETE", path))


def test_reindex_builds_the_indexes_of_data_stored_before_them(world):
    w = world
    w.booking("old", 2_000_000_000)  # synced: its result's delivery job is queued
    with w.app.app_context():
        accept(w.r, w.site_id, "old2")
    r = w.r
    result_job = Queue(queues.DELIVER, connection=r).get_job_ids()[0]
    sync_job = r.hget(keys.booking(w.site_id, "old2"), "job").decode()
    r.delete(keys.site_bookings(w.site_id), keys.booking_index(w.site_id, "old"),
             keys.booking_index(w.site_id, "old2"))  # fmt: skip
    out = w.app.test_cli_runner().invoke(args=["sites", "reindex"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {"bookings": 2, "idempotency_records": 1, "jobs": 2}
    assert r.smembers(keys.site_bookings(w.site_id)) == {b"old", b"old2"}
    assert index_of(r, w.site_id, "old") == {f"j:{result_job}"}
    assert index_of(r, w.site_id, "old2") == {f"j:{sync_job}", "w:msg_old2_1"}
