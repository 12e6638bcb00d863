"""The demo clinic's schedule (``scheduling.demo.seed_demo_schedule``): shifts in the opening
hours, a few consultations, nothing new the second time, and free times on /book/."""

from __future__ import annotations

from datetime import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from clinic.models import AuditEvent, Location, User
from patients.models import Patient, PatientStatus
from scheduling.demo import seed_demo_schedule
from scheduling.models import Appointment, StaffShift

pytestmark = pytest.mark.django_db

DEMO_PHYSICIAN = "physician@demo.chairside.test"
DEMO_NURSE = "nurse@demo.chairside.test"


@pytest.fixture
def demo_clinic(settings) -> None:
    """The demo clinic with its demo accounts and patients (seed_demo with DEBUG on)."""
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)


def row_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (StaffShift, Appointment, AuditEvent, Patient)
    }


def shifts_of(email: str, location_name: str) -> dict[int, tuple[time, time]]:
    return {
        shift.weekday: (shift.starts_at, shift.ends_at)
        for shift in StaffShift.objects.filter(staff__email=email, location__name=location_name)
    }


def test_the_demo_clinicians_work_the_opening_hours_at_both_locations(demo_clinic):
    seed_demo_schedule()

    weekdays = {day: (time(8), time(18)) for day in range(5)}
    for email in (DEMO_PHYSICIAN, DEMO_NURSE):
        assert shifts_of(email, "Riverside") == {**weekdays, 5: (time(9), time(13))}
        assert shifts_of(email, "Mesa") == weekdays


def test_running_it_again_creates_nothing(demo_clinic):
    seed_demo_schedule()
    before = row_counts()

    assert seed_demo_schedule() == 0

    assert row_counts() == before


def test_it_books_a_consultation_for_each_demo_patient_who_asked_for_one(demo_clinic):
    seed_demo_schedule()

    waiting = Patient.objects.filter(status=PatientStatus.CONSULTATION_REQUESTED)
    assert waiting.count() == 3
    now = timezone.now()
    for patient in waiting:
        [appointment] = patient.appointments.all()
        assert appointment.appointment_type.kind == "consultation"
        assert appointment.starts_at > now
        assert appointment.location == patient.preferred_location
        assert appointment.clinician.email == DEMO_PHYSICIAN
    # On different days at each location, so its schedule shows more than one. Each location
    # counts from its own tomorrow, and for hours each night New York's date is a day ahead
    # of Denver's: consultations at two locations may share a date.
    consultations = Appointment.objects.filter(appointment_type__kind="consultation")
    days = {
        (appointment.location, appointment.starts_at.astimezone(appointment.location.tz).date())
        for appointment in consultations
    }
    assert len(days) == 3
    # Only those who asked get one (the approved patient's demo infusion is infusions.demo's).
    assert not consultations.exclude(patient__status=PatientStatus.CONSULTATION_REQUESTED).exists()


def test_it_keeps_an_admins_changes_to_the_demo_shifts(demo_clinic):
    seed_demo_schedule()
    monday = StaffShift.objects.get(staff__email=DEMO_NURSE, location__name="Mesa", weekday=0)
    monday.ends_at = time(12)
    monday.save(update_fields=["ends_at"])
    StaffShift.objects.filter(staff__email=DEMO_NURSE, location__name="Mesa", weekday=1).delete()

    seed_demo_schedule()

    assert shifts_of(DEMO_NURSE, "Mesa")[0] == (time(8), time(12))
    assert shifts_of(DEMO_NURSE, "Mesa")[1] == (time(8), time(18))


def test_it_skips_quietly_what_is_not_there(settings):
    settings.DEBUG = False
    call_command("seed_demo", verbosity=0)  # locations, but no demo accounts or patients

    assert seed_demo_schedule() == 0
    assert not StaffShift.objects.exists()


def test_it_does_nothing_on_an_empty_database():
    assert seed_demo_schedule() == 0


def test_it_leaves_out_an_account_that_is_no_longer_a_clinician(demo_clinic):
    # seed_demo already gave the nurse shifts; start again from none.
    StaffShift.objects.all().delete()
    User.objects.filter(email=DEMO_NURSE).update(roles=["front_desk"])

    seed_demo_schedule()

    assert not StaffShift.objects.filter(staff__email=DEMO_NURSE).exists()
    assert StaffShift.objects.filter(staff__email=DEMO_PHYSICIAN).count() == 11


def test_after_seeding_patients_can_pick_a_free_time_at_riverside_online(client, demo_clinic):
    seed_demo_schedule()
    riverside = Location.objects.get(name="Riverside")

    response = client.get(f"/book/{riverside.public_id}/")

    assert response.status_code == 200
    assert f'href="/book/{riverside.public_id}/details/?start=' in response.content.decode()
