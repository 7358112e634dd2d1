"""Token refresh through the real stack: 4 RQ workers race for one expiring Zoom token (exactly one
refresh reaches the sandbox, the newest refresh token is the one kept), a refresh that outlives its lock
(held at the sandbox) neither marks the account `needs_relink` nor overwrites the newer token, and a
revoked grant turns the account `needs_relink` and tells the site with a signed `account.needs_relink`
result."""

from __future__ import annotations

import time

import pytest
from rq import Queue
from rq.job import Job, JobStatus

from service.storage import keys
from service.storage.queues import MAINTENANCE
from tests import processes
from tests.site_stack import SiteStack, assert_not_in_the_clear, site_stack, stored_token

pytestmark = pytest.mark.stack

CHECK = "workers.accounts.check_account"


class Env(SiteStack):
    def refreshes(self) -> int:
        return self.sandbox.state()["token_refreshes"]["zoom"]

    def check(self, staff: str, count: int = 1) -> list[dict]:
        """Run `count` check_account jobs on the stack's workers; their results."""
        queue = Queue(MAINTENANCE, connection=self.r)
        jobs = [queue.enqueue(CHECK, self.site["site_id"], "zoom", staff) for _ in range(count)]
        ids = [job.id for job in jobs]

        def settled():
            fetched = Job.fetch_many(ids, connection=self.r)
            states = [job.get_status() for job in fetched]
            done = all(state in (JobStatus.FINISHED, JobStatus.FAILED) for state in states)
            return fetched if done else None

        fetched = processes.wait_for(settled, timeout=90, what=f"{count} check_account jobs")
        failed = [job.id for job in fetched if job.get_status() != JobStatus.FINISHED]
        assert not failed, self.stack.logs()[-4000:]
        return [job.return_value() for job in fetched]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    with site_stack(tmp_path_factory.mktemp("tokens"), Env, consent="approve", workers=4) as running:
        yield running


def link_zoom(env, staff: str, ttl: int) -> dict:
    env.sandbox.post("token-ttl", {"seconds": ttl})
    try:
        assert env.linker.link("zoom", staff)["meetbridge_status"] == "connected"
    finally:
        env.sandbox.post("token-ttl", {"seconds": 3599})
    return stored_token(env.stack, env.r, env.site["site_id"], "zoom", staff)


def test_fifty_jobs_share_one_refresh_and_keep_the_newest_refresh_token(env):
    # Issued for 30 s: every worker sees it expiring within the 60 s margin.
    first = link_zoom(env, "race", ttl=30)
    before = env.refreshes()
    started = time.monotonic()
    outcomes = env.check("race", 50)
    elapsed = time.monotonic() - started
    assert [o["status"] for o in outcomes] == ["ok"] * 50
    assert env.refreshes() == before + 1, "more than one refresh reached the sandbox"
    stored = stored_token(env.stack, env.r, env.site["site_id"], "zoom", "race")
    assert stored["refresh_token"] != first["refresh_token"] and stored["expires_at"] > time.time() + 3000
    print(f"50 jobs on 4 workers in {elapsed:.1f}s")

    # The stored refresh token is the live one: a forced refresh (the provider expires the access
    # token early, the job gets a 401) succeeds with it, and rotates it again.
    env.sandbox.post("expire-access-tokens")
    assert env.check("race") == [{"provider": "zoom", "staff_id": "race", "status": "ok"}]
    assert env.refreshes() == before + 2
    newest = stored_token(env.stack, env.r, env.site["site_id"], "zoom", "race")
    assert newest["refresh_token"] not in (first["refresh_token"], stored["refresh_token"])


def test_tokens_expired_at_the_provider_are_refreshed_once_for_many_jobs(env):
    link_zoom(env, "early", ttl=3599)
    env.sandbox.post("expire-access-tokens")
    before = env.refreshes()
    assert {o["status"] for o in env.check("early", 20)} == {"ok"}
    assert env.refreshes() == before + 1


def _enqueue(env, provider: str, staff: str):
    return Queue(MAINTENANCE, connection=env.r).enqueue(CHECK, env.site["site_id"], provider, staff)


def _finished(env, job) -> dict:
    def done():
        job.refresh()
        return job.get_status() in (JobStatus.FINISHED, JobStatus.FAILED)

    processes.wait_for(done, timeout=60, what="a check_account job")
    assert job.get_status() == JobStatus.FINISHED, env.stack.logs()[-4000:]
    return job.return_value()


def _outlive_the_lock(env, provider: str, staff: str):
    """Job A's refresh is held at the provider while its lock lapses (deleted: its expiry brought forward);
    job B then takes the lock, refreshes and stores a newer token before A's answer comes back."""
    token_path = f"/{provider}/" + ("oauth/token" if provider == "zoom" else "token")
    env.sandbox.post("delays", {"ms": 4000, "match": token_path, "count": 1})
    first = _enqueue(env, provider, staff)
    processes.wait_for(
        lambda: not env.sandbox.state()["knobs"]["delays"], timeout=30, what="A at the provider"
    )
    lock = keys.account_lock(env.site["site_id"], provider, staff)
    assert env.r.delete(lock) == 1
    second = _enqueue(env, provider, staff)
    assert _finished(env, second)["status"] == "ok"
    newer = stored_token(env.stack, env.r, env.site["site_id"], provider, staff)
    return first, newer


def test_a_refresh_that_outlives_its_lock_never_marks_a_healthy_account_needs_relink(env):
    # Zoom rotates refresh tokens: B's refresh used A's refresh token up, so A's late answer is invalid_grant.
    link_zoom(env, "fenced", ttl=30)
    before = env.refreshes()
    relinks = len([r for r in env.double.results if r["type"] == "account.needs_relink"])
    first, newer = _outlive_the_lock(env, "zoom", "fenced")
    assert _finished(env, first)["status"] == "ok"  # A used B's token instead
    assert env.refreshes() == before + 1  # B's; A's was refused
    assert {a["staff_id"]: a["status"] for a in env.linker.accounts()}["fenced"] == "active"
    assert stored_token(env.stack, env.r, env.site["site_id"], "zoom", "fenced") == newer
    time.sleep(1)
    assert len([r for r in env.double.results if r["type"] == "account.needs_relink"]) == relinks
    env.sandbox.post("expire-access-tokens")  # the stored refresh token is the live one
    assert env.check("fenced") == [{"provider": "zoom", "staff_id": "fenced", "status": "ok"}]


def test_a_refresh_that_outlives_its_lock_never_overwrites_a_newer_token(env):
    # Google keeps the refresh token: A's late refresh succeeds too, and must not replace B's newer token.
    env.sandbox.post("token-ttl", {"seconds": 30})
    try:
        assert env.linker.link("google", "gfenced")["meetbridge_status"] == "connected"
    finally:
        env.sandbox.post("token-ttl", {"seconds": 3599})
    first, newer = _outlive_the_lock(env, "google", "gfenced")
    assert _finished(env, first)["status"] == "ok"
    assert stored_token(env.stack, env.r, env.site["site_id"], "google", "gfenced") == newer


def test_a_revoked_grant_needs_relinking_and_the_site_is_told(env):
    token = link_zoom(env, "revoked", ttl=3599)
    env.sandbox.post("revoke-all")
    env.sandbox.post("expire-access-tokens")
    assert {o["status"] for o in env.check("revoked", 3)} == {"needs_relink"}
    accounts = {a["staff_id"]: a["status"] for a in env.linker.accounts()}
    assert accounts["revoked"] == "needs_relink"  # kept, never deleted
    result = env.double.wait_for_result("account.needs_relink")
    assert result["data"] == {"provider": "zoom", "staff_id": "revoked", "reason": "invalid_grant"}
    assert result["webhook_id"].startswith("msg_") and result["timestamp"].endswith("Z")
    assert not env.double.rejected  # the signature checked out with the site's secret
    time.sleep(1)
    assert len([r for r in env.double.results if r["type"] == "account.needs_relink"]) == 1  # told once

    needles = [token["access_token"], token["refresh_token"], env.site["secret"], "sandbox-zoom-secret"]
    needles.append("sam.staff@example.com")
    assert_not_in_the_clear(env.r, env.stack.logs(), needles)
