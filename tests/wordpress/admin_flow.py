"""What a site admin does in wp-admin, driven in Debian's Chromium (Playwright): log in, save the
MeetBridge settings, test the connection, connect a staff member's Zoom account through MeetBridge's
connect screen and the sandbox's consent, come back to "Connected", disconnect. Used by the browser
test (screenshots as test artifacts) and by `make screenshots` (docs/screenshots/)."""

from __future__ import annotations

import re
from collections.abc import Callable

from tests.wordpress.meetbridge_world import World
from tests.wordpress.wp import ADMIN_PASSWORD, ADMIN_USER

Shoot = Callable[[object, str], None]


def log_in(world: World, page) -> None:
    page.goto(world.wp.url + "/wp-login.php")
    page.fill("#user_login", ADMIN_USER)
    page.fill("#user_pass", ADMIN_PASSWORD)
    page.click("#wp-submit")
    page.wait_for_url(re.compile(r".*/wp-admin/.*"))


def save_settings(world: World, page, shoot: Shoot) -> None:
    page.goto(world.wp.url + "/wp-admin/admin.php?page=meetbridge-settings")
    page.fill("#meetbridge_service_url", world.stack.base_url)
    page.fill("#meetbridge_site_id", world.site["site_id"])
    page.fill("#meetbridge_secret", world.site["secret"])
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Settings saved.").wait_for()
    assert world.site["secret"] not in page.content(), "the secret must never be echoed back"
    page.get_by_role("button", name="Test connection").click()
    page.get_by_text("Connected: MeetBridge accepted this site's signature").wait_for()
    shoot(page, "wp-1-settings")


def connect_zoom(world: World, page, staff_id: str, shoot: Shoot) -> None:
    page.goto(world.wp.url + "/wp-admin/admin.php?page=meetbridge-staff")
    row = page.locator(f"tr[data-staff-id='{staff_id}']")
    row.locator(".meetbridge-zoom").get_by_text("Not connected").wait_for()
    shoot(page, "wp-2-staff-accounts")
    row.get_by_role("button", name="Connect Zoom").click()
    page.wait_for_url(world.stack.base_url + "/connect/**")
    shoot(page, "wp-3-connect-screen")
    page.get_by_role("button", name="Continue to Zoom").click()
    page.wait_for_url(world.stack.sandbox_url + "/**")
    shoot(page, "wp-4-zoom-consent-sandbox")
    page.get_by_role("button", name="Allow").click()
    page.wait_for_url(re.compile(re.escape(world.wp.url) + r"/wp-admin/admin\.php\?page=meetbridge-staff.*"))
    page.get_by_text("Zoom account connected. Bookings will now sync.").wait_for()
    row = page.locator(f"tr[data-staff-id='{staff_id}']")
    row.locator(".meetbridge-zoom .meetbridge-connected").wait_for()
    shoot(page, "wp-5-connected")


def disconnect_zoom(world: World, page, staff_id: str) -> None:
    row = page.locator(f"tr[data-staff-id='{staff_id}']")
    row.get_by_role("button", name="Disconnect Zoom").click()
    page.get_by_text("Zoom account disconnected.").wait_for()
    page.locator(f"tr[data-staff-id='{staff_id}'] .meetbridge-zoom").get_by_text("Not connected").wait_for()
