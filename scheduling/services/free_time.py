"""Whether the time asked for is free, and taking it: ``SlotTaken`` with the nearest free
alternatives when it is not.

Double bookings are impossible, not unlikely:

- The database refuses them. Two GiST exclusion constraints (``scheduling.models``) keep a
  chair and a patient from holding two overlapping active appointments; the write runs in a
  savepoint (``write_or_slot_taken``), and losing that race becomes ``SlotTaken``, never a
  500.
- What the database cannot see (a physician holds one consultation at a time, a nurse looks
  after at most ``INFUSIONS_PER_NURSE`` infusions) is checked by
  ``scheduling.availability.slot_is_free`` while holding the advisory locks of
  ``scheduling.services.locks``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import IntegrityError, OperationalError, transaction

from clinic.models import Chair, Location, User
from patients.models import Patient
from scheduling.availability import Slot, nearest_free_slots, slot_or_nearest
from scheduling.models import BLOCKING, Appointment, AppointmentType, StaffShift
from scheduling.services.checks import day_label, when_label, with_article

# The exclusion constraints whose violation means "someone else got there first".
OVERLAP_CONSTRAINTS = frozenset(
    {"no_overlapping_chair_bookings", "no_overlapping_patient_bookings"}
)
ALTERNATIVES = 3
# A write that loses a deadlock (see ``lock_bookings``) is tried this many times in all.
_WRITE_ATTEMPTS = 3
_DEADLOCK_DETECTED = "40P01"


class SlotTaken(Exception):
    """The time asked for is not free, or was taken a moment ago.

    ``message`` says so in words for the person booking; ``alternatives`` are the nearest
    free slots (same location, type and patient), closest first; ``existing`` is the
    patient's own appointment when this exact booking was already made (a double submit).
    """

    def __init__(
        self,
        message: str,
        alternatives: Iterable[Slot] = (),
        *,
        existing: Appointment | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.alternatives = list(alternatives)
        self.existing = existing


def refuse_if_patient_busy(
    *,
    patient: Patient,
    location: Location,
    appointment_type: AppointmentType,
    starts_at: datetime,
    excluding: Appointment | None = None,
) -> None:
    """A double submit gets "already booked" (with the appointment); any other appointment
    of the patient's at that time gets SlotTaken with times the patient is free."""
    overlapping = (
        Appointment.objects.filter(
            BLOCKING,
            patient=patient,
            starts_at__lt=starts_at + appointment_type.occupied,
            blocks_until__gt=starts_at,
        )
        .select_related("location", "appointment_type")
        .order_by("starts_at")
    )
    if excluding is not None:
        overlapping = overlapping.exclude(pk=excluding.pk)
    other = overlapping.first()
    if other is None:
        return
    when = when_label(other.starts_at, other.location)
    if (
        other.location_id == location.pk
        and other.appointment_type_id == appointment_type.pk
        and other.starts_at == starts_at
    ):
        raise SlotTaken(
            f"This appointment is already booked ({other.appointment_type.name.lower()} at "
            f"{when}, {other.location.name}): nothing was booked twice.",
            existing=other,
        )
    raise SlotTaken(
        f"The patient already has {with_article(other.appointment_type).lower()} at {when} "
        f"({other.location.name}), which overlaps: choose another time.",
        _alternatives(location, appointment_type, starts_at, patient, excluding),
    )


def free_slot_or_refuse(
    *,
    location: Location,
    appointment_type: AppointmentType,
    starts_at: datetime,
    patient: Patient | None,
    chair: Chair | None = None,
    clinician: User | None = None,
    excluding: Appointment | None = None,
) -> Slot:
    """The slot to book at ``starts_at``, or ``ValidationError`` when nobody could be seen
    then (no clinician on shift, no chair in use), or ``SlotTaken`` with the nearest free
    times. ``patient`` None asks whether the time is free for anyone."""
    slot, nearest = slot_or_nearest(
        location=location,
        appointment_type=appointment_type,
        starts_at=starts_at,
        patient=patient,
        chair=chair,
        clinician=clinician,
        excluding=excluding,
        count=ALTERNATIVES,
    )
    if slot is not None:
        return slot
    shift_error = _shift_error(
        location=location, appointment_type=appointment_type, starts_at=starts_at
    )
    if shift_error is not None:
        raise ValidationError({"starts_at": [shift_error]})
    if appointment_type.needs_chair and not location.chairs.filter(is_active=True).exists():
        raise ValidationError(
            {
                "location": [
                    f"{location.name} has no chair in use: a clinic admin can add one under "
                    "Locations; until then book at another location."
                ]
            }
        )
    wanted = [str(x) for x in (chair.name if chair else None, clinician) if x is not None]
    with_whom = f" with {' and '.join(wanted)}" if wanted else ""
    raise _slot_taken(
        f"{when_label(starts_at, location)} is not free at {location.name}{with_whom}", nearest()
    )


def _shift_error(
    *, location: Location, appointment_type: AppointmentType, starts_at: datetime
) -> str | None:
    """Why no clinician of the needed role could see the patient then, if that is why."""
    start = starts_at.astimezone(location.tz)
    end = (starts_at + appointment_type.occupied).astimezone(location.tz)
    role = appointment_type.get_clinician_display().lower()
    shifts = list(
        StaffShift.objects.filter(
            location=location,
            weekday=start.weekday(),
            staff__is_active=True,
            staff__roles__contains=[appointment_type.clinician],
        ).order_by("starts_at")
    )
    if not shifts:
        return f"No {role} works at {location.name} on {start:%A}s: choose another day."
    if any(s.starts_at <= start.time() and end.time() <= s.ends_at for s in shifts):
        return None
    windows = ", ".join(f"{s.starts_at:%H:%M}–{s.ends_at:%H:%M}" for s in shifts)
    return (
        f"{start:%H:%M}–{end:%H:%M} on {day_label(start.date())} is outside the {role}s' shifts at "
        f"{location.name} ({windows} local): choose a time inside one of them."
    )


def _slot_taken(what: str, alternatives: list[Slot]) -> SlotTaken:
    if alternatives:
        return SlotTaken(f"{what}: choose one of the nearest free times.", alternatives)
    return SlotTaken(
        f"{what}, and no other time is free in the weeks around it: try another location.",
        alternatives,
    )


def write_or_slot_taken(appointment: Appointment, *, update_fields: list[str] | None) -> None:
    """Insert (or update) in a savepoint; losing a race for the chair or the patient's time
    to another transaction becomes SlotTaken. Any other integrity error is a bug: re-raised."""
    for _attempt in range(_WRITE_ATTEMPTS):
        try:
            with transaction.atomic():
                if update_fields is None:
                    appointment.save(force_insert=True)
                else:
                    appointment.save(update_fields=update_fields)
            return
        except IntegrityError as error:
            if _violated_constraint(error) not in OVERLAP_CONSTRAINTS:
                raise
            break
        except OperationalError as error:
            # Two clashing rows written at the same instant wait for each other in the
            # exclusion check and PostgreSQL aborts one. Trying again waits for the other
            # transaction to end, then gets a clear answer.
            if getattr(error.__cause__, "sqlstate", None) != _DEADLOCK_DETECTED:
                raise
    raise _slot_taken(
        "That time was just taken by another booking",
        _alternatives(
            appointment.location,
            appointment.appointment_type,
            appointment.starts_at,
            appointment.patient,
            appointment if appointment.pk else None,
        ),
    )


def _violated_constraint(error: IntegrityError) -> str:
    diag = getattr(error.__cause__, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name:
        return name
    return next((name for name in OVERLAP_CONSTRAINTS if name in str(error)), "")


def _alternatives(
    location: Location,
    appointment_type: AppointmentType,
    around: datetime,
    patient: Patient | None,
    excluding: Appointment | None,
) -> list[Slot]:
    return nearest_free_slots(
        location=location,
        appointment_type=appointment_type,
        around=around,
        patient=patient,
        count=ALTERNATIVES,
        excluding=excluding,
    )
