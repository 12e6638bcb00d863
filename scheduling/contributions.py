"""What ``scheduling`` adds to pages that the layers below it own, registered from
``SchedulingConfig.ready`` (``clinic.contributions`` says how):

- the patient chart (``patients.views.chart.chart_page``): the patient's appointments and
  treatment courses, for staff who may see the schedule;
- the staff home (``clinic.contributions.staff_home_page``): the open safety alerts, of
  the locations the clinician has shifts at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from clinic.contributions import staff_home_page
from clinic.permissions import Capability, user_can
from patients.models import Patient, SafetyAlert
from patients.views.chart import chart_page
from scheduling.board.cards import patient_appointments
from scheduling.courses.reads import course_progress, courses_of_patient
from scheduling.shifts import shift_locations_of


@chart_page.register
def appointments_and_courses(
    user: Any, patient: Patient, *, shown: Mapping[str, Any]
) -> dict[str, Any]:
    if not user_can(user, Capability.VIEW_SCHEDULE):
        return {}
    return {
        "appointments": patient_appointments(user, patient),
        "courses": [
            (course, course_progress(course)) for course in courses_of_patient(user, patient)
        ],
        "can_book": user_can(user, Capability.BOOK_APPOINTMENTS),
        "can_plan_course": user_can(user, Capability.MANAGE_COURSES),
    }


@dataclass(frozen=True)
class SafetyPanel:
    """The staff home's safety panel: the open alerts to show, and how many others are open
    at locations the clinician does not work at."""

    alerts: list[SafetyAlert]
    elsewhere: int
    by_location: bool  # True when limited to the clinician's shift locations


def safety_panel_for(user: Any) -> SafetyPanel:
    """Open alerts for a clinician's home page, oldest first: those of the locations they
    have shifts at and those with no location, or all when they have no shifts. Three
    queries: shifts, the alerts shown, the count of the others."""
    if not user_can(user, Capability.VIEW_CLINICAL):
        return SafetyPanel(alerts=[], elsewhere=0, by_location=False)
    locations = shift_locations_of(user)
    alerts = SafetyAlert.objects.open().select_related("patient")
    if not locations:
        return SafetyPanel(alerts=list(alerts), elsewhere=0, by_location=False)
    mine = alerts.filter(Q(location_id__in=locations) | Q(location__isnull=True))
    elsewhere = (
        SafetyAlert.objects.filter(resolved_at__isnull=True)
        .exclude(location_id__in=locations)
        .exclude(location__isnull=True)
        .count()
    )
    return SafetyPanel(alerts=list(mine), elsewhere=elsewhere, by_location=True)


@staff_home_page.register
def safety_panel(user: Any, *, shown: Mapping[str, Any]) -> dict[str, Any]:
    # Nurses and physicians: open safety alerts (patients.services.safety).
    return {"safety": safety_panel_for(user) if user_can(user, Capability.VIEW_CLINICAL) else None}
