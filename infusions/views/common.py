"""What every part of the session screen shares: the context each section renders with,
the audit record of a staff member reading the session, and the screen's URL."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from clinic.audit import Action, audit_record
from clinic.permissions import Capability, user_can
from infusions.models import InfusionSession


def session_base_context(request: HttpRequest, session: InfusionSession) -> dict[str, Any]:
    """The session, its appointment, patient and place, and what the user may do: enough
    for any one section to render on its own (for HTMX)."""
    appointment = session.appointment
    return {
        "session": session,
        "appointment": appointment,
        "patient": appointment.patient,
        "location": appointment.location,
        "can_record": user_can(request.user, Capability.RECORD_CLINICAL),
        "can_sign_orders": user_can(request.user, Capability.SIGN_MEDICAL_ORDERS),
    }


def audit_session_view(request: HttpRequest, session: InfusionSession, what: str) -> None:
    """Log that the signed-in staff member read ``what`` of the session's patient."""
    audit_record(
        actor=request.user,
        action=Action.VIEW,
        target=session.appointment.patient,
        summary=what,
        request=request,
    )


def session_url(session: InfusionSession, section: str = "") -> str:
    url = reverse("infusions:session", args=[session.public_id])
    return f"{url}#{section}" if section else url
