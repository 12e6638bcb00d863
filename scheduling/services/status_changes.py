"""Moving an appointment along its statuses: cancel (saying why), check in, no-show, discharge,
and following an infusion's session, which owns its clinical steps
(``scheduling.session_owner``). Each change writes its history row and audit event; a
cancellation still to come queues "your appointment is cancelled", and a freed time is
offered to the waitlist."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest

from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability
from patients.messages import message_base_url
from scheduling.message_queue import CANCELLED, appointment_change_enqueue
from scheduling.models import Appointment, AppointmentStatus, AppointmentStatusChange
from scheduling.services.checks import is_infusion, require_if_staff
from scheduling.services.free_time import write_or_slot_taken
from scheduling.services.locks import copy_fields, locked_appointment
from scheduling.services.status_rules import (
    SESSION_OWNED_STATUSES,
    clean_cancel_reason,
    parse_status,
    refuse_transition,
    refuse_untimely,
    require_status_permission,
)
from scheduling.services.waitlist import offer_freed_time
from scheduling.session_owner import session_owner
from scheduling.status_hooks import status_changed
from scheduling.visit_end import visit_ended

Status = AppointmentStatus


@transaction.atomic
def appointment_cancel(
    *,
    actor: User | None,
    appointment: Appointment,
    reason: str,
    by_clinic: bool = False,
    request: HttpRequest | None = None,
) -> Appointment:
    """Cancel an active appointment, saying why; its time blocks nothing from then on. If it
    was still to come, the first waitlisted patient who fits is offered the freed time.
    ``actor=None`` is the patient (through a manage link) or the system. ``by_clinic``: the
    clinic cancelled (closed, staff away), not the patient, so no late-cancel fee is due.

    An infusion whose patient has checked in is no longer the booking's to cancel: its
    session decides (undo the check-in, or mark the session not started with a reason)."""
    require_if_staff(actor, Capability.BOOK_APPOINTMENTS)
    reason = clean_cancel_reason(reason)
    current = locked_appointment(appointment)
    refuse_transition(current, Status.CANCELLED)
    record_status(
        actor,
        current,
        Status.CANCELLED,
        reason,
        request,
        cancel_reason=reason,
        by_clinic=by_clinic,
    )
    copy_fields(current, appointment)
    appointment_change_enqueue(current, kind=CANCELLED, base_url=message_base_url(request))
    offer_freed_time(current, actor=actor, request=request)
    return current


@transaction.atomic
def appointment_set_status(
    *,
    actor: User | None,
    appointment: Appointment,
    status: str,
    reason: str = "",
    request: HttpRequest | None = None,
) -> Appointment:
    """Move an appointment along: booked → checked in → infusing → recovering → discharged
    (a consultation or follow-up goes checked in → discharged), or booked → no-show; any
    active appointment may be cancelled, with ``reason`` (see ``appointment_cancel``).

    An infusion or booster is moved by its infusion session, which owns its clinical state:
    check-in, start, recovery and discharge go through the session's services
    (``scheduling.session_owner``), whatever asked for them (the board, the API), so the
    pre-infusion checks, the dose order and the discharge checklist can't be skipped and the
    appointment follows the session.

    An illegal or untimely move is refused with the reason: check-in only on the local day
    and ``CHECK_IN_EARLY_MINUTES`` before the start at the earliest; a no-show only from
    ``NO_SHOW_GRACE_MINUTES`` after the start. A no-show still to come frees its time for
    the waitlist."""
    status = parse_status(status)
    if status == Status.CANCELLED:
        return appointment_cancel(
            actor=actor, appointment=appointment, reason=reason, request=request
        )
    if is_infusion(appointment.appointment_type) and status in SESSION_OWNED_STATUSES:
        session_owner().move(
            actor=actor, appointment=appointment, status=status, reason=reason, request=request
        )
        appointment.refresh_from_db()
        return appointment
    require_status_permission(actor, appointment, status)
    current = locked_appointment(appointment)
    refuse_transition(current, status)
    refuse_untimely(current, status)
    record_status(actor, current, status, reason, request)
    copy_fields(current, appointment)
    if status == Status.NO_SHOW:
        offer_freed_time(current, actor=actor, request=request)
    return current


@transaction.atomic
def appointment_follow_session(
    *,
    actor: User,
    appointment: Appointment,
    status: str,
    reason: str = "",
    undo: bool = False,
    request: HttpRequest | None = None,
) -> Appointment:
    """Bring an infusion appointment to the ``status`` its session has just reached. Only
    ``infusions.sessions`` calls this, after moving the session in the same transaction.

    ``cancelled`` (a session not started) frees the chair without telling the patient, who
    is at the clinic; ``booked`` is the undo of a check-in (``appointment_undo``)."""
    status = parse_status(status)
    current = locked_appointment(appointment)
    if current.status == status:
        return current
    if status not in (Status.CANCELLED, Status.BOOKED):
        refuse_transition(current, status)
        refuse_untimely(current, status)
    record_status(
        actor,
        current,
        status,
        reason,
        request,
        cancel_reason=clean_cancel_reason(reason) if status == Status.CANCELLED else None,
        undo=undo,
    )
    copy_fields(current, appointment)
    return current


def record_status(
    actor: User | None,
    current: Appointment,
    status: Status,
    reason: str,
    request: HttpRequest | None,
    *,
    cancel_reason: str | None = None,
    by_clinic: bool = False,
    undo: bool = False,
) -> None:
    """Write the new status of the locked ``current``, its history row and the audit event
    (patients by ``public_id`` only; reasons are not copied into the audit log)."""
    previous = current.status
    current.status = status
    fields = ["status", "updated_at"]
    if cancel_reason is not None:
        current.cancel_reason = cancel_reason
        current.cancelled_by_clinic = by_clinic
        fields += ["cancel_reason", "cancelled_by_clinic"]
    elif undo:
        current.cancel_reason = ""
        current.cancelled_by_clinic = False
        fields += ["cancel_reason", "cancelled_by_clinic"]
    # A savepoint: taking a freed time back (undo) may collide with a booking made since.
    write_or_slot_taken(current, update_fields=fields)
    AppointmentStatusChange.objects.create(
        appointment=current,
        from_status=previous,
        to_status=status,
        by=actor,
        by_roles=list(actor.roles) if actor is not None else [],
        reason=reason,
        undo=undo,
    )
    verb = "undid" if undo else "changed"
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=current,
        summary=f"{verb} status from {previous} to {status} for patient "
        f"{current.patient.public_id}" + (" with a reason" if reason else ""),
        request=request,
    )
    # Fees a no-show or a late cancellation proposes, withdrawn by its undo (status_hooks).
    status_changed(appointment=current, previous=previous, actor=actor, undo=undo)
    if status == Status.DISCHARGED and not undo:
        # The visit is over: its invoice is drafted in this transaction (scheduling.visit_end).
        visit_ended(appointment=current, actor=actor)
