"""End to end: a real WordPress (Debian's package, MariaDB, php -S) with the plugin, and the real
MeetBridge (gunicorn over TLS, an RQ worker, redis-server, the sandbox). Bookings are fired inside
WordPress with `do_action` from a PHP CLI script; the plugin's outbox sends them from a background
loopback request; MeetBridge syncs them with the sandbox and posts the results back to the plugin's
REST route. A browser (Debian's Chromium) does what a site admin does."""

from __future__ import annotations

import base64
import json

import pytest
import requests

from tests import browser, processes
from tests.site_stack import stored_token
from tests.wordpress import admin_flow
from tests.wordpress.conftest import require_wordpress
from tests.wordpress.meetbridge_world import start_world

pytestmark = pytest.mark.stack

ADMIN_ID = "1"  # the staff member whose accounts are linked for the booking tests
SHOTS = browser.ARTIFACTS / "wordpress"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    require_wordpress()
    world = start_world(tmp_path_factory.mktemp("e2e"))
    try:
        world.sandbox.post("consent", {"mode": "approve", "email": "admin@example.com"})
        for provider in ("google", "zoom"):
            # The link comes from the plugin's own client (signed connect-links call).
            url = world.wp.php(
                f"$a = ( new MeetBridge_Client() )->connect_link( '{provider}', '{ADMIN_ID}', "
                "admin_url( 'admin.php?page=meetbridge-staff' ) ); return $a['body']['url'] ?? $a;"
            )
            assert isinstance(url, str) and url.startswith(world.stack.base_url), url
            world.linker.press_continue(url)  # approve mode: straight back to WordPress
        linked = {(a["provider"], a["staff_id"], a["status"]) for a in world.linker.accounts()}
        assert {("google", ADMIN_ID, "active"), ("zoom", ADMIN_ID, "active")} <= linked, linked
        yield world
    finally:
        world.stop()


def php_array(value) -> str:
    """A PHP expression for a JSON-able Python value."""
    encoded = base64.b64encode(json.dumps(value).encode()).decode()
    return f"json_decode( base64_decode( '{encoded}' ), true )"


def booking(booking_id: str, **changes) -> dict:
    return {
        "id": booking_id,
        "title": "Intro call",
        "start": "2026-12-01T10:00:00+01:00",
        "end": "2026-12-01T10:30:00+01:00",
        "timezone": "Europe/Berlin",
        "staff": {"id": ADMIN_ID, "email": "admin@example.com", "name": "Ada Admin"},
        "customer": {"email": "cus@example.com", "name": "Cat Customer"},
        "video": "zoom",
        "location": None,
        **changes,
    }


def fire(world, action: str, payload: dict) -> None:
    """What a booking plugin does inside a page request: one do_action. The plugin's shutdown hook
    then spawns the background sender (a loopback request to php -S)."""
    world.wp.php(f"do_action( 'meetbridge_{action}', {php_array(payload)} ); return true;")


def row(world, booking_id: str) -> dict | None:
    return world.wp.php(f"return MeetBridge_Bookings::get( '{booking_id}' );")


def settled(world, booking_id: str, state: str, revision: int, timeout: float = 60) -> dict:
    def done():
        current = row(world, booking_id)
        ok = current and current["state"] == state and int(current["result_revision"]) >= revision
        return current if ok else None

    return processes.wait_for(
        done, timeout=timeout, interval=0.3, what=f"{booking_id} {state} rev {revision}"
    )


def meetings(world, title: str) -> list[dict]:
    return [m for m in world.sandbox.state()["zoom_meetings"] if m.get("topic") == title]


def events(world, title: str) -> list[dict]:
    return [e for e in world.sandbox.state()["google_events"] if e.get("summary") == title]


def outbox(world) -> list[dict]:
    return world.wp.php(
        "global $wpdb; return $wpdb->get_results( 'SELECT booking_id, revision, event_type, webhook_id,"
        " status, attempts, last_status FROM wp_meetbridge_outbox ORDER BY id', ARRAY_A );"
    )


def test_test_connection_in_plain_words(world):
    verdict = world.wp.php("return MeetBridge_Connection_Check::run();")
    assert verdict["ok"] is True and verdict["message"].startswith("Connected"), verdict
    wrong = "whsec_" + base64.b64encode(b"x" * 32).decode()
    verdict = world.wp.php(
        f"update_option( 'meetbridge_secret', '{wrong}' ); $v = MeetBridge_Connection_Check::run();"
        f"update_option( 'meetbridge_secret', '{world.site['secret']}' ); return $v;"
    )
    assert verdict["ok"] is False and "Wrong secret" in verdict["message"], verdict
    verdict = world.wp.php(
        "$o = get_option( 'meetbridge_settings' ); $bad = $o; $bad['site_id'] = 'site_nope';"
        "update_option( 'meetbridge_settings', $bad ); $v = MeetBridge_Connection_Check::run();"
        "update_option( 'meetbridge_settings', $o ); return $v;"
    )
    assert verdict["ok"] is False and "site id" in verdict["message"], verdict


def test_create_reschedule_cancel(world):
    title = "E2E lifecycle"
    fire(world, "booking_created", booking("life", title=title))
    synced = settled(world, "life", "synced", 1)
    [meeting] = meetings(world, title)
    assert synced["join_url"] == meeting["join_url"] and synced["meeting_id"] == str(meeting["id"])
    [event] = events(world, title)
    assert event["status"] == "confirmed" and synced["event_link"] == event["htmlLink"]
    assert meeting["start_time"] == "2026-12-01T09:00:00Z"
    # The join link for e-mails and pages.
    assert world.wp.php("return apply_filters( 'meetbridge_join_link', '', 'life' );") == meeting["join_url"]
    html = world.wp.php("return do_shortcode( '[meetbridge_join_link booking=\"life\"]' );")
    assert meeting["join_url"].replace("&", "&#038;") in html

    fire(world, "booking_updated", booking("life", title=title, start="2026-12-02T15:00:00+01:00",
                                           end="2026-12-02T16:00:00+01:00"))  # fmt: skip
    settled(world, "life", "synced", 2)
    [moved] = meetings(world, title)
    assert moved["id"] == meeting["id"] and moved["start_time"] == "2026-12-02T14:00:00Z"
    [moved_event] = events(world, title)
    assert moved_event["id"] == event["id"] and moved_event["start"]["dateTime"].startswith("2026-12-02T15")

    fire(world, "booking_cancelled", {"id": "life"})
    cancelled = settled(world, "life", "cancelled", 3)
    assert cancelled["join_url"] is None
    assert [m["deleted"] for m in meetings(world, title)] == [True]
    assert [e["status"] for e in events(world, title)] == ["cancelled"]
    assert world.wp.php("return apply_filters( 'meetbridge_join_link', '', 'life' );") == ""
    assert [(o["revision"], o["status"]) for o in outbox(world) if o["booking_id"] == "life"] == [
        ("1", "sent"), ("2", "sent"), ("3", "sent"),
    ]  # fmt: skip


def test_meetbridge_down_for_a_while_then_everything_arrives_once(world):
    world.stack.services["web"].stop()
    try:
        fire(world, "booking_created", booking("down-a", title="Down A"))
        fire(world, "booking_created", booking("down-b", title="Down B"))
        fire(world, "booking_updated", booking("down-a", title="Down A", start="2026-12-03T10:00:00+01:00",
                                               end="2026-12-03T11:00:00+01:00"))  # fmt: skip
        # The background sender tried and failed; nothing is lost, nothing was sent out of order.
        stats = world.wp.php("return MeetBridge_Outbox::run();")
        assert stats["sent"] == 0, stats

        def tried():
            rows = [o for o in outbox(world) if o["booking_id"].startswith("down-")]
            return (
                rows
                if all(o["event_type"] and o["status"] == "pending" for o in rows)
                and any(int(o["attempts"]) > 0 for o in rows)
                else None
            )

        rows = processes.wait_for(tried, timeout=30, interval=0.3, what="failed attempts in the outbox")
        assert [(o["booking_id"], o["revision"]) for o in rows] == [
            ("down-a", "1"),
            ("down-b", "1"),
            ("down-a", "2"),
        ]
        assert all(o["last_status"] == "0" for o in rows if int(o["attempts"]) > 0)
        assert int(rows[2]["attempts"]) == 0, "rev 2 must wait for rev 1"
        state = row(world, "down-a")
        assert state["state"] == "queued" and "could not be reached" in state["last_error"]
        assert meetings(world, "Down A") == [] and meetings(world, "Down B") == []
    finally:
        world.stack.start_web()
        world.stack.wait_ready()

    # Back up: "Retry now" (what the admin button does), and the outbox drains in order.
    world.wp.php("MeetBridge_Outbox::retry_now(); return MeetBridge_Outbox::run();")
    settled(world, "down-a", "synced", 2)
    settled(world, "down-b", "synced", 1)
    assert len(meetings(world, "Down A")) == 1 and len(meetings(world, "Down B")) == 1
    assert len(events(world, "Down A")) == 1 and len(events(world, "Down B")) == 1
    assert meetings(world, "Down A")[0]["start_time"] == "2026-12-03T09:00:00Z"
    rows = [o for o in outbox(world) if o["booking_id"].startswith("down-")]
    assert [o["status"] for o in rows] == ["sent", "sent", "sent"]
    assert len({o["webhook_id"] for o in rows}) == 3
    # Sending everything once more (same webhook-ids) changes nothing at MeetBridge or the sandbox.
    world.wp.php(
        "global $wpdb; $wpdb->query( \"UPDATE wp_meetbridge_outbox SET status = 'pending'\" ); return true;"
    )
    world.wp.php("return MeetBridge_Outbox::run();")
    assert len(meetings(world, "Down A")) == 1 and len(events(world, "Down B")) == 1
    assert row(world, "down-a")["state"] == "synced"


def busy_in_google(world, staff_id: str, start: str, end: str) -> None:
    """An event in the staff member's primary Google calendar (sandbox), put there with their own token."""
    token = stored_token(world.stack, world.redis.client(), world.site["site_id"], "google", staff_id)
    answer = requests.post(
        world.stack.sandbox_url + "/google/calendar/v3/calendars/primary/events",
        json={"summary": "Dentist", "start": {"dateTime": start}, "end": {"dateTime": end}},
        headers={"Authorization": f"Bearer {token['access_token']}"},
        verify=str(world.stack.certs.bundle),
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


SLOTS = [
    {"start": "2030-03-05T09:00:00+01:00", "end": "2030-03-05T10:00:00+01:00", "id": "nine"},
    {"start": "2030-03-05T10:00:00+01:00", "end": "2030-03-05T11:00:00+01:00", "id": "ten"},
    {"start": "2030-03-05T11:00:00+01:00", "end": "2030-03-05T12:00:00+01:00", "id": "eleven"},
]


def filter_slots(world, staff_id: str) -> list[dict]:
    """What a theme's booking page does inside a request: one call of meetbridge_filter_slots()."""
    return world.wp.php(f"return meetbridge_filter_slots( {php_array(SLOTS)}, '{staff_id}' );")


def freebusy_calls(world) -> int:
    return sum(1 for call in world.sandbox.state()["calls"] if call["path"].endswith("/freeBusy"))


def test_a_slot_busy_in_google_calendar_disappears(world):
    busy_in_google(world, ADMIN_ID, "2030-03-05T10:15:00+01:00", "2030-03-05T10:45:00+01:00")
    calls = freebusy_calls(world)
    assert [slot["id"] for slot in filter_slots(world, ADMIN_ID)] == ["nine", "eleven"]
    assert freebusy_calls(world) == calls + 1
    # The next page view (another PHP process) within 30 s: from the transient, MeetBridge not asked.
    assert [slot["id"] for slot in filter_slots(world, ADMIN_ID)] == ["nine", "eleven"]
    assert freebusy_calls(world) == calls + 1
    assert world.wp.php("return MeetBridge_Availability::warnings();") == []


def test_a_staff_member_without_google_keeps_every_slot_and_the_admin_is_warned(world):
    sam = str(world.wp.php("return get_user_by( 'login', 'sam' )->ID;"))
    assert ("google", sam) not in {(a["provider"], a["staff_id"]) for a in world.linker.accounts()}
    assert filter_slots(world, sam) == SLOTS
    warnings = world.wp.php("return MeetBridge_Availability::warnings();")
    assert list(warnings) == [f"not_linked:{sam}"], warnings
    assert warnings[f"not_linked:{sam}"]["status"] == 404
    notice = world.wp.php(
        "require_once MEETBRIDGE_DIR . 'admin/class-meetbridge-admin.php'; wp_set_current_user( 1 );"
        " ob_start(); MeetBridge_Admin::notices(); return ob_get_clean();"
    )
    assert "Busy times of Sam Staff in Google Calendar could not be checked" in notice, notice


def test_admin_in_a_browser_saves_settings_and_connects_zoom(world):
    browser.require_chromium()
    SHOTS.mkdir(parents=True, exist_ok=True)
    sam = str(world.wp.php("return get_user_by( 'login', 'sam' )->ID;"))
    world.wp.php(
        "update_option( 'meetbridge_settings', array() ); update_option( 'meetbridge_secret', '' ); return 1;"
    )
    world.sandbox.post("consent", {"mode": "ask", "email": "sam.staff@example.com"})

    def shoot(page, name: str) -> None:
        page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)

    with browser.page(width=1100, height=760) as page:
        admin_flow.log_in(world, page)
        admin_flow.save_settings(world, page, shoot)
        saved = world.wp.php(
            "return array( get_option( 'meetbridge_settings' ), get_option( 'meetbridge_secret' ) );"
        )
        assert saved == [
            {"service_url": world.stack.base_url, "site_id": world.site["site_id"]},
            world.site["secret"],
        ]
        admin_flow.connect_zoom(world, page, sam, shoot)
        assert ("zoom", sam, "active") in {
            (a["provider"], a["staff_id"], a["status"]) for a in world.linker.accounts()
        }
        admin_flow.disconnect_zoom(world, page, sam)
    assert ("zoom", sam) not in {(a["provider"], a["staff_id"]) for a in world.linker.accounts()}
    assert {p.name for p in SHOTS.glob("wp-*.png")} >= {"wp-1-settings.png", "wp-5-connected.png"}


def test_no_notice_or_warning_from_the_plugin(world):
    assert world.wp.plugin_log_lines() == []
