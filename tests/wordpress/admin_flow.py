"""What a site admin does in wp-admin, driven in Debian's Chromium (Playwright): log in, save the
MeetBridge settings, test the connection, connect a staff member's Zoom account through MeetBridge's
connect screen (which names them) and the sandbox's consent, come back to "Connected", disconnect;
export and erase a customer's personal data with WordPress's own privacy tools. Used by the browser
tests (screenshots as test artifacts) and by `make screenshots` (docs/screenshots/)."""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from tests.wordpress.meetbridge_world import World
from tests.wordpress.wp import ADMIN_PASSWORD, ADMIN_USER

Shoot = Callable[[object, str], None]


def log_in(world: World, page, user: str = ADMIN_USER, password: str = ADMIN_PASSWORD) -> None:
    page.goto(world.wp.url + "/wp-login.php")
    page.fill("#user_login", user)
    page.fill("#user_pass", password)
    page.click("#wp-submit")
    page.wait_for_url(re.compile(r".*/wp-admin/.*"))


def save_settings(world: World, page, shoot: Shoot) -> None:
    page.goto(world.wp.url + "/wp-admin/admin.php?page=meetbridge-settings")
    page.fill("#meetbridge_service_url", world.stack.base_url)
    page.fill("#meetbridge_site_id", world.site["site_id"])
    page.fill("#meetbridge_secret", world.site["secret"])
    page.fill("#meetbridge_ca_bundle", str(world.wp.ca_bundle))  # the stack's private CA
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Settings saved.").wait_for()
    assert world.site["secret"] not in page.content(), "the secret must never be echoed back"
    page.get_by_role("button", name="Test connection").click()
    page.get_by_text("Connected: MeetBridge accepted this site's signature").wait_for()
    page.get_by_text("Its TLS certificate is trusted through the CA bundle.").wait_for()
    shoot(page, "wp-1-settings")


def connect_zoom(world: World, page, staff_id: str, shoot: Shoot) -> None:
    page.goto(world.wp.url + "/wp-admin/admin.php?page=meetbridge-staff")
    row = page.locator(f"tr[data-staff-id='{staff_id}']")
    row.locator(".meetbridge-zoom").get_by_text("Not connected").wait_for()
    shoot(page, "wp-2-staff-accounts")
    row.get_by_role("button", name="Connect Zoom").click()
    page.wait_for_url(world.stack.base_url + "/connect/**")
    page.locator("strong.staff", has_text="Sam Staff").wait_for()  # named, from the signed request
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


def _privacy_request(world: World, page, tool: str, email: str) -> None:
    """Tools → Export/Erase Personal Data: a request for `email`, confirmed by the admin (no e-mail)."""
    page.goto(f"{world.wp.url}/wp-admin/{tool}-personal-data.php")
    page.fill("#username_or_email_for_privacy_request", email)
    if page.locator("#send_confirmation_email").is_checked():
        page.locator("#send_confirmation_email").uncheck()
    page.click("#submit")
    page.get_by_text("Request added successfully.").wait_for()


def erase_personal_data(world: World, page, email: str) -> str:
    """What the Tools page does: every registered eraser, page by page (its own AJAX calls); returns
    the result shown under the request."""
    _privacy_request(world, page, "erase", email)
    row = page.locator("tr", has_text=email).first
    row.hover()
    row.get_by_role("button", name="Erase personal data").click()
    result = page.locator("tr.request-results").first
    result.wait_for(timeout=60_000)
    return result.inner_text()


def export_personal_data(world: World, page, email: str, folder: Path) -> Path:
    """The Tools page's "Download personal data": every exporter, then the zip WordPress builds;
    returns the report (index.html) extracted into `folder`."""
    _privacy_request(world, page, "export", email)
    row = page.locator("tr", has_text=email).first
    row.hover()
    with page.expect_download(timeout=60_000) as download:
        row.get_by_role("button", name="Download personal data").click()
    archive = folder / "export.zip"
    download.value.save_as(archive)
    with zipfile.ZipFile(archive) as zipped:
        zipped.extractall(folder / "export")
    [report] = (folder / "export").glob("*.html")
    return report
