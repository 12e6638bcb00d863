"""Whether a booking may be asked for at all, before looking for a free time: the location,
chair, clinician and course fit; the time is still to come, inside the opening hours (and,
online, the booking horizon); and an infusion's patient is cleared for it (approved
screening, signed consent). Each message says what was wrong and what to do."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from clinic.models import Chair, Location, User
from clinic.selectors import location_hours_on
from patients.models import Patient
from patients.services.consent import infusion_start_allowed
from patients.services.screening import course_scheduling_allowed
from scheduling.models import Appointment, AppointmentType, TreatmentCourse
from scheduling.services.checks import Errors, add_error, day_label, is_infusion, with_article


def booking_errors(
    *,
    patient: Patient,
    location: Location,
    appointment_type: AppointmentType,
    starts_at: datetime,
    chair: Chair | None,
    clinician: User | None,
    course: TreatmentCourse | None,
    source: str,
) -> Errors:
    errors: Errors = {}
    if not location.is_active:
        add_error(
            errors, "location", f"{location.name} is not taking bookings: choose another one."
        )
    if source == Appointment.Source.ONLINE and not appointment_type.bookable_online:
        add_error(
            errors,
            "appointment_type",
            f"{appointment_type.name} can't be booked online: call {location.name} on "
            f"{location.phone}.",
        )
    if chair is not None:
        if not appointment_type.needs_chair:
            add_error(
                errors,
                "chair",
                f"{with_article(appointment_type)} needs no chair: leave the chair empty.",
            )
        elif chair.location_id != location.pk:
            add_error(
                errors, "chair", f"That chair is at another location: choose one at {location}."
            )
        elif not chair.is_active:
            add_error(errors, "chair", f"{chair.name} is out of use: choose another chair.")
    if clinician is not None:
        role = appointment_type.clinician
        if not clinician.is_active or role not in clinician.roles:
            add_error(
                errors,
                "clinician",
                f"{clinician} is not an active {role}: choose a {role}, or leave it empty to "
                "take whoever is free.",
            )
    if course is not None:
        _course_errors(course, patient, location, appointment_type, errors)
    for field, messages in time_errors(
        location=location,
        appointment_type=appointment_type,
        starts_at=starts_at,
        online=source == Appointment.Source.ONLINE,
    ).items():
        errors.setdefault(field, []).extend(messages)
    for field, messages in eligibility_errors(patient, appointment_type).items():
        errors.setdefault(field, []).extend(messages)
    return errors


def _course_errors(
    course: TreatmentCourse,
    patient: Patient,
    location: Location,
    appointment_type: AppointmentType,
    errors: Errors,
) -> None:
    if course.patient_id != patient.pk:
        add_error(errors, "course", "That treatment course is another patient's: choose theirs.")
    elif course.location_id != location.pk:
        add_error(
            errors,
            "course",
            f"That treatment course is at {course.location}: book it there, or start a course "
            f"at {location.name}.",
        )
    elif course.state in (TreatmentCourse.State.COMPLETED, TreatmentCourse.State.DISCONTINUED):
        add_error(
            errors,
            "course",
            f"That treatment course is {course.get_state_display().lower()}: start a new one.",
        )
    if not is_infusion(appointment_type):
        add_error(
            errors,
            "course",
            f"Only infusions belong to a treatment course: book {with_article(appointment_type)} "
            "without one.",
        )


def time_errors(
    *, location: Location, appointment_type: AppointmentType, starts_at: datetime, online: bool
) -> Errors:
    """Is ``starts_at`` a time this location could ever book: still to come, inside the
    opening hours (recovery included) and, for a patient booking online, inside the booking
    horizon?"""
    if not isinstance(starts_at, datetime) or timezone.is_naive(starts_at):
        return {"starts_at": ["Give the date and time with a time zone."]}
    if starts_at <= timezone.now():
        return {"starts_at": ["That time has passed: choose a later one."]}
    start = starts_at.astimezone(location.tz)
    end = (starts_at + appointment_type.occupied).astimezone(location.tz)
    if online:
        horizon = settings.BOOKING_HORIZON_DAYS
        if start.date() > location.local_now().date() + timedelta(days=horizon):
            return {
                "starts_at": [
                    f"Online booking is open for the next {horizon} days: choose an earlier day, "
                    f"or call {location.name} on {location.phone}."
                ]
            }
    hours = location_hours_on(location, start.date())
    if hours.closure is not None:
        return {
            "starts_at": [
                f"{location.name} is closed on {day_label(start.date())} ({hours.closure.reason}): "
                "choose another day."
            ]
        }
    if hours.opens_at is None or hours.closes_at is None:
        return {"starts_at": [f"{location.name} is closed on {start:%A}s: choose another day."]}
    if start.time() < hours.opens_at or end.date() != start.date() or end.time() > hours.closes_at:
        recovery = ", recovery included," if appointment_type.recovery_minutes else ""
        return {
            "starts_at": [
                f"{start:%H:%M}–{end:%H:%M} on {day_label(start.date())} is outside "
                f"{location.name}'s opening hours ({hours.opens_at:%H:%M}–"
                f"{hours.closes_at:%H:%M} local): choose a time that starts at "
                f"{hours.opens_at:%H:%M} or later and ends{recovery} by {hours.closes_at:%H:%M}."
            ]
        }
    return {}


def eligibility_errors(patient: Patient, appointment_type: AppointmentType) -> Errors:
    """An infusion or booster needs a current, approved screening decision and the current
    consent form signed (ARCHITECTURE.md, invariant 2)."""
    if not is_infusion(appointment_type):
        return {}
    errors: Errors = {}
    what = with_article(appointment_type).lower()
    allowed, reason = course_scheduling_allowed(patient)
    if not allowed:
        add_error(
            errors,
            "patient",
            f"Can't book {what}: there is no approved, current screening decision. {reason}",
        )
    allowed, reason = infusion_start_allowed(patient)
    if not allowed:
        add_error(
            errors, "patient", f"Can't book {what}: there is no signed consent on file. {reason}"
        )
    return errors
