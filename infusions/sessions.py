"""Infusion sessions: the patient's time in the chair, from check-in to discharge.

A session belongs to one infusion or booster appointment and moves through::

    scheduled → checked in → pre-assessment passed → infusing ⇄ paused
    infusing → recovering → discharged
    infusing | paused | recovering → stopped early   (with a reason)
    scheduled | checked in | pre-assessment passed → not started   (with a reason)

``session_transition`` refuses every other move with ``ValidationError({"state": …})`` saying
what is possible next, and changes nothing. Passing the pre-assessment and starting the
infusion also need the patient's current consent signed and a current screening approval.
Checking in is front-desk work; every other move is clinical (``RECORD_CLINICAL``).

The appointment's status follows the session where a matching status exists and the
appointment may legally move there (``scheduling.services.appointment_set_status``):

    checked in → checked_in;  infusing → infusing;  stopped early while infusing → recovering
    (the patient is observed before going home);  recovering → recovering;
    discharged → discharged.

Every move is a ``SessionStateChange`` row and an audit event (patient by ``public_id`` only).
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability, user_can
from infusions.models import (
    SESSION_FINAL_STATES,
    SESSION_STATES_NEEDING_REASON,
    InfusionSession,
    InfusionSessionState,
    SessionStateChange,
)
from patients.services.consent import infusion_start_allowed
from patients.services.screening import course_scheduling_allowed
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services import (
    INFUSION_KINDS,
    appointment_next_statuses,
    appointment_set_status,
)

State = InfusionSessionState

# Where a session may go next, in the order a nurse would usually pick.
SESSION_TRANSITIONS: dict[State, tuple[State, ...]] = {
    State.SCHEDULED: (State.CHECKED_IN, State.NOT_STARTED),
    State.CHECKED_IN: (State.PRE_ASSESSMENT_PASSED, State.NOT_STARTED),
    State.PRE_ASSESSMENT_PASSED: (State.INFUSING, State.NOT_STARTED),
    State.INFUSING: (State.PAUSED, State.RECOVERING, State.STOPPED_EARLY),
    State.PAUSED: (State.INFUSING, State.STOPPED_EARLY),
    State.RECOVERING: (State.DISCHARGED, State.STOPPED_EARLY),
    State.DISCHARGED: (),
    State.STOPPED_EARLY: (),
    State.NOT_STARTED: (),
}
# Moves that need the patient cleared for treatment (consent and screening) right now.
GATED_STATES = frozenset({State.PRE_ASSESSMENT_PASSED, State.INFUSING})
# The only move the front desk makes; every other one is clinical.
FRONT_DESK_STATES = frozenset({State.CHECKED_IN})
# The appointment status each session state brings the appointment to, where one exists.
APPOINTMENT_STATUS_FOR: dict[State, AppointmentStatus] = {
    State.CHECKED_IN: AppointmentStatus.CHECKED_IN,
    State.INFUSING: AppointmentStatus.INFUSING,
    State.RECOVERING: AppointmentStatus.RECOVERING,
    State.STOPPED_EARLY: AppointmentStatus.RECOVERING,
    State.DISCHARGED: AppointmentStatus.DISCHARGED,
}
# An appointment in one of these statuses has no visit left to record.
_CLOSED_APPOINTMENT = frozenset({AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW})


@transaction.atomic
def session_for_appointment(
    *, appointment: Appointment, actor: User, request: HttpRequest | None = None
) -> InfusionSession:
    """The session of an infusion or booster appointment, created (scheduled) on first ask."""
    _require_any(actor, Capability.BOOK_APPOINTMENTS, Capability.RECORD_CLINICAL)
    locked = _locked_appointment(appointment)
    if locked.appointment_type.kind not in INFUSION_KINDS:
        raise ValidationError(
            {
                "appointment": [
                    f"A {locked.appointment_type.name.lower()} has no infusion session: only "
                    "infusion and booster appointments do. Open the patient's infusion "
                    "appointment instead."
                ]
            }
        )
    session, created = InfusionSession.objects.get_or_create(appointment=locked)
    if created:
        audit_record(
            actor=actor,
            action=Action.CREATE,
            target=session,
            summary=f"opened an infusion session for patient {locked.patient.public_id}",
            request=request,
        )
    return session


def session_next_states(session: InfusionSession) -> list[InfusionSessionState]:
    """Where ``session`` may go next (empty once it has ended). For the session screen."""
    return list(SESSION_TRANSITIONS[State(session.state)])


@transaction.atomic
def session_transition(
    *,
    actor: User,
    session: InfusionSession,
    to_state: str,
    reason: str = "",
    request: HttpRequest | None = None,
) -> InfusionSession:
    """Move ``session`` to ``to_state``, record the move and keep the appointment in step.

    Refuses (changing nothing) an unknown state, a move the graph does not allow, a stop or
    not-started without ``reason``, a start without consent and screening approval, and a
    clinical move by someone who may not record clinical care."""
    try:
        target = State(to_state)
    except ValueError:
        choices = ", ".join(state.label.lower() for state in State)
        raise ValidationError(
            {"state": [f"“{to_state}” is not a session state: use one of {choices}."]}
        ) from None
    _require_permission(actor, target)
    appointment = _locked_appointment(session.appointment)
    current = InfusionSession.objects.select_for_update().get(pk=session.pk)
    previous = State(current.state)
    _refuse_move(current, previous, target, appointment)
    reason = reason.strip()
    if target in SESSION_STATES_NEEDING_REASON and not reason:
        raise ValidationError(
            {
                "reason": [
                    f"Say why the session is {target.label.lower()}: the reason is part of "
                    "the patient's record."
                ]
            }
        )
    if target in GATED_STATES:
        _refuse_unless_cleared(appointment, target)
    _refuse_unless_ready(current, previous, target)

    now = timezone.now()
    current.state = target
    fields = ["state"]
    if target in SESSION_STATES_NEEDING_REASON:
        current.stop_reason = reason
        fields.append("stop_reason")
    if target == State.INFUSING and current.started_at is None:
        current.started_at = now
        fields.append("started_at")
    if target in SESSION_FINAL_STATES:
        current.ended_at = now
        fields.append("ended_at")
    current.save(update_fields=fields)
    SessionStateChange.objects.create(
        session=current, from_state=previous, to_state=target, at=now, by=actor, reason=reason
    )
    _keep_appointment_in_step(actor, appointment, target, request)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=current,
        summary=f"moved the infusion session from {previous} to {target} for patient "
        f"{appointment.patient.public_id}" + (" with a reason" if reason else ""),
        request=request,
    )
    _copy_fields(current, session)
    return current


# --- Checks --------------------------------------------------------------------------------


def _require_any(actor: User, *capabilities: Capability) -> None:
    if not any(user_can(actor, capability) for capability in capabilities):
        raise PermissionDenied("You may not open infusion sessions: ask a nurse or physician.")


def _require_permission(actor: User, target: State) -> None:
    if target in FRONT_DESK_STATES:
        _require_any(actor, Capability.BOOK_APPOINTMENTS, Capability.RECORD_CLINICAL)
        return
    if not user_can(actor, Capability.RECORD_CLINICAL):
        raise PermissionDenied(
            "Only nurses and physicians record an infusion's progress: ask one of them."
        )


def _refuse_move(
    session: InfusionSession, current: State, target: State, appointment: Appointment
) -> None:
    if target in SESSION_TRANSITIONS[current]:
        if appointment.status in _CLOSED_APPOINTMENT and target != State.NOT_STARTED:
            raise ValidationError(
                {
                    "state": [
                        f"The appointment is {appointment.get_status_display().lower()}, so "
                        "the session can't go on: mark it not started with a reason, or book "
                        "a new appointment."
                    ]
                }
            )
        return
    raise ValidationError({"state": [_refusal(current, target)]})


def _refusal(current: State, target: State) -> str:
    if target == current:
        return f"The session is {current.label.lower()} already."
    allowed = SESSION_TRANSITIONS[current]
    if not allowed:
        return (
            f"The session is {current.label.lower()}, which is final: it can't become "
            f"{target.label.lower()}. Book a new appointment if the patient needs another "
            "infusion."
        )
    options = " or ".join(state.label.lower() for state in allowed)
    return (
        f"A session that is {current.label.lower()} can't become {target.label.lower()}: "
        f"next it can be {options}."
    )


def _refuse_unless_cleared(appointment: Appointment, target: State) -> None:
    patient = appointment.patient
    missing = []
    consented, why_not_consented = infusion_start_allowed(patient)
    if not consented:
        missing.append(f"Consent: {why_not_consented}")
    approved, why_not_approved = course_scheduling_allowed(patient)
    if not approved:
        missing.append(f"Screening: {why_not_approved}")
    if missing:
        step = "pass the pre-assessment" if target == State.PRE_ASSESSMENT_PASSED else "start"
        raise ValidationError({"state": [f"The session can't {step} yet. " + " ".join(missing)]})


def _refuse_unless_ready(session: InfusionSession, previous: State, target: State) -> None:
    """The session's own records each step needs: a complete pre-assessment to pass it, a
    signed dose order (and no blood-pressure hold) to start, a signed discharge checklist
    to discharge. Each module says what is missing in words a nurse can act on."""
    # Imported here: those modules build on this one.
    from infusions.discharge import discharge_problems
    from infusions.orders import start_problems
    from infusions.preassessment import pre_assessment_problems

    if target == State.PRE_ASSESSMENT_PASSED:
        problems, step = pre_assessment_problems(session), "pass the pre-assessment"
    elif target == State.INFUSING and previous == State.PRE_ASSESSMENT_PASSED:
        problems, step = start_problems(session), "start"
    elif target == State.DISCHARGED:
        problems, step = discharge_problems(session), "be discharged"
    else:
        return
    if problems:
        raise ValidationError({"state": [f"The session can't {step} yet. " + " ".join(problems)]})


# --- The appointment -------------------------------------------------------------------------


def _keep_appointment_in_step(
    actor: User, appointment: Appointment, target: State, request: HttpRequest | None
) -> None:
    """Move the appointment to the status matching ``target`` when it may legally go there
    next; when it is there already (the day board moved it) or can't, leave it alone."""
    status = APPOINTMENT_STATUS_FOR.get(target)
    if status is None or status not in appointment_next_statuses(appointment):
        return
    try:
        appointment_set_status(actor=actor, appointment=appointment, status=status, request=request)
    except ValidationError as error:
        raise ValidationError({"state": error.messages}) from None


def _locked_appointment(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient", "appointment_type")
        .get(pk=appointment.pk)
    )


def _copy_fields(source: InfusionSession, target: InfusionSession) -> None:
    if target is source:
        return
    for field in InfusionSession._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
