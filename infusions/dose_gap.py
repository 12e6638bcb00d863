"""No second dose within the minimum gap between infusions (``COURSE_MIN_GAP_HOURS``, DOMAIN.md
"The patient's path" 5), at the chair.

Booking already keeps a patient's infusion appointments that far apart
(``scheduling.services.infusion_gap``); this is the defence in depth where the drug is
ordered and given: a session whose patient had another infusion started within the gap can
neither have a dose order signed nor start. DOMAIN.md lets a physician override only the
time guards it names (recovery before discharge, ending an infusion early); the gap between
infusions is not one of them, so nobody overrides it here: the way out is to mark the
session not started and book the infusion once the gap has passed."""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from infusions.models import InfusionSession
from scheduling.models import Appointment
from scheduling.services.checks import when_label
from scheduling.services.infusion_gap import infusion_min_gap


def recent_dose_problems(session: InfusionSession, now: datetime | None = None) -> list[str]:
    """Why ``session`` may not order or start a dose now because the patient had another
    infusion started less than the gap ago (one query); empty when it may."""
    now = now or timezone.now()
    gap = infusion_min_gap()
    # The patient through the appointment's id, not ``session.appointment``: reading the
    # relation here would leave a copy of the appointment cached on the caller's session
    # from before the move it is checking.
    patient = Appointment.objects.filter(pk=session.appointment_id).values("patient_id")
    other = (
        InfusionSession.objects.filter(
            appointment__patient_id__in=patient,
            started_at__gt=now - gap,
        )
        .exclude(pk=session.pk)
        .select_related("appointment__location")
        .order_by("-started_at")
        .first()
    )
    if other is None or other.started_at is None:
        return []
    hours = round(gap.total_seconds() / 3600)
    location = other.appointment.location
    allowed = when_label(other.started_at + gap, location)
    return [
        f"The patient had an infusion started at {when_label(other.started_at, location)} "
        f"({location.name}): infusions must be at least {hours} hours apart, so no dose "
        f"before {allowed}. Mark this session not started and book the infusion for then or "
        "later."
    ]
