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

The session owns the clinical state of its appointment. The day board and the appointment
API move an infusion appointment through ``AppointmentSessions`` (registered with
``scheduling.session_owner``), which makes the matching session move here; the appointment
then follows (``scheduling.services.status_changes.appointment_follow_session``):

    checked in → checked_in;  infusing → infusing;  stopped early while infusing → recovering
    (the patient is observed before going home);  recovering → recovering;
    discharged → discharged;  not started → cancelled, freeing the chair (no message).

A deferred trigger in the database refuses, at commit, an appointment whose status disagrees
with its session (migration 0007). Every move checks the clock: check-in on the
appointment's local day and not too early (the appointment's own guard), and an IV infusion
ended before its planned duration less ``INFUSION_END_TOLERANCE_MINUTES`` only as "stopped
early" with a reason, or by a physician who gives one. A check-in may be undone for a few
minutes (``session_undo_check_in``, through ``scheduling.services.undo.appointment_undo``).

Every move is a ``SessionStateChange`` row and an audit event (patient by ``public_id`` only).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability, user_can
from infusions.discharge_readiness import discharge_problems
from infusions.models import InfusionSession, SessionStateChange
from infusions.models.orders import DoseRoute
from infusions.models.sessions import (
    SESSION_FINAL_STATES,
    SESSION_STATES_NEEDING_REASON,
    InfusionSessionState,
    SessionKind,
    minutes_infusing,
)
from infusions.orders import current_order, start_problems
from infusions.preassessment_checklist import pre_assessment_problems
from patients.services.consent import infusion_start_allowed
from patients.services.screening import course_scheduling_allowed
from scheduling.models import INFUSION_KINDS, Appointment, AppointmentKind, AppointmentStatus
from scheduling.services.status_changes import appointment_follow_session
from scheduling.services.status_rules import appointment_move_problems, require_status_permission

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
    # A Spravato session appointment is an esketamine session from the start.
    kind = (
        SessionKind.ESKETAMINE
        if locked.appointment_type.kind == AppointmentKind.SPRAVATO
        else SessionKind.IV_KETAMINE
    )
    session, created = InfusionSession.objects.get_or_create(
        appointment=locked, defaults={"kind": kind}
    )
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
    _refuse_untimely(actor, current, previous, target, appointment, reason)

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
    _keep_appointment_in_step(actor, appointment, target, reason, request)
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


def _refuse_untimely(
    actor: User,
    session: InfusionSession,
    previous: State,
    target: State,
    appointment: Appointment,
    reason: str,
) -> None:
    """The clock: the appointment's own guards for the status the move brings it to
    (check-in on the right day, not too early), and an infusion ended before its planned
    duration (less ``INFUSION_END_TOLERANCE_MINUTES``) only as "stopped early" with a reason,
    or by a physician who says why."""
    status = APPOINTMENT_STATUS_FOR.get(target)
    if status is not None and appointment.status != status:
        problems = appointment_move_problems(appointment, status)
        if problems:
            raise ValidationError({"state": problems})
    if target != State.RECOVERING or previous != State.INFUSING:
        return
    planned = planned_infusion_minutes(session)
    if planned is None:
        return
    run = infusion_minutes_run(session)
    if run >= planned - settings.INFUSION_END_TOLERANCE_MINUTES:
        return
    if user_can(actor, Capability.SIGN_MEDICAL_ORDERS) and reason:
        return
    ran = f"The infusion has run {run} of its planned {planned} minutes."
    if user_can(actor, Capability.SIGN_MEDICAL_ORDERS):
        raise ValidationError(
            {"reason": [f"{ran} Say why it ends early: your reason is recorded with the move."]}
        )
    raise ValidationError(
        {
            "state": [
                f"{ran} To end it now, stop it early with a reason, or ask a physician to "
                "end it with theirs."
            ]
        }
    )


def planned_infusion_minutes(session: InfusionSession) -> int | None:
    """The current dose order's duration for an IV infusion, or None (no order, no
    duration, another route)."""
    order = current_order(session)
    if order is None or order.route != DoseRoute.IV_INFUSION or not order.duration_minutes:
        return None
    return order.duration_minutes


def infusion_minutes_run(session: InfusionSession, now: datetime | None = None) -> int:
    """Whole minutes the infusion has been running, pauses left out (one query)."""
    changes = SessionStateChange.objects.filter(session=session).order_by("at", "id")
    return minutes_infusing([(change.to_state, change.at) for change in changes], now)


# --- Undo ------------------------------------------------------------------------------------


@transaction.atomic
def session_undo_check_in(
    *, actor: User, appointment: Appointment, reason: str, request: HttpRequest | None = None
) -> InfusionSession:
    """Take a checked-in session back to scheduled, and its appointment back to booked.

    ``scheduling.services.undo.appointment_undo`` calls this once it has checked the undo is
    allowed (time, role, reason); here the session must not have moved on."""
    locked = _locked_appointment(appointment)
    session = InfusionSession.objects.select_for_update().filter(appointment=locked).first()
    if session is None or session.state != State.CHECKED_IN:
        state = State(session.state).label.lower() if session else "not open"
        raise ValidationError(
            {
                "status": [
                    f"The infusion session has moved on (now: {state}), so the check-in can't "
                    "be undone: mark the session not started with a reason instead."
                ]
            }
        )
    now = timezone.now()
    session.state = State.SCHEDULED
    session.save(update_fields=["state"])
    SessionStateChange.objects.create(
        session=session,
        from_state=State.CHECKED_IN,
        to_state=State.SCHEDULED,
        at=now,
        by=actor,
        reason=reason,
    )
    appointment_follow_session(
        actor=actor,
        appointment=locked,
        status=AppointmentStatus.BOOKED,
        reason=reason,
        undo=True,
        request=request,
    )
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=session,
        summary=f"undid the check-in of the infusion session for patient "
        f"{locked.patient.public_id} with a reason",
        request=request,
    )
    return session


class AppointmentSessions:
    """The session owner ``scheduling`` asks to move an infusion appointment
    (``scheduling.session_owner``): each appointment status is the session move that
    leads to it, made by ``session_transition`` with all its checks."""

    # The session move each appointment status asks for.
    STATE_FOR = {
        AppointmentStatus.CHECKED_IN: State.CHECKED_IN,
        AppointmentStatus.INFUSING: State.INFUSING,
        AppointmentStatus.RECOVERING: State.RECOVERING,
        AppointmentStatus.DISCHARGED: State.DISCHARGED,
    }

    def move(
        self,
        *,
        actor: User | None,
        appointment: Appointment,
        status: AppointmentStatus,
        reason: str,
        request: HttpRequest | None,
    ) -> None:
        if actor is None:
            raise ValidationError(
                {"status": ["Only staff record a patient's visit: ask the front desk."]}
            )
        require_status_permission(actor, appointment, status)
        target = self.STATE_FOR[AppointmentStatus(status)]
        session = (
            session_for_appointment(appointment=appointment, actor=actor, request=request)
            if target == State.CHECKED_IN
            else InfusionSession.objects.filter(appointment=appointment).first()
        )
        if session is None:
            raise ValidationError(
                {"status": ["The patient hasn't checked in yet: check them in first."]}
            )
        if target == State.DISCHARGED and session.state in (State.RECOVERING, State.STOPPED_EARLY):
            raise ValidationError(
                {
                    "status": [
                        "Discharge is the checklist on the infusion session: sign it there "
                        "when the patient is ready to go home."
                    ]
                }
            )
        try:
            session_transition(
                actor=actor, session=session, to_state=target, reason=reason, request=request
            )
        except ValidationError as error:
            raise ValidationError({"status": error.messages}) from None

    def undo_check_in(
        self,
        *,
        actor: User,
        appointment: Appointment,
        reason: str,
        request: HttpRequest | None,
    ) -> None:
        session_undo_check_in(actor=actor, appointment=appointment, reason=reason, request=request)


# --- The appointment -------------------------------------------------------------------------


def _keep_appointment_in_step(
    actor: User,
    appointment: Appointment,
    target: State,
    reason: str,
    request: HttpRequest | None,
) -> None:
    """Bring the appointment to the status matching ``target``: the session owns the
    appointment's clinical state, so the two never disagree (a deferred trigger in the
    database refuses a commit where they do). A session not started frees the chair: its
    appointment is cancelled with the reason, unless it is a no-show or cancelled already."""
    if target == State.NOT_STARTED:
        if appointment.status in _CLOSED_APPOINTMENT:
            return
        status, reason = AppointmentStatus.CANCELLED, f"Infusion not started: {reason}"
        reason = reason[: Appointment._meta.get_field("cancel_reason").max_length]
    else:
        status = APPOINTMENT_STATUS_FOR.get(target)
        if status is None:
            return
    try:
        appointment_follow_session(
            actor=actor, appointment=appointment, status=status, reason=reason, request=request
        )
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
