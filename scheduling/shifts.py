"""Who works where and when (staff shifts), and how long each appointment type takes.

Availability (``scheduling.availability``) offers a time only inside a shift of a clinician
of the type's role, and sizes every slot by the type's minutes; these are the settings
clinic admins change here, through the staff pages under /staff/schedule/.

- ``shift_set`` gives a nurse or physician their hours at a location on one weekday: one
  shift per person, location and weekday, so setting it again changes it in place.
  ``shift_remove`` takes it away. Neither touches appointments already booked: the result
  says how many of the clinician's future appointments there that day no longer fall inside
  their hours, for the page to tell the admin.
- ``appointment_type_update`` changes an appointment type's minutes, its recovery minutes and
  whether patients may book it online (consultations only). Appointments already booked keep
  their times.

Only clinic admins (``MANAGE_LOCATIONS``) may call them; ``actor=None`` is the system (the
demo seeding), which the caller vouches for. Bad input raises ``ValidationError`` keyed by
the argument's name and changes nothing; every change is in the audit log.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import time

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record, changed_fields_summary
from clinic.models import Location, User
from clinic.permissions import Capability, require
from clinic.roles import Role
from scheduling.models import (
    BLOCKING,
    Appointment,
    AppointmentKind,
    AppointmentType,
    StaffShift,
)
from scheduling.services.locks import lock_location_bookings

Errors = dict[str, list[str]]

CLINICIAN_ROLES = (Role.NURSE, Role.PHYSICIAN)
WEEKDAY_NAMES = [label for _day, label in StaffShift._meta.get_field("weekday").choices]
DURATION_RANGE = (5, 480)
RECOVERY_RANGE = (0, 240)
ONLINE_KINDS = frozenset({AppointmentKind.CONSULTATION})


@dataclass(frozen=True)
class ShiftChange:
    """What ``shift_set`` or ``shift_remove`` did.

    ``appointments_outside`` counts the clinician's future active appointments at the
    location on that weekday that their hours there no longer cover (all of them once the
    shift is removed). They stay booked; someone should move them or hand them over."""

    shift: StaffShift | None  # None once removed
    weekday: int
    created: bool = False
    changed: list[str] = field(default_factory=list)
    appointments_outside: int = 0


# --- Reads -----------------------------------------------------------------------------------


def shift_clinicians() -> QuerySet[User]:
    """Who may be given shifts: active nurses and physicians, by name."""
    return User.objects.filter(is_active=True, roles__overlap=list(CLINICIAN_ROLES)).order_by(
        "full_name", "email"
    )


def shift_locations_of(user: User) -> list[int]:
    """The ids of the locations ``user`` has shifts at (none: not tied to one), in no
    particular order. One query, written out: a clinician's home asks it for four panels,
    and the queryset (DISTINCT over the model's ordering, which joins the locations for
    their names) cost ~1 ms each time."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT DISTINCT location_id FROM scheduling_staffshift WHERE staff_id = %s",
            [user.pk],
        )
        return [location_id for (location_id,) in cursor.fetchall()]


def home_location(
    user: User,
    locations: Sequence[Location],
    *,
    shifts: Sequence[tuple[int, int]] | None = None,
) -> Location:
    """Where ``user``'s schedule opens, of ``locations`` (at least one, in the order they are
    offered): where they have a shift today (on that location's clock), else where they have
    most shifts, else the first. One query, none when the caller has read ``shifts``
    already (the user's (location id, weekday) pairs at ``locations``)."""
    if shifts is None:
        shifts = list(
            StaffShift.objects.filter(
                staff=user, location_id__in=[location.pk for location in locations]
            ).values_list("location_id", "weekday")
        )
    worked = set(shifts)
    today = [each for each in locations if (each.pk, each.local_now().weekday()) in worked]
    if today:
        return today[0]
    if shifts:
        days = Counter(location_id for location_id, _ in shifts)
        # max keeps the first of equals: a tie goes to the first in the list (by name).
        return max((each for each in locations if each.pk in days), key=lambda each: days[each.pk])
    return locations[0]


def location_shifts(location: Location) -> QuerySet[StaffShift]:
    """The location's shifts with their staff, by person then weekday (one query)."""
    return (
        StaffShift.objects.filter(location=location)
        .select_related("staff")
        .order_by("staff__full_name", "staff__id", "weekday")
    )


def appointments_outside_hours(
    *,
    location: Location,
    staff: User,
    weekday: int,
    starts_at: time | None = None,
    ends_at: time | None = None,
) -> int:
    """How many of ``staff``'s future active appointments at ``location`` on ``weekday``
    (local) do not lie wholly within ``starts_at`` to ``ends_at`` on the location's clock; with
    no hours given, all of them. One query."""
    tz = location.tz
    rows = (
        Appointment.objects.filter(
            BLOCKING, location=location, clinician=staff, starts_at__gt=timezone.now()
        )
        .order_by()
        .values_list("starts_at", "blocks_until")
    )
    outside = 0
    for start, end in rows:
        local_start = start.astimezone(tz)
        if local_start.weekday() != weekday:
            continue
        local_end = end.astimezone(tz)
        covered = (
            starts_at is not None
            and ends_at is not None
            and local_end.date() == local_start.date()
            and starts_at <= local_start.time()
            and local_end.time() <= ends_at
        )
        if not covered:
            outside += 1
    return outside


# --- Shifts ----------------------------------------------------------------------------------


@transaction.atomic
def shift_set(
    *,
    actor: User | None,
    location: Location,
    staff: User,
    weekday: int,
    starts_at: time,
    ends_at: time,
    request: HttpRequest | None = None,
) -> ShiftChange:
    """Have ``staff`` work at ``location`` on ``weekday`` (0 = Monday) from ``starts_at`` to
    ``ends_at``, local times; an existing shift of theirs there that day is changed in place.
    """
    _require(actor)
    errors: Errors = {}
    if not location.is_active:
        _add(
            errors,
            "location",
            f"{location.name} is deactivated: reactivate it before planning shifts there.",
        )
    _add_staff_errors(errors, staff)
    if not isinstance(weekday, int) or isinstance(weekday, bool) or not 0 <= weekday <= 6:
        _add(errors, "weekday", "Choose a day of the week, Monday to Sunday.")
    _add_hours_errors(errors, starts_at, ends_at)
    if errors:
        raise ValidationError(errors)
    lock_location_bookings(location.pk)
    existing = (
        StaffShift.objects.select_for_update()
        .filter(location=location, staff=staff, weekday=weekday)
        .first()
    )
    if existing is None:
        shift = StaffShift.objects.create(
            location=location, staff=staff, weekday=weekday, starts_at=starts_at, ends_at=ends_at
        )
        audit_record(
            actor=actor,
            action=Action.CREATE,
            target=shift,
            summary="created with staff, location, weekday, starts_at, ends_at",
            request=request,
        )
        created, changed = True, []
    else:
        shift, created = existing, False
        changed = [
            name
            for name, value in (("starts_at", starts_at), ("ends_at", ends_at))
            if getattr(shift, name) != value
        ]
        if changed:
            shift.starts_at, shift.ends_at = starts_at, ends_at
            shift.save(update_fields=changed)
            audit_record(
                actor=actor,
                action=Action.UPDATE,
                target=shift,
                summary=changed_fields_summary(changed),
                request=request,
            )
    return ShiftChange(
        shift=shift,
        weekday=weekday,
        created=created,
        changed=changed,
        appointments_outside=appointments_outside_hours(
            location=location,
            staff=staff,
            weekday=weekday,
            starts_at=starts_at,
            ends_at=ends_at,
        ),
    )


@transaction.atomic
def shift_remove(
    *, actor: User | None, shift: StaffShift, request: HttpRequest | None = None
) -> ShiftChange:
    """Take a shift away. Appointments already booked in it stay booked; the result says
    how many are still to come."""
    _require(actor)
    location = shift.location
    lock_location_bookings(location.pk)
    current = StaffShift.objects.select_for_update().filter(pk=shift.pk).first()
    if current is not None:
        # Recorded first: after the delete the shift no longer has an id to record.
        audit_record(
            actor=actor, action=Action.DELETE, target=current, summary="removed", request=request
        )
        current.delete()
    return ShiftChange(
        shift=None,
        weekday=shift.weekday,
        changed=["removed"] if current is not None else [],
        appointments_outside=appointments_outside_hours(
            location=location, staff=shift.staff, weekday=shift.weekday
        ),
    )


def _add_staff_errors(errors: Errors, staff: User) -> None:
    if not staff.is_active:
        _add(
            errors,
            "staff",
            f"{staff}'s account is deactivated: reactivate it under Staff accounts, or choose "
            "someone else.",
        )
    elif not any(role in staff.roles for role in CLINICIAN_ROLES):
        _add(
            errors,
            "staff",
            f"{staff} is not a nurse or a physician, and only clinicians see patients in "
            "shifts: choose a clinician, or give them a clinician role under Staff accounts.",
        )


def _add_hours_errors(errors: Errors, starts_at: time, ends_at: time) -> None:
    if not isinstance(starts_at, time):
        _add(errors, "starts_at", "Enter the time the shift starts, e.g. 08:00.")
    if not isinstance(ends_at, time):
        _add(errors, "ends_at", "Enter the time the shift ends, e.g. 17:30.")
    if isinstance(starts_at, time) and isinstance(ends_at, time) and ends_at <= starts_at:
        _add(
            errors,
            "ends_at",
            f"The shift ends at {ends_at:%H:%M}, which is not after it starts "
            f"({starts_at:%H:%M}): enter a later end time. A shift can't run past midnight.",
        )


# --- Appointment types -----------------------------------------------------------------------


@transaction.atomic
def appointment_type_update(
    *,
    actor: User | None,
    appointment_type: AppointmentType,
    duration_minutes: int,
    recovery_minutes: int,
    bookable_online: bool,
    request: HttpRequest | None = None,
) -> AppointmentType:
    """Change how long an appointment type takes, how long recovery keeps the chair and the
    patient afterwards, and whether patients may book it online (consultations only).

    Appointments already booked keep their times: the minutes apply to new bookings. The
    caller's ``appointment_type`` is left as it was if validation fails."""
    _require(actor)
    errors: Errors = {}
    low, high = DURATION_RANGE
    if not _whole_number(duration_minutes) or not low <= duration_minutes <= high:
        _add(
            errors,
            "duration_minutes",
            f"{appointment_type.name} must take between {low} and {high} minutes (8 hours): "
            "enter a whole number of minutes in that range.",
        )
    low, high = RECOVERY_RANGE
    if not _whole_number(recovery_minutes) or not low <= recovery_minutes <= high:
        _add(
            errors,
            "recovery_minutes",
            f"Recovery can last from {low} to {high} minutes (4 hours): enter a whole number "
            "of minutes in that range, or 0 for none.",
        )
    if bookable_online and appointment_type.kind not in ONLINE_KINDS:
        _add(
            errors,
            "bookable_online",
            f"Only consultations can be booked online: {appointment_type.name.lower()} needs "
            "a patient whom a physician has seen and approved, so staff book it.",
        )
    if errors:
        raise ValidationError(errors)
    current = AppointmentType.objects.select_for_update().get(pk=appointment_type.pk)
    changes = {
        "duration_minutes": duration_minutes,
        "recovery_minutes": recovery_minutes,
        "bookable_online": bool(bookable_online),
    }
    changed = [name for name, value in changes.items() if getattr(current, name) != value]
    if not changed:
        return current
    for name in changed:
        setattr(current, name, changes[name])
    current.save(update_fields=changed)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=current,
        summary=changed_fields_summary(changed),
        request=request,
    )
    return current


# --- Helpers ---------------------------------------------------------------------------------


def _require(actor: User | None) -> None:
    """``actor=None`` is the system (demo seeding), which the caller vouches for."""
    if actor is not None:
        require(actor, Capability.MANAGE_LOCATIONS)


def _whole_number(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _add(errors: Errors, key: str, message: str) -> None:
    errors.setdefault(key, []).append(message)
