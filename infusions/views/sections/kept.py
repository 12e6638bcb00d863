"""The parts of the session screen kept rendered (``clinic.fragments``): the live part of the
flowsheet (open alerts, when the next reading is due, the readings) and the chart.

Every screen showing a session under way asks for the live part every 60 s, and a finished
session's record hardly changes, so each is drawn once for what it shows and served from the
cache until that changes. Each is keyed by the version of every row it draws from
(``rows_versions``: the session's readings, alerts, state changes and events, and the staff
named in them), the session's own facts (state, kind, the place's time zone) and, for the
flowsheet, when the next reading is due, worked out at each request to the second, and
whether the reader may record (the acknowledge forms and "mark in error" links). A write of
any kind by any path makes a new key: a new reading, alert, acknowledgement, "mark in error",
pause or note shows on the next view, never a kept copy. Asked for only after the view's own
access check (``session_for``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString

from clinic.fragments import (
    KEPT_CSRF,
    RowsOf,
    RowsReferencedBy,
    ValuesOf,
    cached_fragment,
    rows_versions,
)
from clinic.models import Location, User
from infusions.chart import chart_for_session
from infusions.flowsheet import Flowsheet, flowsheet_for, readings_due_for
from infusions.models import (
    Discharge,
    DoseAdministration,
    DoseCorrection,
    DoseOrder,
    InfusionSession,
    Lot,
    PreAssessment,
    SessionAlert,
    SessionEvent,
    SessionStateChange,
    VitalsReading,
)
from infusions.vitals import alert_thresholds_from_settings
from patients.models import Patient, QuestionnaireResponse, SafetyAlert
from scheduling.models import Appointment

# The markup versions of the kept parts: change LIVE_FRAGMENT when
# templates/infusions/flowsheet/_live.html, _acknowledge.html, _field.html or the
# reading_rows tag change, CHART_FRAGMENT when templates/infusions/session/_chart.html,
# the chart_point_rows tag or infusions.chart's drawing change.
LIVE_FRAGMENT = "1"
# "2": the chart section asks for itself again (hx-get ?part=chart) on session-records-changed.
CHART_FRAGMENT = "2"
LIVE_TEMPLATE = "infusions/flowsheet/_live.html"
CHART_TEMPLATE = "infusions/session/_chart.html"


@dataclasses.dataclass(frozen=True)
class SessionVersions:
    """The version of each kind of row the kept parts draw from (``screen_versions``)."""

    readings: str
    alerts: str
    staff: str  # who recorded, acknowledged or marked in error a reading or alert
    state_changes: str = ""
    events: str = ""
    record: str = ""  # what a finished session's record shows (``record_sources``)


def record_sources(session: InfusionSession) -> list[Any]:
    """Every row the record of a finished session draws (``infusions.views.sections.record``)
    beyond its readings, alerts, moves and events: the pre-infusion checks and who recorded
    and acknowledged them, the patient and their questionnaires and appointments (the dose
    history's dates), every dose order, administration and correction of the patient (the
    history and its escalations), who signed, gave and witnessed this session's dose and
    its lot, the events' staff, the discharge and who signed it, and the patient's safety
    alerts with their places and who followed them up."""
    ids, patient = [session.pk], [session.appointment.patient_id]
    sessions = ValuesOf(
        InfusionSession, "pk", "appointment", ValuesOf(Appointment, "pk", "patient", patient)
    )
    orders = ValuesOf(DoseOrder, "pk", "session", sessions)
    this_order = ValuesOf(DoseOrder, "pk", "session", ids)
    given = ValuesOf(DoseAdministration, "pk", "order", this_order)
    administrations = ValuesOf(DoseAdministration, "pk", "order", orders)
    staff = ("recorded_by", "entered_in_error_by")
    return [
        RowsOf(PreAssessment, "session", ids),
        RowsReferencedBy(
            User, PreAssessment, ("recorded_by", "caution_acknowledged_by"), "session", ids
        ),
        RowsOf(Patient, "pk", patient),
        RowsOf(QuestionnaireResponse, "patient", patient),
        RowsOf(Appointment, "patient", patient),
        RowsOf(DoseOrder, "session", sessions),
        RowsOf(DoseAdministration, "order", orders),
        RowsOf(DoseCorrection, "administration", administrations),
        RowsReferencedBy(User, DoseOrder, ("ordered_by",), "session", ids),
        RowsReferencedBy(User, DoseAdministration, ("given_by", "witness"), "order", this_order),
        RowsReferencedBy(User, DoseCorrection, ("witness",), "administration", given),
        RowsReferencedBy(Lot, DoseAdministration, ("lot",), "order", this_order),
        RowsReferencedBy(User, SessionEvent, staff, "session", ids),
        RowsOf(Discharge, "session", ids),
        RowsReferencedBy(User, Discharge, ("signed_by", "physician"), "session", ids),
        RowsOf(SafetyAlert, "patient", patient),
        RowsReferencedBy(User, SafetyAlert, ("resolved_by",), "patient", patient),
        RowsReferencedBy(Location, SafetyAlert, ("location",), "patient", patient),
    ]


def screen_versions(
    session: InfusionSession, *, chart: bool = False, record: bool = False
) -> SessionVersions:
    """The versions of the rows of ``session`` the flowsheet's live part draws (with
    ``chart``, the chart's too; with ``record``, a finished session's record's): one
    query."""
    ids = [session.pk]
    sources: list[Any] = [
        RowsOf(VitalsReading, "session", ids),
        RowsOf(SessionAlert, "session", ids),
        RowsReferencedBy(
            User, VitalsReading, ("recorded_by", "entered_in_error_by"), "session", ids
        ),
        RowsReferencedBy(User, SessionAlert, ("acknowledged_by",), "session", ids),
    ]
    if chart:
        sources += [
            RowsOf(SessionStateChange, "session", ids),
            RowsOf(SessionEvent, "session", ids),
        ]
    if record:
        sources += record_sources(session)
    versions = rows_versions(*sources)
    staff = versions[2] + "/" + versions[3]
    chart_versions = versions[4:6] if chart else ["", ""]
    rest = versions[6:] if chart else versions[4:]
    return SessionVersions(versions[0], versions[1], staff, *chart_versions, record="/".join(rest))


def _session_facts(session: InfusionSession) -> tuple[Any, ...]:
    return (
        session.pk,
        str(session.public_id),
        session.state,
        session.kind,
        session.appointment.location.time_zone,
    )


def live_html(
    request: Any,
    session: InfusionSession,
    *,
    can_record: bool,
    polls: bool,
    alert_items: Callable[[Flowsheet], list[Any]],
    versions: SessionVersions | None = None,
    now: datetime | None = None,
) -> SafeString:
    """The live part of the flowsheet (``_live.html``) as ``request.user`` sees it, kept;
    ``alert_items`` gives the open alerts of a flowsheet with their acknowledge forms. One
    query when the screen has read ``versions``, two without, and one more while a reading
    schedule runs (when the next reading is due)."""
    now = now or timezone.now()
    if versions is None:
        versions = screen_versions(session)
    due = readings_due_for(session, now)
    parts = (
        _session_facts(session),
        versions.readings,
        versions.alerts,
        versions.staff,
        # Worked out now, to the second: "overdue" shows the moment it is.
        None if due is None else dataclasses.astuple(due),
        can_record,
        polls,
    )

    def draw() -> str:
        sheet = dataclasses.replace(flowsheet_for(session, now), due=due)
        context = {
            "session": session,
            "location": session.appointment.location,
            "flowsheet": sheet,
            "alert_items": alert_items(sheet),
            "can_record": can_record,
            "flowsheet_polls": polls,
            "reading_error": None,
        } | KEPT_CSRF
        return render_to_string(LIVE_TEMPLATE, context)

    return cached_fragment("flowsheet-live", LIVE_FRAGMENT, parts, draw, request=request)


def chart_html(
    session: InfusionSession, versions: SessionVersions, *, events: list[Any] | None = None
) -> SafeString:
    """The chart section (``_chart.html``), kept; ``versions`` from ``screen_versions`` with
    the chart's, ``events`` the session's (all of them) when the screen has read them."""
    parts = (
        _session_facts(session),
        versions.readings,
        versions.state_changes,
        versions.events,
        repr(alert_thresholds_from_settings()),
    )

    def draw() -> str:
        context = {
            "session": session,
            "location": session.appointment.location,
            "chart": chart_for_session(session, events=events),
        }
        return render_to_string(CHART_TEMPLATE, context)

    return cached_fragment("session-chart", CHART_FRAGMENT, parts, draw)
