"""Side effects and interventions of a session (``SessionEvent``).

- ``event_record``: a side effect with its severity, a medication given (name, dose and
  route together), or both, at a time within the session.
- ``event_mark_in_error``: records are never edited; a wrong one is marked entered in
  error, once, with who and why.
- ``events_for``: the session's events in time order, for the session screen.
"""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability, require
from infusions.flowsheet_rules import (
    PHASE_FOR_STATE,
    clean_text,
    closed_message,
    copy_fields,
    length_errors,
    medication_errors,
    refuse_if_in_error,
    session_patient_id,
    time_in_session,
)
from infusions.models import InfusionSession, SessionAlert, SessionEvent
from infusions.models.events import Severity
from infusions.models.sessions import InfusionSessionState
from patients.models import SideEffect

State = InfusionSessionState


@transaction.atomic
def event_record(
    *,
    actor: User,
    session: InfusionSession,
    occurred_at: datetime | None = None,
    side_effect: str = "",
    severity: str = "",
    description: str = "",
    medication_name: str = "",
    medication_dose: str = "",
    medication_route: str = "",
    note: str = "",
    alert: SessionAlert | None = None,
    request: HttpRequest | None = None,
) -> SessionEvent:
    """Record a side effect (with its severity; "other" described), a medication given
    (name, dose and route together), or both, at ``occurred_at`` (now if None) within the
    session. ``alert`` links it to an alert of the same session."""
    require(actor, Capability.RECORD_CLINICAL)
    locked = InfusionSession.objects.select_for_update().get(pk=session.pk)
    if PHASE_FOR_STATE.get(State(locked.state)) is None:
        raise ValidationError({"session": [closed_message(locked, "events")]})
    errors: dict[str, list[str]] = {}
    side_effect, severity, description = (
        clean_text(side_effect),
        clean_text(severity),
        clean_text(description),
    )
    medication = (
        clean_text(medication_name),
        clean_text(medication_dose),
        clean_text(medication_route),
    )
    note = clean_text(note)
    if not side_effect and not any(medication):
        errors["side_effect"] = ["Choose the side effect, or enter the medication given (or both)."]
    if side_effect and side_effect not in SideEffect.values:
        errors["side_effect"] = [
            f"“{side_effect[:40]}” is not on the list: choose one, or “other” and describe it."
        ]
    if side_effect and severity not in Severity.values:
        errors["severity"] = ["Choose how severe it is: mild, moderate or severe."]
    if severity and not side_effect and "side_effect" not in errors:
        errors["side_effect"] = ["A severity was chosen: choose the side effect it is for."]
    if side_effect == SideEffect.OTHER and not description:
        errors["description"] = ["Describe the side effect: it is “other”."]
    if any(medication):
        medication_errors(*medication, errors)
    if alert is not None and alert.session_id != locked.pk:
        errors["alert"] = ["That alert belongs to another session: pick one of this session's."]
    length_errors({"description": description, "note": note}, errors)
    occurred_at = time_in_session(locked, occurred_at, errors, "occurred_at", "it happened")
    if errors:
        raise ValidationError(errors)

    name, dose, route = medication
    event = SessionEvent.objects.create(
        session=locked,
        occurred_at=occurred_at,
        side_effect=side_effect,
        severity=severity if side_effect else "",
        description=description,
        medication_name=name,
        medication_dose=dose,
        medication_route=route,
        alert=alert,
        note=note,
        recorded_by=actor,
    )
    what = " and ".join(
        part
        for part, present in (("a side effect", side_effect), ("a medication given", name))
        if present
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=event,
        summary=f"recorded {what} for patient {locked.appointment.patient.public_id}",
        request=request,
    )
    return event


@transaction.atomic
def event_mark_in_error(
    *, actor: User, event: SessionEvent, reason: str, request: HttpRequest | None = None
) -> SessionEvent:
    """Mark ``event`` entered in error (once), with who and why."""
    require(actor, Capability.RECORD_CLINICAL)
    locked = SessionEvent.objects.select_for_update().get(pk=event.pk)
    reason = clean_text(reason)
    refuse_if_in_error(locked, "event")
    if not reason:
        raise ValidationError(
            {"reason": ["Say why the entry is wrong, e.g. “wrong patient”: it stays on record."]}
        )
    locked.entered_in_error_at = timezone.now()
    locked.entered_in_error_by = actor
    locked.entered_in_error_reason = reason
    locked.save(
        update_fields=["entered_in_error_at", "entered_in_error_by", "entered_in_error_reason"]
    )
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=locked,
        summary=f"marked a session event entered in error for patient "
        f"{session_patient_id(locked.session_id)}",
        request=request,
    )
    copy_fields(locked, event)
    return event


def events_for(session: InfusionSession) -> list[SessionEvent]:
    """The session's side effects and interventions in time order, those in error too (the
    page shows them struck through); one query."""
    return list(
        session.events.select_related("recorded_by", "entered_in_error_by", "alert").order_by(
            "occurred_at", "id"
        )
    )
