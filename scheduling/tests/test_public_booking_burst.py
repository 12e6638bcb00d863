"""Many people booking online at the same instant, against the real PostgreSQL.

Each booker posts the real booking form in its own thread, with its own database connection
and its own client address and contact details (so the rate limits refuse nobody), released
together by a barrier. One time asked for by all of them is booked once, and everyone else
is told it was just taken; different times at the same location on the same day are all
booked, and a booking does not wait for one in progress at another time.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from datetime import datetime, timedelta

import pytest
from django.db import connection, transaction
from django.test import Client

from clinic.models import Location
from patients.models import Patient
from patients.tests.factories import PatientFactory
from scheduling.booking.offer import TAKEN_MESSAGE
from scheduling.models import Appointment
from scheduling.services.locks import lock_bookings
from scheduling.tests.factories import appointment_type, clinic_location
from scheduling.tests.test_booking import at, next_week
from scheduling.tests.test_public_booking import details_url, form_data

pytestmark = pytest.mark.django_db(transaction=True)

BOOKERS = 30


@pytest.fixture(autouse=True)
def booking_cache(settings):
    """A cache of this test's own, shared by its threads (rate limits, form nonces)."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"booking-burst-{uuid.uuid4()}",
        }
    }


@pytest.fixture
def riverside(phil) -> Location:
    """Open 08:00 to 18:00 every day, one physician (one consultation at a time)."""
    return clinic_location(name="Riverside", staff=[phil], chairs=1, phone="+13125550100")


def booker(number: int, starts_at: datetime) -> dict:
    """Someone of their own, booking ``starts_at`` from an address of their own."""
    return {
        "remote_addr": f"198.51.100.{number + 1}",
        "data": form_data(
            starts_at,
            legal_last_name=f"Booker{number}",
            email=f"booker{number}@example.com",
            mobile=f"+1312555{number + 100:04d}",
        ),
    }


def burst(location: Location, bookers: list[dict]) -> list:
    """Post every booker's form, each in its own thread with its own connection, all at the
    same instant; the responses in the bookers' order."""
    barrier = threading.Barrier(len(bookers))
    responses: list = [None] * len(bookers)

    def submit(index: int) -> None:
        try:
            client = Client(raise_request_exception=False)
            barrier.wait(timeout=30)
            responses[index] = client.post(
                details_url(location),
                bookers[index]["data"],
                REMOTE_ADDR=bookers[index]["remote_addr"],
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=submit, args=(index,)) for index in range(len(bookers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return responses


def test_a_crowd_asking_for_one_time_gets_one_booking_and_everyone_else_is_told(riverside):
    starts_at = at(riverside, next_week(riverside), 10)

    responses = burst(riverside, [booker(number, starts_at) for number in range(BOOKERS)])

    assert Counter(response.status_code for response in responses) == {302: 1, 409: BOOKERS - 1}
    for response in responses:
        if response.status_code == 409:
            assert TAKEN_MESSAGE in response.content.decode()
    [appointment] = Appointment.objects.all()
    assert appointment.starts_at == starts_at
    assert appointment.source == Appointment.Source.ONLINE
    # The refused bookers left nothing behind: no patient record, nothing half-made.
    assert Patient.objects.count() == 1


def test_different_times_on_the_same_day_at_once_are_all_booked(riverside):
    day = next_week(riverside)
    # A consultation takes 45 minutes: 08:00, 09:00, ... 17:00 do not overlap.
    times = [at(riverside, day, hour) for hour in range(8, 18)]

    responses = burst(riverside, [booker(number, when) for number, when in enumerate(times)])

    assert [response.status_code for response in responses] == [302] * len(times)
    assert sorted(Appointment.objects.values_list("starts_at", flat=True)) == times


def test_a_booking_does_not_wait_for_one_in_progress_at_another_time(riverside):
    """A booking in progress at 10:00 holds the locks of its time until it commits; a booking
    of 14:00 the same day at the same location goes ahead meanwhile, and one of 10:30 (which
    overlaps) waits for it."""
    day = next_week(riverside)
    ten = at(riverside, day, 10)
    consultation = appointment_type("consultation")
    patient = PatientFactory()
    locked = threading.Event()
    release = threading.Event()

    def booking_in_progress() -> None:
        try:
            with transaction.atomic():
                lock_bookings(
                    location_id=riverside.pk,
                    patient_id=patient.pk,
                    starts_at=ten,
                    blocks_until=ten + consultation.occupied,
                )
                locked.set()
                release.wait(timeout=120)
        finally:
            connection.close()

    holder = threading.Thread(target=booking_in_progress)
    holder.start()
    try:
        assert locked.wait(timeout=60)
        [afternoon] = burst(riverside, [booker(1, at(riverside, day, 14))])
        assert afternoon.status_code == 302

        overlapping: list = []
        waiter = threading.Thread(
            target=lambda: overlapping.extend(
                burst(riverside, [booker(2, ten + timedelta(minutes=30))])
            )
        )
        waiter.start()
        assert wait_for_a_booking_waiting_on_a_lock()
        assert overlapping == []
    finally:
        release.set()
        holder.join(timeout=60)
    waiter.join(timeout=120)
    assert [response.status_code for response in overlapping] == [302]
    assert Appointment.objects.count() == 2


def wait_for_a_booking_waiting_on_a_lock() -> bool:
    """Whether another connection comes to wait for an advisory lock (within a minute)."""
    for _attempt in range(600):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            if cursor.fetchone()[0]:
                return True
        threading.Event().wait(0.1)
    return False
