"""The public list of free times kept rendered (scheduling.views.booking._slots_page): every
write to what the times are worked out from shows on the next view, a time that passes goes
on time, and a taken time is never offered as free."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from clinic.models import Closure, Location, OpeningHours
from scheduling.booking.offer import slot_value
from scheduling.models import Appointment, AppointmentStatus, StaffShift
from scheduling.tests.factories import AppointmentFactory, appointment_type, clinic_location
from scheduling.tests.test_booking import at, next_week
from scheduling.views import booking as views


@pytest.fixture(autouse=True)
def booking_cache(settings):
    """A cache of this test's own (the kept lists among it)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"public-booking-kept-{uuid.uuid4()}",
        }
    }


@pytest.fixture
def riverside(phil) -> Location:
    """Chicago, open 08:00 to 18:00 every day, Phil the physician on shift all day."""
    return clinic_location(name="Riverside", staff=[phil], chairs=1, phone="+13125550100")


def url(location: Location) -> str:
    return f"/book/{location.public_id}/?week=1"


def view(client, location: Location) -> str:
    response = client.get(url(location))
    assert response.status_code == 200
    return response.content.decode()


def kept_view(client, location: Location) -> str:
    """View the list twice and check the second view was the kept one (the location, the
    consultation type and the version: no times worked out)."""
    view(client, location)
    with CaptureQueriesContext(connection) as queries:
        page = view(client, location)
    assert len(queries) == 3, [query["sql"][:80] for query in queries]
    return page


def week(page: str) -> str:
    """The week's times (the rest of the page holds a CSRF token masked anew each time)."""
    return page.split('aria-label="Weeks"')[1].split("</main>")[0]


def offered(page: str, when) -> bool:
    return f"start={slot_value(when)}" in page


def ten_am(location: Location):
    return at(location, next_week(location), 10)


def test_a_second_view_is_kept(client, riverside):
    first = view(client, riverside)

    assert week(kept_view(client, riverside)) == week(first)
    assert offered(first, ten_am(riverside))


def test_a_new_booking_takes_its_time_off_the_next_view(client, riverside, phil):
    assert offered(kept_view(client, riverside), ten_am(riverside))

    AppointmentFactory(
        location=riverside,
        appointment_type=appointment_type("consultation"),
        clinician=phil,
        starts_at=ten_am(riverside),
    )

    assert not offered(view(client, riverside), ten_am(riverside))


def test_a_booking_elsewhere_of_the_clinician_takes_the_time_too(client, riverside, phil):
    elsewhere = clinic_location(name="Hillside", staff=[phil], chairs=1)
    kept_view(client, riverside)

    AppointmentFactory(
        location=elsewhere,
        appointment_type=appointment_type("consultation"),
        clinician=phil,
        starts_at=ten_am(riverside),
    )

    assert not offered(view(client, riverside), ten_am(riverside))


def test_a_cancelled_or_moved_booking_frees_its_time_on_the_next_view(client, riverside, phil):
    booking = AppointmentFactory(
        location=riverside,
        appointment_type=appointment_type("consultation"),
        clinician=phil,
        starts_at=ten_am(riverside),
    )
    assert not offered(kept_view(client, riverside), ten_am(riverside))

    Appointment.objects.filter(pk=booking.pk).update(
        status=AppointmentStatus.CANCELLED, cancel_reason="Changed plans."
    )

    assert offered(view(client, riverside), ten_am(riverside))


def test_a_booking_deleted_frees_its_time_on_the_next_view(client, riverside, phil):
    booking = AppointmentFactory(
        location=riverside,
        appointment_type=appointment_type("consultation"),
        clinician=phil,
        starts_at=ten_am(riverside),
    )
    assert not offered(kept_view(client, riverside), ten_am(riverside))

    with connection.cursor() as cursor:  # by hand: only the appointment's row
        cursor.execute(
            "DELETE FROM infusions_infusionsession WHERE appointment_id = %s", [booking.pk]
        )
        cursor.execute("DELETE FROM scheduling_appointment WHERE id = %s", [booking.pk])

    assert offered(view(client, riverside), ten_am(riverside))


def test_a_changed_shift_shows_on_the_next_view(client, riverside, phil):
    kept_view(client, riverside)

    StaffShift.objects.filter(staff=phil, location=riverside).update(starts_at="11:00")

    page = view(client, riverside)
    assert not offered(page, ten_am(riverside))
    assert offered(page, at(riverside, next_week(riverside), 11))


def test_a_clinician_no_longer_active_takes_the_times_off(client, riverside, phil):
    kept_view(client, riverside)

    phil.is_active = False
    phil.save(update_fields=["is_active"])

    assert "There are no free times this week." in view(client, riverside)


def test_changed_opening_hours_show_on_the_next_view(client, riverside):
    kept_view(client, riverside)

    OpeningHours.objects.filter(location=riverside).update(opens_at="12:00")

    assert not offered(view(client, riverside), ten_am(riverside))


def test_a_new_closure_shows_on_the_next_view(client, riverside):
    kept_view(client, riverside)
    day = next_week(riverside)

    Closure.objects.create(location=riverside, starts_on=day, ends_on=day, reason="Holiday")

    assert not offered(view(client, riverside), ten_am(riverside))


def test_a_location_moved_to_another_time_zone_shows_on_the_next_view(client, riverside):
    last = at(riverside, next_week(riverside), 17, 15)  # 17:15 in Chicago
    assert offered(kept_view(client, riverside), last)

    riverside.time_zone = "America/New_York"
    riverside.save(update_fields=["time_zone"])

    page = view(client, riverside)
    assert not offered(page, last)  # 18:15 in New York: closed
    assert offered(page, at(riverside, next_week(riverside), 17, 15))


def test_a_longer_consultation_shows_on_the_next_view(client, riverside):
    last = at(riverside, next_week(riverside), 17, 15)
    assert offered(kept_view(client, riverside), last)

    consultation = appointment_type("consultation")
    consultation.duration_minutes += 30
    consultation.save(update_fields=["duration_minutes"])

    assert not offered(view(client, riverside), last)


def test_a_time_goes_at_the_start_of_its_minute(client, riverside, monkeypatch):
    when = ten_am(riverside)
    monkeypatch.setattr(views, "this_minute", lambda: when - timedelta(minutes=1))
    assert offered(kept_view(client, riverside), when)

    monkeypatch.setattr(views, "this_minute", lambda: when)

    page = view(client, riverside)
    assert not offered(page, when)
    assert offered(page, when + timedelta(minutes=15))


def test_each_week_is_kept_apart(client, riverside):
    first = kept_view(client, riverside)

    second = client.get(f"/book/{riverside.public_id}/?week=0").content.decode()

    assert second.split('data-testid="week-range"')[1] != first.split('data-testid="week-range"')[1]
    assert not offered(second, ten_am(riverside))
