"""LatePoint and the wp-bridge adapter, end to end through the real MeetBridge (gunicorn, an RQ worker,
redis-server, the sandbox) and a real WordPress.

- With the real plugin (LatePoint 5.6.5 from MEETBRIDGE_WP_PLUGINS; skipped without it): a customer
  books through LatePoint's form in Chromium, twice on either side of a daylight-saving change; a time
  the agent is busy in Google Calendar is not offered; an admin moves a booking, cancels one by status,
  sets one to pending and back, deletes an order; a customer finds the join link on the booking's
  "manage" page and cancels there. With MEETBRIDGE_WRITE_FIXTURES=1 the run writes the recording
  PHPUnit replays.
- From that recording (always, also in `make test`): the same hook calls and table rows replayed inside
  WordPress, with LatePoint reduced to its version constant, through the real stack.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tests import browser
from tests.wordpress import booking_plugins, latepoint_ui
from tests.wordpress.admin_flow import log_in
from tests.wordpress.booking_plugins import Run, local, utc
from tests.wordpress.latepoint_ui import LATEPOINT
from tests.wordpress.test_e2e import busy_in_google, events, meetings, outbox, row, settled

pytestmark = pytest.mark.stack

SHOTS = browser.ARTIFACTS / "wordpress" / "latepoint"
FORM = ".latepoint-booking-form-element"  # LatePoint's booking form
ADAPTER = "MeetBridge_LatePoint"


def booking_id(world, email: str) -> int:
    """The newest booking of the customer with this e-mail (LatePoint's tables)."""
    query = (
        "SELECT b.id FROM {$wpdb->prefix}latepoint_bookings b JOIN {$wpdb->prefix}latepoint_customers c"
        " ON c.id = b.customer_id WHERE c.email = %s ORDER BY b.id DESC LIMIT 1"
    )
    return booking_plugins.newest_id(world, query, email)


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    note = (
        "LatePoint 5.6.5 (wordpress.org latepoint; its readme asks for WordPress 6.5, it ran on 6.1.9 for"
        " every path here), PHP 8.2, MariaDB 10.11, site time zone Europe/Berlin; booked through"
        " [latepoint_book_form] in Chromium, managed in LatePoint's admin"
    )  # fmt: skip
    folder = tmp_path_factory.mktemp("latepoint")
    with booking_plugins.real_world(folder, LATEPOINT, ADAPTER, SHOTS, note) as run:
        world = run.world
        # LatePoint's setting "customers may cancel their bookings", as an admin switches it on.
        world.wp.php(
            "OsSettingsHelper::save_setting_by_name( 'allow_customer_booking_cancellation', 'on' ); return 1;"
        )
        run.book_url = booking_plugins.page(world.wp, "book", "[latepoint_book_form]")
        with browser.page(width=1280, height=900) as page:
            log_in(world, page)
            latepoint_ui.set_up(page, world.wp.url)
        run.link_sam()
        busy_in_google(world, run.sam, local(run.first, 14), local(run.first, 15))
        yield run


def booked(
    run: Run, name: str, day: dt.date, minutes: int, first: str, email: str, shoot: bool = False
) -> int:
    mark = run.recorder.mark()
    with browser.page(width=1000, height=1000) as page:
        latepoint_ui.book(
            page, run.book_url, day.isoformat(), minutes, first, email,
            shoot=(lambda p: run.shoot(p, "latepoint-1-booking-form", FORM)) if shoot else None,
        )  # fmt: skip
    run.record(name, mark)
    return booking_id(run.world, email)


def admin(run: Run, name: str, action, *args) -> None:
    mark = run.recorder.mark()
    with browser.page(width=1280, height=900) as page:
        log_in(run.world, page)
        action(page, run.wp.url, *args)
    run.record(name, mark)


def test_a_booking_through_the_form_gets_its_meeting_in_either_dst_period(real):
    world = real.world
    winter = booked(real, "booked_front_end", real.first, 600, "Cat", "cat@example.com", shoot=True)
    real.ids["winter"] = winter
    synced = settled(world, f"latepoint-{winter}", "synced", 1)
    [meeting] = meetings(world, "Intro call")
    assert meeting["start_time"] == utc(real.first, 10) and meeting["duration"] == 30
    assert synced["join_url"] == meeting["join_url"] and synced["staff_id"] == real.sam
    assert synced["starts_at"] == local(real.first, 10)
    [event] = events(world, "Intro call")
    assert [a["email"] for a in event["attendees"]] == ["cat@example.com"]

    summer = booked(real, "booked_across_dst", real.second, 600, "Dan", "dan@example.com")
    real.ids["summer"] = summer
    synced = settled(world, f"latepoint-{summer}", "synced", 1)
    assert synced["starts_at"] == local(real.second, 10)
    assert synced["starts_at"][-6:] != row(world, f"latepoint-{winter}")["starts_at"][-6:]
    assert sorted(m["start_time"] for m in meetings(world, "Intro call")) == [
        utc(real.first, 10), utc(real.second, 10),
    ]  # fmt: skip


def test_a_time_busy_in_google_calendar_is_not_offered(real):
    mark = real.recorder.mark()
    with browser.page(width=1000, height=1000) as page:
        offered = latepoint_ui.slots(page, real.book_url, real.first.isoformat())
        page.wait_for_timeout(800)
        real.shoot(page, "latepoint-2-busy-times-taken", FORM)
    real.record("slots_front_end", mark, frozenset({"latepoint_get_booked_periods"}))
    assert 13 * 60 + 30 in offered and 15 * 60 in offered, offered
    assert 14 * 60 not in offered and 14 * 60 + 30 not in offered, offered
    assert 10 * 60 not in offered  # Cat's booking, LatePoint's own


def test_admin_moves_it(real):
    world = real.world
    winter = real.ids["winter"]
    [before] = [m for m in meetings(world, "Intro call") if m["start_time"] == utc(real.first, 10)]
    admin(real, "admin_edited_time", latepoint_ui.edit_time, "Cat Customer", "11:00")
    moved = settled(world, f"latepoint-{winter}", "synced", 2)
    [meeting] = [m for m in meetings(world, "Intro call") if m["id"] == before["id"]]
    assert meeting["start_time"] == utc(real.first, 11) and not meeting.get("deleted")
    assert moved["starts_at"] == local(real.first, 11) and moved["join_url"] == before["join_url"]


def test_admin_cancels_by_status(real):
    world = real.world
    admin(real, "admin_status_cancelled", latepoint_ui.set_status, "Dan Customer", "cancelled")
    cancelled = settled(world, f"latepoint-{real.ids['summer']}", "cancelled", 2)
    assert cancelled["join_url"] is None
    assert [m["start_time"] for m in meetings(world, "Intro call") if m.get("deleted")] == [
        utc(real.second, 10)
    ]


def test_pending_then_approved_again_changes_nothing(real):
    world = real.world
    fay = booked(real, "booked_for_pending", real.first, 16 * 60, "Fay", "fay@example.com")
    settled(world, f"latepoint-{fay}", "synced", 1)
    sent = len(outbox(world))
    admin(real, "admin_status_pending", latepoint_ui.set_status, "Fay Customer", "pending")
    admin(real, "admin_status_approved", latepoint_ui.set_status, "Fay Customer", "approved")
    assert len(outbox(world)) == sent and row(world, f"latepoint-{fay}")["state"] == "synced"


def test_the_customer_finds_the_join_link_and_cancels_on_the_manage_page(real):
    world = real.world
    eve = booked(real, "booked_for_customer_cancel", real.first, 15 * 60, "Eve", "eve@example.com")
    synced = settled(world, f"latepoint-{eve}", "synced", 1)
    manage = world.wp.php(f"return ( new OsBookingModel( {eve} ) )->manage_by_key_url( 'customer' );")
    # The join link itself, or where wp-bridge has one, the booking's join page (which shows it).
    expected = world.wp.php(
        f"return MeetBridge_Integration::join_url( 'latepoint-{eve}', 'eve@example.com' );"
    )
    if not world.wp.php("return function_exists( 'meetbridge_join_page_url' );"):
        assert expected == synced["join_url"]
    with browser.page(width=1000, height=900) as page:
        page.goto(manage)
        link = page.locator("a.meetbridge-join-link")
        assert link.get_attribute("href") == expected
        real.shoot(page, "latepoint-3-manage-booking-join-link")
    # {{meetbridge_join_url}} in LatePoint's own template replacer (its e-mails and SMS).
    text = world.wp.php(
        "return OsReplacerHelper::replace_booking_vars( 'Join: {{meetbridge_join_url}}',"
        f" new OsBookingModel( {eve} ) );"
    )
    assert text == "Join: " + expected.replace("&", "&#038;"), text
    mark = real.recorder.mark()
    with browser.page(width=1000, height=900) as page:
        latepoint_ui.cancel_as_customer(page, manage)
    real.record("customer_cancelled", mark)
    settled(world, f"latepoint-{eve}", "cancelled", 2)


def test_admin_deletes_the_order(real):
    world = real.world
    admin(real, "admin_deleted_order", latepoint_ui.delete_order, "Cat Customer")
    settled(world, f"latepoint-{real.ids['winter']}", "cancelled", 3)
    assert utc(real.first, 11) in [m["start_time"] for m in meetings(world, "Intro call") if m.get("deleted")]


def test_bookings_page_and_what_latepoint_fired(real):
    world = real.world
    with browser.page(width=1280, height=800) as page:
        log_in(world, page)
        page.goto(world.wp.url + "/wp-admin/admin.php?page=meetbridge")
        page.get_by_text("latepoint-", exact=False).first.wait_for()
        real.shoot(page, "latepoint-4-meetbridge-bookings")
    fired = {call["hook"] for step in real.steps for call in step["calls"]}
    assert {
        "latepoint_booking_created", "latepoint_booking_updated", "latepoint_booking_change_status",
        "latepoint_booking_will_be_deleted", "latepoint_get_booked_periods",
    } <= fired, fired  # fmt: skip
    real.check_recording()
    assert world.wp.plugin_log_lines() == []


# -- from the recording, through the real stack (no LatePoint needed) ---------------------------------


@pytest.fixture(scope="module")
def replayed(tmp_path_factory):
    with booking_plugins.replay_world(tmp_path_factory.mktemp("latepoint-replay")) as world:
        booking_plugins.stand_in(world.wp, LATEPOINT, "LATEPOINT_VERSION")
        sam = str(world.wp.php("return get_user_by( 'login', 'sam' )->ID;"))
        booking_plugins.link_staff(world, sam, "sam.staff@example.com")  # the recording's agent
        yield world


def test_the_recording_through_the_stack(replayed):
    world = replayed
    recording = booking_plugins.load_recording(LATEPOINT)
    assert world.wp.php(f"return class_exists( '{ADAPTER}' );") is True
    first = next(s for s in recording["steps"] if s["step"] == "booked_front_end")
    [created] = [c for c in first["calls"] if c["hook"] == "latepoint_booking_created"]
    booking = created["args"][0]
    booking_plugins.replay(world.wp, LATEPOINT, "booked_front_end", ADAPTER)
    synced = settled(world, f"latepoint-{booking['id']}", "synced", 1)
    start = dt.datetime.fromisoformat(booking["start_datetime_utc"]).replace(tzinfo=dt.UTC)
    assert dt.datetime.fromisoformat(synced["starts_at"]) == start
    [meeting] = meetings(world, "Intro call")
    assert meeting["start_time"] == start.strftime("%Y-%m-%dT%H:%M:%SZ")
    booking_plugins.replay(world.wp, LATEPOINT, "admin_edited_time", ADAPTER)
    moved = settled(world, f"latepoint-{booking['id']}", "synced", 2)
    assert dt.datetime.fromisoformat(moved["starts_at"]) == start + dt.timedelta(hours=1)
    booking_plugins.replay(world.wp, LATEPOINT, "admin_deleted_order", ADAPTER)
    settled(world, f"latepoint-{booking['id']}", "cancelled", 3)
    assert [m["id"] for m in meetings(world, "Intro call") if m.get("deleted")] == [meeting["id"]]
    assert world.wp.plugin_log_lines() == []
