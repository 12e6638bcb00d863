"""The session screen: the patient in the chair, from check-in to discharge.

One page per session, in the order of the work: the pre-infusion checks and the dose, the
vitals flowsheet with its alerts and events, then discharge. Each part's context comes
from its own views module (``section_context``), and each part re-renders on its own with
HTMX after a change; without JavaScript every form still posts and redirects back here.

The state buttons (check in, pass the pre-assessment, start, pause, …) call
``infusions.sessions.session_transition``, which refuses with a reason a nurse can act on.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from clinic.permissions import Capability, capability_required, user_can
from infusions.models import InfusionSession
from infusions.models.sessions import SESSION_STATES_NEEDING_REASON, InfusionSessionState
from infusions.orders import start_problems
from infusions.selectors import session_for
from infusions.sessions import (
    infusion_minutes_run,
    planned_infusion_minutes,
    session_for_appointment,
    session_next_states,
    session_transition,
)
from infusions.views import discharge, flowsheet, preassessment
from infusions.views.common import audit_session_view, session_base_context
from scheduling.models import AppointmentStatus
from scheduling.selectors import appointment_for
from scheduling.services import untimely_refusal

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


def session_url(session: InfusionSession, section: str = "") -> str:
    url = reverse("infusions:session", args=[session.public_id])
    return f"{url}#{section}" if section else url


@require_POST
@capability_required(Capability.VIEW_SCHEDULE)
def session_open(request: HttpRequest, appointment_id: Any) -> HttpResponse:
    """Open (on first use, create) the session of an infusion appointment."""
    appointment = appointment_for(request.user, appointment_id)
    try:
        session = session_for_appointment(
            appointment=appointment, actor=request.user, request=request
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("scheduling:appointment-detail", appointment_id=appointment.public_id)
    if not user_can(request.user, Capability.VIEW_CLINICAL):
        messages.success(request, "The infusion session is open: a nurse takes it from here.")
        return redirect("scheduling:appointment-detail", appointment_id=appointment.public_id)
    return redirect(session_url(session))


@require_GET
@capability_required(Capability.VIEW_CLINICAL)
def session_detail(request: HttpRequest, session_id: Any) -> HttpResponse:
    session = session_for(request.user, session_id)
    audit_session_view(request, session, "infusion session")
    return render(request, "infusions/session/detail.html", session_context(request, session))


@require_POST
@capability_required(Capability.VIEW_CLINICAL)
def session_move(request: HttpRequest, session_id: Any) -> HttpResponse:
    session = session_for(request.user, session_id)
    to_state = request.POST.get("to_state", "")
    try:
        session_transition(
            actor=request.user,
            session=session,
            to_state=to_state,
            reason=request.POST.get("reason", ""),
            request=request,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, session.state_sentence)
    return redirect(session_url(session))


def session_context(request: HttpRequest, session: InfusionSession) -> dict[str, Any]:
    """Everything the session screen shows ``request.user``: the header and each part."""
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
    ]
    context["moves"] = moves
    context["start_waits_for"] = waiting_for
    for section in (preassessment, flowsheet, discharge):
        context |= section.section_context(request, session)
    return context
