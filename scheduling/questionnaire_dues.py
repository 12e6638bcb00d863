"""The follow-up questionnaires that appointments and courses make due
(``patients.followups`` queues them; DOMAIN.md "Follow-up"):

- **before each infusion or booster**: the day before, at ``FOLLOWUP_QUESTIONNAIRE_HOUR``
  on the location's clock (context "pre_session");
- **along a running course**: ``FOLLOWUP_AFTER_INDUCTION_DAYS`` days after its first
  infusion, then every ``FOLLOWUP_MAINTENANCE_INTERVAL_DAYS`` (context "follow_up").

Both are registered with ``patients.followups.due_source`` when this module is imported
(``SchedulingConfig.ready``), pre-session first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db.models import Min, Q

from patients.followups import Due, due_source, local_moment
from patients.models import QuestionnaireResponse
from scheduling.models import (
    INFUSION_KINDS,
    Appointment,
    AppointmentStatus,
    TreatmentCourse,
)

Context = QuestionnaireResponse.Context


def starts_at_key(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%MZ")


@due_source
def pre_session_due(now: datetime) -> list[Due]:
    """Questionnaires for the infusions, boosters and Spravato sessions of the location's
    tomorrow (and of today, if the day before was missed and the treatment is still ahead)."""
    appointments = Appointment.objects.filter(
        appointment_type__kind__in=INFUSION_KINDS,
        status=AppointmentStatus.BOOKED,
        starts_at__gt=now,
        # The local tomorrow ends at most ~2 days (plus a time zone) from now.
        starts_at__lt=now + timedelta(days=3),
    ).select_related("patient", "location")
    dues = []
    for appointment in appointments:
        tz = appointment.location.tz
        due_on = appointment.starts_at.astimezone(tz).date() - timedelta(days=1)
        if due_on > now.astimezone(tz).date() + timedelta(days=1):
            continue
        send_at = max(now, local_moment(due_on, settings.FOLLOWUP_QUESTIONNAIRE_HOUR, tz))
        dues.append(
            Due(
                patient=appointment.patient,
                key=(
                    f"appointment:{appointment.public_id}:questionnaire:"
                    f"{starts_at_key(appointment.starts_at)}"
                ),
                context=Context.PRE_SESSION,
                due_on=due_on,
                send_at=send_at,
                location=appointment.location,
                appointment=appointment,
                extra={
                    "starts_at": appointment.starts_at.astimezone(UTC).isoformat(),
                    # No use once the infusion has begun (clinic.messaging.rules).
                    "useful_until": appointment.starts_at.astimezone(UTC).isoformat(),
                },
            )
        )
    return dues


def followup_days(days_since: int) -> bool:
    """Whether a follow-up questionnaire is due ``days_since`` days after a course's first
    infusion: on each of FOLLOWUP_AFTER_INDUCTION_DAYS, then every
    FOLLOWUP_MAINTENANCE_INTERVAL_DAYS after the last of them."""
    after = settings.FOLLOWUP_AFTER_INDUCTION_DAYS
    if days_since in after:
        return True
    last = max(after)
    interval = settings.FOLLOWUP_MAINTENANCE_INTERVAL_DAYS
    return days_since > last and (days_since - last) % interval == 0


@due_source
def course_due(now: datetime) -> list[Due]:
    """Follow-up questionnaires of running courses due from FOLLOWUP_CATCH_UP_DAYS ago up to
    the location's tomorrow, counted from the course's first infusion the patient had."""
    courses = (
        TreatmentCourse.objects.filter(
            state__in=[TreatmentCourse.State.INDUCTION, TreatmentCourse.State.MAINTENANCE]
        )
        .annotate(
            first_infusion=Min(
                "appointments__starts_at",
                filter=Q(appointments__status=AppointmentStatus.DISCHARGED),
            )
        )
        .filter(first_infusion__isnull=False)
        .select_related("patient", "location")
    )
    catch_up = settings.FOLLOWUP_CATCH_UP_DAYS
    dues = []
    for course in courses:
        tz = course.location.tz
        first_day = course.first_infusion.astimezone(tz).date()
        days_since = (now.astimezone(tz).date() - first_day).days
        for days in range(max(1, days_since - catch_up), days_since + 2):
            if not followup_days(days):
                continue
            due_on = first_day + timedelta(days=days)
            dues.append(
                Due(
                    patient=course.patient,
                    key=f"course:{course.public_id}:questionnaire:day-{days}",
                    context=Context.FOLLOW_UP,
                    due_on=due_on,
                    send_at=max(
                        now, local_moment(due_on, settings.FOLLOWUP_QUESTIONNAIRE_HOUR, tz)
                    ),
                    location=course.location,
                )
            )
    return dues
