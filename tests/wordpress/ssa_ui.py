"""What a customer and a site admin do in Simply Schedule Appointments 1.6.12.21, in Chromium: the
admin's setup wizard (time zone, contact, one appointment type), booking through SSA's booking app
(`[ssa_booking type="intro-call"]`, an iframe), and rescheduling and cancelling from the appointment's
page (the link in SSA's e-mails)."""

from __future__ import annotations

import datetime as dt
import re
import time

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.wordpress.booking_plugins import BookingPlugin

SSA = BookingPlugin(
    slug="simply-schedule-appointments",
    main_file="simply-schedule-appointments.php",
    version="1.6.12.21",
    hooks=r"#^ssa/appointment/(after_insert|after_update|after_delete|before_insert)$#",
    tables=("ssa_appointments", "ssa_appointment_types"),
)
# `[ssa_booking]` without attributes is a fatal error in SSA 1.6.12.21 on PHP 8 (it maps over the
# empty string WordPress passes for no attributes): the page names the appointment type.
SHORTCODE = '[ssa_booking type="intro-call"]'


def set_up(page, wp_url: str) -> None:
    """SSA's first-run wizard: Europe/Berlin (SSA keeps its own zone, and proposes the browser's), a
    contact name, and one 30-minute appointment type, "Intro call", with the default availability."""
    page.goto(wp_url + "/wp-admin/admin.php?page=simply-schedule-appointments")
    page.get_by_text("YES, HELP ME PLEASE!").click(timeout=90_000)  # the first load builds SSA's caches
    page.get_by_text("NEEDS SOME ADJUSTING").click()
    page.select_option("select[name=timezone]", "Europe/Berlin")
    page.get_by_label("Appointment Contact").fill("Ada Admin")
    page.get_by_role("button", name="SAVE AND CONTINUE").click()
    name = page.get_by_label("Name")
    name.fill("Intro call")
    name.press("Tab")  # SSA's field takes the value on blur; without it the wizard may keep its default
    for _ in range(4):
        page.get_by_role("button", name="CONTINUE").click()
    page.get_by_role("button", name="DONE").click()
    page.get_by_text("TRY BOOKING AN APPOINTMENT").wait_for()


def name_type(wp, title: str = "Intro call", slug: str = "intro-call", seconds: float = 30) -> None:
    """Make sure the wizard's appointment type is `title` (`slug`). SSA's wizard saves the type as
    "Consultation Phone Call" first and the name typed in its first step a moment later, and now and
    then (its app racing its own autosave) not at all: after waiting for it, the type is renamed through
    SSA's own model, as its appointment-type editor does."""
    count = (
        'global $wpdb; return (string) $wpdb->get_var( "SELECT COUNT(*) FROM'  # noqa: S608
        f" {{$wpdb->prefix}}ssa_appointment_types WHERE slug = '{slug}' AND status = 'publish'\" );"
    )
    deadline = time.monotonic() + seconds
    while wp.php(count).strip() != "1":
        if time.monotonic() > deadline:
            wp.php(
                "$t = ssa()->appointment_type_model->query( array( 'status' => 'publish' ) );"
                f" ssa()->appointment_type_model->update( $t[0]['id'], array( 'title' => '{title}',"
                f" 'slug' => '{slug}' ) ); return 1;"
            )
            assert wp.php(count).strip() == "1", "SSA's appointment type could not be named"
            return
        time.sleep(0.5)


def _app(page):
    """SSA's booking app (an iframe SSA's script adds to the page; once in a while it does not: reload)."""
    try:
        page.wait_for_selector("iframe", timeout=20_000)
    except PlaywrightTimeout:
        page.reload()
        page.wait_for_selector("iframe", timeout=30_000)
    return page.frame_locator("iframe").first


def _day_label(day: dt.date) -> str:
    suffix = "th" if 11 <= day.day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day.day % 10, "th")
    return f"{day:%A} {day:%B} {day.day}{suffix} {day.year}"


def pick_time(page, date: str, time: str) -> None:
    """In the booking app: go to the week of `date` (Y-m-d), pick it and `time` (e.g. '10:00 AM')."""
    app = _app(page)
    day = app.locator(f"button[aria-label='{_day_label(dt.date.fromisoformat(date))}']")
    app.get_by_text("Select a date").or_(app.get_by_text("Go forward")).first.wait_for()
    for _ in range(60):
        if day.count():
            break
        app.get_by_role("button", name=re.compile("Go forward")).click()
        page.wait_for_timeout(400)
    day.click()
    app.get_by_role("button", name=re.compile(f"^{re.escape(time)}$", re.IGNORECASE)).click()


def book(page, url: str, date: str, time: str, name: str, email: str, shoot=None) -> None:
    """A customer books through SSA's booking app."""
    page.goto(url)
    pick_time(page, date, time)
    app = _app(page)
    app.get_by_label("Name").fill(name)
    app.get_by_label("Email").fill(email)
    if shoot:
        shoot(page)
    app.get_by_role("button", name="BOOK THIS APPOINTMENT").click()


def booked(page) -> None:
    _app(page).get_by_text("Your appointment is booked").wait_for()


def reschedule(page, edit_url: str, date: str, time: str) -> None:
    """The appointment's page (SSA's e-mails link to it): Reschedule, another time, update."""
    page.goto(edit_url)
    app = _app(page)
    app.get_by_role("button", name="Reschedule").click()
    pick_time(page, date, time)
    app.get_by_role("button", name="UPDATE THIS APPOINTMENT").click()
    app.get_by_text("EDIT INFORMATION").wait_for()


def cancel(page, edit_url: str) -> None:
    """The appointment's page: Cancel Appointment, confirm."""
    page.goto(edit_url)
    app = _app(page)
    app.get_by_role("button", name="Cancel Appointment").first.click()
    app.locator("#appointment-cancel-dialog button", has_text="Cancel Appointment").click()
    app.get_by_text("canceled", exact=False).first.wait_for()


def admin_cancel(page, wp_url: str, customer: str) -> None:
    """SSA's admin, Appointments: open the customer's appointment, "Cancel this appointment", confirm."""
    page.goto(wp_url + "/wp-admin/admin.php?page=simply-schedule-appointments#/ssa/appointments")
    page.get_by_text(customer).first.click()
    page.locator("button[tabindex='0']", has_text="Cancel this appointment").click()  # the opened one
    with page.expect_response(lambda answer: "/wp-json/ssa/v1/appointments/" in answer.url):
        page.get_by_role("button", name="Cancel appointment", exact=True).click()
