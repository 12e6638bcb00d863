"""What ``scheduling`` adds to pages that the layers below it own, registered from
``SchedulingConfig.ready`` (``clinic.contributions`` says how):

- the patient chart (``patients.views.chart.chart_page``): the patient's appointments and
  treatment courses, for staff who may see the schedule;
- the staff home (``clinic.contributions.staff_home_page``): the open safety alerts, of
  the locations the clinician has shifts at, and today's appointments at each location.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from clinic.contributions import kept_version, staff_home_page
from clinic.fragments import RowsOf, Source, cached_fragment, rows_version, this_minute
from clinic.models import Location
from clinic.permissions import Capability, user_can
from patients.models import Patient, SafetyAlert
from patients.views.chart import chart_page, chart_versions
from scheduling.board.cards import patient_appointments
from scheduling.board.day import board_locations, local_day_bounds
from scheduling.courses.reads import course_progress, courses_of_patient
from scheduling.models import Appointment, AppointmentStatus, AppointmentType, TreatmentCourse
from scheduling.shifts import home_location, shift_locations_of

# The markup version of the chart's appointments and courses in the fragment cache
# (clinic.fragments): change it when _chart_schedule.html or a partial it includes changes.
CHART_SCHEDULE_FRAGMENT = "1"


def patient_schedule_sources(patient: Patient) -> list[Source]:
    """The rows the chart's appointments and courses show, for their version: the
    patient's appointments (a course's progress counts them) and courses, the safety alerts
    that withhold a booking note from the front desk, and the appointment types and places
    (whole tables: a few dozen rows)."""
    mine = [patient.pk]
    return [
        RowsOf(Appointment, "patient", mine),
        RowsOf(TreatmentCourse, "patient", mine),
        RowsOf(SafetyAlert, "patient", mine),
        RowsOf(AppointmentType),
        RowsOf(Location),
    ]


@chart_versions.register
def schedule_version_sources(user: Any, patient: Patient) -> dict[str, list[Source]]:
    # Read by the chart with its other versions, for those who see the section.
    if not user_can(user, Capability.VIEW_SCHEDULE):
        return {}
    return {"chart-schedule": patient_schedule_sources(patient)}


@chart_page.register
def appointments_and_courses(
    user: Any, patient: Patient, *, shown: Mapping[str, Any]
) -> dict[str, Any]:
    """``schedule_html``: the appointments to come and the treatment courses, for staff who
    see the schedule. Kept rendered (no query when kept: its version is read by the chart
    with the others, ``schedule_version_sources``; one when called on its own): the same for every
    reader who may book, plan courses and see clinical detail alike, and drawn again each
    minute, since which appointments are still to come depends on the clock."""
    if not user_can(user, Capability.VIEW_SCHEDULE):
        return {}
    facts = {
        "can_book": user_can(user, Capability.BOOK_APPOINTMENTS),
        "can_plan_course": user_can(user, Capability.MANAGE_COURSES),
        # A booking note that raised a safety alert is withheld from the others.
        "sees_clinical": user_can(user, Capability.VIEW_CLINICAL),
    }

    def draw() -> str:
        courses = [
            (course, course_progress(course)) for course in courses_of_patient(user, patient)
        ]
        return render_to_string(
            "scheduling/appointments/partials/_chart_schedule.html",
            {
                "patient": patient,
                "appointments": patient_appointments(user, patient),
                "courses": courses,
                **facts,
            },
        )

    html = cached_fragment(
        "chart-schedule",
        CHART_SCHEDULE_FRAGMENT,
        (
            patient.pk,
            str(patient.public_id),
            timezone.get_current_timezone_name(),
            this_minute(),
            tuple(sorted(facts.items())),
            kept_version(
                shown, "chart-schedule", lambda: rows_version(*patient_schedule_sources(patient))
            ),
        ),
        draw,
    )
    return {"schedule_html": html}


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


@dataclass(frozen=True)
class LocationToday:
    """Where a location's appointments of today stand: still to come, here now (checked
    in, infusing or recovering), gone home, and not come (no-show)."""

    location: Location
    to_come: int
    here: int
    done: int
    no_show: int
    yours: bool  # the reader's own location (their shift today, or most shifts)


HERE = (AppointmentStatus.CHECKED_IN, AppointmentStatus.INFUSING, AppointmentStatus.RECOVERING)

# For each location and its today (the arrays, in the same order): its appointments by where
# they stand, through the (location, starts_at) index (LATERAL: joined, the planner cannot
# tell how few rows each range holds and reads them all), and the reader's weekdays on
# shift there.
_TODAY_COUNTS = """
SELECT d.location_id, c.to_come, c.here, c.done, c.no_show,
  ARRAY(SELECT s.weekday FROM scheduling_staffshift s
        WHERE s.location_id = d.location_id AND s.staff_id = %s)
FROM unnest(%s::bigint[], %s::timestamptz[], %s::timestamptz[]) AS d(location_id, starts, ends)
CROSS JOIN LATERAL (
  SELECT count(*) FILTER (WHERE a.status = %s) AS to_come,
    count(*) FILTER (WHERE a.status = ANY(%s)) AS here,
    count(*) FILTER (WHERE a.status = %s) AS done,
    count(*) FILTER (WHERE a.status = %s) AS no_show
  FROM scheduling_appointment a
  WHERE a.location_id = d.location_id AND a.starts_at >= d.starts AND a.starts_at < d.ends
) c
"""


def todays_appointments(user: Any) -> list[LocationToday]:
    """Today's appointments (each location's own today) at the locations whose board
    ``user`` may open, the reader's own first. Two queries (the locations; the counts with
    the reader's shifts), however many locations and appointments."""
    locations = list(board_locations(user).only("id", "public_id", "name", "time_zone"))
    if not locations:
        return []
    starts, ends = [], []
    for location in locations:
        day = location.local_now().date()
        start, end = local_day_bounds(location, day, day)
        starts.append(start)
        ends.append(end)
    with connection.cursor() as cursor:
        cursor.execute(
            _TODAY_COUNTS,
            [
                user.pk,
                [location.pk for location in locations],
                starts,
                ends,
                AppointmentStatus.BOOKED.value,
                [status.value for status in HERE],
                AppointmentStatus.DISCHARGED.value,
                AppointmentStatus.NO_SHOW.value,
            ],
        )
        counts = {row[0]: row[1:] for row in cursor.fetchall()}
    shifts = [(pk, weekday) for pk, row in counts.items() for weekday in row[4]]
    own = home_location(user, locations, shifts=shifts)
    ordered = [own] + [location for location in locations if location != own]
    return [
        LocationToday(
            location=location,
            to_come=counts[location.pk][0],
            here=counts[location.pk][1],
            done=counts[location.pk][2],
            no_show=counts[location.pk][3],
            yours=location == own and len(locations) > 1,
        )
        for location in ordered
    ]


@staff_home_page.register
def appointments_today(user: Any, *, shown: Mapping[str, Any]) -> dict[str, Any]:
    # Everyone who works from the schedule: where today stands at each location.
    if not user_can(user, Capability.VIEW_SCHEDULE):
        return {"appointments_today": None}
    return {"appointments_today": todays_appointments(user)}
