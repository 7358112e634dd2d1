"""What a customer and a site admin do in LatePoint 5.6.5, in Chromium: book through its form
(`[latepoint_book_form]`), cancel from the booking's "manage" page, and in wp-admin set up the agent
and the service, edit a booking's time, change its status, delete its order."""

from __future__ import annotations

from tests.wordpress.booking_plugins import BookingPlugin

LATEPOINT = BookingPlugin(
    slug="latepoint",
    main_file="latepoint.php",
    version="5.6.5",
    hooks=r"/^latepoint_(booking_(created|updated|change_status|deleted|will_be_deleted)|get_booked_periods)$/",
    tables=(
        "latepoint_bookings", "latepoint_agents", "latepoint_customers", "latepoint_services",
        "latepoint_locations", "latepoint_agents_services",
    ),
)  # fmt: skip
ADMIN = "/wp-admin/admin.php?page=latepoint&route_name="


def set_up(page, wp_url: str) -> None:
    """The free version's one agent (Sam Staff) and a 30-minute service, in LatePoint's screens."""
    page.goto(wp_url + ADMIN + "default_agent__edit_form")
    page.fill("input[name='agent[first_name]']", "Sam")
    page.fill("input[name='agent[last_name]']", "Staff")
    page.fill("input[name='agent[email]']", "sam.staff@example.com")
    with page.expect_navigation():  # saved, the form reloads
        page.get_by_role("button", name="Save Changes").click()
    page.goto(wp_url + ADMIN + "services__new_form")
    page.fill("input[name='service[name]']", "Intro call")
    duration = page.locator("input[name='service[duration]']")
    duration.click()
    duration.press("Control+a")
    duration.press("Backspace")
    duration.type("30")
    page.get_by_role("button", name="Save Changes").click()
    page.wait_for_url("**route_name=services__index**")


def _pick_day(page, url: str, date: str):
    page.goto(url)
    page.get_by_text("Intro call").first.click()
    page.locator(".os-month-next-btn").first.wait_for()
    day = page.locator(f".os-day.os-month-current[data-date='{date}']:visible")
    for _ in range(14):
        if day.count():
            break
        page.locator(".os-month-next-btn:visible").first.click()
        page.wait_for_timeout(700)
    day.first.click()
    return day.first


def book(page, url: str, date: str, minutes: int, first: str, email: str, shoot=None) -> None:
    """A customer books `date` (Y-m-d) at `minutes` after midnight through the form."""
    _pick_day(page, url, date)
    page.locator(f".dp-timepicker-trigger[data-minutes='{minutes}']").first.click()
    page.fill("input[name='customer[first_name]']", first)
    page.fill("input[name='customer[last_name]']", "Customer")
    page.fill("input[name='customer[email]']", email)
    page.get_by_text("Next").click()
    if shoot:
        page.get_by_role("button", name="Submit").wait_for()
        shoot(page)
    with page.expect_response(
        lambda answer: "admin-ajax.php" in answer.url and answer.request.method == "POST"
    ):
        page.get_by_role("button", name="Submit").click()
    page.locator(
        ".latepoint-step-content[data-step-code='confirmation'], .step-confirmation-w"
    ).first.wait_for()


def slots(page, url: str, date: str) -> list[int]:
    """The start times (minutes after midnight) the form offers on `date`."""
    day = _pick_day(page, url, date)
    return [int(m) for m in (day.get_attribute("data-bookable-minutes") or "").split(",") if m]


def _open(page, wp_url: str, customer: str):
    page.goto(wp_url + ADMIN + "bookings__index")
    page.locator("tr", has_text=customer).locator("td").nth(2).click()
    page.get_by_role("button", name="Save Changes").wait_for()


def edit_time(page, wp_url: str, customer: str, start: str) -> None:
    """Open the booking, type another start time ('11:00', am), save."""
    _open(page, wp_url, customer)
    field = page.locator("input[name$='[start_time][formatted_value]']").first
    field.click()
    field.press("Control+a")
    field.type(start)
    field.press("Tab")
    with page.expect_response(lambda answer: "admin-ajax.php" in answer.url):
        page.get_by_role("button", name="Save Changes").click()


def set_status(page, wp_url: str, customer: str, status: str) -> None:
    """Open the booking, choose a status (approved, pending, cancelled, no_show, completed), save."""
    _open(page, wp_url, customer)
    page.select_option("select[name$='[status]'][name^='order_items']", status)
    with page.expect_response(lambda answer: "admin-ajax.php" in answer.url):
        page.get_by_role("button", name="Save Changes").click()


def delete_order(page, wp_url: str, customer: str) -> None:
    """Open the booking, press the bin (it deletes the order and its bookings), confirm."""
    _open(page, wp_url, customer)
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(lambda answer: "admin-ajax.php" in answer.url):
        page.locator(".latepoint-delete-order:visible").click()


def cancel_as_customer(page, manage_url: str) -> None:
    """The customer's "manage booking" page (the link in LatePoint's e-mails): Cancel, confirm."""
    page.goto(manage_url)
    page.locator(".cancel-appointment-btn").first.click()
    with page.expect_response(lambda answer: "admin-ajax.php" in answer.url):
        page.get_by_text("Confirm Cancellation").click()
