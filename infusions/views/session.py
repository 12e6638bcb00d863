"""The session screen: the patient in the chair, from check-in to discharge.

One page per session, in the order of the work: the pre-infusion checks and the dose, the
vitals flowsheet with its alerts and events, then discharge. The whole screen's context is
``infusions.views.sections.screen.session_context``, each part's from its own module under
``infusions.views.sections``; each part re-renders on its own with HTMX after a change
(its views module answers); without JavaScript every form still posts and redirects back
here.

The state buttons (check in, pass the pre-assessment, start, pause, …) call
``infusions.sessions.session_transition``, which refuses with a reason a nurse can act on.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from clinic.permissions import Capability, capability_required, user_can
from infusions.selectors import session_for
from infusions.sessions import session_for_appointment, session_transition
from infusions.views.common import audit_session_view, session_url
from infusions.views.sections.screen import session_context
from scheduling.selectors import appointment_for


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
    context = session_context(request, session, keep_record=True)
    return render(request, "infusions/session/detail.html", context)


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
