"""The whole session screen's context: the header's next moves (with what "start" still
waits for) and every section's own context (``infusions.views.sections``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from clinic.permissions import Capability, user_can
from infusions.models import InfusionSession
from infusions.models.sessions import SESSION_STATES_NEEDING_REASON, InfusionSessionState
from infusions.orders import start_problems
from infusions.sessions import infusion_minutes_run, planned_infusion_minutes, session_next_states
from infusions.views.common import session_base_context
from infusions.views.sections import discharge, flowsheet, preassessment, record, rems
from infusions.views.sections.kept import chart_html, screen_versions
from scheduling.models import AppointmentStatus
from scheduling.services.status_rules import untimely_refusal

State = InfusionSessionState

# The words on each move's button, from the nurse's side.
MOVE_LABELS: dict[State, str] = {
    State.CHECKED_IN: "Check in",
    State.PRE_ASSESSMENT_PASSED: "Pre-assessment passed",
    State.INFUSING: "Start the infusion",
    State.PAUSED: "Pause",
    State.RECOVERING: "End the infusion: recovery",
    State.DISCHARGED: "Discharge",
    State.STOPPED_EARLY: "Stop early",
    State.NOT_STARTED: "Not started",
}
# Moves made from their own form elsewhere on the page rather than a bare button.
MOVES_WITH_THEIR_OWN_FORM = frozenset({State.DISCHARGED})


def session_context(
    request: HttpRequest,
    session: InfusionSession,
    *,
    rems_forms: dict[str, Any] | None = None,
    keep_record: bool = False,
) -> dict[str, Any]:
    """Everything the session screen shows ``request.user``: the header and each part
    (``rems_forms``: the Spravato forms refused, to show with their errors). With
    ``keep_record`` (the screen as it is, no section's form posted), a finished session's
    record comes kept (``record``)."""
    if keep_record and record.keeps_record(session):
        return _finished_context(request, session)
    context = session_base_context(request, session)
    can_record = context["can_record"]
    waiting_for = []
    if session.state == State.PRE_ASSESSMENT_PASSED:
        # "Start" is offered only once it would be allowed; until then, what it waits for.
        waiting_for = start_problems(session)
    ends_early = (
        session.state == State.INFUSING
        and user_can(request.user, Capability.SIGN_MEDICAL_ORDERS)
        and (planned := planned_infusion_minutes(session)) is not None
        and infusion_minutes_run(session) < planned - settings.INFUSION_END_TOLERANCE_MINUTES
    )
    next_states = session_next_states(session)
    context |= preassessment.section_context(request, session)
    context |= rems.section_context(request, session, **(rems_forms or {}))
    # Check-in before its time (not the appointment's day, or earlier than the check-in
    # window) is refused by the clock guard the check-in itself runs: until it would pass,
    # the button is shown disabled with the guard's own reason, so page and action agree.
    check_in_refusal = (
        untimely_refusal(session.appointment, AppointmentStatus.CHECKED_IN)
        if State.CHECKED_IN in next_states
        else ""
    )
    moves = [
        {
            "state": state.value,
            "label": MOVE_LABELS[state],
            "needs_reason": state in SESSION_STATES_NEEDING_REASON
            or (state == State.RECOVERING and ends_early),
            "refusal": check_in_refusal if state == State.CHECKED_IN else "",
        }
        for state in next_states
        if state not in MOVES_WITH_THEIR_OWN_FORM
        and (can_record or state == State.CHECKED_IN)
        and not (state == State.INFUSING and waiting_for)
        # On a blood-pressure hold the only way on is "not started" (the hold box says so).
        and not (state == State.PRE_ASSESSMENT_PASSED and context["pre_is_hold"])
        # Spravato has no infusion to stop: the patient is monitored, then discharged.
        and not (state == State.STOPPED_EARLY and session.is_esketamine)
    ]
    context["moves"] = moves
    context["start_waits_for"] = waiting_for
    # The flowsheet's live part and the chart are kept rendered (``kept``): one query says
    # whether what they draw has changed.
    versions = screen_versions(session, chart=True)
    context |= flowsheet.section_context(request, session, versions=versions)
    context |= discharge.section_context(request, session)
    context["chart_html"] = chart_html(session, versions, events=context["events"])
    return context


def _finished_context(request: HttpRequest, session: InfusionSession) -> dict[str, Any]:
    """The screen of a discharged session: no next step, and every part kept rendered
    (``record``, ``kept``): one query says whether any of them changed."""
    context = session_base_context(request, session)
    versions = screen_versions(session, chart=True, record=True)
    context |= flowsheet.flowsheet_context(request, session, versions=versions)
    return context | {
        "moves": [],
        "start_waits_for": [],
        "kept_record": record.record_html(request, session, versions),
        "chart_html": chart_html(session, versions),
    }
