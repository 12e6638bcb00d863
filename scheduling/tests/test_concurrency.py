"""Many people booking the same time at the same instant, against the real PostgreSQL.

Each attempt runs in its own thread with its own database connection and transaction;
a barrier releases them together. Whatever the interleaving, exactly one booking is made
and every other attempt is a clean SlotTaken: never another exception, so never a 500.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.db import connection, transaction

from clinic.audit import Action
from clinic.models import AuditEvent
from patients.tests.factories import PatientFactory
from scheduling.models import Appointment
from scheduling.services import book_and_reschedule
from scheduling.services.book_and_reschedule import appointment_book
from scheduling.services.free_time import SlotTaken
from scheduling.services.locks import lock_bookings
from scheduling.tests.factories import StaffFactory, appointment_type
from scheduling.tests.test_booking import at, cleared_for_infusions, next_week, riverside_for
from scheduling.tests.test_public_booking_burst import wait_for_a_booking_waiting_on_a_lock

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 12


@dataclass
class Outcome:
    booked: list[Appointment] = field(default_factory=list)
    refused: list[SlotTaken] = field(default_factory=list)
    crashed: list[BaseException] = field(default_factory=list)


def race(attempts: list[Callable[[], Appointment]]) -> Outcome:
    """Run every attempt in its own thread, all released at the same instant."""
    barrier = threading.Barrier(len(attempts))

    def run(attempt: Callable[[], Appointment]) -> Appointment:
        try:
            barrier.wait(timeout=30)
            return attempt()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        futures = [pool.submit(run, attempt) for attempt in attempts]
    outcome = Outcome()
    for future in futures:
        error = future.exception(timeout=120)
        if error is None:
            outcome.booked.append(future.result())
        elif isinstance(error, SlotTaken):
            outcome.refused.append(error)
        else:
            outcome.crashed.append(error)
    return outcome


def assert_one_booking(outcome: Outcome) -> Appointment:
    assert outcome.crashed == []
    assert len(outcome.booked) == 1
    assert len(outcome.refused) == THREADS - 1
    assert all(refusal.message for refusal in outcome.refused)
    [appointment] = Appointment.objects.all()
    assert appointment == outcome.booked[0]
    assert (
        AuditEvent.objects.filter(
            action=Action.CREATE, object_type="scheduling.appointment"
        ).count()
        == 1
    )
    return appointment


def attempt(**booking) -> Callable[[], Appointment]:
    return lambda: appointment_book(**booking)


def test_twelve_patients_racing_for_one_chair_get_one_booking(nina, phil):
    riverside = riverside_for(nina, StaffFactory(), phil, chairs=2)
    chair = riverside.chairs.get(name="Chair 1")
    starts_at = at(riverside, next_week(riverside), 10)
    patients = [cleared_for_infusions(phil) for _ in range(THREADS)]

    outcome = race(
        [
            attempt(
                actor=nina,
                patient=patient,
                location=riverside,
                appointment_type=appointment_type("infusion"),
                starts_at=starts_at,
                chair=chair,
            )
            for patient in patients
        ]
    )

    appointment = assert_one_booking(outcome)
    assert appointment.chair == chair


def test_without_the_location_lock_the_database_still_refuses_the_losers(monkeypatch, nina, phil):
    """Every attempt passes the checks before any commits; the exclusion constraint then
    lets one insert through and the rest become SlotTaken."""
    monkeypatch.setattr(book_and_reschedule, "lock_bookings", lambda **_: None)
    riverside = riverside_for(nina, phil, chairs=1)
    starts_at = at(riverside, next_week(riverside), 10)
    patients = [cleared_for_infusions(phil) for _ in range(THREADS)]

    outcome = race(
        [
            attempt(
                actor=nina,
                patient=patient,
                location=riverside,
                appointment_type=appointment_type("infusion"),
                starts_at=starts_at,
            )
            for patient in patients
        ]
    )

    assert_one_booking(outcome)
    assert any("just taken" in refusal.message for refusal in outcome.refused)


def test_one_patient_booked_at_two_locations_at_once_gets_one_booking(phil):
    riverside = riverside_for(StaffFactory(), phil, chairs=THREADS)
    mesa = riverside_for(StaffFactory(), phil, name="Mesa", chairs=THREADS)
    patient = cleared_for_infusions(phil)
    starts_at = at(riverside, next_week(riverside), 10)

    outcome = race(
        [
            attempt(
                actor=phil,
                patient=patient,
                location=riverside if number % 2 else mesa,
                appointment_type=appointment_type("infusion"),
                starts_at=starts_at,
            )
            for number in range(THREADS)
        ]
    )

    assert_one_booking(outcome)


def test_one_physician_is_never_double_booked_for_consultations(fran, phil):
    """No database constraint covers a clinician without a chair: the lock of the time at
    the location does."""
    riverside = riverside_for(phil, chairs=0)
    starts_at = at(riverside, next_week(riverside), 10)
    patients = [PatientFactory() for _ in range(THREADS)]

    outcome = race(
        [
            attempt(
                actor=fran,
                patient=patient,
                location=riverside,
                appointment_type=appointment_type("consultation"),
                starts_at=starts_at,
            )
            for patient in patients
        ]
    )

    assert assert_one_booking(outcome).clinician == phil


def test_the_same_request_sent_twelve_times_books_once(fran, phil):
    riverside = riverside_for(phil)
    patient = PatientFactory()
    starts_at = at(riverside, next_week(riverside), 10)

    outcome = race(
        [
            attempt(
                actor=fran,
                patient=patient,
                location=riverside,
                appointment_type=appointment_type("consultation"),
                starts_at=starts_at,
            )
            for _ in range(THREADS)
        ]
    )

    appointment = assert_one_booking(outcome)
    assert all(refusal.existing == appointment for refusal in outcome.refused)


def test_a_booking_of_a_patient_waits_for_their_course_without_holding_its_times(fran, phil):
    """A course books several times of one patient in one transaction. Another booking of
    that patient, at the time of the course's second infusion, waits for the patient before
    it holds that time, so the course can still take it: nobody waits both ways (which
    PostgreSQL would end by aborting one of them)."""
    riverside = riverside_for(phil)
    patient = PatientFactory()
    first = at(riverside, next_week(riverside), 10)
    second = first + timedelta(days=2)
    infusion = appointment_type("infusion")
    course_has_its_first_time = threading.Event()
    other_is_waiting = threading.Event()
    course_took: list[bool] = []

    def course() -> None:
        try:
            with transaction.atomic():
                for starts_at in (first, second):
                    lock_bookings(
                        location_id=riverside.pk,
                        patient_id=patient.pk,
                        starts_at=starts_at,
                        blocks_until=starts_at + infusion.occupied,
                    )
                    course_has_its_first_time.set()
                    other_is_waiting.wait(timeout=60)
                course_took.append(True)
        finally:
            connection.close()

    def other_booking() -> Appointment:
        try:
            return appointment_book(
                actor=fran,
                patient=patient,
                location=riverside,
                appointment_type=appointment_type("consultation"),
                starts_at=second,
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        course_done = pool.submit(course)
        assert course_has_its_first_time.wait(timeout=60)
        booked = pool.submit(other_booking)
        assert wait_for_a_booking_waiting_on_a_lock()
        other_is_waiting.set()
        course_done.result(timeout=60)
        appointment = booked.result(timeout=60)

    assert course_took == [True]
    assert appointment.starts_at == second
