"""The record of a finished session, kept rendered (``clinic.fragments``): once an infusion
session is discharged its pre-infusion checks, dose, events and discharge take no more entries
(only amendments: "mark in error", a late dose correction), so the sections are drawn once
and served from the cache until a row they draw from changes.

Three fragments: the patient's safety alerts at the top (a follow-up recorded or a new alert
shows at once), and the parts above and below the flowsheet and the chart: the pre-infusion
checks and the dose; the events and the discharge. All keyed by the version of every row the
four sections draw from (``kept.record_sources``, with the readings, alerts, moves and events
the screen versions anyway), the session's own facts, the reader's permissions (what they may
record, sign and handle), the settings the sections show or decide by, and the two things the
checks compare with the clock (a weight "today", the fasting time). A dose section offering
this reader the dose correction form (which lists the other staff) is served, never kept.

Only for discharged IV sessions: a Spravato session's REMS section, and a session stopped
early or not started (forms for events and the discharge, consent and screening read as of
now), are drawn as before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString

from clinic.fragments import KEPT_CSRF, DrawnForOneReader, Fragment, cached_fragments
from clinic.permissions import Capability, user_can
from infusions.models import InfusionSession, PreAssessment
from infusions.models.sessions import InfusionSessionState, SessionKind
from infusions.views.common import session_base_context
from infusions.views.sections import discharge, flowsheet, preassessment
from infusions.views.sections.kept import SessionVersions

# The markup version of the kept record: change it when templates/infusions/session/
# _pre_assessment.html, _dose.html, _events.html, _discharge.html (or what they include)
# or the sections' contexts change.
RECORD_FRAGMENT = "1"
SAFETY_TEMPLATE = "patients/chart/partials/_safety_alerts.html"


def keeps_record(session: InfusionSession) -> bool:
    """Whether the screen serves ``session``'s record kept (``record_html``)."""
    return session.state == InfusionSessionState.DISCHARGED and session.kind != (
        SessionKind.ESKETAMINE
    )


def _clock_facts(session: InfusionSession) -> tuple[Any, ...]:
    """What the pre-infusion checks compare with the clock: whether the weight was taken
    today at the place, and whether the fasting time had not yet run (one query)."""
    row = PreAssessment.objects.filter(session=session).values_list("weighed_at", "last_ate_at")
    weighed_at, last_ate_at = row.first() or (None, None)
    now = timezone.now()
    tz = session.appointment.location.tz
    fasting = timedelta(hours=settings.PRE_INFUSION_FASTING_HOURS)
    return (
        weighed_at is not None and weighed_at.astimezone(tz).date() == now.astimezone(tz).date(),
        last_ate_at is not None and now < last_ate_at + fasting,
    )


@dataclass(frozen=True)
class RecordParts:
    safety: SafeString  # the patient's safety alerts, at the top
    top: SafeString  # the pre-infusion checks and the dose, above the flowsheet
    end: SafeString  # the events and the discharge, below the chart


def record_html(request: Any, session: InfusionSession, versions: SessionVersions) -> RecordParts:
    """The record's parts as ``request.user`` sees them; ``versions`` with the record's
    (``kept.screen_versions(..., chart=True, record=True)``)."""
    user = request.user
    parts = (
        session.pk,
        str(session.public_id),
        session.state,
        session.kind,
        session.started_at,
        session.ended_at,
        session.appointment.location.time_zone,
        versions.readings,
        versions.alerts,
        versions.staff,
        versions.state_changes,
        versions.events,
        versions.record,
        user_can(user, Capability.RECORD_CLINICAL),
        user_can(user, Capability.SIGN_MEDICAL_ORDERS),
        user_can(user, Capability.HANDLE_CONTROLLED_SUBSTANCES),
        settings.PRE_INFUSION_FASTING_HOURS,
        settings.PRE_INFUSION_QUESTIONNAIRE_HOURS,
        settings.INFUSION_END_TOLERANCE_MINUTES,
        settings.DISCHARGE_MIN_ALDRETE,
        _clock_facts(session),
    )

    def draw_top() -> str:
        context = session_base_context(request, session) | KEPT_CSRF
        context |= preassessment.section_context(request, session)
        html = render_to_string("infusions/session/_pre_assessment.html", context)
        html += render_to_string("infusions/session/_dose.html", context)
        # The correction form lists the other staff who may witness: this reader's alone.
        return DrawnForOneReader(html) if context["dose_correct_form"] is not None else html

    def draw_end() -> str:
        context = session_base_context(request, session) | KEPT_CSRF
        context |= flowsheet.events_context(request, session)
        context |= discharge.discharge_context(request, session)
        html = render_to_string("infusions/session/_events.html", context)
        return html + render_to_string("infusions/session/_discharge.html", context)

    def draw_safety() -> str:
        context = session_base_context(request, session) | KEPT_CSRF
        context["safety"] = session.appointment.patient.safety_alerts.for_chart()
        with timezone.override(session.appointment.location.tz):  # as the screen's
            return render_to_string(SAFETY_TEMPLATE, context)

    safety, top, end = cached_fragments(
        [
            Fragment("session-record-safety", RECORD_FRAGMENT, parts, draw_safety),
            Fragment("session-record-top", RECORD_FRAGMENT, parts, draw_top),
            Fragment("session-record-end", RECORD_FRAGMENT, parts, draw_end),
        ],
        request=request,
    )
    return RecordParts(safety=safety, top=top, end=end)
