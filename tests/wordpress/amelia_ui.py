"""What a customer and a site admin do in Amelia Lite 1.2.34, in Chromium: book through the step-by-step
form (`[ameliastepbooking]`), and in wp-admin set up the employee and the service (through the same API
calls Amelia's own screens make), edit an appointment's time, change its status, delete it."""

from __future__ import annotations

import datetime as dt
import json
import re

from tests.wordpress.booking_plugins import BookingPlugin

AMELIA = BookingPlugin(
    slug="ameliabooking",
    main_file="ameliabooking.php",
    version="1.2.34",
    hooks=r"/^amelia_(after_.*|before_booking_(canceled|approved_link|rejected_link)|get_timeslots_filter)$/",
    tables=(
        "amelia_appointments", "amelia_customer_bookings", "amelia_users", "amelia_services",
        "amelia_locations",
    ),
)  # fmt: skip

# What Amelia's admin screens sent to create the service category, the employee (Mon-Fri 9-17, the
# defaults of its "Work Hours" tab) and the service (30 min), as recorded from the real screens.
CATEGORY = {"status": "visible", "name": "Consultations", "position": 1, "color": "#1A84EE"}
WEEKDAYS = [
    {
        "id": None, "dayIndex": day, "startTime": "09:00:00", "endTime": "17:00:00", "timeOutList": [],
        "periodList": [{"id": None, "startTime": "09:00:00", "endTime": "17:00:00", "locationId": None,
                        "periodLocationList": [], "periodServiceList": []}],
    }
    for day in range(1, 6)
]  # fmt: skip
PROVIDER = {
    "type": "provider", "status": "visible", "firstName": "Sam", "lastName": "Staff",
    "email": "sam.staff@example.com", "externalId": "", "locationId": "", "phone": "", "countryPhoneIso": "",
    "note": "", "description": "", "serviceList": [], "weekDayList": WEEKDAYS, "specialDayList": [],
    "dayOffList": [], "pictureFullPath": "", "pictureThumbPath": "", "sendEmployeePanelAccessEmail": False,
    "show": True,
}  # fmt: skip
SERVICE = {
    "categoryId": 1, "color": "#1788FB", "description": "", "duration": 1800, "extras": [], "gallery": [],
    "maxCapacity": 1, "minCapacity": 1, "name": "Intro call", "pictureFullPath": "", "pictureThumbPath": "",
    "price": 0, "providers": [1], "status": "visible", "timeAfter": "", "bringingAnyone": True, "show": True,
    "aggregatedPrice": True, "recurringCycle": "disabled", "recurringSub": "future", "recurringPayment": 0,
    "timeBefore": "", "deposit": 0, "depositPayment": "disabled", "depositPerPerson": 1, "fullPayment": False,
    "mandatoryExtra": False,
    "settings": json.dumps(
        {
            "payments": {
                "paymentLinks": {"enabled": False, "changeBookingStatus": False, "redirectUrl": None}
            },
            "zoom": {"enabled": False}, "lessonSpace": {"enabled": False}, "googleMeet": {"enabled": False},
            "microsoftTeams": {"enabled": False},
        }
    ),
    "customPricing": json.dumps({"enabled": None, "durations": {}, "persons": {},
                                 "periods": {"default": [], "custom": []}}),
    "limitPerCustomer": json.dumps({"enabled": False, "numberOfApp": 1, "timeFrame": "day", "period": 1,
                                    "from": "bookingDate"}),
}  # fmt: skip


def api(page, call: str, body: dict) -> dict:
    """One call of Amelia's admin API from an Amelia admin page (its nonce is in `wpAmeliaNonce`)."""
    answer = page.evaluate(
        """async ([call, body]) => {
            const url = ajaxurl + '?action=wpamelia_api&call=' + call + '&wpAmeliaNonce=' + wpAmeliaNonce;
            const r = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/json'},
                                        body: JSON.stringify(body)});
            return [r.status, await r.text()];
        }""",
        [call, body],
    )
    assert answer[0] == 200, answer
    return json.loads(answer[1])


def set_up(page, wp_url: str) -> None:
    """The employee and the service, as an admin makes them in Amelia's screens."""
    page.goto(wp_url + "/wp-admin/admin.php?page=wpamelia-services")
    page.wait_for_function("typeof wpAmeliaNonce !== 'undefined'")
    api(page, "/categories", CATEGORY)
    api(page, "/users/providers", PROVIDER)
    api(page, "/services", SERVICE)


def book(page, url: str, date: str, slot: str, first: str, last: str, email: str, shoot=None) -> None:
    """A customer books `date` (Y-m-d) at `slot` (e.g. '10:00 AM - 10:30 AM') through the form."""
    page.goto(url)
    day = page.locator(f"td[data-date='{date}']:not(.fc-day-other)")
    next_month = page.locator("button.is-icon-only").nth(1)
    next_month.wait_for()
    for _ in range(14):
        if day.count():
            break
        next_month.click()
        page.wait_for_timeout(700)
    day.click()
    page.get_by_text(slot, exact=True).click()
    if shoot:
        page.get_by_text(slot, exact=True).scroll_into_view_if_needed()
        page.wait_for_timeout(1000)  # the form's transitions
        shoot(page, "form")
    page.get_by_role("button", name="Continue").click()
    page.fill("input[name=firstName]", first)
    page.fill("input[name=lastName]", last)
    page.fill("input[name=email]", email)
    # The form books (`/bookings`), then asks Amelia to run what follows a booking, its e-mails
    # included (`/bookings/success/{id}`): wait for both.
    with page.expect_response(lambda answer: "call=/bookings/success" in answer.url, timeout=30_000):
        page.get_by_role("button", name="Continue").click()
    page.get_by_text("Congratulations", exact=False).first.wait_for(timeout=30_000)


def slots(page, url: str, date: str) -> list[str]:
    """The times the form offers on `date`."""
    page.goto(url)
    day = page.locator(f"td[data-date='{date}']:not(.fc-day-other)")
    next_month = page.locator("button.is-icon-only").nth(1)
    next_month.wait_for()
    for _ in range(14):
        if day.count():
            break
        next_month.click()
        page.wait_for_timeout(700)
    day.click()
    times = page.get_by_text(re.compile(r"^\s*\d{1,2}:\d{2} [AP]M\s+-"))
    times.first.wait_for()
    return [" ".join(text.split()) for text in times.all_inner_texts()]


def appointments(page, wp_url: str) -> None:
    """The Appointments screen with every date shown (its default filter is the coming week)."""
    page.goto(wp_url + "/wp-admin/admin.php?page=wpamelia-appointments")
    dates = page.locator("input[placeholder='MMMM D, YYYY - MMMM D, YYYY']")
    dates.wait_for()
    page.wait_for_timeout(1500)
    dates.hover()
    page.locator(".el-input__clear:visible, .el-icon-circle-close:visible").first.click()
    page.locator(".am-appointment").first.wait_for()


def row(page, customer: str):
    return page.locator(".am-appointment").filter(has_text=customer).first


def set_status(page, wp_url: str, customer: str, status: str) -> None:
    """Change an appointment's status in the list (Approved, Pending, Canceled, Rejected)."""
    appointments(page, wp_url)
    row(page, customer).locator(".el-select").click()
    page.locator(".el-select-dropdown__item:visible", has_text=status).click()
    page.get_by_text("status has been changed", exact=False).first.wait_for()


def edit_time(page, wp_url: str, customer: str, time: str) -> None:
    """Open an appointment, pick another start time (e.g. '11:30 am'), save."""
    appointments(page, wp_url)
    row(page, customer).locator(".am-edit-btn").click()
    dialog = page.locator(".am-side-dialog:visible")
    dialog.locator("input[placeholder='Select']").last.click()
    page.locator(".el-select-dropdown__item:visible", has_text=time).click()
    dialog.get_by_role("button", name="Save").click()
    page.get_by_text("Appointment has been saved", exact=False).first.wait_for()


def delete(page, wp_url: str, customer: str) -> None:
    """Open an appointment, press the bin, confirm."""
    appointments(page, wp_url)
    row(page, customer).locator(".am-edit-btn").click()
    dialog = page.locator(".am-side-dialog:visible")
    dialog.locator("button.am-button-icon").nth(1).click()
    dialog.locator("button:visible", has_text="Delete").last.click()
    page.get_by_text("Appointment has been deleted", exact=False).first.wait_for()


def add(page, wp_url: str, customer: str, date: str, time: str) -> None:
    """ "New Appointment": an existing customer, the service, `date` (Y-m-d) at `time` (e.g. '1:00 pm')."""
    appointments(page, wp_url)
    page.get_by_role("button", name="New Appointment").click()
    dialog = page.locator(".am-side-dialog:visible")
    dialog.locator("input.el-select__input").first.click()
    page.locator(".el-select-dropdown__item:visible", has_text=customer).first.click()
    dialog.get_by_text("Customer(s):").click()  # closes the multi-select
    dialog.locator("input[placeholder='Select Service Category']").click()
    page.locator(".el-select-dropdown__item:visible", has_text="Consultations").click()
    dialog.locator("input[placeholder='Select Service:']").click()
    page.locator(".el-select-dropdown__item:visible", has_text="Intro call").click()
    page.wait_for_timeout(500)
    dialog.get_by_text("Selected Customers:").click()
    page.wait_for_timeout(300)
    dialog.locator("input[placeholder='MMMM D, YYYY']").click()
    day = dt.date.fromisoformat(date)
    popover = page.locator(".popover-content:visible")
    popover.wait_for()
    page.wait_for_timeout(300)
    for _ in range(14):
        if popover.locator(".c-title").inner_text().strip() == f"{day:%B} {day.year}":
            break
        # A real click on the arrow moves the focus and closes the picker: send it to the icon only.
        popover.locator(".c-arrow-layout svg").last.dispatch_event("click")
        page.wait_for_timeout(300)
    popover.locator(".c-day-content").get_by_text(str(day.day), exact=True).first.click()
    dialog.locator("input[placeholder='Select']").last.click()
    page.locator(".el-select-dropdown__item:visible", has_text=time).first.click()
    dialog.get_by_role("button", name="Save").click()
    page.get_by_text("Appointment has been saved", exact=False).first.wait_for()


def move_in_calendar(page, wp_url: str, appointment: int, start: str) -> None:
    """What dropping an appointment elsewhere in Amelia's Calendar sends: `start` is 'Y-m-d H:i'."""
    page.goto(wp_url + "/wp-admin/admin.php?page=wpamelia-calendar")
    page.wait_for_function("typeof wpAmeliaNonce !== 'undefined'")
    answer = api(page, f"/appointments/time/{appointment}", {"bookingStart": start})
    assert answer["message"] == "Successfully updated appointment time", answer
