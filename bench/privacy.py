"""Privacy benchmark: erasing one booking and exporting one site with 10 vs 100,000 other bookings and
queued jobs on the server (issue 14: at most twice as long), and what the indexes that make this so cost
in Redis memory.

Redis is a real redis-server. The other bookings are accepted through the intake's own script (record,
idempotency record, indexes, a queued sync job each, spread over 100 other sites) in one process. The
measured site has 21 synced bookings, each with a real Zoom meeting and Google event at the sandbox
(served in this process, latency 0), recorded through the intake and the sync engine's `settle()`. Each
booking is erased through the route (signed `DELETE`, so the Zoom and Google deletes are in the time),
and the site is exported through its route twenty times, alternating between a server with 10 and one
with 100,000 other bookings; medians are reported.

Run alone: `python -m bench.privacy` (prints a JSON summary).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

from service import create_app, vault_keys
from service.accounts import vault
from service.bookings import intake
from service.bookings.records import event_aad
from service.providers.google_calendar import event_id
from service.sites import registry
from service.storage import keys, queues
from tests import processes, signing
from tests.cleanup_env import STAFF, World
from tests.sandbox.conftest import Sandbox
from workers import meeting, sync

SIZES = (10, 100_000)
MEASURED = 21  # the first is erased as a warm-up
EXPORTS = 20
OTHER_SITES = 100


def _accept(accepting: intake.Intake, r, site: dict, booking_id: str, sealed: bytes | None = None):
    payload = sealed or vault_keys.get().seal(
        json.dumps(signing.event(id=booking_id)["booking"]).encode(),
        event_aad(site["site_id"], booking_id, 1),
    )
    return accepting.accept(
        site_id=site["site_id"], site_version=site["ver"], webhook_id=f"msg_{site['site_id']}_{booking_id}",
        event_type="booking.created", booking_id=booking_id, revision=1, sealed=payload,
    )  # fmt: skip


def _site(r) -> dict:
    site = registry.create(r, vault_keys.get(), "Bench", "https://shop.example.com")
    site["ver"] = r.hget(keys.site(site["site_id"]), "ver").decode()
    return site


def _seed_others(r, accepting: intake.Intake, count: int) -> list[dict]:
    """`count` accepted bookings of other sites, each with its queued sync job (payloads alike: they never
    run; sealing each would only slow the seeding)."""
    sites = [_site(r) for _ in range(OTHER_SITES)]
    sealed = vault_keys.get().seal(b"{}", b"bench")
    for n in range(count):
        outcome = _accept(accepting, r, sites[n % OTHER_SITES], f"o{n}", sealed)
        assert outcome.status == "accepted", outcome
    return sites


def _quiet(r) -> None:
    """Let Redis finish the append-only file rewrite the bulk load set off, so it is not timed."""
    r.bgrewriteaof()
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        info = r.info("persistence")
        if not info["aof_rewrite_in_progress"] and not info["aof_rewrite_scheduled"]:
            return
        time.sleep(0.2)


def _measured_site(w: World, r, accepting: intake.Intake, site: dict) -> list[str]:
    """The measured site's bookings: accepted, then synced with a real meeting and event each."""
    booking_ids = [f"m{n}" for n in range(MEASURED)]
    end = int(time.time()) + 86400
    for booking_id in booking_ids:
        assert _accept(accepting, r, site, booking_id).status == "accepted"
        created = w.zoom().create(w.zoom_token["access_token"], {"topic": "Call", "type": 2, "duration": 30})
        gid = event_id(site["site_id"], booking_id)
        w.sb_google_insert(gid, end)
        outcome = meeting.Outcome(
            state="synced", zoom_id=str(created["id"]), join_url=created["join_url"], event_id=gid,
            html_link="https://calendar.example/event?eid=x", start=end - 1800, end=end, staff_id=STAFF,
        )  # fmt: skip
        sync.settle(r, site["site_id"], booking_id, 1, outcome)
    return booking_ids


def _signed(w: World, secret: str, method: str, path: str):
    headers = signing.request_headers(secret, method, path)
    return w.app.test_client().open(path, method=method, headers=headers)


class _Server:
    """One redis-server and app holding `others` bookings of other sites and the measured site."""

    def __init__(self, folder: Path, sandbox: Sandbox, tokens: tuple[dict, dict], others: int):
        self.others = others
        self.redis = processes.RedisServer(folder / "redis")
        self.redis.start()
        app = create_app({"TESTING": True, "REDIS_URL": self.redis.url, "MEETBRIDGE_DATA_DIR": str(folder),
                          "MEETBRIDGE_SANDBOX_URL": sandbox.base})  # fmt: skip
        self.w = World(app, sandbox, {}, *tokens)
        r = self.w.r
        with app.app_context():
            accepting = intake.Intake(r, queues.SYNC, 120)
            started = time.perf_counter()
            other_sites = _seed_others(r, accepting, others)
            self.seed_seconds = time.perf_counter() - started
            self.site = _site(r)
            vault.save(
                r, vault_keys.get(), self.site["site_id"], "zoom", STAFF, self.w.zoom_token, ["s"], "u1"
            )
            vault.save(r, vault_keys.get(), self.site["site_id"], "google", STAFF, self.w.google_token, ["s"])
            self.booking_ids = _measured_site(self.w, r, accepting, self.site)
        self.queued = r.llen("rq:queue:sync")
        self.memory = _index_memory(r, other_sites[0]["site_id"])
        _quiet(r)
        self.erasures: list[float] = []
        self.exports: list[float] = []

    def export(self) -> None:
        site_id = self.site["site_id"]
        self.w.r.delete(keys.rate_limit(site_id, "export"))
        begin = time.perf_counter()
        answer = _signed(self.w, self.site["secret"], "GET", f"/v1/sites/{site_id}/export")
        self.exports.append(time.perf_counter() - begin)
        assert answer.status_code == 200 and len(answer.get_json()["bookings"]) == len(self.booking_ids)

    def erase(self) -> None:
        booking_id = self.booking_ids.pop()
        begin = time.perf_counter()
        answer = _signed(
            self.w, self.site["secret"], "DELETE", f"/v1/sites/{self.site['site_id']}/bookings/{booking_id}"
        )
        self.erasures.append(time.perf_counter() - begin)
        body = answer.get_json()
        assert answer.status_code == 200, body
        assert (body["zoom_meeting"], body["google_event"], body["jobs_removed"]) == ("deleted", "deleted", 2)

    def figures(self) -> dict:
        erase, export = statistics.median(self.erasures), statistics.median(self.exports)
        return {
            "others": self.others, "queued_sync_jobs": self.queued, "seed_s": round(self.seed_seconds, 1),
            "erase_ms": erase * 1000, "export_ms": export * 1000, "memory": self.memory,
            "erase_ms_max": max(self.erasures) * 1000, "export_ms_max": max(self.exports) * 1000,
        }  # fmt: skip


def _index_memory(r, other_site: str) -> dict:
    """Bytes the indexes add: a booking's index after one event, and one member of a site's index."""
    site_index = keys.site_bookings(other_site)
    per_member = r.memory_usage(site_index, samples=0) / r.scard(site_index)
    site_id, booking_id = "site_probe", "o1"
    r.sadd(keys.booking_index(site_id, booking_id), "w:msg_0123456789abcdef0123456789abcdef", "j:" + "0" * 36)
    booking_index = r.memory_usage(keys.booking_index(site_id, booking_id), samples=0)
    r.delete(keys.booking_index(site_id, booking_id))
    return {"site_index_bytes_per_booking": round(per_member, 1), "booking_index_bytes": booking_index}


def measure(folder: Path) -> dict:
    """Both servers are built first; then exports and erasures alternate between them, so background load
    on the machine falls on both alike (a warm-up of each first)."""
    from bench.cleanup import _serve_sandbox

    os.environ.setdefault("AUTHLIB_INSECURE_TRANSPORT", "1")
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server, base = _serve_sandbox()
    servers: list[_Server] = []
    try:
        sb = Sandbox(base)
        sb.knob("daily-limit", {"limit": 10_000_000})
        sb.knob("latency", {"ms": 0})
        tokens = (sb.zoom_token(), sb.google_token())
        servers = [_Server(folder / f"n{others}", sb, tokens, others) for others in SIZES]
        for each in servers:  # warm-up: first requests build clients and load scripts
            each.export()
            each.erase()
            each.exports.clear()
            each.erasures.clear()
        for _ in range(EXPORTS):
            for each in servers:
                each.export()
        while servers[0].booking_ids:
            for each in servers:
                each.erase()
        scenarios = [each.figures() for each in servers]
    finally:
        for each in servers:
            each.redis.stop()
        server.shutdown()
    small, large = scenarios
    return {
        "scenarios": scenarios,
        "erase_ratio": large["erase_ms"] / small["erase_ms"],
        "export_ratio": large["export_ms"] / small["export_ms"],
    }


def report_lines(result: dict) -> list[str]:
    small, large = result["scenarios"]
    memory = large["memory"]
    lines = [
        "## Privacy: erasure and export cost what the booking or site holds (issue 14)",
        "",
        f"One site with {MEASURED} synced bookings (a Zoom meeting and a Google event each at the sandbox, "
        f"latency 0) among other bookings accepted through the intake's script (each with its queued sync "
        f"job, over {OTHER_SITES} other sites), on two redis-servers built first; then the runs alternate "
        f"between them. Erasing one booking: signed `DELETE` through the route, its meeting and event "
        f"deleted at the sandbox (median of {MEASURED - 1}, after one warm-up); exporting the site: signed "
        f"`GET …/export` (median of {EXPORTS}). Target: the 100,000 case at most twice the 10 case.",
        "",
        "| other bookings | queued sync jobs | erase one booking | (max) | export one site | (max) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    for s in (small, large):
        lines.append(
            f"| {s['others']:,} | {s['queued_sync_jobs']:,} | {s['erase_ms']:.1f} ms "
            f"| {s['erase_ms_max']:.1f} ms | {s['export_ms']:.1f} ms | {s['export_ms_max']:.1f} ms |"
        )
    lines += [
        "",
        f"Ratio 100,000 / 10: erase **{result['erase_ratio']:.2f}**, export **{result['export_ratio']:.2f}** "
        "(target ≤ 2).",
        "",
        f"What the indexes cost: about {memory['site_index_bytes_per_booking']:.0f} B per booking in its "
        f"site's index (kept while the record is), and {memory['booking_index_bytes']} B for a booking's "
        "own index after one event (an idempotency record and a job named; it expires 9 days after its "
        "last addition).",
        "",
    ]
    return lines


def main() -> dict:
    with tempfile.TemporaryDirectory(prefix="meetbridge-bench-privacy-") as tmp:
        result = measure(Path(tmp))
    print(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
