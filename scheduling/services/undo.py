"""Undoing a check-in, no-show or cancellation pressed by mistake: within ``UNDO_MINUTES``, by
someone in a role of the person who made it, saying why; and what the board needs to offer
"Undo" (the latest status change of each appointment, in the board's own query)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import OuterRef, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone

from clinic.models import User
from clinic.permissions import Capability, require, user_can
from scheduling.models import (
    BLOCKING,
    NON_BLOCKING_STATUSES,
    Appointment,
    AppointmentStatus,
    AppointmentStatusChange,
)
from scheduling.services.checks import is_infusion, label
from scheduling.services.free_time import SlotTaken
from scheduling.services.locks import copy_fields, lock_bookings, locked_appointment
from scheduling.services.status_changes import record_status
from scheduling.services.waitlist import withdraw_offers
from scheduling.session_owner import session_owner
from scheduling.visit_end import visit_reopened

Status = AppointmentStatus

# Moves that may be undone for ``UNDO_MINUTES`` (``appointment_undo``); a discharge only of a
# consultation or follow-up (an infusion's is its session's discharge checklist).
UNDOABLE_STATUSES = frozenset(
    {Status.CHECKED_IN, Status.NO_SHOW, Status.CANCELLED, Status.DISCHARGED}
)


@transaction.atomic
def appointment_undo(
    *,
    actor: User,
    appointment: Appointment,
    reason: str,
    request: HttpRequest | None = None,
) -> Appointment:
    """Undo the appointment's last check-in, no-show or cancellation (or a consultation's
    discharge: back to checked in), within ``UNDO_MINUTES`` of it, by someone holding a role
    of the person who made it, saying why.

    The appointment goes back to booked. An infusion's session goes back from checked in to
    scheduled (not once its pre-assessment is passed). After a no-show or a cancellation the
    time is taken back only if it is still free: a waitlist offer nobody has answered is
    withdrawn; one that was taken up keeps the time, and the undo is refused."""
    require(actor, Capability.BOOK_APPOINTMENTS)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError(
            {"reason": ["Say why the change is undone, for example “pressed by mistake”."]}
        )
    current = locked_appointment(appointment)
    change = undoable_change(current)
    refusal = _undo_refusal(actor, current, change)
    if refusal:
        raise ValidationError({"status": [refusal]})
    assert change is not None  # noqa: S101 - _undo_refusal said so
    if change.to_status == Status.DISCHARGED:
        # A consultation marked done by mistake: back to checked in. Its draft invoice stays
        # (one per visit): ending the visit again finds it. A package visit it used goes back.
        record_status(actor, current, Status.CHECKED_IN, reason, request, undo=True)
        visit_reopened(appointment=current, actor=actor, reason=reason)
    elif change.to_status == Status.CHECKED_IN and is_infusion(current.appointment_type):
        session_owner().undo_check_in(
            actor=actor, appointment=current, reason=reason, request=request
        )
        current = locked_appointment(current)
    else:
        if change.to_status in NON_BLOCKING_STATUSES:
            lock_bookings(
                location_id=current.location_id,
                patient_id=current.patient_id,
                starts_at=current.starts_at,
                blocks_until=current.blocks_until,
            )
            _refuse_if_clinician_taken(current)
            withdraw_offers(current, actor=actor, request=request)
        try:
            record_status(actor, current, Status.BOOKED, reason, request, undo=True)
        except SlotTaken:
            raise ValidationError(
                {
                    "status": [
                        "The time has been booked for someone else since, so it can't be "
                        "taken back: book the patient at another time."
                    ]
                }
            ) from None
    copy_fields(current, appointment)
    return current


def undoable_change(appointment: Appointment) -> AppointmentStatusChange | None:
    """The appointment's latest status change if it is a check-in, no-show or cancellation
    that has not been undone; whether it may still be undone, and by whom, is
    ``undo_refusal``'s to say. No query when the appointment came through
    ``with_last_status_change``."""
    if appointment.status not in UNDOABLE_STATUSES:
        return None
    if appointment.status == Status.DISCHARGED and is_infusion(appointment.appointment_type):
        return None
    change = last_status_change(appointment)
    if change is None or change.to_status != appointment.status or change.undo:
        return None
    return change


def last_status_change(appointment: Appointment) -> AppointmentStatusChange | None:
    """The latest status change of ``appointment`` (the annotation of
    ``with_last_status_change`` when it has one, else one query)."""
    if hasattr(appointment, "last_change_at"):
        if appointment.last_change_at is None:
            return None
        return AppointmentStatusChange(
            appointment=appointment,
            to_status=appointment.last_change_to,
            at=appointment.last_change_at,
            by_id=appointment.last_change_by_id,
            by_roles=appointment.last_change_by_roles or [],
            undo=appointment.last_change_undo,
        )
    return (
        AppointmentStatusChange.objects.filter(appointment=appointment)
        .order_by("-at", "-id")
        .first()
    )


def with_last_status_change(appointments: QuerySet[Appointment]) -> QuerySet[Appointment]:
    """``appointments`` annotated with their latest status change, in the same query: for
    the board, which offers "Undo" for a few minutes after a check-in, no-show or cancel."""
    latest = AppointmentStatusChange.objects.filter(appointment=OuterRef("pk")).order_by(
        "-at", "-id"
    )
    return appointments.annotate(
        **{
            f"last_change_{name}": Subquery(latest.values(field)[:1])
            for name, field in {
                "at": "at",
                "to": "to_status",
                "by_id": "by_id",
                "by_roles": "by_roles",
                "undo": "undo",
            }.items()
        }
    )


def undo_refusal(
    user: Any, appointment: Appointment, change: AppointmentStatusChange | None
) -> str:
    """Why ``user`` may not undo ``change``, the appointment's latest move, now ("" when they
    may): only a check-in, no-show or cancellation not undone yet, within ``UNDO_MINUTES``,
    by someone holding a role of the person who made it."""
    if change is None or change.to_status != appointment.status or change.undo:
        change = None
    return _undo_refusal(user, appointment, change)


def undo_deadline(change: AppointmentStatusChange) -> datetime:
    return change.at + timedelta(minutes=settings.UNDO_MINUTES)


def _undo_refusal(
    user: Any, appointment: Appointment, change: AppointmentStatusChange | None
) -> str:
    if change is None or appointment.status not in UNDOABLE_STATUSES:
        return (
            f"This appointment is {label(appointment.status)}: only a check-in, a no-show, "
            "a cancellation or a consultation's discharge can be undone, and only the latest "
            "one."
        )
    if appointment.status == Status.DISCHARGED and is_infusion(appointment.appointment_type):
        return (
            "An infusion is discharged by its session's signed checklist, which can't be "
            "undone: record anything further on the session."
        )
    if not user_can(user, Capability.BOOK_APPOINTMENTS):
        return "You may not change appointments."
    minutes = settings.UNDO_MINUTES
    if timezone.now() > undo_deadline(change):
        return (
            f"It was {label(change.to_status)} more than {minutes} minutes ago, so it can't be "
            "undone any more: book the patient again if needed."
        )
    if change.by_id is None:
        return "The patient did this online: book a new appointment if they changed their mind."
    if change.by_id != user.pk and not set(change.by_roles) & set(user.roles):
        return (
            "Only someone in the role of the person who made the change can undo it: ask "
            "them, or a colleague in the same role."
        )
    return ""


def _refuse_if_clinician_taken(appointment: Appointment) -> None:
    """Taking a freed time back must not double-book its clinician: a physician holds one
    consultation at a time, a nurse ``INFUSIONS_PER_NURSE`` infusions (the chair and the
    patient are the database's to guard)."""
    if appointment.clinician_id is None:
        return
    overlapping = (
        Appointment.objects.filter(
            BLOCKING,
            clinician_id=appointment.clinician_id,
            starts_at__lt=appointment.blocks_until,
            blocks_until__gt=appointment.starts_at,
        )
        .exclude(pk=appointment.pk)
        .count()
    )
    limit = settings.INFUSIONS_PER_NURSE if is_infusion(appointment.appointment_type) else 1
    if overlapping >= limit:
        raise ValidationError(
            {
                "status": [
                    "The time has been booked for someone else since, so it can't be "
                    "taken back: book the patient at another time."
                ]
            }
        )
