"""Booking a course: ``course_create`` books the whole induction series through
``appointment_book`` in one transaction, all or nothing, each refusal naming its infusion,
with alternatives that keep the course's gaps and window; then queues the course's schedule
to the patient."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import Location, User
from clinic.permissions import Capability, require
from patients.messages import message_base_url
from patients.models import Patient
from scheduling.availability import Slot, nearest_free_slots
from scheduling.courses.limits import ALTERNATIVES, infusion_type, settings_errors
from scheduling.courses.reads import course_active, course_refusals
from scheduling.courses.wording import Errors, add_error, course_day, course_when
from scheduling.message_queue import course_schedule_enqueue
from scheduling.models import AppointmentKind, AppointmentType, TreatmentCourse
from scheduling.services.book_and_reschedule import appointment_book
from scheduling.services.free_time import SlotTaken

State = TreatmentCourse.State


class CourseNotBooked(ValidationError):
    """Booking the series failed for one or more infusions, so nothing was saved.

    A ValidationError keyed ``infusion_<n>`` (n from 1, in time order) for each infusion
    that could not be booked, plus a summary under ``__all__``. ``alternatives`` maps an
    infusion's number to free times that keep the course's gaps and window; ``taken`` holds
    the numbers refused only because their time was not free (an API answers 409 then)."""

    def __init__(
        self,
        errors: Errors,
        *,
        alternatives: dict[int, list[Slot]] | None = None,
        taken: Iterable[int] = (),
    ) -> None:
        super().__init__(errors)
        self.alternatives = alternatives or {}
        self.taken = frozenset(taken)


@transaction.atomic
def course_create(
    *,
    actor: User,
    patient: Patient,
    location: Location,
    starts: Sequence[datetime],
    planned_infusions: int,
    window_days: int,
    min_gap_hours: int,
    request: HttpRequest | None = None,
) -> TreatmentCourse:
    """Create a course and book every one of its infusions at ``starts`` (aware; numbered in
    time order), all or nothing.

    Refused (ValidationError, nothing saved) without a current approved screening decision
    or a signed consent, while the patient has another course going, for settings out of
    range, or for times that are not ``planned_infusions`` future times within the window
    and at least the minimum gap apart. If any infusion cannot be booked, raises
    ``CourseNotBooked`` naming each one, with alternatives, and nothing is saved."""
    require(actor, Capability.MANAGE_COURSES)
    errors = settings_errors(planned_infusions, window_days, min_gap_hours)
    for refusal in course_refusals(patient):
        add_error(errors, "patient", refusal)
    if not location.is_active:
        add_error(
            errors, "location", f"{location.name} is not taking bookings: choose another one."
        )
    ordered = sorted(starts, key=_sort_key)
    if not errors:
        errors.update(
            _starts_errors(
                ordered,
                location=location,
                planned_infusions=planned_infusions,
                window_days=window_days,
                min_gap_hours=min_gap_hours,
            )
        )
    if errors:
        raise ValidationError(errors)
    # One course at a time per patient: a second request for the same patient waits here,
    # then sees the first one's course and is refused.
    Patient.objects.select_for_update().only("pk").get(pk=patient.pk)
    if course_active(patient) is not None:
        raise ValidationError({"patient": course_refusals(patient)})
    infusion = infusion_type(AppointmentKind.INFUSION)
    course = TreatmentCourse.objects.create(
        patient=patient,
        location=location,
        state=State.PLANNED,
        planned_infusions=planned_infusions,
        window_days=window_days,
        min_gap_hours=min_gap_hours,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=course,
        summary=f"created a course of {planned_infusions} infusions for patient "
        f"{patient.public_id}",
        request=request,
    )
    failed: Errors = {}
    alternatives: dict[int, list[Slot]] = {}
    taken: list[int] = []
    for number, starts_at in enumerate(ordered, start=1):
        label = f"Infusion {number} on {course_when(starts_at, location)}"
        try:
            # Each booking runs in its own savepoint: a refusal undoes only that one, so
            # every infusion is tried and all the problems are reported at once.
            appointment_book(
                actor=actor,
                patient=patient,
                location=location,
                appointment_type=infusion,
                starts_at=starts_at,
                course=course,
                request=request,
            )
        except SlotTaken as error:
            # "10:00 on Mon 7 Dec 2026 is not free…" names the time itself.
            said = f"Infusion {number}" if error.message[:1].isdigit() else label
            failed[f"infusion_{number}"] = [f"{said}: {_lower_first(error.message)}"]
            taken.append(number)
            alternatives[number] = _course_alternatives(
                course=course, ordered=ordered, number=number, infusion=infusion
            )
        except ValidationError as error:
            failed[f"infusion_{number}"] = [
                f"{label}: {_lower_first(message)}" for message in error.messages
            ]
    if failed:
        count = len(failed)
        failed[NON_FIELD_ERRORS] = [
            f"Nothing was booked: {count} of the {planned_infusions} infusions could not be "
            f"booked. Change the {'time' if count == 1 else 'times'} marked below and confirm "
            "again."
        ]
        # Raising undoes the course and every booking made above.
        raise CourseNotBooked(failed, alternatives=alternatives, taken=taken)
    course.state = State.INDUCTION
    course.save(update_fields=["state"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=course,
        summary=f"booked {planned_infusions} infusions for patient {patient.public_id}: "
        "changed state",
        request=request,
    )
    # One message with every date (and an .ics of them all), in this transaction.
    course_schedule_enqueue(course, base_url=message_base_url(request))
    return course


def _starts_errors(
    ordered: list[datetime],
    *,
    location: Location,
    planned_infusions: int,
    window_days: int,
    min_gap_hours: int,
) -> Errors:
    errors: Errors = {}
    if len(ordered) != planned_infusions:
        add_error(
            errors,
            "starts",
            f"The course has {planned_infusions} infusions but {len(ordered)} times were "
            f"given: give a time for each of the {planned_infusions}.",
        )
        return errors
    if any(not isinstance(s, datetime) or timezone.is_naive(s) for s in ordered):
        add_error(errors, "starts", "Give every infusion's date and time with a time zone.")
        return errors
    now = timezone.now()
    gap = timedelta(hours=min_gap_hours)
    first_day = ordered[0].astimezone(location.tz).date()
    for number, starts_at in enumerate(ordered, start=1):
        key = f"infusion_{number}"
        label = f"Infusion {number} on {course_when(starts_at, location)}"
        if starts_at <= now:
            add_error(errors, key, f"{label}: that time has passed. Choose a later one.")
            continue
        if number > 1:
            previous = ordered[number - 2]
            if starts_at - previous < gap:
                hours = (starts_at - previous) / timedelta(hours=1)
                add_error(
                    errors,
                    key,
                    f"{label} is {_hours(hours)} after infusion {number - 1} "
                    f"({course_when(previous, location)}): infusions must be at least "
                    f"{min_gap_hours} hours apart. Choose a later time.",
                )
        days = (starts_at.astimezone(location.tz).date() - first_day).days
        if days >= window_days:
            add_error(
                errors,
                key,
                f"{label} is on day {days + 1} of the course: all {planned_infusions} "
                f"infusions must fit within {window_days} days of the first "
                f"({course_day(first_day)}). Choose an earlier time or lengthen the window.",
            )
    return errors


def _course_alternatives(
    *, course: TreatmentCourse, ordered: list[datetime], number: int, infusion: AppointmentType
) -> list[Slot]:
    """Free times near infusion ``number``'s that keep the minimum gap to its neighbours and
    the course within its window."""
    location = course.location
    gap = timedelta(hours=course.min_gap_hours)
    others = [starts_at for index, starts_at in enumerate(ordered, start=1) if index != number]
    nearby = nearest_free_slots(
        location=location,
        appointment_type=infusion,
        around=ordered[number - 1],
        patient=course.patient,
        count=4 * ALTERNATIVES,
    )
    fitting = []
    for slot in nearby:
        if any(abs(slot.starts_at - other) < gap for other in others):
            continue
        days = [s.astimezone(location.tz).date() for s in [*others, slot.starts_at]]
        if (max(days) - min(days)).days >= course.window_days:
            continue
        fitting.append(slot)
    return fitting[:ALTERNATIVES]


def _sort_key(value: Any) -> Any:
    # Naive or odd values sort somewhere harmless; ``_starts_errors`` refuses them.
    return (0, value) if isinstance(value, datetime) and timezone.is_aware(value) else (1, 0)


def _hours(hours: float) -> str:
    if hours < 1:
        return "less than an hour"
    return f"{round(hours, 1):g} hour{'' if hours == 1 else 's'}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text
