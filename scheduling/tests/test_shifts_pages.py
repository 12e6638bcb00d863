"""The settings pages for clinic admins: staff shifts at a location, appointment types."""

from __future__ import annotations

import uuid
from datetime import time
from html import unescape

import pytest

from clinic.models import Location
from scheduling.models import StaffShift
from scheduling.tests.factories import (
    StaffFactory,
    StaffShiftFactory,
    appointment_type,
    clinic_location,
)
from scheduling.tests.test_shifts import consultation_with, next_monday

pytestmark = pytest.mark.django_db

MONDAY, SATURDAY = 0, 5


@pytest.fixture
def riverside(db) -> Location:
    """Chicago, open 08:00 to 18:00 Monday to Friday and 09:00 to 13:00 on Saturday."""
    location = clinic_location(name="Riverside", weekdays=range(5), chairs=2)
    location.opening_hours.create(weekday=SATURDAY, opens_at=time(9), closes_at=time(13))
    return location


def shifts_url(location: Location) -> str:
    return f"/staff/schedule/locations/{location.public_id}/shifts/"


def shift_url(location: Location, shift: StaffShift, action: str = "") -> str:
    return f"{shifts_url(location)}{shift.staff.public_id}/{shift.weekday}/{action}"


def page_text(response) -> str:
    return unescape(response.content.decode())


def shown(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


def shift_form(staff, weekday=MONDAY, starts="08:00", ends="18:00") -> dict[str, object]:
    return {
        "staff": str(staff.public_id),
        "weekday": str(weekday),
        "starts_at": starts,
        "ends_at": ends,
    }


# --- Who may see them ------------------------------------------------------------------------


def all_urls(location: Location, shift: StaffShift) -> list[str]:
    return [
        shifts_url(location),
        shift_url(location, shift),
        shift_url(location, shift, "remove/"),
        "/staff/schedule/appointment-types/",
    ]


def test_clinic_admins_open_every_settings_page(client, alice, nina, riverside):
    shift = StaffShiftFactory(staff=nina, location=riverside)
    client.force_login(alice)

    for url in all_urls(riverside, shift):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("user", ["fran", "nina", "phil", "edie"])
def test_everyone_else_is_refused(client, nina, riverside, user, request):
    shift = StaffShiftFactory(staff=nina, location=riverside)
    client.force_login(request.getfixturevalue(user))

    for url in all_urls(riverside, shift):
        assert client.get(url).status_code == 403, url
        assert client.post(url, shift_form(nina)).status_code == 403, url
    assert StaffShift.objects.get().starts_at == time(8)


def test_visitors_are_sent_to_sign_in(client, nina, riverside):
    shift = StaffShiftFactory(staff=nina, location=riverside)

    for url in all_urls(riverside, shift):
        assert client.get(url)["Location"].startswith("/staff/login/"), url


def test_the_location_page_links_to_its_shifts_for_clinic_admins_only(
    client, alice, fran, riverside
):
    link = f'href="{shifts_url(riverside)}"'
    client.force_login(alice)
    assert link in client.get(f"/staff/locations/{riverside.public_id}/").content.decode()

    client.force_login(fran)
    assert link not in client.get(f"/staff/locations/{riverside.public_id}/").content.decode()


def test_an_unknown_location_or_shift_is_not_found(client, alice, nina, riverside):
    shift = StaffShiftFactory(staff=nina, location=riverside)
    client.force_login(alice)

    assert client.get(f"/staff/schedule/locations/{uuid.uuid4()}/shifts/").status_code == 404
    assert client.get(f"{shifts_url(riverside)}{uuid.uuid4()}/0/").status_code == 404
    assert client.get(f"{shifts_url(riverside)}{nina.public_id}/1/").status_code == 404
    assert client.get(f"{shifts_url(riverside)}{nina.public_id}/9/remove/").status_code == 404
    huge = 10**30
    assert client.get(f"{shifts_url(riverside)}{nina.public_id}/{huge}/").status_code == 404
    other = clinic_location(name="Mesa")
    assert client.get(shift_url(other, shift)).status_code == 404


# --- The week ----------------------------------------------------------------------------------


def test_it_shows_who_works_when_with_the_opening_hours(client, alice, nina, phil, riverside):
    StaffShiftFactory(staff=nina, location=riverside, weekday=MONDAY)
    StaffShiftFactory(
        staff=phil, location=riverside, weekday=SATURDAY, starts_at=time(8), ends_at=time(12)
    )
    client.force_login(alice)

    page = page_text(client.get(shifts_url(riverside)))

    assert page.count('data-testid="shift-row"') == 2
    assert page.index("Nina Nurse") < page.index("Phil Physician")
    assert "open 09:00–13:00" in page  # Saturday
    assert "closed" in page  # Sunday
    assert "08:00–18:00" in page and "08:00–12:00" in page
    # Phil starts at 08:00 on a Saturday the location opens at 09:00.
    assert "partly outside opening hours" in page
    assert f'href="{shifts_url(riverside)}{phil.public_id}/5/remove/"' in page


def test_it_says_which_open_days_lack_a_nurse_or_a_physician(client, alice, nina, riverside):
    for weekday in range(6):
        StaffShiftFactory(staff=nina, location=riverside, weekday=weekday)
    client.force_login(alice)

    page = page_text(client.get(shifts_url(riverside)))

    assert "Monday: no physician works then" in page
    assert "Saturday: no physician works then" in page
    assert "Sunday:" not in page  # closed anyway


def test_an_empty_week_says_what_to_do(client, alice, riverside):
    client.force_login(alice)

    page = page_text(client.get(shifts_url(riverside)))

    assert 'data-testid="shifts-empty"' in page
    assert "Nobody works at Riverside yet, so no appointments can be booked here." in page


def test_a_deactivated_location_keeps_its_shifts_but_takes_no_new_ones(
    client, alice, nina, riverside
):
    StaffShiftFactory(staff=nina, location=riverside)
    riverside.is_active = False
    riverside.save(update_fields=["is_active"])
    client.force_login(alice)

    page = page_text(client.get(shifts_url(riverside)))
    assert "shifts can only be removed until you reactivate it" in page
    assert "Save shift" not in page

    response = client.post(shifts_url(riverside), shift_form(nina, weekday=1))

    assert "Riverside is deactivated: reactivate it before planning shifts there." in (
        page_text(response)
    )
    assert StaffShift.objects.count() == 1


def test_a_deactivated_clinicians_shifts_are_marked_as_not_booked(client, alice, olga, riverside):
    StaffShiftFactory(staff=olga, location=riverside)
    client.force_login(alice)

    assert "Not booked: account deactivated" in page_text(client.get(shifts_url(riverside)))


def test_the_week_costs_the_same_queries_however_many_shifts(
    client, alice, riverside, django_assert_num_queries
):
    StaffShiftFactory(staff=StaffFactory(), location=riverside)
    client.force_login(alice)
    client.get(shifts_url(riverside))  # the session's first request also records activity
    # The session and the user; the location; its opening hours; the shifts with their
    # staff; the clinicians for the form's list.
    with django_assert_num_queries(6):
        client.get(shifts_url(riverside))
    for number in range(8):
        StaffShiftFactory(staff=StaffFactory(), location=riverside, weekday=number % 7)
    with django_assert_num_queries(6):
        client.get(shifts_url(riverside))


def test_the_staff_list_offers_only_active_nurses_and_physicians(
    client, alice, fran, nina, phil, edie, olga, riverside
):
    client.force_login(alice)

    page = page_text(client.get(shifts_url(riverside)))

    assert f'value="{nina.public_id}"' in page and "Nina Nurse (nurse)" in page
    assert f'value="{phil.public_id}"' in page
    for outsider in (fran, edie, olga, alice):
        assert f'value="{outsider.public_id}"' not in page


# --- Adding and changing ---------------------------------------------------------------------


def test_it_adds_a_shift(client, alice, nina, riverside):
    client.force_login(alice)

    response = client.post(shifts_url(riverside), shift_form(nina, starts="09:00", ends="17:30"))

    assert response.status_code == 302
    assert response["Location"] == shifts_url(riverside)
    shift = StaffShift.objects.get()
    assert (shift.staff, shift.weekday, shift.starts_at, shift.ends_at) == (
        nina,
        MONDAY,
        time(9),
        time(17, 30),
    )
    assert shown(response) == ["Nina Nurse now works at Riverside on Mondays, 09:00–17:30."]


def test_the_same_person_and_day_changes_the_hours_and_warns_of_appointments_outside(
    client, alice, phil, riverside
):
    StaffShiftFactory(staff=phil, location=riverside)
    consultation_with(phil, riverside, next_monday(riverside), 15)
    client.force_login(alice)

    response = client.post(shifts_url(riverside), shift_form(phil, starts="08:00", ends="12:00"))

    assert StaffShift.objects.get().ends_at == time(12)
    assert shown(response) == [
        "Phil Physician's Monday hours at Riverside are now 08:00–12:00.",
        "1 future appointment with Phil Physician at Riverside on Mondays falls outside their "
        "hours now. It stays booked: reschedule it from the schedule, or give Phil Physician "
        "the hours back.",
    ]


@pytest.mark.parametrize(
    ("data", "field_error"),
    [
        ({"starts_at": "17:00", "ends_at": "08:00"}, "which is not after it starts (17:00)"),
        ({"starts_at": "25:00"}, "Enter the time as HH:MM, e.g. 08:00."),
        ({"ends_at": ""}, "Enter the time the shift ends, e.g. 17:30."),
        ({"weekday": "9"}, "Choose a day of the week from the list."),
        ({"weekday": "monday"}, "Choose a day of the week from the list."),
        ({"staff": "not-a-uuid"}, "That person is not an active nurse or physician"),
        ({"staff": str(uuid.uuid4())}, "That person is not an active nurse or physician"),
        ({"staff": ""}, "Choose who works the shift."),
    ],
)
def test_bad_input_is_shown_next_to_the_field_and_saves_nothing(
    client, alice, nina, riverside, data, field_error
):
    client.force_login(alice)

    response = client.post(shifts_url(riverside), {**shift_form(nina), **data})

    assert response.status_code == 200
    page = page_text(response)
    assert field_error in page
    assert "invalid-feedback" in page
    assert not StaffShift.objects.exists()


def test_someone_who_is_no_longer_a_clinician_is_refused(client, alice, fran, riverside):
    client.force_login(alice)

    response = client.post(shifts_url(riverside), shift_form(fran))

    assert "That person is not an active nurse or physician" in page_text(response)
    assert not StaffShift.objects.exists()


def test_the_change_page_changes_only_the_hours(client, alice, nina, riverside):
    shift = StaffShiftFactory(staff=nina, location=riverside, weekday=2)
    client.force_login(alice)

    page = page_text(client.get(shift_url(riverside, shift)))
    assert "Nina Nurse's Wednesday shift at Riverside" in page
    assert 'value="08:00"' in page

    response = client.post(shift_url(riverside, shift), {"starts_at": "10:00", "ends_at": "16:00"})

    assert response["Location"] == shifts_url(riverside)
    shift.refresh_from_db()
    assert (shift.weekday, shift.starts_at, shift.ends_at) == (2, time(10), time(16))
    assert shown(response) == ["Nina Nurse's Wednesday hours at Riverside are now 10:00–16:00."]


def test_the_change_page_shows_bad_hours_next_to_the_fields(client, alice, nina, riverside):
    shift = StaffShiftFactory(staff=nina, location=riverside)
    client.force_login(alice)

    response = client.post(shift_url(riverside, shift), {"starts_at": "12:00", "ends_at": "09:00"})

    assert response.status_code == 200
    assert "which is not after it starts (12:00)" in page_text(response)
    shift.refresh_from_db()
    assert shift.ends_at == time(18)


# --- Removing --------------------------------------------------------------------------------


def test_removing_asks_first_and_says_how_many_appointments_are_booked(
    client, alice, phil, riverside
):
    shift = StaffShiftFactory(staff=phil, location=riverside)
    monday = next_monday(riverside)
    consultation_with(phil, riverside, monday, 9)
    consultation_with(phil, riverside, monday, 14)
    client.force_login(alice)

    page = page_text(client.get(shift_url(riverside, shift, "remove/")))

    assert "Remove Phil Physician's Monday shift at Riverside?" in page
    assert "2 future appointments with Phil Physician here on Mondays are booked." in page
    assert StaffShift.objects.exists()

    response = client.post(shift_url(riverside, shift, "remove/"))

    assert response["Location"] == shifts_url(riverside)
    assert not StaffShift.objects.exists()
    assert shown(response)[0] == "Phil Physician no longer works at Riverside on Mondays."
    assert shown(response)[1].startswith("2 future appointments with Phil Physician")


def test_removing_a_shift_with_nothing_booked_says_so(client, alice, nina, riverside):
    shift = StaffShiftFactory(staff=nina, location=riverside)
    client.force_login(alice)

    page = page_text(client.get(shift_url(riverside, shift, "remove/")))

    assert 'data-testid="nothing-booked-in-shift"' in page


# --- Appointment types -----------------------------------------------------------------------

TYPES_URL = "/staff/schedule/appointment-types/"


def type_form(kind: str, minutes="45", recovery="0", online=False) -> dict[str, object]:
    data: dict[str, object] = {
        "kind": kind,
        f"{kind}-duration_minutes": minutes,
        f"{kind}-recovery_minutes": recovery,
    }
    if online:
        data[f"{kind}-bookable_online"] = "on"
    return data


def test_it_lists_the_five_types_with_their_minutes(client, alice, django_assert_num_queries):
    client.force_login(alice)

    # The session and the user; the types; the session's last-activity update (savepoint,
    # update, release).
    with django_assert_num_queries(6):
        response = client.get(TYPES_URL)

    page = page_text(response)
    assert page.count('data-testid="appointment-type"') == 5  # with the Spravato session
    assert "Now 40 minutes and 45 minutes of recovery" in page
    assert 'name="consultation-bookable_online"' in page
    assert 'name="infusion-bookable_online"' not in page
    assert "Booked by staff only" in page


def test_it_saves_one_types_minutes(client, alice):
    client.force_login(alice)

    response = client.post(TYPES_URL, type_form("infusion", minutes="50", recovery="60"))

    assert response["Location"] == TYPES_URL
    infusion = appointment_type("infusion")
    assert (infusion.duration_minutes, infusion.recovery_minutes) == (50, 60)
    assert shown(response) == [
        "Infusion saved: new bookings take 50 minutes and 60 minutes of recovery. Appointments "
        "already booked keep their times."
    ]


def test_it_switches_online_booking_of_consultations_off(client, alice):
    client.force_login(alice)

    response = client.post(TYPES_URL, type_form("consultation", online=False))

    assert not appointment_type("consultation").bookable_online
    assert "the booking page asks them to call" in shown(response)[0]


def test_it_refuses_online_booking_for_an_infusion_with_the_reason(client, alice):
    client.force_login(alice)

    response = client.post(TYPES_URL, type_form("infusion", minutes="40", recovery="45", online=1))

    assert response.status_code == 200
    assert "Only consultations can be booked online" in page_text(response)
    assert not appointment_type("infusion").bookable_online


@pytest.mark.parametrize(
    ("minutes", "recovery", "message"),
    [
        ("abc", "0", "Enter a whole number of minutes, e.g. 45."),
        ("", "0", "Enter how many minutes it takes."),
        ("2", "0", "must take between 5 and 480 minutes"),
        ("45", "9999", "Recovery can last from 0 to 240 minutes"),
        ("4.5", "0", "Enter a whole number of minutes, e.g. 45."),
    ],
)
def test_bad_minutes_are_shown_next_to_the_field(client, alice, minutes, recovery, message):
    client.force_login(alice)

    response = client.post(TYPES_URL, type_form("follow_up", minutes, recovery))

    assert response.status_code == 200
    assert message in page_text(response)
    assert appointment_type("follow_up").duration_minutes == 30


def test_an_unknown_type_is_a_bad_request(client, alice):
    client.force_login(alice)

    response = client.post(TYPES_URL, type_form("massage"))

    assert response.status_code == 400
    assert "That appointment type doesn't exist" in page_text(response)
