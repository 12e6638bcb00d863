"""The alerts of a session's readings: acknowledging one, and which are open.

``alert_acknowledge`` (``@transaction.atomic``, refusing with ``ValidationError`` keyed by
field and changing nothing): a named person (the actor) says what was done. "Medication
given" needs the medication and records it as a ``SessionEvent`` linked to the alert.
"Pause" and "stop" also move the session (``sessions.session_transition``) in the same
transaction when it is infusing (stop: or paused); otherwise the alert is acknowledged and
the session stays as it is.

Reads: ``open_alerts`` for one session, and ``open_alert_counts`` / ``with_open_alerts``
for the day board.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability, require
from infusions.flowsheet_rules import (
    OPEN_ALERT,
    clean_text,
    copy_fields,
    length_errors,
    medication_errors,
)
from infusions.models import InfusionSession, SessionAlert, SessionEvent
from infusions.models.readings import AlertAction
from infusions.models.sessions import InfusionSessionState
from infusions.sessions import session_transition

State = InfusionSessionState

# What a Spravato session's alert may be acknowledged with: there is no infusion to slow,
# pause or stop (the patient has taken the nasal spray and is being monitored).
ESKETAMINE_ALERT_ACTIONS = frozenset({AlertAction.CONTINUE, AlertAction.MEDICATION})

# The moves "pause" and "stop" make, from the states they make them in.
MOVE_FOR_ACTION: dict[str, tuple[State, frozenset[State]]] = {
    AlertAction.PAUSE: (State.PAUSED, frozenset({State.INFUSING})),
    AlertAction.STOP: (State.STOPPED_EARLY, frozenset({State.INFUSING, State.PAUSED})),
}


@transaction.atomic
def alert_acknowledge(
    *,
    actor: User,
    alert: SessionAlert,
    action: str,
    note: str = "",
    medication_name: str = "",
    medication_dose: str = "",
    medication_route: str = "",
    request: HttpRequest | None = None,
) -> SessionAlert:
    """``actor`` acknowledges ``alert`` with what was done (an ``AlertAction``), once.

    "Medication given" needs the medication (name, dose, route) and records it as a
    ``SessionEvent`` linked to the alert. "Pause" moves an infusing session to paused and
    "stop" an infusing or paused one to stopped early (the alert's message and the note are
    the reason), in this same transaction: if the move is refused, so is the
    acknowledgement. In any other state the session is left as it is. ``alert.session`` is
    updated in place when the session moves."""
    require(actor, Capability.RECORD_CLINICAL)
    locked = SessionAlert.objects.select_for_update().get(pk=alert.pk)
    errors: dict[str, list[str]] = {}
    if locked.acknowledged_at is not None:
        who = locked.acknowledged_by.full_name if locked.acknowledged_by else "someone"
        tz = alert.session.appointment.location.tz
        raise ValidationError(
            {
                "alert": [
                    f"{who} acknowledged this alert already, at "
                    f"{locked.acknowledged_at.astimezone(tz):%H:%M} "
                    f"({locked.get_action_display().lower()}). If something else was done "
                    "since, record it as an event."
                ]
            }
        )
    if action not in AlertAction.values:
        choices = ", ".join(f"{value} ({label.lower()})" for value, label in AlertAction.choices)
        errors["action"] = [f"Say what was done: one of {choices}."]
    elif alert.session.is_esketamine and action not in ESKETAMINE_ALERT_ACTIONS:
        errors["action"] = [
            "A Spravato session has no infusion to slow, pause or stop: choose “continue "
            "and watch” or “medication given”, and record anything else done as an event."
        ]
    note = clean_text(note)
    medication = (
        clean_text(medication_name),
        clean_text(medication_dose),
        clean_text(medication_route),
    )
    if action == AlertAction.MEDICATION:
        medication_errors(*medication, errors)
    elif any(medication):
        errors.setdefault("action", []).append(
            "A medication was entered: choose “medication given” to record it, or clear it."
        )
    length_errors({"action_note": note}, errors)
    if errors:
        raise ValidationError(errors)

    now = timezone.now()
    locked.acknowledged_by = actor
    locked.acknowledged_at = now
    locked.action = action
    locked.action_note = note
    locked.save(update_fields=["acknowledged_by", "acknowledged_at", "action", "action_note"])
    session = alert.session
    if action == AlertAction.MEDICATION:
        name, dose, route = medication
        SessionEvent.objects.create(
            session_id=locked.session_id,
            occurred_at=now,
            medication_name=name,
            medication_dose=dose,
            medication_route=route,
            alert=locked,
            note=note,
            recorded_by=actor,
        )
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=locked,
        summary=f"acknowledged a vital signs alert ({action}) for patient "
        f"{session.appointment.patient.public_id}",
        request=request,
    )
    move = MOVE_FOR_ACTION.get(action)
    if move is not None and session.state in move[1]:
        reason = f"Alert: {locked.message}" + (f" {note}" if note else "")
        session_transition(
            actor=actor, session=session, to_state=move[0], reason=reason, request=request
        )
    copy_fields(locked, alert)
    return alert


def open_alerts(session: InfusionSession) -> QuerySet[SessionAlert]:
    """The alerts of ``session`` nobody has acknowledged yet, oldest first."""
    return session.alerts.filter(OPEN_ALERT).order_by("raised_at", "id")


def open_alert_counts(appointment_ids: Iterable[int]) -> dict[int, int]:
    """Open alerts per appointment (by primary key), for the appointments that have any;
    one query."""
    rows = (
        SessionAlert.objects.filter(OPEN_ALERT, session__appointment_id__in=list(appointment_ids))
        .values("session__appointment_id")
        .annotate(count=Count("id"))
        .order_by()
    )
    return {row["session__appointment_id"]: row["count"] for row in rows}


def with_open_alerts(appointments: QuerySet) -> QuerySet:
    """``appointments`` annotated with ``open_alert_count`` (0 without a session or alerts)
    and ``session_public_id`` (None without a session), in the same query: for the day
    board, whose query count must not grow with the appointments."""
    count = (
        SessionAlert.objects.filter(OPEN_ALERT, session__appointment_id=OuterRef("pk"))
        .values("session__appointment_id")
        .annotate(count=Count("id"))
        .values("count")
    )
    return appointments.annotate(
        open_alert_count=Coalesce(Subquery(count, output_field=IntegerField()), Value(0)),
        # Per appointment through the session's unique index (see ``with_session_state``).
        session_public_id=Subquery(
            InfusionSession.objects.filter(appointment_id=OuterRef("pk"))
            .order_by()
            .values("public_id")[:1]
        ),
    )
