"""End to end: a real WordPress (Debian's package, MariaDB, php -S) with the plugin, and the real
MeetBridge (gunicorn over TLS, an RQ worker, redis-server, the sandbox). Bookings are fired inside
WordPress with `do_action` from a PHP CLI script; the plugin's outbox sends them from a background
loopback request; MeetBridge syncs them with the sandbox and posts the results back to the plugin's
REST route. A browser (Debian's Chromium) does what a site admin does."""

from __future__ import annotations

import base64
import html
import json
import time

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

    try:
        return processes.wait_for(
            done, timeout=timeout, interval=0.3, what=f"{booking_id} {state} rev {revision}"
        )
    except TimeoutError as exc:
        sent = [o for o in outbox(world) if o["booking_id"] == booking_id]
        raise TimeoutError(f"{exc}: row {row(world, booking_id)}, outbox {sent}") from None


def meetings(world, title: str) -> list[dict]:
    return [m for m in world.sandbox.state()["zoom_meetings"] if m.get("topic") == title]


def events(world, title: str) -> list[dict]:
    return [e for e in world.sandbox.state()["google_events"] if e.get("summary") == title]


def column(world, query: str, *args) -> list:
    """One column of a prepared query inside WordPress."""
    prepared = f"$wpdb->prepare( {php_array(query)}, ...{php_array(list(args))} )"
    return world.wp.php(f"global $wpdb; return $wpdb->get_col( {prepared} );")


BODY_SIZES = "SELECT CHAR_LENGTH(body) FROM wp_meetbridge_outbox WHERE booking_id = %s ORDER BY id"


def body_sizes(world, booking_id: str) -> list[int]:
    """How much of each outbox row's body is left (0: dropped)."""
    return [int(size) for size in column(world, BODY_SIZES, booking_id)]


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
    shortcode = "do_shortcode( '[meetbridge_join_link booking=\"life\"]' )"
    assert world.wp.php(f"return {shortcode};") == "", "only for the staff member, admins, the customer"
    shown = world.wp.php(f"wp_set_current_user( 1 ); return {shortcode};")
    assert meeting["join_url"].replace("&", "&#038;") in shown

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
    # Acknowledged: nothing personal is left in the outbox.
    assert body_sizes(world, "life") == [0, 0, 0]


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
        first = rows[0]
        by_id = "SELECT body FROM wp_meetbridge_outbox WHERE webhook_id = %s"
        [owed] = column(world, by_id, first["webhook_id"])
        assert "cus@example.com" in owed, "kept while owed"
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
    # Sending an event once more (same webhook-id; its body was kept aside while it was still owed,
    # the outbox drops it once acknowledged) changes nothing at MeetBridge or the sandbox.
    assert body_sizes(world, "down-a") == [0, 0]
    again = world.wp.php(
        f"return ( new MeetBridge_Client() )->post_event( {php_array(owed)}, '{first['webhook_id']}' );"
    )
    assert again["status"] == 200, again
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
            {
                "service_url": world.stack.base_url,
                "site_id": world.site["site_id"],
                "ca_bundle": str(world.wp.ca_bundle),
                "retention_days": 7,
                "ea_sync": "confirmed",
                "ea_apply_changes": False,
            },
            world.site["secret"],
        ]
        admin_flow.connect_zoom(world, page, sam, shoot)
        assert ("zoom", sam, "active") in {
            (a["provider"], a["staff_id"], a["status"]) for a in world.linker.accounts()
        }
        admin_flow.disconnect_zoom(world, page, sam)
    assert ("zoom", sam) not in {(a["provider"], a["staff_id"]) for a in world.linker.accounts()}
    assert {p.name for p in SHOTS.glob("wp-*.png")} >= {"wp-1-settings.png", "wp-5-connected.png"}


def test_a_booking_id_with_a_colon_gets_200_on_get_and_delete(world):
    fire(world, "booking_created", booking("ea:77", title="Colon id"))
    settled(world, "ea:77", "synced", 1)
    status = world.wp.php("return ( new MeetBridge_Client() )->booking( 'ea:77' );")
    assert status["status"] == 200 and status["body"]["booking_id"] == "ea:77", status
    erased = world.wp.php("return ( new MeetBridge_Client() )->erase_booking( 'ea:77' );")
    assert erased["status"] == 200 and erased["body"]["deleted"] is True, erased
    assert world.wp.php("return ( new MeetBridge_Client() )->booking( 'ea:77' )['status'];") == 404
    assert [m["deleted"] for m in meetings(world, "Colon id")] == [True]


FIND_EVERYWHERE = """global $wpdb; $found = array();
foreach ( MeetBridge_Schema::tables() as $table ) {
    foreach ( $wpdb->get_results( 'SELECT * FROM ' . $table, ARRAY_A ) as $stored ) {
        if ( false !== stripos( wp_json_encode( $stored ), NEEDLE ) ) { $found[] = $table; }
    }
}
return $found;"""


def personal_data_left(world, email: str) -> list[str]:
    """The plugin's tables' rows that contain `email` (any column, any case)."""
    return world.wp.php(FIND_EVERYWHERE.replace("NEEDLE", php_array(email)))


def test_a_customer_erased_with_wordpress_privacy_tools_is_gone_everywhere(world, tmp_path):
    browser.require_chromium()
    SHOTS.mkdir(parents=True, exist_ok=True)
    email = "erin.erased@example.com"
    erin = {"email": email, "name": "Erin Erased"}
    for number in (1, 2):
        fire(world, "booking_created", booking(f"erase-{number}", title=f"Erase me {number}", customer=erin))
    fire(world, "booking_created", booking("erase-other", title="Keep me"))
    for booking_id in ("erase-1", "erase-2", "erase-other"):
        settled(world, booking_id, "synced", 1)
    assert [m["deleted"] for m in meetings(world, "Erase me 1")] == [False]
    with browser.page(width=1100, height=800) as page:
        admin_flow.log_in(world, page)
        report = admin_flow.export_personal_data(world, page, "Erin.Erased@example.com", tmp_path)
        html = report.read_text()
        assert "MeetBridge video meetings" in html and "Erase me 1" in html and "Erase me 2" in html
        assert "Keep me" not in html
        assert meetings(world, "Erase me 1")[0]["join_url"] in html  # what MeetBridge holds, too
        page.goto(report.as_uri() + "#meetbridge")
        page.screenshot(path=str(SHOTS / "wp-9-export-personal-data.png"), full_page=True)
        result = admin_flow.erase_personal_data(world, page, email)
        page.screenshot(path=str(SHOTS / "wp-8-erase-personal-data.png"), full_page=True)
    assert "erased" in result, result
    for number in (1, 2):
        status = world.wp.php(f"return ( new MeetBridge_Client() )->booking( 'erase-{number}' );")
        assert (status["status"], status["body"]["error"]) == (404, "unknown_booking"), status
        assert [m["deleted"] for m in meetings(world, f"Erase me {number}")] == [True]
        assert [e["status"] for e in events(world, f"Erase me {number}")] == ["cancelled"]
        assert row(world, f"erase-{number}") is None
    assert personal_data_left(world, email) == []
    assert row(world, "erase-other")["state"] == "synced"
    assert [m["deleted"] for m in meetings(world, "Keep me")] == [False]


def ajax_as_admin(world, page, query: str, form: dict | None = None) -> dict:
    """An admin-ajax request from the logged-in admin's page, as Easy Appointments' admin script sends it."""
    return page.evaluate(
        """async ([url, form]) => {
            const options = {method: 'POST', credentials: 'same-origin'};
            if (form) { options.body = new URLSearchParams(form); }
            const answer = await fetch(url, options);
            return {status: answer.status, body: await answer.text()};
        }""",
        [f"{world.wp.url}/wp-admin/admin-ajax.php?{query}", form],
    )


def test_deleting_an_appointment_in_easy_appointments_admin_deletes_meeting_and_event(world):
    """Easy Appointments 3.12.23 as observed (tests/wordpress/fixtures): booked through its form
    (pending), confirmed by the customer's e-mail link, then deleted with the Delete button of its
    Appointments page; and the rest cancelled with "Cancel All"."""
    browser.require_chromium()
    world.wp.php("MeetBridge_EA_Double::install( 'admin@example.com', 100 ); return true;")
    try:
        ids = world.wp.php(
            "return array( MeetBridge_EA_Double::book( '2030-06-03', '10:00', 'dora@example.com' ),"
            " MeetBridge_EA_Double::book( '2030-06-03', '11:00', 'finn@example.com' ) );"
        )
        time.sleep(2)
        assert [row(world, f"ea-{i}") for i in ids] == [None, None], "pending: no meeting yet (the default)"
        for i in ids:
            world.wp.php(f"return MeetBridge_EA_Double::confirm_by_link( {i} );")
        deleted, other = ids
        synced = settled(world, f"ea-{deleted}", "synced", 1)
        settled(world, f"ea-{other}", "synced", 1)
        [meeting] = [
            m for m in world.sandbox.state()["zoom_meetings"] if str(m["id"]) == synced["meeting_id"]
        ]
        assert meeting["deleted"] is False
        with browser.page() as page:
            admin_flow.log_in(world, page)
            nonce = ajax_as_admin(world, page, "action=rest-nonce")["body"]
            # POST admin-ajax.php?action=ea_appointment&id=N&_wpnonce=…&_method=DELETE, empty body.
            answer = ajax_as_admin(
                world, page, f"action=ea_appointment&id={deleted}&_wpnonce={nonce}&_method=DELETE"
            )
            assert answer == {"status": 200, "body": "1"}, answer
            cancelled = settled(world, f"ea-{deleted}", "cancelled", 2)
            assert cancelled["join_url"] is None
            [gone] = [
                m for m in world.sandbox.state()["zoom_meetings"] if str(m["id"]) == synced["meeting_id"]
            ]
            assert gone["deleted"] is True
            [event] = [e for e in world.sandbox.state()["google_events"] if e["id"] == synced["event_id"]]
            assert event["status"] == "cancelled"
            # "Cancel All": a direct UPDATE of every upcoming appointment to 'abandoned', no hook.
            page.goto(world.wp.url + "/wp-admin/admin.php?page=easy_app_top_level")
            form = {"action": "cancel_selected_appointments", "cancel_to": "all"}
            form["appointments_nonce"] = page.evaluate("window.appointments_nonce")
            assert ajax_as_admin(world, page, "", form) == {"status": 200, "body": '{"data":true}'}
        settled(world, f"ea-{other}", "cancelled", 2)
    finally:
        world.wp.php("MeetBridge_EA_Double::uninstall(); return true;")


def test_a_contributors_preview_of_the_shortcode_shows_no_link(world):
    browser.require_chromium()
    fire(world, "booking_created", booking("preview-me", title="Preview me"))
    join_url = settled(world, "preview-me", "synced", 1)["join_url"]
    post = world.wp.php(
        "$u = wp_insert_user( array( 'user_login' => 'cora', 'user_pass' => 'cora-contributes-here',"
        " 'user_email' => 'cora@example.com', 'role' => 'contributor' ) );"
        " return wp_insert_post( array( 'post_author' => $u, 'post_title' => 'Sneaky',"
        " 'post_content' => '[meetbridge_join_link booking=\"preview-me\"]', 'post_status' => 'draft' ) );"
    )
    preview = f"{world.wp.url}/?p={post}&preview=true"
    with browser.page() as page:
        admin_flow.log_in(world, page, "cora", "cora-contributes-here")
        page.goto(preview)
        page.locator("h1", has_text="Sneaky").wait_for()
        assert "zoom" not in page.content() and page.locator("a.meetbridge-join-link").count() == 0
    with browser.page() as page:  # the same preview, by an administrator
        admin_flow.log_in(world, page)
        page.goto(preview)
        assert page.locator("a.meetbridge-join-link").get_attribute("href") == join_url


def test_the_customer_gets_the_join_link_from_the_e_mail_tag_and_the_confirmation(world):
    world.wp.php(
        "MeetBridge_EA_Double::install( 'admin@example.com', 200 );"
        " MeetBridge_EA_Double::set_option( 'send.user.email', '1' );"
        " MeetBridge_EA_Double::set_option( 'mail.pending', 'Your video link: #meetbridge_join_url#' );"
        " return true;"
    )
    try:
        booked = world.wp.php(
            "$id = MeetBridge_EA_Double::book( '2030-06-04', '09:00', 'gil@example.com' );"
            " return array( $id, MeetBridge_EA_Double::$mails );"
        )
        app_id, [mail] = booked
        assert mail["to"] == "gil@example.com"
        link = html.unescape(mail["body"].removeprefix("Your video link: "))
        assert link.startswith(world.wp.url + f"/?meetbridge_join=ea-{app_id}&meetbridge_token=")
        page = requests.get(link, timeout=10)
        assert page.status_code == 200 and "once your appointment is confirmed" in page.text
        assert (
            page.headers["Referrer-Policy"] == "no-referrer" and "no-cache" in page.headers["Cache-Control"]
        )
        assert requests.get(link[:-4] + "0000", timeout=10).status_code == 403
        redirect = world.wp.php(f"return MeetBridge_EA_Double::confirm_by_link( {app_id} );")
        assert redirect == link, "the confirmation page goes on to the same join page"
        synced = settled(world, f"ea-{app_id}", "synced", 1)
        page = requests.get(link, timeout=10)
        assert f'href="{synced["join_url"].replace("&", "&#038;")}"' in page.text
    finally:
        world.wp.php("MeetBridge_EA_Double::uninstall(); return true;")


def test_test_connection_trusts_a_private_ca_through_the_setting(world):
    settings = world.wp.php("return get_option( 'meetbridge_settings' );")
    try:
        world.wp.php(
            f"update_option( 'meetbridge_settings', {php_array({**settings, 'ca_bundle': ''})} ); return 1;"
        )
        verdict = world.wp.php("return MeetBridge_Connection_Check::run();")
        assert verdict["ok"] is False and "is not trusted" in verdict["message"], verdict
        pem = world.stack.certs.ca.read_text()
        pasted = php_array({**settings, "ca_bundle": pem})
        saved = world.wp.php(f"return MeetBridge_Settings::sanitize_settings( {pasted} );")
        assert saved["ca_bundle"] == pem.strip()
        world.wp.php(f"update_option( 'meetbridge_settings', {php_array(saved)} ); return 1;")
        verdict = world.wp.php("return MeetBridge_Connection_Check::run();")
        assert verdict["ok"] is True and "trusted through the CA bundle" in verdict["message"], verdict
    finally:
        world.wp.php(f"update_option( 'meetbridge_settings', {php_array(settings)} ); return 1;")


def test_old_outbox_rows_are_pruned_by_the_maintenance_cron(world):
    fire(world, "booking_created", booking("old-one", title="Old one"))
    settled(world, "old-one", "synced", 1)
    world.wp.php(
        "global $wpdb; $wpdb->query( $wpdb->prepare( 'UPDATE wp_meetbridge_outbox SET created_at = %d"
        " WHERE booking_id = %s', time() - 8 * DAY_IN_SECONDS, 'old-one' ) ); return 1;"
    )
    stats = world.wp.php("do_action( 'meetbridge_maintenance' ); return MeetBridge_Outbox::counts();")
    assert stats["pending"] == 0
    assert body_sizes(world, "old-one") == []
    assert row(world, "old-one")["state"] == "synced"


def test_no_notice_or_warning_from_the_plugin(world):
    assert world.wp.plugin_log_lines() == []
