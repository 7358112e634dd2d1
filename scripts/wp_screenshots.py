"""`make screenshots` (second part): the wp-bridge plugin's admin pages, written to docs/screenshots/.

Starts a throwaway MeetBridge stack next to a real WordPress (tests/wordpress), then drives Debian's
Chromium through what a site admin does: the settings page after "Test connection", the staff
accounts page, MeetBridge's connect screen (naming the staff member), the sandbox's Zoom consent,
"Connected", the MeetBridge bookings page once a booking has synced, the admin notice and the
bookings page row after a staff member moved that booking in Google Calendar, the settings for the CA bundle,
retention and Easy Appointments, WordPress's privacy tools with MeetBridge's eraser (MeetBridge down,
so it reports what it could not do) and exporter, the suggested privacy-policy text, and the
customer's join page. Needs the packages named in .ci/run.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

from tests import browser, processes
from tests.wordpress import admin_flow
from tests.wordpress.meetbridge_world import start_world
from tests.wordpress.wp import missing_packages

log = logging.getLogger("wp_screenshots")

OUT = processes.ROOT / "docs" / "screenshots"


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    missing = missing_packages() + ([] if Path(browser.CHROMIUM).exists() else ["chromium"])
    if missing:
        log.error("missing %s: see APT_PACKAGES in .ci/run", ", ".join(missing))
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="meetbridge-wp-shots-") as tmp:
        world = start_world(Path(tmp), configure=False)
        try:
            _shoot(world)
            _shoot_privacy(world, Path(tmp))
        finally:
            world.stop()
    return 0


def _save(page, name: str, full_page: bool = False) -> None:
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    log.info("wrote %s", path.relative_to(processes.ROOT))


def _shoot(world) -> None:
    sam = str(world.wp.php("return get_user_by( 'login', 'sam' )->ID;"))
    with browser.page(width=1100, height=700) as page:
        admin_flow.log_in(world, page)
        admin_flow.save_settings(world, page, _save)
        # The admin's own accounts are linked without a browser, so a booking can sync for the last shot.
        world.sandbox.post("consent", {"mode": "approve", "email": "admin@example.com"})
        for provider in ("google", "zoom"):
            world.linker.press_continue(world.linker.link_url(provider, "1"))
        world.sandbox.post("consent", {"mode": "ask", "email": "sam.staff@example.com"})
        admin_flow.connect_zoom(world, page, sam, _save)
        world.wp.php(
            "do_action( 'meetbridge_booking_created', array( 'id' => '1042', 'title' => 'Intro call',"
            " 'start' => '2026-12-01T10:00:00+01:00', 'end' => '2026-12-01T10:30:00+01:00',"
            " 'timezone' => 'Europe/Berlin', 'staff' => array( 'id' => '1', 'email' => 'admin@example.com' ),"
            " 'customer' => array( 'email' => 'cus@example.com', 'name' => 'Cat Customer' ),"
            " 'video' => 'zoom' ) ); return true;"
        )
        processes.wait_for(
            lambda: world.wp.php("return MeetBridge_Bookings::get( '1042' )['state'] ?? '';") == "synced",
            timeout=60,
            interval=0.3,
            what="booking 1042 synced",
        )
        page.goto(world.wp.url + "/wp-admin/admin.php?page=meetbridge")
        _save(page, "wp-6-bookings")
        _shoot_change(world, page)


def _shoot_change(world, page) -> None:
    """A staff member moved booking 1042 in Google Calendar: MeetBridge's signed `booking.changed`
    (queued and delivered by the stack as every result), the admin notice, the bookings page row."""
    synced = world.wp.php("return MeetBridge_Bookings::get( '1042' );")
    world.send_result(
        "booking.changed",
        {
            "booking_id": "1042",
            "revision": int(synced["result_revision"]),
            "change_id": "chg_" + "S" * 22,
            "sequence": 1,
            "provider": "google",
            "kind": "moved",
            "start": "2026-12-03T09:00:00Z",
            "end": "2026-12-03T09:30:00Z",
            "policy": "report",
            "state": "synced",
            "resend": False,
            "zoom": {"meeting_id": synced["meeting_id"], "join_url": synced["join_url"]},
            "google": {"event_id": synced["event_id"], "html_link": synced["event_link"]},
            "changed_at": "2026-11-30T12:00:00Z",
        },
    )
    processes.wait_for(
        lambda: world.wp.php("return MeetBridge_Bookings::get( '1042' )['change_kind'];") == "moved",
        timeout=60,
        interval=0.3,
        what="booking 1042 changed",
    )
    page.goto(world.wp.url + "/wp-admin/")
    page.locator(".notice.meetbridge-changes").wait_for()
    _save(page, "wp-12-change-notice")
    page.goto(world.wp.url + "/wp-admin/admin.php?page=meetbridge#meetbridge-booking-1042")
    _save(page, "wp-13-bookings-changed")


def _book(world, booking_id: str, start: str, email: str, name: str) -> None:
    """A booking for the admin (whose accounts are linked) as a booking plugin sends it; waits for it."""
    world.wp.php(
        f"do_action( 'meetbridge_booking_created', array( 'id' => '{booking_id}', 'title' => 'Consultation',"
        f" 'start' => '{start}:00+01:00', 'end' => '{start[:-2]}30:00+01:00', 'timezone' => 'Europe/Berlin',"
        " 'staff' => array( 'id' => '1', 'email' => 'admin@example.com' ),"
        f" 'customer' => array( 'email' => '{email}', 'name' => '{name}' ), 'video' => 'zoom' ) ); return 1;"
    )
    state = f"return MeetBridge_Bookings::get( '{booking_id}' )['state'] ?? '';"
    processes.wait_for(
        lambda: world.wp.php(state) == "synced", timeout=60, interval=0.3, what=f"{booking_id} synced"
    )


def _shoot_privacy(world, folder: Path) -> None:
    email = "erin@example.com"
    _book(world, "ea-1043", "2026-12-03T15:00", email, "Erin Example")
    with browser.page(width=1100, height=760) as page:
        admin_flow.log_in(world, page)
        page.goto(world.wp.url + "/wp-admin/admin.php?page=meetbridge-settings")
        page.locator("#meetbridge_ca_bundle").scroll_into_view_if_needed()
        _save(page, "wp-7-settings-ca-retention-ea", full_page=True)
        report = admin_flow.export_personal_data(world, page, email, folder)
        page.goto(report.as_uri())
        _save(page, "wp-9-export-personal-data", full_page=True)
        world.stack.services["web"].stop()  # MeetBridge unreachable: the eraser says what it could not do
        try:
            admin_flow.erase_personal_data(world, page, email)
            page.locator("tr.request-results").first.scroll_into_view_if_needed()
            _save(page, "wp-8-erase-personal-data")
        finally:
            world.stack.start_web()
            world.stack.wait_ready()
        world.wp.php(f"return MeetBridge_Privacy::erase( '{email}', 1 );")  # again, MeetBridge back: done
        page.goto(world.wp.url + "/wp-admin/options-privacy.php?tab=policyguide")
        trigger = page.locator("button.privacy-settings-accordion-trigger", has_text="MeetBridge")
        trigger.click()
        page.get_by_text("keyed hash of your e-mail address").wait_for()
        trigger.evaluate("button => window.scrollBy(0, button.getBoundingClientRect().top - 60)")
        _save(page, "wp-10-privacy-policy-guide")
    # The customer's join page comes from their confirmation e-mail (another booking: that one was erased).
    _book(world, "ea-1044", "2026-12-04T11:00", "finn@example.com", "Finn Example")
    join_page = world.wp.php("return meetbridge_join_page_url( 'ea-1044' );")
    assert urlsplit(join_page).query.startswith("meetbridge_join=ea-1044&meetbridge_token=")
    with browser.page(width=760, height=460) as page:
        page.goto(join_page)
        page.get_by_text("Join the video meeting").wait_for()
        _save(page, "wp-11-join-page")


if __name__ == "__main__":
    sys.exit(main())
