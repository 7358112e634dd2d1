"""End to end, issue 18 (the WordPress side): a staff member moved or deleted a booking's meeting in
Google Calendar or Zoom, and MeetBridge tells the site with a signed `booking.changed` result. The result
is queued and delivered by the real MeetBridge (its `enqueue_result`, its RQ worker signing with the
site's secret, its retries) to the real plugin's results route in a real WordPress (MariaDB, php -S);
Easy Appointments 3.12.23 as observed (tests/wordpress/fixtures) in a site in Europe/Berlin; a browser
(Debian's Chromium) does what the admin does: sees the notice and the bookings page, turns on "Apply
changes made in Google Calendar or Zoom", looks at the appointment in Easy Appointments' list.

The first tests have MeetBridge queue each result as its change handlers do, to go through every kind
of change; the last one makes the change as the staff member would, in the sandbox's Google Calendar and
Zoom, and MeetBridge finds it (its watch channel's push notification, Zoom's webhook) and tells the site
on its own."""

from __future__ import annotations

import re
import subprocess
import time

import pytest

from tests import browser, processes
from tests.wordpress import admin_flow
from tests.wordpress.conftest import require_wordpress
from tests.wordpress.meetbridge_world import start_world
from tests.wordpress.test_e2e import column

pytestmark = pytest.mark.stack

ADMIN_ID = "1"
ZOOM_SECRET = "sandbox-zoom-webhook"  # noqa: S105 - development mode's ZOOM_WEBHOOK_SECRET_TOKEN
SHOTS = browser.ARTIFACTS / "wordpress"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    require_wordpress()
    browser.require_chromium()
    world = start_world(tmp_path_factory.mktemp("changes"))
    try:
        world.sandbox.post("consent", {"mode": "approve", "email": "admin@example.com"})
        for provider in ("google", "zoom"):
            world.linker.press_continue(world.linker.link_url(provider, ADMIN_ID))
        world.wp.php("MeetBridge_EA_Double::install( 'admin@example.com', 300 ); return true;")
        yield world
    finally:
        world.stop()


def row(world, booking_id: str) -> dict | None:
    return world.wp.php(f"return MeetBridge_Bookings::get( '{booking_id}' );")


def appointment(world, app_id: int) -> dict:
    return world.wp.php(f"return MeetBridge_EA_Double::row( {app_id} );")


def wait(what: str, check, timeout: float = 60):
    return processes.wait_for(check, timeout=timeout, interval=0.3, what=what)


def settled(world, booking_id: str, state: str, revision: int) -> dict:
    def done():
        current = row(world, booking_id)
        ok = current and current["state"] == state and int(current["result_revision"]) >= revision
        return current if ok else None

    return wait(f"{booking_id} {state} rev {revision}", done)


def book(world, date: str, start: str, email: str) -> tuple[int, dict]:
    """Booked through Easy Appointments' form, confirmed by the customer's link; synced at MeetBridge."""
    app_id = world.wp.php(f"return MeetBridge_EA_Double::book( '{date}', '{start}', '{email}' );")
    world.wp.php(f"return MeetBridge_EA_Double::confirm_by_link( {app_id} );")
    return app_id, settled(world, f"ea-{app_id}", "synced", 1)


def changed(synced: dict, sequence: int, **fields) -> dict:
    """The `data` of a `booking.changed` as the contract has it (the booking's current items)."""
    data = {
        "booking_id": synced["booking_id"],
        "revision": int(synced["result_revision"]),
        "change_id": f"chg_{'A' * 21}{sequence}",
        "sequence": sequence,
        "provider": "google",
        "kind": "moved",
        "policy": "report",
        "state": "synced",
        "resend": False,
        "zoom": {"meeting_id": synced["meeting_id"], "join_url": synced["join_url"]},
        "google": {"event_id": synced["event_id"], "html_link": synced["event_link"]},
        "changed_at": "2030-03-20T09:00:00Z",
    }
    data.update(fields)
    return data


def applied(world, booking_id: str, sequence: int) -> dict:
    def done():
        current = row(world, booking_id)
        return current if current and int(current["change_sequence"]) >= sequence else None

    return wait(f"{booking_id} change {sequence}", done)


def meeting(world, meeting_id: str) -> dict:
    [found] = [m for m in world.sandbox.state()["zoom_meetings"] if str(m["id"]) == str(meeting_id)]
    return found


def test_changes_are_reported_and_applied_to_easy_appointments_when_the_site_opts_in(world):
    # A: a move with the setting off (the default) is only reported.
    a_id, a = book(world, "2030-03-29", "10:00", "ana@example.com")  # Friday, CET (UTC+1)
    hook = world.wp.php("return has_action( 'meetbridge_booking_changed' ) !== false;")
    assert hook, "the Easy Appointments adapter listens"
    world.send_result(
        "booking.changed", changed(a, 1, start="2030-04-02T08:00:00Z", end="2030-04-02T08:30:00Z")
    )
    a = applied(world, f"ea-{a_id}", 1)
    assert (a["change_kind"], a["change_provider"], a["change_seen"]) == ("moved", "google", "0")
    assert a["starts_at"] == "2030-03-29T10:00:00+01:00", "the appointment's own time: it did not move"
    ea = appointment(world, a_id)
    assert (ea["date"], ea["start"], ea["status"]) == ("2030-03-29", "10:00:00", "confirmed")
    with browser.page(width=1100, height=700) as page:
        admin_flow.log_in(world, page)
        page.goto(world.wp.url + "/wp-admin/")
        notice = page.locator(".notice.meetbridge-changes")
        notice.get_by_text("Moved in Google Calendar to 2 Apr 10:00–10:30 (site time)").wait_for()
        page.screenshot(path=str(SHOTS / "changes-1-notice.png"))
        notice.get_by_role("link", name=f"Consultation (ea-{a_id})").click()
        page.wait_for_url(
            re.compile(rf".*/wp-admin/admin\.php\?page=meetbridge#meetbridge-booking-ea-{a_id}$")
        )
        cell = page.locator(f"tr[data-booking-id='ea-{a_id}'] td.meetbridge-change")
        assert cell.inner_text() == "Moved in Google Calendar to 2 Apr 10:00–10:30 (site time) (new)"
        page.screenshot(path=str(SHOTS / "changes-2-bookings-page.png"))
        page.goto(world.wp.url + "/wp-admin/")
        assert page.locator(".notice.meetbridge-changes").count() == 0, "seen on the bookings page"

        # The admin turns "Apply changes made in Google Calendar or Zoom" on.
        page.goto(world.wp.url + "/wp-admin/admin.php?page=meetbridge-settings")
        page.get_by_label("Apply changes made in Google Calendar or Zoom").check()
        page.locator("input[name='meetbridge_settings[external_delete]'][value='report']").wait_for()
        page.get_by_role("button", name="Save settings").click()
        page.get_by_text("Settings saved.").wait_for()
        assert page.get_by_label("Apply changes made in Google Calendar or Zoom").is_checked()
    assert world.wp.php("return MeetBridge_Settings::ea_apply_changes();") is True

    # B: moved in Google Calendar across the change to summer time: the appointment moves, in site time.
    b_id, b = book(world, "2030-03-29", "11:00", "ben@example.com")
    world.send_result(
        "booking.changed", changed(b, 1, start="2030-04-02T09:00:00Z", end="2030-04-02T09:30:00Z")
    )
    applied(world, f"ea-{b_id}", 1)
    ea = wait(
        f"appointment {b_id} moved",
        lambda: (lambda app: app if app["date"] == "2030-04-02" else None)(appointment(world, b_id)),
    )
    assert (ea["start"], ea["end"], ea["end_date"], ea["status"]) == (
        "11:00:00",
        "11:30:00",
        "2030-04-02",
        "confirmed",
    )
    # The adapter sent the appointment as usual (booking.updated, revision 2) with the change's times.
    b = settled(world, f"ea-{b_id}", "synced", 2)
    assert meeting(world, b["meeting_id"])["start_time"] == "2030-04-02T09:00:00Z"
    sent = column(
        world, "SELECT event_type FROM wp_meetbridge_outbox WHERE booking_id = %s ORDER BY id", f"ea-{b_id}"
    )
    assert sent == ["booking.created", "booking.updated"]

    # An older change delivered late: acknowledged and ignored (nothing moves, nothing is sent).
    world.send_result(
        "booking.changed", changed(b, 1, start="2030-04-05T09:00:00Z", end="2030-04-05T09:30:00Z")
    )
    # B's Zoom meeting deleted in Zoom, policy "report": the join link goes, the appointment stays.
    world.send_result(
        "booking.changed", changed(b, 2, provider="zoom", kind="deleted", state="partial", zoom=None)
    )
    b = applied(world, f"ea-{b_id}", 2)
    assert b["join_url"] is None and b["event_link"]
    assert appointment(world, b_id)["date"] == "2030-04-02"
    # A: deleted in Google Calendar with the policy "cancel": the appointment is cancelled.
    world.send_result(
        "booking.changed",
        changed(a, 2, kind="deleted", state="cancelled", policy="cancel", zoom=None, google=None),
    )
    a = applied(world, f"ea-{a_id}", 2)
    wait(f"appointment {a_id} cancelled", lambda: appointment(world, a_id)["status"] == "canceled")
    settled(world, f"ea-{a_id}", "cancelled", 2)

    with browser.page(width=1100, height=760) as page:
        admin_flow.log_in(world, page)
        page.goto(world.wp.url + "/wp-admin/admin.php?page=easy_app_top_level")
        moved = page.locator(f"tr[data-app-id='{b_id}']")
        assert [moved.locator(f"td.{c}").inner_text() for c in ("date", "start", "end", "status")] == [
            "2030-04-02",
            "11:00",
            "11:30",
            "confirmed",
        ]
        assert page.locator(f"tr[data-app-id='{a_id}'] td.status").inner_text() == "canceled"
        page.screenshot(path=str(SHOTS / "changes-3-easy-appointments.png"))
        page.goto(world.wp.url + "/wp-admin/admin.php?page=meetbridge")
        cells = {
            app: page.locator(f"tr[data-booking-id='ea-{app}'] td.meetbridge-change").inner_text()
            for app in (a_id, b_id)
        }
        assert cells == {
            a_id: "Google Calendar event deleted in Google Calendar — booking cancelled (new)",
            b_id: "Zoom meeting deleted in Zoom — reported (new)",
        }
        page.screenshot(path=str(SHOTS / "changes-4-bookings-page.png"), full_page=True)
    assert world.wp.plugin_log_lines() == []


def test_a_resend_sends_the_booking_again(world):
    c_id, c = book(world, "2030-05-06", "09:00", "cem@example.com")
    world.send_result(
        "booking.changed",
        changed(c, 1, provider="zoom", kind="deleted", state="recreating", policy="recreate", resend=True,
                zoom=None),
    )  # fmt: skip
    settled(world, f"ea-{c_id}", "synced", 2)  # sent again as booking.updated, revision 2, and synced
    assert row(world, f"ea-{c_id}")["change_state"] == "recreating"
    assert world.wp.plugin_log_lines() == []


def test_the_delete_policy_is_saved_at_meetbridge_from_the_settings_page(world):
    """The settings page PUTs `{"external_delete": …}` to MeetBridge's signed settings route, and
    keeps the choice once MeetBridge has stored it."""
    export = f"/v1/sites/{world.site['site_id']}/export"
    cancel = "Cancel the booking: MeetBridge deletes the other item too"
    with browser.page(width=1100, height=900) as page:
        admin_flow.log_in(world, page)
        page.goto(world.wp.url + "/wp-admin/admin.php?page=meetbridge-settings")
        page.get_by_label(cancel).check()
        page.get_by_role("button", name="Save settings").click()
        page.get_by_text("Settings saved.").wait_for()
        assert page.get_by_label(cancel).is_checked()
        page.screenshot(path=str(SHOTS / "changes-5-delete-policy.png"), full_page=True)
    settings = world.linker.signed("GET", export).json()["settings"]
    assert settings.get("external_delete") == "cancel"
    assert world.wp.php("return MeetBridge_Settings::external_delete();") == "cancel"


def quiet(world) -> None:
    """Until MeetBridge's queues are empty and nothing runs (the providers' echoes of its own writes
    included), twice in a row a second apart."""
    from rq import Queue
    from rq.registry import StartedJobRegistry

    from service.storage.queues import ALL

    r = world.redis.client()

    def idle() -> bool:
        return all(
            not Queue(name, connection=r).count and not StartedJobRegistry(name, connection=r).count
            for name in ALL
        )

    def twice() -> bool:
        if not idle():
            return False
        time.sleep(1)
        return idle()

    wait("a quiet MeetBridge", twice)


def provider_writes(world) -> tuple[int, int]:
    calls = world.sandbox.state()["calls"]
    zoom = sum(1 for c in calls if c["method"] == "PATCH" and "/zoom/v2/meetings/" in c["path"])
    google = sum(1 for c in calls if c["method"] in ("PUT", "PATCH") and "/events/" in c["path"])
    return zoom, google


def test_moved_in_google_calendar_and_deleted_in_zoom_by_the_staff_member(world):
    """No stand-in for MeetBridge's side: the staff member drags the event in Google Calendar (across
    the end of summer time) and later deletes the Zoom meeting in Zoom; MeetBridge hears of each through
    its watch channel and Zoom's webhook, the site's Easy Appointments follows the move, the echo of
    that update writes nothing anywhere, and the delete is reported."""
    world.sandbox.post(
        "zoom/webhook", {"url": world.stack.base_url + "/v1/zoom/events", "secret_token": ZOOM_SECRET}
    )
    world.wp.php(
        "$s = get_option( 'meetbridge_settings' ); $s['ea_apply_changes'] = true; $s['external_delete'] ="
        " 'report'; update_option( 'meetbridge_settings', $s ); return true;"
    )
    subprocess.run(  # the operator's CLI: back to the default policy after the settings-page test
        [str(processes.BIN / "flask"), "--app", "service", "sites", "settings", world.site["site_id"]]
        + ["--external-delete", "report"],
        env=world.stack.env, cwd=processes.ROOT, capture_output=True, check=True,
    )  # fmt: skip
    d_id, d = book(world, "2030-10-25", "10:00", "dia@example.com")  # Friday, CEST (UTC+2)
    quiet(world)  # its watch channel is open and the providers' echoes of its creation are handled
    zoom_before, google_before = provider_writes(world)

    # Dragged to Monday 10:00 in Berlin, after the clocks went back (CET, UTC+1).
    world.sandbox.post(
        "google/move",
        {"event_id": d["event_id"], "start": "2030-10-28T09:00:00Z", "end": "2030-10-28T09:30:00Z"},
    )
    moved = applied(world, f"ea-{d_id}", 1)
    assert (moved["change_kind"], moved["change_provider"], moved["change_state"]) == (
        "moved",
        "google",
        "synced",
    )
    ea = wait(
        f"appointment {d_id} moved",
        lambda: (lambda app: app if app["date"] == "2030-10-28" else None)(appointment(world, d_id)),
    )
    assert (ea["start"], ea["end"], ea["status"]) == ("10:00:00", "10:30:00", "confirmed")
    d = settled(world, f"ea-{d_id}", "synced", 2)  # the adapter's booking.updated, revision 2
    assert meeting(world, d["meeting_id"])["start_time"] == "2030-10-28T09:00:00Z"
    quiet(world)
    # MeetBridge moved the Zoom meeting once; the site's update, equal to the providers, wrote nothing.
    assert provider_writes(world) == (zoom_before + 1, google_before)
    assert int(row(world, f"ea-{d_id}")["change_sequence"]) == 1, "no change came back from its own writes"

    # The Zoom meeting deleted in Zoom: reported (the site's policy), the appointment stays.
    world.sandbox.post("zoom/delete", {"meeting_id": d["meeting_id"]})
    gone = applied(world, f"ea-{d_id}", 2)
    assert (gone["change_kind"], gone["change_provider"], gone["change_state"]) == (
        "deleted",
        "zoom",
        "partial",
    )
    assert gone["join_url"] is None and gone["event_link"]
    assert appointment(world, d_id)["status"] == "confirmed"
    status = world.linker.signed("GET", f"/v1/sites/{world.site['site_id']}/bookings/ea-{d_id}").json()
    assert status["state"] == "partial"
    assert world.wp.plugin_log_lines() == []
