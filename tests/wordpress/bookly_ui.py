"""What a customer and a site admin do in Bookly 27.4 (the free `bookly-responsive-appointment-booking-tool`),
in Chromium: booking through Bookly's form (`[bookly-form]`: service and employee, the day in its date
picker, a time slot, the customer's details) and, in Bookly's admin, moving, cancelling and deleting
appointments."""

from __future__ import annotations

import datetime as dt
import re
import zlib

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.wordpress.booking_plugins import BookingPlugin

BOOKLY = BookingPlugin(
    slug="bookly-responsive-appointment-booking-tool",
    main_file="main.php",
    version="27.4",
    hooks=r"#^(query|wp_ajax_(nopriv_)?bookly_save_appointment)$#",
    tables=(
        "bookly_appointments",
        "bookly_customer_appointments",
        "bookly_customers",
        "bookly_staff",
        "bookly_services",
    ),
    # Bookly fires no action of its own when it saves: its writes to its tables (WordPress's `query`
    # filter, before each statement runs) are what the adapter watches and what is recorded.
    first_arg=(
        (
            "query",
            r"#^\s*(INSERT\s+INTO|UPDATE|DELETE\s+(`?\w+`?\s+)?FROM)\s+`?wp_bookly_"
            r"(appointments|customer_appointments|customers|staff|services)`?\s#i",
        ),
    ),
)
SHORTCODE = "[bookly-form]"
FORM = ".bookly-form"


def book(page, url: str, day: dt.date, time: str, name: str, email: str, shoot=None) -> None:
    """A customer books through Bookly's form: Intro call with Sam Staff on `day` at `time` ('HH:MM',
    the site's time, as Bookly lists it), then their name and e-mail."""
    pick_time(page, url, day, time)
    form = page.locator(FORM)
    form.locator(".bookly-js-full-name").fill(name)
    # Bookly asks for a phone number, one per customer (a known number with another name wants an SMS code).
    form.locator(".bookly-js-user-phone-input").fill(f"+49 30 {zlib.crc32(email.encode()) % 10_000_000:07d}")
    form.locator(".bookly-js-user-email").fill(email)
    if shoot:
        shoot(page)
    form.locator(".bookly-js-next-step").first.click()


def pick_time(page, url: str, day: dt.date, time: str) -> None:
    """Bookly's first two steps: the service, the employee and the day, then the time slot."""
    page.goto(url)
    form = page.locator(FORM)
    form.locator("[data-type=service] select").select_option(label="Intro call")
    staff = form.locator("[data-type=staff] select")
    # Listed as "Sam Staff ($0.00)".
    staff.select_option(staff.locator("option", has_text="Sam Staff").get_attribute("value"))
    form.locator("input.bookly-js-date-from").click()
    calendar = form.locator(".bookly-js-datepicker-calendar")
    month = f"{day:%b %Y}"
    for _ in range(24):
        if calendar.locator(".bookly-calendar-middle-button-mark").inner_text().strip() == month:
            break
        calendar.locator(".bookly-calendar-right-button-mark").click()
    # The month's grid also shows the ends of the months around it: early days come first, late days last.
    days = calendar.locator(".bookly-calendar-dates-mark").get_by_text(str(day.day), exact=True)
    (days.first if day.day <= 14 else days.last).click()
    form.locator(".bookly-js-next-step").first.click()
    slot = form.locator(f"button.bookly-hour[value*='\"{day.isoformat()} {time}:00\"']").first
    slot.wait_for(state="attached", timeout=30_000)
    slot.click()
    form.locator(".bookly-js-full-name").wait_for()


def booked(page) -> None:
    """Bookly's last step."""
    page.locator(FORM).get_by_text("Thank you", exact=False).first.wait_for(timeout=30_000)


def _list(page, wp_url: str, customer: str):
    """Bookly's admin, Appointments, at any date (the list opens on this month: its date filter is
    removed), the customer's row."""
    page.goto(wp_url + "/wp-admin/admin.php?page=bookly-appointments")
    page.wait_for_load_state("networkidle")
    listed = "get_appointments"
    with page.expect_response(lambda answer: listed in answer.url + (answer.request.post_data or "")):
        page.get_by_text(re.compile("^Date: ")).locator("div[role=button]").click()  # the filter's ×
    page.wait_for_load_state("networkidle")  # the list shown again, at any date
    page.wait_for_timeout(1000)
    row = page.locator("tr", has_text=customer).first
    row.wait_for()
    return row


def _open(page, wp_url: str, customer: str) -> None:
    """The customer's appointment opened in its "Edit appointment" dialog (once in a while, a click
    while the list is drawn again opens another row's appointment: then once more)."""
    for _ in range(3):
        _list(page, wp_url, customer).get_by_text(customer).click()
        page.locator("#bookly-period").wait_for()
        try:
            page.locator("li.bookly-js-popover-container", has_text=customer).wait_for(timeout=8000)
            return
        except PlaywrightTimeout:
            continue
    raise AssertionError(f"Bookly's list did not open {customer}'s appointment")


def _save(page) -> None:
    with page.expect_response(
        lambda answer: (
            "admin-ajax.php" in answer.url and "save_appointment_form" in (answer.request.post_data or "")
        )
    ):
        page.get_by_role("button", name="Save", exact=True).click()


def edit_time(page, wp_url: str, customer: str, start: str) -> None:
    """Move the customer's appointment to another time that day ('11:00 am', as the dialog lists it)."""
    _open(page, wp_url, customer)
    page.select_option("#bookly-period", label=start)
    _save(page)


def set_status(page, wp_url: str, customer: str, status: str) -> None:
    """Change the customer's status in the appointment's dialog ('Cancelled', 'Pending', …)."""
    _open(page, wp_url, customer)
    page.locator("li.bookly-js-popover-container .bookly-dropdown-toggle").first.click()
    page.locator("a.bookly-dropdown-item", has_text=status).first.click()
    _save(page)


def delete(page, wp_url: str, customer: str) -> None:
    """Tick the customer's appointment in the list, Delete, confirm."""
    _list(page, wp_url, customer).locator("input[type=checkbox]").check()
    page.get_by_role("button", name="Delete", exact=False).first.click()
    deleted = "delete_customer_appointments"
    with page.expect_response(lambda answer: deleted in (answer.request.post_data or "")):
        page.locator(".bookly-modal.bookly-show").get_by_role("button", name="Delete").click()


# Bookly's set-up, as its admin pages would save it (through Bookly's own classes): its first-run
# wizard finished, Monday to Friday 8:00-18:00, Sam Staff (the WordPress user sam) giving "Intro call"
# (30 minutes), and the customer's "new booking" e-mail with the join link and Bookly's cancel link.
SET_UP = r"""
delete_option( 'bookly_setup_step' );
foreach ( array( 'monday', 'tuesday', 'wednesday', 'thursday', 'friday' ) as $day ) {
    update_option( "bookly_bh_{$day}_start", '08:00:00' );
    update_option( "bookly_bh_{$day}_end", '18:00:00' );
}
$staff = new \Bookly\Lib\Entities\Staff();
$staff->setWpUserId( get_user_by( 'login', 'sam' )->ID )->setFullName( 'Sam Staff' )
    ->setVisibility( 'public' )->save();
$service = new \Bookly\Lib\Entities\Service();
$service->setTitle( 'Intro call' )->setDuration( 1800 )->setVisibility( 'public' )->save();
$link = new \Bookly\Lib\Entities\StaffService();
$link->setStaffId( $staff->getId() )->setServiceId( $service->getId() )->save();
global $wpdb;
$table   = $wpdb->prefix . 'bookly_notifications';
$id      = (int) $wpdb->get_var(
    "SELECT id FROM {$table} WHERE gateway = 'email' AND type = 'new_booking' AND to_customer = 1"
);
$message = $wpdb->get_var( "SELECT message FROM {$table} WHERE id = {$id}" );
$added   = "\n\nYour video meeting: [meetbridge_join_url {appointment_id}]\nCancel: {cancel_appointment_url}";
$wpdb->update( $table, array( 'message' => $message . $added ), array( 'id' => $id ) );
return $staff->getId();
"""


def cancel_url(message: str) -> str:
    """Bookly's cancel link ({cancel_appointment_url}) in one of its e-mails."""
    match = re.search(r"https?://[^\s<\"]+action=bookly_cancel_appointment&(?:amp;|#038;)?token=\w+", message)
    assert match, message
    return re.sub(r"&(amp;|#038;)", "&", match.group(0))
