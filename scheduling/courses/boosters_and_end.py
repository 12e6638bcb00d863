"""Boosters and the end of a course: when a booster would suit and the free times near it,
booking one (the course is in maintenance from then on), completing a course, and
discontinuing it with a reason (its appointments still to come are cancelled, their times
offered to the waitlist)."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability, require
from scheduling.availability import Slot, nearest_free_slots, wall_clock_instants
from scheduling.courses.limits import ALTERNATIVES, infusion_type
from scheduling.courses.reads import ACTIVE_STATES, course_future_appointments
from scheduling.courses.wording import course_when
from scheduling.models import (
    BLOCKING,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    TreatmentCourse,
)
from scheduling.services.book_and_reschedule import appointment_book
from scheduling.services.status_changes import appointment_cancel

State = TreatmentCourse.State

# Weeks between boosters when settings.COURSE_BOOSTER_INTERVAL_DAYS is not set.
DEFAULT_BOOSTER_INTERVAL_DAYS = 28
DISCONTINUE_REASON_MAX_LENGTH = Appointment._meta.get_field("cancel_reason").max_length
# An appointment that still lies ahead of the patient (not yet over, not cancelled).
UNDER_WAY = (
    AppointmentStatus.BOOKED,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.INFUSING,
    AppointmentStatus.RECOVERING,
)


def course_booster_interval_days() -> int:
    """Days from the last infusion to a suggested booster (COURSE_BOOSTER_INTERVAL_DAYS,
    four weeks when not set)."""
    return int(getattr(settings, "COURSE_BOOSTER_INTERVAL_DAYS", DEFAULT_BOOSTER_INTERVAL_DAYS))


def course_last_infusion(course: TreatmentCourse) -> Appointment | None:
    """The course's latest infusion or booster that happened or is booked."""
    return (
        course.appointments.filter(BLOCKING)
        .select_related("appointment_type")
        .order_by("-starts_at", "-id")
        .first()
    )


def course_suggested_booster_date(course: TreatmentCourse) -> date | None:
    """The local date a booster would suit: the booster interval after the last infusion
    (not before tomorrow); None when the course has no infusion yet."""
    last = course_last_infusion(course)
    if last is None:
        return None
    tz = course.location.tz
    suggested = last.starts_at.astimezone(tz).date() + timedelta(
        days=course_booster_interval_days()
    )
    return max(suggested, course.location.local_now().date() + timedelta(days=1))


def course_booster_suggestions(course: TreatmentCourse, count: int = ALTERNATIVES) -> list[Slot]:
    """Free booster times nearest the suggested date, at the last infusion's time of day."""
    last = course_last_infusion(course)
    suggested = course_suggested_booster_date(course)
    if last is None or suggested is None:
        return []
    at = last.starts_at.astimezone(course.location.tz).time()
    instants = wall_clock_instants(location=course.location, day=suggested, at=at)
    if not instants:  # that time is skipped when the clocks go forward: an hour later
        later = (datetime.combine(suggested, at) + timedelta(hours=1)).time()
        instants = wall_clock_instants(location=course.location, day=suggested, at=later)
    if not instants:
        return []
    return nearest_free_slots(
        location=course.location,
        appointment_type=infusion_type(AppointmentKind.BOOSTER),
        around=instants[0],
        patient=course.patient,
        count=count,
    )


@transaction.atomic
def course_book_booster(
    *,
    actor: User,
    course: TreatmentCourse,
    starts_at: datetime,
    request: HttpRequest | None = None,
) -> Appointment:
    """Book one booster infusion of ``course`` at ``starts_at`` (aware), once the induction
    series is over; the course is in maintenance from then on. Raises ValidationError or
    SlotTaken (with alternatives) like ``appointment_book``; nothing is saved then."""
    require(actor, Capability.MANAGE_COURSES)
    current = _locked(course)
    if current.state not in (State.INDUCTION, State.MAINTENANCE):
        raise ValidationError(
            {
                "course": [
                    f"This course is {current.get_state_display().lower()}: boosters are "
                    "booked for a course in induction or maintenance. Plan a new course instead."
                ]
            }
        )
    pending = (
        current.appointments.filter(
            status__in=UNDER_WAY, appointment_type__kind=AppointmentKind.INFUSION
        )
        .order_by("starts_at")
        .first()
    )
    if pending is not None:
        raise ValidationError(
            {
                "course": [
                    f"The induction series is not over: the infusion on "
                    f"{course_when(pending.starts_at, current.location)} is still "
                    f"{AppointmentStatus(pending.status).label.lower()}. Book boosters once "
                    "every induction infusion has happened or been cancelled."
                ]
            }
        )
    if isinstance(starts_at, datetime) and timezone.is_aware(starts_at):
        gap = timedelta(hours=current.min_gap_hours)
        near = (
            current.appointments.filter(
                BLOCKING, starts_at__gt=starts_at - gap, starts_at__lt=starts_at + gap
            )
            .order_by("starts_at")
            .first()
        )
        if near is not None:
            raise ValidationError(
                {
                    "starts_at": [
                        "The course has an infusion at "
                        f"{course_when(near.starts_at, current.location)}"
                        f": a booster must be at least {current.min_gap_hours} hours from it. "
                        "Choose another time."
                    ]
                }
            )
    appointment = appointment_book(
        actor=actor,
        patient=current.patient,
        location=current.location,
        appointment_type=infusion_type(AppointmentKind.BOOSTER),
        starts_at=starts_at,
        course=current,
        request=request,
    )
    if current.state == State.INDUCTION:
        _set_state(current, State.MAINTENANCE, actor=actor, request=request, why="booster booked")
        course.state = current.state
    return appointment


@transaction.atomic
def course_complete(
    *, actor: User, course: TreatmentCourse, request: HttpRequest | None = None
) -> TreatmentCourse:
    """Mark a course in induction or maintenance completed. Refused while any of its
    appointments is still to come: cancel those first, or discontinue the course."""
    require(actor, Capability.MANAGE_COURSES)
    current = _locked(course)
    if current.state not in (State.INDUCTION, State.MAINTENANCE):
        raise ValidationError(
            {
                "course": [
                    f"This course is {current.get_state_display().lower()}: only a course in "
                    "induction or maintenance can be completed."
                ]
            }
        )
    pending = current.appointments.filter(status__in=UNDER_WAY).order_by("starts_at").first()
    if pending is not None:
        raise ValidationError(
            {
                "course": [
                    f"The course still has {pending.appointment_type.name.lower()} on "
                    f"{course_when(pending.starts_at, current.location)} "
                    f"({AppointmentStatus(pending.status).label.lower()}): wait until it is "
                    "over, cancel it, or discontinue the course instead."
                ]
            }
        )
    _set_state(current, State.COMPLETED, actor=actor, request=request, why="completed")
    course.state = current.state
    return current


@transaction.atomic
def course_discontinue(
    *,
    actor: User,
    course: TreatmentCourse,
    reason: str,
    request: HttpRequest | None = None,
) -> TreatmentCourse:
    """Stop a course, saying why: every booked appointment of it still to come is cancelled
    with that reason (and its time offered to the waitlist)."""
    require(actor, Capability.MANAGE_COURSES)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError(
            {"reason": ["Say why the course stops, for example “patient moved away”."]}
        )
    if len(reason) > DISCONTINUE_REASON_MAX_LENGTH:
        raise ValidationError(
            {
                "reason": [
                    f"Keep the reason to {DISCONTINUE_REASON_MAX_LENGTH} characters (it has "
                    f"{len(reason)}): the cancelled appointments carry it too."
                ]
            }
        )
    current = _locked(course)
    if current.state not in ACTIVE_STATES:
        raise ValidationError(
            {"course": [f"This course is {current.get_state_display().lower()} already."]}
        )
    cancelled = 0
    for appointment in course_future_appointments(current):
        appointment_cancel(actor=actor, appointment=appointment, reason=reason, request=request)
        cancelled += 1
    current.state = State.DISCONTINUED
    current.discontinued_reason = reason
    current.save(update_fields=["state", "discontinued_reason"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=current,
        summary=f"discontinued the course of patient {current.patient.public_id}, cancelling "
        f"{cancelled} appointments: changed state, discontinued_reason",
        request=request,
    )
    course.state = current.state
    course.discontinued_reason = current.discontinued_reason
    return current


def _locked(course: TreatmentCourse) -> TreatmentCourse:
    return (
        TreatmentCourse.objects.select_for_update(of=("self",))
        .select_related("patient", "location")
        .get(pk=course.pk)
    )


def _set_state(
    course: TreatmentCourse, state: str, *, actor: User, request: HttpRequest | None, why: str
) -> None:
    course.state = state
    course.save(update_fields=["state"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=course,
        summary=f"{why} for patient {course.patient.public_id}: changed state",
        request=request,
    )
