"""`make screenshots` (second part): the wp-bridge plugin's admin pages, written to docs/screenshots/.

Starts a throwaway MeetBridge stack next to a real WordPress (tests/wordpress), then drives Debian's
Chromium through what a site admin does: the settings page after "Test connection", the staff
accounts page, MeetBridge's connect screen, the sandbox's Zoom consent, "Connected", and the
MeetBridge bookings page once a booking has synced. Needs the packages named in .ci/run.
"""

from __future__ import annotations

import logging
import sys
import tempfile
from pathlib import Path

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
        finally:
            world.stop()
    return 0


def _save(page, name: str) -> None:
    path = OUT / f"{name}.png"
    page.screenshot(path=str(path))
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


if __name__ == "__main__":
    sys.exit(main())
