"""Reading treatment courses: the ones a user may see (with progress counted in the same query),
a patient's courses for their chart, a course's appointments, and why no course may be
planned for a patient now."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404
from django.utils import timezone

from clinic.permissions import Capability, require, user_can
from patients.models import Patient
from patients.services.consent import infusion_start_allowed
from patients.services.screening import course_scheduling_allowed
from scheduling.courses.wording import course_day
from scheduling.models import Appointment, AppointmentKind, AppointmentStatus, TreatmentCourse

State = TreatmentCourse.State

ACTIVE_STATES = (State.PLANNED, State.INDUCTION, State.MAINTENANCE)


@dataclass(frozen=True)
class CourseProgress:
    """How far the induction series is: discharged infusions of the planned number."""

    done: int
    planned: int

    def __str__(self) -> str:
        return f"{self.done} of {self.planned}"


def courses_visible_to(user: Any) -> QuerySet[TreatmentCourse]:
    """Courses ``user`` may see (everyone who may view the schedule), newest first, with
    patient and location joined in and ``infusions_done`` counted, in one query."""
    if not user_can(user, Capability.VIEW_SCHEDULE):
        return TreatmentCourse.objects.none()
    # Counted per course shown, not grouped over all of them: a page of the newest 50 of
    # 3,000 courses is then read off course_created_id_idx.
    done = (
        Appointment.objects.filter(
            course=OuterRef("pk"),
            status=AppointmentStatus.DISCHARGED,
            appointment_type__kind=AppointmentKind.INFUSION,
        )
        .order_by()
        .values("course")
        .annotate(count=Count("pk"))
        .values("count")
    )
    return (
        TreatmentCourse.objects.select_related("patient", "location", "created_by")
        .annotate(infusions_done=Coalesce(Subquery(done), 0))
        .order_by("-created_at", "-id")
    )


def course_for(user: Any, public_id: uuid.UUID | str) -> TreatmentCourse:
    """The course ``user`` may see; 403 without ``VIEW_SCHEDULE``, 404 if there is none."""
    require(user, Capability.VIEW_SCHEDULE)
    try:
        return courses_visible_to(user).get(public_id=public_id)
    except (TreatmentCourse.DoesNotExist, ValueError, ValidationError):
        raise Http404("No such treatment course.") from None


def courses_of_patient(user: Any, patient: Patient) -> QuerySet[TreatmentCourse]:
    """``patient``'s courses for their chart, newest first; ``course_progress`` of each
    needs no further query."""
    return courses_visible_to(user).filter(patient=patient)


def course_progress(course: TreatmentCourse) -> CourseProgress:
    """Discharged induction infusions of the planned number ("3 of 6"); boosters do not
    count. Runs a query unless the course came from ``courses_visible_to``."""
    done = getattr(course, "infusions_done", None)
    if done is None:
        done = course.appointments.filter(
            status=AppointmentStatus.DISCHARGED,
            appointment_type__kind=AppointmentKind.INFUSION,
        ).count()
    return CourseProgress(done=done, planned=course.planned_infusions)


def course_appointments(course: TreatmentCourse) -> list[Appointment]:
    """Every appointment of the course in time order, cancelled ones included, with type,
    chair and clinician joined in (one query)."""
    return list(
        course.appointments.select_related("appointment_type", "chair", "clinician").order_by(
            "starts_at", "id"
        )
    )


def course_future_appointments(course: TreatmentCourse) -> list[Appointment]:
    """The course's booked appointments still to come: what discontinuing it cancels."""
    return list(
        course.appointments.filter(status=AppointmentStatus.BOOKED, starts_at__gt=timezone.now())
        .select_related("appointment_type", "location", "patient")
        .order_by("starts_at", "id")
    )


def course_refusals(patient: Patient) -> list[str]:
    """Why no course may be planned for ``patient`` now (empty when one may): a current,
    approved screening decision and the current consent form signed are both needed
    (ARCHITECTURE.md invariant 2), and one course at a time."""
    refusals = []
    allowed, reason = course_scheduling_allowed(patient)
    if not allowed:
        refusals.append(f"Screening: {reason}")
    allowed, reason = infusion_start_allowed(patient)
    if not allowed:
        refusals.append(f"Consent: {reason}")
    active = course_active(patient)
    if active is not None:
        refusals.append(
            f"The patient already has a course ({active.get_state_display().lower()}, "
            f"started {course_day(active.created_at.astimezone(active.location.tz).date())}): open "
            "it, and complete or discontinue it before planning another."
        )
    return refusals


def course_active(patient: Patient) -> TreatmentCourse | None:
    """The patient's course that is still going (planned, induction or maintenance)."""
    return (
        TreatmentCourse.objects.filter(patient=patient, state__in=ACTIVE_STATES)
        .select_related("location")
        .order_by("-created_at")
        .first()
    )
