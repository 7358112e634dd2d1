"""Simply Schedule Appointments and the wp-bridge adapter, end to end through the real MeetBridge
(gunicorn, an RQ worker, redis-server, the sandbox) and a real WordPress.

- With the real plugin (SSA 1.6.12.21 from MEETBRIDGE_WP_PLUGINS; skipped without it): a customer books
  through SSA's booking app in Chromium, twice on either side of a daylight-saving change, and SSA's
  confirmation e-mail carries the join link; a time the staff member is busy in Google Calendar is
  refused when booked; the customer reschedules and cancels from the appointment's page; an admin
  cancels one in SSA's admin. With MEETBRIDGE_WRITE_FIXTURES=1 the run writes the recording PHPUnit
  replays.
- From that recording (always, also in `make test`): the same hook calls and table rows replayed inside
  WordPress, with SSA reduced to the constant its main file defines, through the real stack.
"""

from __future__ import annotations

import datetime as dt
import html
import time

import pytest
import requests

from tests import browser
from tests.wordpress import booking_plugins, ssa_ui
from tests.wordpress.admin_flow import log_in
from tests.wordpress.booking_plugins import BERLIN, Run
from tests.wordpress.ssa_ui import SSA
from tests.wordpress.test_e2e import busy_in_google, events, meetings, row, settled

pytestmark = pytest.mark.stack

SHOTS = browser.ARTIFACTS / "wordpress" / "ssa"
ADAPTER = "MeetBridge_SSA"
ADMIN_ID = "1"  # SSA's free edition has no team members: the appointment type's owner, the admin
# The customer's browser is in UTC while the site and SSA are in Europe/Berlin: SSA offers times in the
# customer's zone, so "10:00 AM" is 10:00 UTC, 11:00 (winter) or 12:00 (summer) in Berlin.


def at(day: dt.date, hour: int, minute: int = 0) -> tuple[str, str]:
    """What a customer in UTC picks as `hour`:`minute`: (Zoom's start_time, the start in Berlin)."""
    moment = dt.datetime.combine(day, dt.time(hour, minute), dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ"), moment.astimezone(BERLIN).isoformat()


def appointment_id(world, email: str) -> int:
    query = (
        "SELECT id FROM {$wpdb->prefix}ssa_appointments WHERE customer_information LIKE %s"
        " ORDER BY id DESC LIMIT 1"
    )
    return int(
        world.wp.php(f"global $wpdb; return $wpdb->get_var( $wpdb->prepare( \"{query}\", '%{email}%' ) );")
    )


def edit_url(world, appointment: int) -> str:
    """The appointment's page, as SSA links it in its e-mails."""
    return world.wp.php(f"return ( new SSA_Appointment_Object( {appointment} ) )->get_public_edit_url();")


def web_meeting_url(world, appointment: int) -> str:
    """The appointment's web meeting URL, as SSA shows it to the customer."""
    return world.wp.php(f"return (string) ( new SSA_Appointment_Object( {appointment} ) )->web_meeting_url;")


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    note = (
        "Simply Schedule Appointments 1.6.12.21 (wordpress.org simply-schedule-appointments),"
        " WordPress 6.1.9, PHP 8.2, MariaDB 10.11, site and SSA time zone Europe/Berlin; booked through"
        " [ssa_booking type=\"intro-call\"] in Chromium, managed from the appointment's page and SSA's"
        " admin"
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("ssa")
    with booking_plugins.real_world(folder, SSA, ADAPTER, SHOTS, note) as run:
        world = run.world
        run.book_url = booking_plugins.page(world.wp, "book", ssa_ui.SHORTCODE)
        with browser.page(width=1280, height=900) as page:
            log_in(world, page)
            ssa_ui.set_up(page, world.wp.url)
        ssa_ui.name_type(world.wp)
        run.sam = ADMIN_ID
        booking_plugins.link_staff(world, ADMIN_ID, "admin@example.com")
        day = run.first.isoformat()
        busy_in_google(world, ADMIN_ID, f"{day}T14:00:00Z", f"{day}T15:00:00Z")  # 2-3 pm for the customer
        yield run


def customer(run: Run, name: str, action, *args, shoot: str = "") -> None:
    mark = run.recorder.mark()
    with browser.page(width=1000, height=1100) as page:
        action(page, *args, **({"shoot": lambda p: run.shoot(p, shoot, "iframe")} if shoot else {}))
        if action is ssa_ui.book:
            ssa_ui.booked(page)
    run.record(name, mark)


def test_a_booking_through_the_app_gets_its_meeting_in_either_dst_period(real):
    world = real.world
    customer(real, "booked_front_end", ssa_ui.book, real.book_url, real.first.isoformat(), "10:00 AM",
             "Cat Customer", "cat@example.com", shoot="ssa-1-booking-app")  # fmt: skip
    winter = real.ids["winter"] = appointment_id(world, "cat@example.com")
    synced = settled(world, f"ssa-{winter}", "synced", 1)
    [meeting] = meetings(world, "Intro call")
    assert (meeting["start_time"], synced["starts_at"]) == at(real.first, 10) and meeting["duration"] == 30
    assert synced["join_url"] == meeting["join_url"] and synced["staff_id"] == ADMIN_ID
    [event] = events(world, "Intro call")
    assert [a["email"] for a in event["attendees"]] == ["cat@example.com"]
    # SSA shows the appointment's web meeting URL to its customer (and waits 5 s before its
    # confirmation e-mail "to allow the web_meeting_url to return"): the join link is there.
    expected = world.wp.php(f"return MeetBridge_Integration::join_url( 'ssa-{winter}', 'cat@example.com' );")
    assert web_meeting_url(world, winter) == expected
    deadline = time.monotonic() + 60
    while not [
        m for m in real.mailbox.mails("cat@example.com") if "Your appointment details" in m["subject"]
    ]:
        assert time.monotonic() < deadline, real.mailbox.mails()
        requests.get(world.wp.url + "/", timeout=30)  # SSA runs its queued notifications on later requests
        time.sleep(1)
    [mail] = [m for m in real.mailbox.mails("cat@example.com") if "Your appointment details" in m["subject"]]
    assert expected in html.unescape(mail["message"]), mail["message"]  # `&#038;` since the join page

    # 9:00 UTC: 11:00 in Berlin's summer (SSA's default hours leave 12:00-13:00 free).
    customer(real, "booked_across_dst", ssa_ui.book, real.book_url, real.second.isoformat(), "9:00 AM",
             "Dan Customer", "dan@example.com")  # fmt: skip
    summer = real.ids["summer"] = appointment_id(world, "dan@example.com")
    synced = settled(world, f"ssa-{summer}", "synced", 1)
    assert synced["starts_at"] == at(real.second, 9)[1]
    assert synced["starts_at"][-6:] != row(world, f"ssa-{winter}")["starts_at"][-6:]
    assert sorted(m["start_time"] for m in meetings(world, "Intro call")) == [
        at(real.first, 10)[0], at(real.second, 9)[0],
    ]  # fmt: skip


def test_a_time_busy_in_google_calendar_is_refused_when_booked(real):
    world = real.world
    before = world.wp.php(
        'global $wpdb; return (int) $wpdb->get_var( "SELECT COUNT(*) FROM wp_ssa_appointments" );'
    )
    mark = real.recorder.mark()
    with browser.page(width=1000, height=1100) as page:
        ssa_ui.book(page, real.book_url, real.first.isoformat(), "2:00 PM", "Fay Customer", "fay@example.com")
        page.frame_locator("iframe").first.get_by_text(
            "Sorry, this time is no longer available"
        ).first.wait_for()
        real.shoot(page, "ssa-2-busy-time-refused", "iframe")
    real.record("busy_refused", mark, frozenset({"ssa/appointment/before_insert"}))
    after = world.wp.php(
        'global $wpdb; return (int) $wpdb->get_var( "SELECT COUNT(*) FROM wp_ssa_appointments" );'
    )
    assert after == before


def test_the_customer_reschedules_from_the_appointment_page(real):
    world = real.world
    winter = real.ids["winter"]
    [before] = [m for m in meetings(world, "Intro call") if m["start_time"] == at(real.first, 10)[0]]
    customer(
        real,
        "customer_rescheduled",
        ssa_ui.reschedule,
        edit_url(world, winter),
        real.first.isoformat(),
        "9:00 AM",
    )
    moved = settled(world, f"ssa-{winter}", "synced", 2)
    [meeting] = [m for m in meetings(world, "Intro call") if m["id"] == before["id"]]
    assert (meeting["start_time"], moved["starts_at"]) == at(real.first, 9)
    assert moved["join_url"] == before["join_url"]


def test_the_customer_cancels_from_the_appointment_page(real):
    world = real.world
    summer = real.ids["summer"]
    customer(real, "customer_cancelled", ssa_ui.cancel, edit_url(world, summer))
    assert settled(world, f"ssa-{summer}", "cancelled", 2)["join_url"] is None
    assert web_meeting_url(world, summer) == ""
    assert [m["start_time"] for m in meetings(world, "Intro call") if m.get("deleted")] == [
        at(real.second, 9)[0]
    ]


def test_an_admin_cancels_in_ssas_admin(real):
    world = real.world
    customer(real, "booked_for_admin_cancel", ssa_ui.book, real.book_url, real.first.isoformat(), "3:00 PM",
             "Eve Customer", "eve@example.com")  # fmt: skip
    eve = appointment_id(world, "eve@example.com")
    settled(world, f"ssa-{eve}", "synced", 1)
    mark = real.recorder.mark()
    with browser.page(width=1280, height=900) as page:
        log_in(world, page)
        ssa_ui.admin_cancel(page, world.wp.url, "Eve Customer")
    real.record("admin_cancelled", mark)
    settled(world, f"ssa-{eve}", "cancelled", 2)


def test_bookings_page_and_what_ssa_fired(real):
    world = real.world
    with browser.page(width=1280, height=800) as page:
        log_in(world, page)
        page.goto(world.wp.url + "/wp-admin/admin.php?page=meetbridge")
        page.get_by_text("ssa-", exact=False).first.wait_for()
        real.shoot(page, "ssa-3-meetbridge-bookings")
    fired = {call["hook"] for step in real.steps for call in step["calls"]}
    assert {
        "ssa/appointment/after_insert",
        "ssa/appointment/after_update",
        "ssa/appointment/before_insert",
    } <= fired
    real.check_recording()
    assert world.wp.plugin_log_lines() == []


# -- from the recording, through the real stack (no SSA needed) ----------------------------------------


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    with booking_plugins.replay_world(tmp_path_factory.mktemp("ssa-replay")) as world:
        booking_plugins.stand_in(world.wp, SSA, "SSA_PLUGIN_BASENAME")
        booking_plugins.link_staff(world, ADMIN_ID, "admin@example.com")  # the owner of the recording's type
        yield world


def test_the_recording_through_the_stack(replayed):
    world = replayed
    recording = booking_plugins.load_recording(SSA)
    assert world.wp.php(f"return class_exists( '{ADAPTER}' );") is True
    first = next(s for s in recording["steps"] if s["step"] == "booked_front_end")
    [inserted] = [c for c in first["calls"] if c["hook"] == "ssa/appointment/after_insert"]
    appointment = int(inserted["args"][0])
    booking_plugins.replay(world.wp, SSA, "booked_front_end", ADAPTER)
    synced = settled(world, f"ssa-{appointment}", "synced", 1)
    start = dt.datetime.fromisoformat(inserted["args"][1]["start_date"]).replace(tzinfo=dt.UTC)
    assert dt.datetime.fromisoformat(synced["starts_at"]) == start
    [meeting] = meetings(world, "Intro call")
    assert meeting["start_time"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    booking_plugins.replay(world.wp, SSA, "customer_rescheduled", ADAPTER)
    moved = settled(world, f"ssa-{appointment}", "synced", 2)
    step = next(s for s in recording["steps"] if s["step"] == "customer_rescheduled")
    new_start = step["calls"][0]["args"][1]["start_date"]
    assert dt.datetime.fromisoformat(moved["starts_at"]) == dt.datetime.fromisoformat(new_start).replace(
        tzinfo=dt.UTC
    )
    assert world.wp.plugin_log_lines() == []
