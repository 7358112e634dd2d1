"""Bookly and the wp-bridge adapter, end to end through the real MeetBridge (gunicorn, an RQ worker,
redis-server, the sandbox) and a real WordPress.

- With the real plugin (Bookly 27.4 from MEETBRIDGE_WP_PLUGINS; skipped without it): a customer books
  through Bookly's form (`[bookly-form]`) in Chromium, twice on either side of a daylight-saving change,
  and Bookly's confirmation e-mail carries the join link; a time the staff member is busy in Google
  Calendar is refused when booked; an admin moves a booking, cancels one by status, sets one to pending
  and back, deletes one in Bookly's admin; a customer cancels with the link in Bookly's e-mail. With
  MEETBRIDGE_WRITE_FIXTURES=1 the run writes the recording PHPUnit replays.
- From that recording (always, also in `make test`): the same statements and table rows replayed inside
  WordPress, with Bookly reduced to the class its main file loads, through the real stack.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
import requests

from tests import browser
from tests.wordpress import booking_plugins, bookly_ui
from tests.wordpress.admin_flow import log_in
from tests.wordpress.booking_plugins import Run, local, utc
from tests.wordpress.bookly_ui import BOOKLY, FORM
from tests.wordpress.test_e2e import busy_in_google, events, meetings, outbox, row, settled

pytestmark = pytest.mark.stack

SHOTS = browser.ARTIFACTS / "wordpress" / "bookly"
ADAPTER = "MeetBridge_Bookly"
CONFIRMATION = "Your appointment information"  # the subject of Bookly's e-mail to the customer


def appointment_id(world, email: str) -> int:
    """The newest appointment of the customer with this e-mail (Bookly's tables)."""
    query = (
        "SELECT ca.appointment_id FROM {$wpdb->prefix}bookly_customer_appointments ca JOIN"
        " {$wpdb->prefix}bookly_customers c ON c.id = ca.customer_id WHERE c.email = %s"
        " ORDER BY ca.id DESC LIMIT 1"
    )
    return booking_plugins.newest_id(world, query, email)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    note = (
        "Bookly 27.4 (wordpress.org bookly-responsive-appointment-booking-tool, the free plugin),"
        " WordPress 6.1.9, PHP 8.2, MariaDB 10.11, site time zone Europe/Berlin; booked through"
        " [bookly-form] in Chromium, managed in Bookly's admin (Appointments) and with the cancel link"
        " of Bookly's e-mail; its writes as WordPress's query filter saw them"
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("bookly")
    with booking_plugins.real_world(folder, BOOKLY, ADAPTER, SHOTS, note) as run:
        world = run.world
        world.wp.php(bookly_ui.SET_UP)
        run.book_url = booking_plugins.page(world.wp, "book", bookly_ui.SHORTCODE)
        run.link_sam()
        busy_in_google(world, run.sam, local(run.first, 14), local(run.first, 15))
        yield run


def booked(run: Run, name: str, day: dt.date, time_: str, who: str, email: str, shoot: bool = False) -> int:
    mark = run.recorder.mark()
    with browser.page(width=1000, height=1100) as page:
        bookly_ui.book(
            page, run.book_url, day, time_, who, email,
            shoot=(lambda p: run.shoot(p, "bookly-1-booking-form", FORM)) if shoot else None,
        )  # fmt: skip
        bookly_ui.booked(page)
    run.record(name, mark)
    return appointment_id(run.world, email)


def admin(run: Run, name: str, action, *args) -> None:
    mark = run.recorder.mark()
    with browser.page(width=1280, height=900) as page:
        log_in(run.world, page)
        action(page, run.wp.url, *args)
    run.record(name, mark)


def confirmation(run: Run, email: str) -> dict:
    """Bookly's confirmation e-mail to the customer."""
    deadline = time.monotonic() + 60
    while True:
        mails = [m for m in run.mailbox.mails(email) if CONFIRMATION in m["subject"]]
        if mails:
            return mails[-1]
        assert time.monotonic() < deadline, run.mailbox.mails()
        requests.get(run.wp.url + "/", timeout=30)
        time.sleep(1)


def test_a_booking_through_the_form_gets_its_meeting_in_either_dst_period(real):
    world = real.world
    winter = booked(real, "booked_front_end", real.first, "10:00", "Cat Customer", "cat@example.com", True)
    real.ids["winter"] = winter
    synced = settled(world, f"bookly-{winter}", "synced", 1)
    [meeting] = meetings(world, "Intro call")
    assert meeting["start_time"] == utc(real.first, 10) and meeting["duration"] == 30
    assert synced["join_url"] == meeting["join_url"] and synced["staff_id"] == real.sam
    assert synced["starts_at"] == local(real.first, 10)
    [event] = events(world, "Intro call")
    assert [a["email"] for a in event["attendees"]] == ["cat@example.com"]
    # [meetbridge_join_url {appointment_id}] in Bookly's e-mail to the customer: their way to the meeting.
    expected = world.wp.php(
        f"return MeetBridge_Integration::join_url( 'bookly-{winter}', 'cat@example.com' );"
    )
    mail = confirmation(real, "cat@example.com")
    assert expected and expected in mail["message"].replace("&amp;", "&").replace("&#038;", "&"), mail
    assert "[meetbridge_join_url" not in mail["message"]
    staff_mails = [m for m in real.mailbox.mails("sam.staff@example.com")]
    assert staff_mails and all("meetbridge_join" not in m["message"] for m in staff_mails)

    summer = booked(real, "booked_across_dst", real.second, "10:00", "Dan Customer", "dan@example.com")
    real.ids["summer"] = summer
    synced = settled(world, f"bookly-{summer}", "synced", 1)
    assert synced["starts_at"] == local(real.second, 10)
    assert synced["starts_at"][-6:] != row(world, f"bookly-{winter}")["starts_at"][-6:]
    assert sorted(m["start_time"] for m in meetings(world, "Intro call")) == [
        utc(real.first, 10), utc(real.second, 10),
    ]  # fmt: skip


def test_a_time_busy_in_google_calendar_is_refused_when_booked(real):
    world = real.world
    count = 'global $wpdb; return (int) $wpdb->get_var( "SELECT COUNT(*) FROM wp_bookly_appointments" );'
    before = world.wp.php(count)
    mark = real.recorder.mark()
    with browser.page(width=1000, height=1100) as page:
        bookly_ui.book(page, real.book_url, real.first, "14:00", "Fay Customer", "fay@example.com")
        page.locator(FORM).get_by_text("not available anymore", exact=False).first.wait_for()
        real.shoot(page, "bookly-2-busy-time-refused", FORM)
    real.record("busy_refused", mark, frozenset({"wp_ajax_nopriv_bookly_save_appointment"}))
    assert world.wp.php(count) == before


def test_admin_moves_it(real):
    world = real.world
    winter = real.ids["winter"]
    [before] = [m for m in meetings(world, "Intro call") if m["start_time"] == utc(real.first, 10)]
    admin(real, "admin_edited_time", bookly_ui.edit_time, "Cat Customer", "11:00 am")
    moved = settled(world, f"bookly-{winter}", "synced", 2)
    [meeting] = [m for m in meetings(world, "Intro call") if m["id"] == before["id"]]
    assert meeting["start_time"] == utc(real.first, 11) and not meeting.get("deleted")
    assert moved["starts_at"] == local(real.first, 11) and moved["join_url"] == before["join_url"]
    with browser.page(width=1280, height=800) as page:  # both bookings synced, with their join links
        log_in(world, page)
        page.goto(world.wp.url + "/wp-admin/admin.php?page=meetbridge")
        page.get_by_text(f"bookly-{winter}", exact=True).wait_for()
        real.shoot(page, "bookly-3-meetbridge-bookings")


def test_admin_cancels_by_status(real):
    world = real.world
    admin(real, "admin_status_cancelled", bookly_ui.set_status, "Dan Customer", "Cancelled")
    cancelled = settled(world, f"bookly-{real.ids['summer']}", "cancelled", 2)
    assert cancelled["join_url"] is None
    assert [m["start_time"] for m in meetings(world, "Intro call") if m.get("deleted")] == [
        utc(real.second, 10)
    ]


def test_pending_then_approved_again_changes_nothing_and_the_customer_cancels_with_the_link(real):
    world = real.world
    eve = booked(real, "booked_for_customer_cancel", real.first, "15:00", "Eve Customer", "eve@example.com")
    settled(world, f"bookly-{eve}", "synced", 1)
    sent = len(outbox(world))
    admin(real, "admin_status_pending", bookly_ui.set_status, "Eve Customer", "Pending")
    admin(real, "admin_status_approved", bookly_ui.set_status, "Eve Customer", "Approved")
    assert len(outbox(world)) == sent and row(world, f"bookly-{eve}")["state"] == "synced"
    # The cancel link in Bookly's e-mail ({cancel_appointment_url}), opened by the customer.
    link = bookly_ui.cancel_url(confirmation(real, "eve@example.com")["message"])
    mark = real.recorder.mark()
    with browser.page(width=1000, height=900) as page:
        page.goto(link)
    real.record("customer_cancelled", mark)
    settled(world, f"bookly-{eve}", "cancelled", 2)


def test_admin_deletes_it(real):
    world = real.world
    admin(real, "admin_deleted", bookly_ui.delete, "Cat Customer")
    settled(world, f"bookly-{real.ids['winter']}", "cancelled", 3)
    assert utc(real.first, 11) in [m["start_time"] for m in meetings(world, "Intro call") if m.get("deleted")]


def test_what_bookly_wrote(real):
    world = real.world
    statements = [call["args"][0] for step in real.steps for call in step["calls"] if call["hook"] == "query"]
    for table in ("wp_bookly_appointments", "wp_bookly_customer_appointments"):
        for verb in ("INSERT INTO", "UPDATE", "DELETE FROM"):
            assert any(s.lstrip().upper().startswith(verb) and table in s for s in statements), (verb, table)
    real.check_recording()
    assert world.wp.plugin_log_lines() == []


# -- from the recording, through the real stack (no Bookly needed) ------------------------------------


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    with booking_plugins.replay_world(tmp_path_factory.mktemp("bookly-replay")) as world:
        stand_in = world.wp.root / "wp-content" / "mu-plugins" / f"{BOOKLY.slug}-stand-in.php"
        stand_in.write_text(
            f"<?php\n// Test-only: {BOOKLY.slug} {BOOKLY.version} reduced to the class its main file loads"
            " (so wp-bridge loads its adapter).\nnamespace Bookly\\Lib;\nclass Boot {}\n"
        )
        world.wp.php(
            f"require_once '{booking_plugins.PLUGIN_SRC}/tests/class-meetbridge-recording.php';"
            f" ( new MeetBridge_Recording( '{BOOKLY.recording}' ) )->install_tables(); return 1;"
        )
        sam = str(world.wp.php("return get_user_by( 'login', 'sam' )->ID;"))
        booking_plugins.link_staff(world, sam, "sam.staff@example.com")  # the recording's staff member
        yield world


def test_the_recording_through_the_stack(replayed):
    world = replayed
    recording = booking_plugins.load_recording(BOOKLY)
    assert world.wp.php(f"return class_exists( '{ADAPTER}' );") is True
    first = next(s for s in recording["steps"] if s["step"] == "booked_front_end")
    [appointment] = first["calls"][-1]["tables"]["bookly_appointments"]  # as the booking request left it
    booking_plugins.replay(world.wp, BOOKLY, "booked_front_end", ADAPTER)
    synced = settled(world, f"bookly-{appointment['id']}", "synced", 1)
    start = dt.datetime.fromisoformat(appointment["start_date"]).replace(tzinfo=booking_plugins.BERLIN)
    assert dt.datetime.fromisoformat(synced["starts_at"]) == start
    [meeting] = meetings(world, "Intro call")
    assert meeting["start_time"] == start.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    booking_plugins.replay(world.wp, BOOKLY, "admin_edited_time", ADAPTER)
    moved = settled(world, f"bookly-{appointment['id']}", "synced", 2)
    assert dt.datetime.fromisoformat(moved["starts_at"]) == start + dt.timedelta(hours=1)
    booking_plugins.replay(world.wp, BOOKLY, "admin_deleted", ADAPTER)
    settled(world, f"bookly-{appointment['id']}", "cancelled", 3)
    assert [m["id"] for m in meetings(world, "Intro call") if m.get("deleted")] == [meeting["id"]]
    assert world.wp.plugin_log_lines() == []
