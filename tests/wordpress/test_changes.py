"""End to end, issue 18 (the WordPress side): a staff member moved or deleted a booking's meeting in
Google Calendar or Zoom, and MeetBridge tells the site with a signed `booking.changed` result. The result
is queued and delivered by the real MeetBridge (its `enqueue_result`, its RQ worker signing with the
site's secret, its retries) to the real plugin's results route in a real WordPress (MariaDB, php -S);
Easy Appointments 3.12.23 as observed (tests/wordpress/fixtures) in a site in Europe/Berlin; a browser
(Debian's Chromium) does what the admin does: sees the notice and the bookings page, turns on "Apply
changes made in Google Calendar or Zoom", looks at the appointment in Easy Appointments' list.

Until the service half of issue 18 is merged, MeetBridge does not yet send `booking.changed` on its
own; this test has it queue the result as the service does, so the plugin side is checked for real."""

from __future__ import annotations

import re

import pytest

from tests import browser, processes
from tests.wordpress import admin_flow
from tests.wordpress.conftest import require_wordpress
from tests.wordpress.meetbridge_world import start_world
from tests.wordpress.test_e2e import column

pytestmark = pytest.mark.stack

ADMIN_ID = "1"
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
    """The settings page PUTs `{"external_delete": …}` to MeetBridge's signed settings route. The
    setting itself is the service half of issue 18 (service/sites/site_settings): until that is merged,
    MeetBridge accepts the signed request and refuses the unknown setting (422), and the page says so
    and keeps "report"; once merged, MeetBridge stores the choice."""
    from service.sites import site_settings

    merged = "external_delete" in site_settings.DEFAULTS
    export = f"/v1/sites/{world.site['site_id']}/export"
    cancel = "Cancel the booking: MeetBridge deletes the other item too"
    with browser.page(width=1100, height=900) as page:
        admin_flow.log_in(world, page)
        page.goto(world.wp.url + "/wp-admin/admin.php?page=meetbridge-settings")
        page.get_by_label(cancel).check()
        page.get_by_role("button", name="Save settings").click()
        if merged:
            page.get_by_text("Settings saved.").wait_for()
            assert page.get_by_label(cancel).is_checked()
        else:  # WordPress shows the error instead of "Settings saved."
            page.get_by_text("MeetBridge did not save what happens when a meeting is deleted").wait_for()
            assert "HTTP 422 invalid_settings unknown setting 'external_delete'" in page.content()
            assert not page.get_by_label(cancel).is_checked()
        page.screenshot(path=str(SHOTS / "changes-5-delete-policy.png"), full_page=True)
    settings = world.linker.signed("GET", export).json()["settings"]
    assert settings.get("external_delete") == ("cancel" if merged else None)
    kept = world.wp.php("return MeetBridge_Settings::external_delete();")
    assert kept == ("cancel" if merged else "report")
