"""The database itself refuses double bookings of a chair or a patient."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction

from clinic.models import Chair, Location
from patients.tests.factories import PatientFactory
from scheduling.models import Appointment, AppointmentStatus, AppointmentType

NOON = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)


@pytest.fixture
def riverside(db) -> Location:
    return Location.objects.create(
        name="Riverside",
        address_line1="1 River St",
        city="New York",
        phone="+12125550100",
        time_zone="America/New_York",
    )


@pytest.fixture
def mesa(db) -> Location:
    return Location.objects.create(
        name="Mesa",
        address_line1="2 Mesa Rd",
        city="Boulder",
        phone="+13035550100",
        time_zone="America/Denver",
    )


@pytest.fixture
def chair(riverside) -> Chair:
    return Chair.objects.create(location=riverside, name="Chair 1")


@pytest.fixture
def infusion(db) -> AppointmentType:
    return AppointmentType.objects.get(kind="infusion")


def book(patient, location, kind, starts_at, chair=None, **extra) -> Appointment:
    with transaction.atomic():
        return Appointment.objects.create(
            patient=patient,
            location=location,
            appointment_type=kind,
            chair=chair,
            starts_at=starts_at,
            ends_at=starts_at + kind.duration,
            blocks_until=starts_at + kind.occupied,
            **extra,
        )


def test_a_chair_cannot_hold_two_infusions_that_overlap_in_recovery(riverside, chair, infusion):
    book(PatientFactory(), riverside, infusion, NOON, chair)

    # 80 minutes later the first patient is still recovering in the chair (40 + 45 min).
    with pytest.raises(IntegrityError, match="no_overlapping_chair_bookings"):
        book(PatientFactory(), riverside, infusion, NOON + timedelta(minutes=80), chair)


def test_a_chair_is_free_again_when_recovery_ends(riverside, chair, infusion):
    book(PatientFactory(), riverside, infusion, NOON, chair)

    book(PatientFactory(), riverside, infusion, NOON + infusion.occupied, chair)

    assert Appointment.objects.count() == 2


@pytest.mark.parametrize("status", [AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW])
def test_cancelled_and_no_show_appointments_block_nothing(riverside, chair, infusion, status):
    book(PatientFactory(), riverside, infusion, NOON, chair, status=status, cancel_reason="ill")

    book(PatientFactory(), riverside, infusion, NOON, chair)

    assert Appointment.objects.filter(status=AppointmentStatus.BOOKED).count() == 1


def test_a_patient_cannot_be_in_two_places_at_once(riverside, mesa, chair, infusion):
    patient = PatientFactory()
    other_chair = Chair.objects.create(location=mesa, name="Chair 1")
    book(patient, riverside, infusion, NOON, chair)

    with pytest.raises(IntegrityError, match="no_overlapping_patient_bookings"):
        book(patient, mesa, infusion, NOON + timedelta(minutes=30), other_chair)


def test_two_patients_may_use_two_chairs_at_the_same_time(riverside, chair, infusion):
    second = Chair.objects.create(location=riverside, name="Chair 2")

    book(PatientFactory(), riverside, infusion, NOON, chair)
    book(PatientFactory(), riverside, infusion, NOON, second)

    assert Appointment.objects.count() == 2
