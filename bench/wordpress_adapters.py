"""What each booking-plugin adapter of wp-bridge adds to that plugin's own booking request (p50, p99).

The same measure as bench/wordpress.py, with the real booking plugin instead of a stand-in request:
a real WordPress (tests/wordpress) with the plugin and wp-bridge, and the plugin's own booking request
sent over HTTP as its form sends it, sequentially. MeetBridge is up but only its web process runs (as
in bench/wordpress.py: no worker syncing on the same two cores meanwhile). *Added* is timed inside PHP
by a benchmark mu-plugin (wp_adapter_timer.php): the adapter's hook callbacks plus wp-bridge's
end-of-request work (deferred syncs, spawning the outbox's sender). *Request* is the whole request as
the client sees it, with wp-bridge active and with it deactivated (the plugin alone).

Needs the plugin's source in MEETBRIDGE_WP_PLUGINS (never downloaded) and Debian's Chromium (the
set-up goes through the plugin's admin screens). `make bench` runs it (section `adapters`) when
MEETBRIDGE_WP_PLUGINS is set, else says so; one plugin by hand:

    MEETBRIDGE_WP_PLUGINS=/path/to/plugins .venv/bin/python -m bench.wordpress_adapters amelia
    (or latepoint, ssa, bookly)
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import requests

from tests import browser, processes
from tests.wordpress import amelia_ui, booking_plugins, bookly_ui, latepoint_ui, ssa_ui
from tests.wordpress.admin_flow import log_in
from tests.wordpress.meetbridge_world import configure_plugin, sites_create
from tests.wordpress.wp import WordPress

TIMER = Path(__file__).resolve().parent / "wp_adapter_timer.php"
TARGET_MS = 10.0


@dataclass
class Case:
    name: str
    plugin: booking_plugins.BookingPlugin
    adapter: str  # the adapter's class
    request: str  # a substring of the booking request's URL
    set_up: Callable[[WordPress], Callable[[requests.Session, int], None]]  # returns "make booking i"
    only_booking: bool = False  # time only requests in which the adapter's actions fired
    post_action: str = ""  # time only requests that POST this `action` (AJAX forms)
    timed: tuple[str, ...] = ()  # more hooks the adapter uses in the booking request (`hook@priority`)
    count: int = 60  # bookings timed with wp-bridge, and as many without


def _slots(count: int, per_day: int = 16, start_hour: int = 9) -> list[tuple[dt.date, str]]:
    """`count` free half-hour slots on weekdays (from `start_hour`), from a week ahead."""
    day, slots = dt.date.today() + dt.timedelta(days=7), []
    while len(slots) < count:
        if day.weekday() < 5:
            slots += [(day, f"{start_hour + i // 2:02d}:{30 * (i % 2):02d}") for i in range(per_day)]
        day += dt.timedelta(days=1)
    return slots[:count]


def _amelia(wp: WordPress) -> Callable[[requests.Session, int], None]:
    plugin = amelia_ui.AMELIA
    booking_plugins.install(wp, plugin, booking_plugins.plugin_source(plugin))
    with browser.page(width=1280, height=900) as page:
        log_in(SimpleNamespace(wp=wp), page)
        amelia_ui.set_up(page, wp.url)
    slots = _slots(400)
    url = wp.url + "/wp-admin/admin-ajax.php?action=wpamelia_api&call=/bookings"

    def book(session: requests.Session, index: int) -> None:
        day, time_ = slots[index]
        customer = {"id": None, "firstName": "Bea", "lastName": f"Bench{index}",
                    "email": f"bea{index}@example.com", "phone": "", "subscribeToMailchimp": False,
                    "countryPhoneIso": "us", "externalId": None, "translations": None,
                    "customFields": {}}  # fmt: skip
        body = {  # what Amelia's step-by-step form posted (recorded in Chromium)
            "type": "appointment", "bookings": [{"customFields": {}, "deposit": True, "locale": "en_US",
            "utcOffset": None, "customerId": None, "customer": customer, "extras": [], "persons": 1,
            "duration": 1800}], "payment": {"gateway": "onSite", "currency": "USD", "data": {}},
            "recaptcha": None, "locale": "en_US", "timeZone": "UTC", "urlParams": {}, "componentProps": None,
            "returnUrl": wp.url + "/book/", "couponCode": None, "notifyParticipants": 1, "isCart": 0,
            "recurring": [], "package": [], "serviceId": 1, "providerId": 1, "locationId": None,
            "bookingStart": f"{day} {time_}", "utcOffset": None, "extras": [], "persons": 1, "duration": 1800,
        }  # fmt: skip
        answer = session.post(url, json=body, timeout=60)
        assert answer.status_code == 200 and "Successfully" in answer.text, answer.text[:300]

    return book


def _latepoint(wp: WordPress) -> Callable[[requests.Session, int], None]:
    """LatePoint's form books in several AJAX steps; the booking request is its last (`submit`): the
    earlier steps are replayed from the form for each booking, then the final one is timed."""
    plugin = latepoint_ui.LATEPOINT
    booking_plugins.install(wp, plugin, booking_plugins.plugin_source(plugin))
    with browser.page(width=1280, height=900) as page:
        log_in(SimpleNamespace(wp=wp), page)
        latepoint_ui.set_up(page, wp.url)
    url = booking_plugins.page(wp, "book", "[latepoint_book_form]")
    slots = _slots(400, per_day=18, start_hour=8)
    context = browser.page(width=1000, height=1000)  # one browser for the whole run (closed at exit)
    page = context.__enter__()

    def book(_session: requests.Session, index: int, _keep=context) -> None:  # _keep: the browser lives on
        day, time_ = slots[index]
        hours, minutes = time_.split(":")
        latepoint_ui.book(
            page, url, day.isoformat(), int(hours) * 60 + int(minutes), "Bea", f"bea{index}@example.com"
        )

    return book


def _ssa(wp: WordPress) -> Callable[[requests.Session, int], None]:
    """SSA books through its booking app (an iframe) in Chromium; the timed request is the one that
    stores the appointment (`POST /wp-json/ssa/v1/appointments`)."""
    plugin = ssa_ui.SSA
    booking_plugins.install(wp, plugin, booking_plugins.plugin_source(plugin))
    with browser.page(width=1280, height=900) as page:
        log_in(SimpleNamespace(wp=wp), page)
        ssa_ui.set_up(page, wp.url)
    ssa_ui.name_type(wp)
    url = booking_plugins.page(wp, "book", ssa_ui.SHORTCODE)
    # Times (the browser is in UTC) inside SSA's default hours in Berlin in winter and in summer.
    times = ["9:00 AM", "9:30 AM", "1:00 PM", "1:30 PM", "2:00 PM"]
    slots = [(day, t) for day, _ in _slots(100, per_day=1) for t in times]
    context = browser.page(width=1000, height=1100)  # one browser for the whole run (closed at exit)
    page = context.__enter__()

    def book(_session: requests.Session, index: int, _keep=context) -> None:  # _keep: the browser lives on
        day, time_ = slots[index]
        ssa_ui.book(page, url, day.isoformat(), time_, f"Bea Bench{index}", f"bea{index}@example.com")
        ssa_ui.booked(page)

    return book


def _bookly(wp: WordPress) -> Callable[[requests.Session, int], None]:
    """Bookly's form books in several AJAX steps, all to admin-ajax.php; the timed request is its last
    (`bookly_save_appointment`), which saves the appointment and sends Bookly's e-mails. The adapter's
    busy-time check before it, its `query` filter and its `wp_mail` filter are all timed."""
    plugin = bookly_ui.BOOKLY
    booking_plugins.install(wp, plugin, booking_plugins.plugin_source(plugin))
    wp.php(bookly_ui.SET_UP)
    url = booking_plugins.page(wp, "book", bookly_ui.SHORTCODE)
    slots = _slots(400, per_day=18, start_hour=8)
    context = browser.page(width=1000, height=1100)  # one browser for the whole run (closed at exit)
    page = context.__enter__()

    def book(_session: requests.Session, index: int, _keep=context) -> None:  # _keep: the browser lives on
        day, time_ = slots[index]
        bookly_ui.book(page, url, day, time_, f"Bea Bench{index}", f"bea{index}@example.com")
        bookly_ui.booked(page)

    return book


CASES = {
    "amelia": Case("Amelia Lite 1.2.34", amelia_ui.AMELIA, "MeetBridge_Amelia", "call=/bookings", _amelia),
    "latepoint": Case(
        "LatePoint 5.6.5", latepoint_ui.LATEPOINT, "MeetBridge_LatePoint", "admin-ajax.php", _latepoint,
        only_booking=True, count=30,
    ),
    "ssa": Case(
        "Simply Schedule Appointments 1.6.12.21", ssa_ui.SSA, "MeetBridge_SSA",
        "/wp-json/ssa/v1/appointments", _ssa, only_booking=True, count=30,
    ),
    "bookly": Case(
        "Bookly 27.4", bookly_ui.BOOKLY, "MeetBridge_Bookly", "admin-ajax.php", _bookly, count=30,
        post_action="bookly_save_appointment", timed=("wp_ajax_nopriv_bookly_save_appointment@5", "wp_mail"),
    ),
}  # fmt: skip


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _run(wp: WordPress, book, start: int, count: int) -> tuple[list[float], list[float], list]:
    """Bookings `start`..`start+count`: the time wp-bridge added to each (inside PHP), each request's
    whole time, and the two parts of the added time."""
    log = wp.root / "wp-content" / "wp-adapter-timer.jsonl"
    log.unlink(missing_ok=True)
    session, totals = requests.Session(), []
    for index in range(start, start + count):
        started = time.perf_counter()
        book(session, index)
        totals.append((time.perf_counter() - started) * 1000)
    time.sleep(0.5)
    entries = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    parts = [(e["in_hooks"], e["at_shutdown"]) for e in entries]
    return [a + b for a, b in parts], totals, parts


def measure(case: Case, folder: Path, count: int = 60, warmup: int = 5) -> dict:
    # As bench/wordpress.py: MeetBridge's web process answers (no worker syncs, no sandbox), so the
    # machine's two cores are not shared with syncing while the booking requests are timed.
    redis = processes.RedisServer(folder / "redis")
    stack = processes.Stack(folder / "stack", redis.url, workers=0, MEETBRIDGE_LOG_LEVEL="WARNING")
    wp = WordPress(folder / "wp", ca_bundle=stack.certs.bundle)
    try:
        redis.start()
        stack.start(sandbox=False)
        wp.start()
        configure_plugin(wp, stack.base_url, sites_create(stack, "Bench shop", wp.url))
        book = case.set_up(wp)
        mu = wp.root / "wp-content" / "mu-plugins"
        shutil.copy(TIMER, mu)
        actions = wp.php(f"return {case.adapter}::actions();") + list(case.timed)
        config = {
            "actions": actions, "request": case.request, "only_booking": case.only_booking,
            "post_action": case.post_action,
        }  # fmt: skip
        (mu / "wp-adapter-timer.json").write_text(json.dumps(config))
        _run(wp, book, 0, warmup)
        added, on, parts = _run(wp, book, warmup, count)
        queued = wp.php("return array_sum( MeetBridge_Outbox::counts() );")
        wp.php(
            "require_once ABSPATH . 'wp-admin/includes/plugin.php';"
            " deactivate_plugins( 'wp-bridge/meetbridge.php' ); return 1;"
        )
        _run(wp, book, warmup + count, warmup)
        _floor, off, _parts = _run(wp, book, 2 * warmup + count, count)
        assert wp.plugin_log_lines() == [], wp.plugin_log_lines()[:5]
    finally:
        wp.stop()
        stack.stop()
        redis.stop()
    return {
        "case": case.name, "requests": count, "queued": queued,
        "in_hooks_p50": statistics.median(p[0] for p in parts),
        "at_shutdown_p50": statistics.median(p[1] for p in parts),
        "added_p50": statistics.median(added), "added_p99": _quantile(added, 0.99),
        "on_p50": statistics.median(on), "on_p99": _quantile(on, 0.99),
        "off_p50": statistics.median(off), "off_p99": _quantile(off, 0.99),
    }  # fmt: skip


def _table(rows: list[dict]) -> list[str]:
    lines = [
        "| booking plugin | requests | wp-bridge adds p50 | p99 | request p50 with / without it | p99 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        mark = "✓" if r["added_p50"] <= TARGET_MS else "✗"
        lines.append(
            f"| {r['case']} | {r['requests']} | {r['added_p50']:.2f} ms {mark} (hooks {r['in_hooks_p50']:.2f}"
            f" + shutdown {r['at_shutdown_p50']:.2f}) | {r['added_p99']:.2f} ms "
            f"| {r['on_p50']:.0f} / {r['off_p50']:.0f} ms | {r['on_p99']:.0f} / {r['off_p99']:.0f} ms |"
        )
    return lines


def _measure_all(names: list[str]) -> list[dict]:
    rows = []
    for name in names or list(CASES):
        with tempfile.TemporaryDirectory(prefix=f"meetbridge-bench-{name}-") as tmp:
            rows.append(measure(CASES[name], Path(tmp), CASES[name].count))
    return rows


def section(ctx) -> list[str]:
    """`make bench`'s section: every adapter whose plugin is in MEETBRIDGE_WP_PLUGINS."""
    title = "## Booking-plugin adapters: time added to the plugin's own booking request (issue 17)"
    present = [name for name, case in CASES.items() if booking_plugins.plugin_source(case.plugin)]
    if not present:
        return [title + ": not measured", "", f"Set {booking_plugins.PLUGINS_ENV} to a folder holding the"
                " plugins (their wordpress.org releases; never downloaded) to measure them.", ""]  # fmt: skip
    rows = []
    for name in present:  # each plugin in a process of its own: a case keeps its browser open to the
        # end, and Playwright's sync API refuses to start another in the same thread
        done = subprocess.run(
            [sys.executable, "-m", "bench.wordpress_adapters", name],
            capture_output=True, text=True, check=False, cwd=Path(__file__).resolve().parent.parent,
        )  # fmt: skip
        if done.returncode != 0:
            sys.stderr.write(done.stderr[-4000:])
            raise RuntimeError(
                f"bench.wordpress_adapters {name} exited {done.returncode}: {done.stderr[-300:]!r}"
            )
        rows += json.loads(done.stdout.strip().splitlines()[-1])
    lines = [title, "", __doc__.split("\n\n")[1].replace("\n", " "), f"Target: ≤ {TARGET_MS:.0f} ms p50.", ""]
    return lines + _table(rows) + [""]


def main(names: list[str]) -> int:
    rows = _measure_all(names)
    print("\n".join(_table(rows)))
    print(json.dumps(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
