"""The demo clinic's schedule, for ``manage.py seed_demo`` (with DEBUG on): who works when,
and a few consultations booked in the coming days, so ``make run`` offers free times.

- Shifts: the demo physician and the demo nurse work the opening hours at Riverside and Mesa
  Monday to Friday, and at Riverside on Saturday if it opens then. Only days without a shift
  of theirs are filled in, so an admin's changes stay.
- Appointments: each demo patient still at "consultation requested" who has never had a
  consultation gets one at their preferred location, each on a later open day from tomorrow,
  at the first free time from 10:00 (local), through ``appointment_book`` like any other
  booking.

Everything is looked up first, so running it again creates nothing; anything missing (the
demo accounts, a location, a free time) is skipped quietly, and seeding never fails because
of it. Names are spelt out here, not imported from the seed_demo command, which imports this.
"""

from __future__ import annotations

from datetime import time, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from clinic.models import Location, User
from patients.demo import DEMO_PATIENTS
from patients.models import Patient, PatientStatus
from scheduling.availability import Slot, free_slots
from scheduling.models import AppointmentKind, AppointmentType, StaffShift
from scheduling.services.book_and_reschedule import appointment_book
from scheduling.services.free_time import SlotTaken
from scheduling.shifts import shift_set

DEMO_CLINICIANS = ("physician", "nurse")  # the demo accounts' mailboxes
WEEKDAYS = (0, 1, 2, 3, 4)
SATURDAY = 5
# Location name: the weekdays its demo shifts cover (when it is open then).
DEMO_SHIFT_DAYS = {"Riverside": (*WEEKDAYS, SATURDAY), "Mesa": WEEKDAYS}
FALLBACK_LOCATION = "Riverside"
PREFERRED_START = time(10)
SEARCH_DAYS = 14


@transaction.atomic
def seed_demo_schedule() -> int:
    """Add the demo shifts and consultations that are missing; returns how many records
    were created (0 the second time)."""
    locations = {
        location.name: location
        for location in Location.objects.filter(
            name__in=list(DEMO_SHIFT_DAYS), is_active=True
        ).prefetch_related("opening_hours")
    }
    return _seed_shifts(locations) + _seed_consultations(locations)


def _seed_shifts(locations: dict[str, Location]) -> int:
    emails = [f"{mailbox}@{settings.DEMO_EMAIL_DOMAIN}" for mailbox in DEMO_CLINICIANS]
    clinicians = list(User.objects.filter(email__in=emails, is_active=True).order_by("email"))
    created = 0
    for name, weekdays in DEMO_SHIFT_DAYS.items():
        location = locations.get(name)
        if location is None:
            continue
        hours = {row.weekday: row for row in location.opening_hours.all()}
        for clinician in clinicians:
            working = set(
                StaffShift.objects.filter(location=location, staff=clinician).values_list(
                    "weekday", flat=True
                )
            )
            for weekday in weekdays:
                row = hours.get(weekday)
                if row is None or weekday in working:
                    continue
                try:
                    shift_set(
                        actor=None,
                        location=location,
                        staff=clinician,
                        weekday=weekday,
                        starts_at=row.opens_at,
                        ends_at=row.closes_at,
                    )
                except ValidationError:
                    continue  # e.g. the account is no longer a clinician: no demo shift
                created += 1
    return created


def _seed_consultations(locations: dict[str, Location]) -> int:
    consultation = AppointmentType.objects.filter(kind=AppointmentKind.CONSULTATION).first()
    if consultation is None or not locations:
        return 0
    order = {demo.email: number for number, demo in enumerate(DEMO_PATIENTS)}
    waiting = sorted(
        Patient.objects.filter(
            email__in=list(order), status=PatientStatus.CONSULTATION_REQUESTED
        ).exclude(appointments__appointment_type=consultation),
        key=lambda patient: order[patient.email.lower()],
    )
    created = 0
    for number, patient in enumerate(waiting):
        location = _location_for(patient, locations)
        if location is None:
            continue
        slot = _pick_slot(location, consultation, patient, number)
        if slot is None:
            continue
        try:
            appointment_book(
                actor=None,
                patient=patient,
                location=location,
                appointment_type=consultation,
                starts_at=slot.starts_at,
            )
        except (ValidationError, SlotTaken):
            continue  # the demo just has one consultation fewer
        created += 1
    return created


def _pick_slot(
    location: Location, consultation: AppointmentType, patient: Patient, number: int
) -> Slot | None:
    """The first free time from 10:00 (or the day's first) on the ``number``-th day from
    tomorrow with any free time, so the demo consultations fall on different days."""
    tomorrow = location.local_now().date() + timedelta(days=1)
    slots = free_slots(
        location=location,
        appointment_type=consultation,
        start_date=tomorrow,
        end_date=tomorrow + timedelta(days=SEARCH_DAYS),
        patient=patient,
        step_minutes=30,
    )
    days = sorted({slot.local_start.date() for slot in slots})
    if not days:
        return None
    day = days[min(number, len(days) - 1)]
    that_day = [slot for slot in slots if slot.local_start.date() == day]
    return next(
        (slot for slot in that_day if slot.local_start.time() >= PREFERRED_START), that_day[0]
    )


def _location_for(patient: Patient, locations: dict[str, Location]) -> Location | None:
    preferred = next(
        (loc for loc in locations.values() if loc.pk == patient.preferred_location_id), None
    )
    return preferred or locations.get(FALLBACK_LOCATION)
