"""Appointment writes: book, cancel, reschedule, change status; and the waitlist.

Each service checks everything first and changes nothing when it refuses:

- ``ValidationError`` keyed by field ("starts_at", "patient", "chair", "reason", …) when the
  request itself is wrong (a time in the past or outside opening hours or shifts, an
  infusion without approved screening or consent, a cancellation without a reason, a status
  change the appointment cannot make); each message says what was wrong and what to do.
- ``SlotTaken`` when the time is simply not free (or was taken a moment ago, or the same
  booking was already made), with the nearest free alternatives.

Double bookings are impossible, not unlikely:

- The database refuses them. Two GiST exclusion constraints (``scheduling.models``) keep a
  chair and a patient from holding two overlapping active appointments; the write runs in a
  savepoint, and losing that race becomes ``SlotTaken``, never a 500.
- What the database cannot see (a physician holds one consultation at a time, a nurse looks
  after at most ``INFUSIONS_PER_NURSE`` infusions) is checked by
  ``scheduling.availability.slot_is_free`` while holding transaction-scoped advisory locks
  for the location and the patient, so two bookings at one location (or of one patient) are
  checked and written one after the other.

Every change is in the audit log; patients appear there by ``public_id`` only, and
summaries name fields, never their values (a cancel reason is not copied there).

Messages to the patient are outbox rows written in the same transaction
(``scheduling.message_queue``): booking queues the reminders; moving queues "your appointment has
moved" and the new time's reminders; cancelling an appointment still to come queues "your
appointment is cancelled"; a freed time offered to the waitlist queues the offer. A refusal
or a rollback leaves no message.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import Chair, Location, User
from clinic.permissions import Capability, require, user_can
from clinic.selectors import location_hours_on
from patients.messages import message_base_url
from patients.models import Patient
from patients.services.consent import infusion_start_allowed
from patients.services.screening import course_scheduling_allowed
from scheduling.availability import Slot, nearest_free_slots, slot_is_free
from scheduling.message_queue import (
    CANCELLED,
    MOVED,
    appointment_change_enqueue,
    reminders_enqueue,
    waitlist_offer_enqueue,
)
from scheduling.models import (
    BLOCKING,
    INFUSION_KINDS,
    NON_BLOCKING_STATUSES,
    Appointment,
    AppointmentStatus,
    AppointmentStatusChange,
    AppointmentType,
    StaffShift,
    TreatmentCourse,
    WaitlistEntry,
)
from scheduling.session_owner import session_owner

Errors = dict[str, list[str]]
Status = AppointmentStatus

# The exclusion constraints whose violation means "someone else got there first".
OVERLAP_CONSTRAINTS = frozenset(
    {"no_overlapping_chair_bookings", "no_overlapping_patient_bookings"}
)
CANCEL_REASON_MAX_LENGTH = Appointment._meta.get_field("cancel_reason").max_length
ALTERNATIVES = 3
# What a reschedule changes.
_MOVED_FIELDS = ["starts_at", "ends_at", "blocks_until", "chair", "clinician"]
# First keys of pg_advisory_xact_lock(int, int): "bookings at location <second key>" and
# "bookings of patient <second key>".
_LOCATION_LOCK = 7_304
_PATIENT_LOCK = 7_305
# A write that loses a deadlock (see ``_lock_bookings``) is tried this many times in all.
_WRITE_ATTEMPTS = 3
_DEADLOCK_DETECTED = "40P01"

TERMINAL_STATUSES = frozenset({Status.DISCHARGED, Status.NO_SHOW, Status.CANCELLED})
# What an infusion's session moves (``scheduling.session_owner``), not the booking.
SESSION_OWNED_STATUSES = frozenset(
    {Status.CHECKED_IN, Status.INFUSING, Status.RECOVERING, Status.DISCHARGED}
)
# Moves that may be undone for ``UNDO_MINUTES`` (``appointment_undo``).
UNDOABLE_STATUSES = frozenset({Status.CHECKED_IN, Status.NO_SHOW, Status.CANCELLED})
# Where an appointment may go next. Every active appointment may also be cancelled (with a
# reason, through ``appointment_cancel``).
_INFUSION_FLOW: dict[str, tuple[Status, ...]] = {
    Status.BOOKED: (Status.CHECKED_IN, Status.NO_SHOW),
    Status.CHECKED_IN: (Status.INFUSING,),
    Status.INFUSING: (Status.RECOVERING,),
    Status.RECOVERING: (Status.DISCHARGED,),
}
_VISIT_FLOW: dict[str, tuple[Status, ...]] = {
    Status.BOOKED: (Status.CHECKED_IN, Status.NO_SHOW),
    Status.CHECKED_IN: (Status.DISCHARGED,),
}
# Moving an infusion along (to infusing, recovering, discharged) is clinical work; the front
# desk checks in, marks no-shows, cancels and ends consultations.
_CLINICAL_STATUSES = frozenset({Status.INFUSING, Status.RECOVERING})


class SlotTaken(Exception):
    """The time asked for is not free, or was taken a moment ago.

    ``message`` says so in words for the person booking; ``alternatives`` are the nearest
    free slots (same location, type and patient), closest first; ``existing`` is the
    patient's own appointment when this exact booking was already made (a double submit).
    """

    def __init__(
        self,
        message: str,
        alternatives: Iterable[Slot] = (),
        *,
        existing: Appointment | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.alternatives = list(alternatives)
        self.existing = existing


# --- Booking -----------------------------------------------------------------------------


@transaction.atomic
def appointment_book(
    *,
    actor: User | None,
    patient: Patient,
    location: Location,
    appointment_type: AppointmentType,
    starts_at: datetime,
    chair: Chair | None = None,
    clinician: User | None = None,
    course: TreatmentCourse | None = None,
    source: str = Appointment.Source.STAFF,
    booking_note: str = "",
    request: HttpRequest | None = None,
) -> Appointment:
    """Book ``patient`` at ``starts_at`` (aware); the chair and clinician are the ones given,
    or the first free ones. ``actor=None`` is the patient booking online or the system.
    ``booking_note`` is what the patient wrote when booking online (its length is the
    booking form's to check); it stays out of the audit summary.

    Raises ``ValidationError`` for a request that cannot be booked at all, ``SlotTaken``
    when the time is not free (with alternatives), ``PermissionDenied`` for staff who may
    not book."""
    _require(actor, Capability.BOOK_APPOINTMENTS)
    errors = _booking_errors(
        patient=patient,
        location=location,
        appointment_type=appointment_type,
        starts_at=starts_at,
        chair=chair,
        clinician=clinician,
        course=course,
        source=source,
    )
    if errors:
        raise ValidationError(errors)
    _lock_bookings(location_id=location.pk, patient_id=patient.pk)
    _refuse_if_patient_busy(
        patient=patient, location=location, appointment_type=appointment_type, starts_at=starts_at
    )
    slot = _free_slot_or_refuse(
        location=location,
        appointment_type=appointment_type,
        starts_at=starts_at,
        patient=patient,
        chair=chair,
        clinician=clinician,
    )
    appointment = Appointment(
        patient=patient,
        location=location,
        appointment_type=appointment_type,
        chair=slot.chair,
        clinician=slot.clinician,
        course=course,
        starts_at=slot.starts_at,
        ends_at=slot.ends_at,
        blocks_until=slot.blocks_until,
        source=source,
        booking_note=booking_note,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    _write_or_slot_taken(appointment, update_fields=None)
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=appointment,
        summary=f"booked {appointment_type.kind} for patient {patient.public_id} ({source})",
        request=request,
    )
    reminders_enqueue(appointment)
    return appointment


@transaction.atomic
def appointment_reschedule(
    *,
    actor: User | None,
    appointment: Appointment,
    starts_at: datetime,
    request: HttpRequest | None = None,
) -> Appointment:
    """Move a booked appointment to ``starts_at``, all or nothing: the old time is freed in
    the same transaction that takes the new one, and on ``SlotTaken`` (or any refusal)
    nothing changes. The chair and clinician are picked afresh. Returns the appointment
    (the one passed in is updated too)."""
    _require(actor, Capability.BOOK_APPOINTMENTS)
    _lock_bookings(location_id=appointment.location_id, patient_id=appointment.patient_id)
    current = _locked(appointment)
    if current.status != Status.BOOKED:
        raise ValidationError(
            {
                "status": [
                    f"Only a booked appointment can be moved; this one is "
                    f"{_label(current.status)}. Book a new appointment instead."
                ]
            }
        )
    errors = _time_errors(
        location=current.location,
        appointment_type=current.appointment_type,
        starts_at=starts_at,
        online=actor is None and current.source == Appointment.Source.ONLINE,
    )
    if not errors and starts_at == current.starts_at:
        errors = {"starts_at": ["The appointment is already at that time: choose another one."]}
    if not errors:
        errors = _eligibility_errors(current.patient, current.appointment_type)
    if errors:
        raise ValidationError(errors)
    _refuse_if_patient_busy(
        patient=current.patient,
        location=current.location,
        appointment_type=current.appointment_type,
        starts_at=starts_at,
        excluding=current,
    )
    slot = _free_slot_or_refuse(
        location=current.location,
        appointment_type=current.appointment_type,
        starts_at=starts_at,
        patient=current.patient,
        excluding=current,
    )
    old = {field: _value(current, field) for field in _MOVED_FIELDS}
    current.starts_at = slot.starts_at
    current.ends_at = slot.ends_at
    current.blocks_until = slot.blocks_until
    current.chair = slot.chair
    current.clinician = slot.clinician
    changed = [field for field in _MOVED_FIELDS if _value(current, field) != old[field]]
    _write_or_slot_taken(current, update_fields=[*_MOVED_FIELDS, "updated_at"])
    _copy_fields(current, appointment)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=current,
        summary=f"rescheduled for patient {current.patient.public_id}: changed "
        + ", ".join(changed),
        request=request,
    )
    # The old time's reminders are skipped as "moved" when they come due (their keys and
    # context name the old start); the new time gets its own.
    appointment_change_enqueue(current, kind=MOVED, base_url=message_base_url(request))
    reminders_enqueue(current)
    return current


def _value(appointment: Appointment, field: str) -> Any:
    return getattr(appointment, Appointment._meta.get_field(field).attname)


# --- Cancelling and status changes ---------------------------------------------------------


@transaction.atomic
def appointment_cancel(
    *,
    actor: User | None,
    appointment: Appointment,
    reason: str,
    request: HttpRequest | None = None,
) -> Appointment:
    """Cancel an active appointment, saying why; its time blocks nothing from then on. If it
    was still to come, the first waitlisted patient who fits is offered the freed time.
    ``actor=None`` is the patient (through a manage link) or the system.

    An infusion whose patient has checked in is no longer the booking's to cancel: its
    session decides (undo the check-in, or mark the session not started with a reason)."""
    _require(actor, Capability.BOOK_APPOINTMENTS)
    reason = _cancel_reason(reason)
    current = _locked(appointment)
    _refuse_transition(current, Status.CANCELLED)
    _record_status(actor, current, Status.CANCELLED, reason, request, cancel_reason=reason)
    _copy_fields(current, appointment)
    appointment_change_enqueue(current, kind=CANCELLED, base_url=message_base_url(request))
    _offer_freed_time(current, actor=actor, request=request)
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
    status = _status(status)
    if status == Status.CANCELLED:
        return appointment_cancel(
            actor=actor, appointment=appointment, reason=reason, request=request
        )
    if _is_infusion(appointment.appointment_type) and status in SESSION_OWNED_STATUSES:
        session_owner().move(
            actor=actor, appointment=appointment, status=status, reason=reason, request=request
        )
        appointment.refresh_from_db()
        return appointment
    require_status_permission(actor, appointment, status)
    current = _locked(appointment)
    _refuse_transition(current, status)
    _refuse_untimely(current, status)
    _record_status(actor, current, status, reason, request)
    _copy_fields(current, appointment)
    if status == Status.NO_SHOW:
        _offer_freed_time(current, actor=actor, request=request)
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
    status = _status(status)
    current = _locked(appointment)
    if current.status == status:
        return current
    if status not in (Status.CANCELLED, Status.BOOKED):
        _refuse_transition(current, status)
        _refuse_untimely(current, status)
    _record_status(
        actor,
        current,
        status,
        reason,
        request,
        cancel_reason=_cancel_reason(reason) if status == Status.CANCELLED else None,
        undo=undo,
    )
    _copy_fields(current, appointment)
    return current


def appointment_move_problems(appointment: Appointment, status: str) -> list[str]:
    """Why ``appointment`` may not move to ``status`` now (empty when it may): the status
    graph and the clock. The session asks before it moves, so a refusal changes nothing."""
    status = _status(status)
    if status not in appointment_next_statuses(appointment) and status != appointment.status:
        return [_transition_refusal(appointment, status)]
    refusal = untimely_refusal(appointment, status)
    return [refusal] if refusal else []


# --- Undo ---------------------------------------------------------------------------------


@transaction.atomic
def appointment_undo(
    *,
    actor: User,
    appointment: Appointment,
    reason: str,
    request: HttpRequest | None = None,
) -> Appointment:
    """Undo the appointment's last check-in, no-show or cancellation, within
    ``UNDO_MINUTES`` of it, by someone holding a role of the person who made it, saying why.

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
    current = _locked(appointment)
    change = undoable_change(current)
    refusal = _undo_refusal(actor, current, change)
    if refusal:
        raise ValidationError({"status": [refusal]})
    assert change is not None  # noqa: S101 - _undo_refusal said so
    if change.to_status == Status.CHECKED_IN and _is_infusion(current.appointment_type):
        session_owner().undo_check_in(
            actor=actor, appointment=current, reason=reason, request=request
        )
        current = _locked(current)
    else:
        if change.to_status in NON_BLOCKING_STATUSES:
            _lock_bookings(location_id=current.location_id, patient_id=current.patient_id)
            _refuse_if_clinician_taken(current)
            _withdraw_offers(current, actor=actor, request=request)
        try:
            _record_status(actor, current, Status.BOOKED, reason, request, undo=True)
        except SlotTaken:
            raise ValidationError(
                {
                    "status": [
                        "The time has been booked for someone else since, so it can't be "
                        "taken back: book the patient at another time."
                    ]
                }
            ) from None
    _copy_fields(current, appointment)
    return current


def undoable_change(appointment: Appointment) -> AppointmentStatusChange | None:
    """The appointment's latest status change if it is a check-in, no-show or cancellation
    that has not been undone; whether it may still be undone, and by whom, is
    ``undo_refusal``'s to say. No query when the appointment came through
    ``with_last_status_change``."""
    if appointment.status not in UNDOABLE_STATUSES:
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
            f"This appointment is {_label(appointment.status)}: only a check-in, a no-show or "
            "a cancellation can be undone, and only the latest one."
        )
    if not user_can(user, Capability.BOOK_APPOINTMENTS):
        return "You may not change appointments."
    minutes = settings.UNDO_MINUTES
    if timezone.now() > undo_deadline(change):
        return (
            f"It was {_label(change.to_status)} more than {minutes} minutes ago, so it can't be "
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
    limit = settings.INFUSIONS_PER_NURSE if _is_infusion(appointment.appointment_type) else 1
    if overlapping >= limit:
        raise ValidationError(
            {
                "status": [
                    "The time has been booked for someone else since, so it can't be "
                    "taken back: book the patient at another time."
                ]
            }
        )


def _withdraw_offers(appointment: Appointment, *, actor: User, request: HttpRequest | None) -> None:
    """Put waitlisted patients offered ``appointment``'s freed time back on the waitlist."""
    for entry in WaitlistEntry.objects.select_for_update().filter(
        offered_appointment=appointment, state=WaitlistEntry.State.OFFERED
    ):
        entry.state = WaitlistEntry.State.WAITING
        entry.offered_appointment = None
        entry.save(update_fields=["state", "offered_appointment"])
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            target=entry,
            summary=f"withdrew the offer of a freed time from patient {entry.patient.public_id}:"
            " changed state, offered_appointment",
            request=request,
        )


def _record_status(
    actor: User | None,
    current: Appointment,
    status: Status,
    reason: str,
    request: HttpRequest | None,
    *,
    cancel_reason: str | None = None,
    undo: bool = False,
) -> None:
    """Write the new status of the locked ``current``, its history row and the audit event
    (patients by ``public_id`` only; reasons are not copied into the audit log)."""
    previous = current.status
    current.status = status
    fields = ["status", "updated_at"]
    if cancel_reason is not None:
        current.cancel_reason = cancel_reason
        fields.append("cancel_reason")
    elif undo:
        current.cancel_reason = ""
        fields.append("cancel_reason")
    # A savepoint: taking a freed time back (undo) may collide with a booking made since.
    _write_or_slot_taken(current, update_fields=fields)
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


def appointment_patient_may_change(appointment: Appointment) -> tuple[bool, str]:
    """Whether the patient (through a manage link) may still cancel or move ``appointment``,
    and why not: only a booked appointment, and only before
    ``appointment_online_change_deadline`` (up to ``CANCEL_NOTICE_HOURS`` before it starts,
    or, for a booking made online, also in the ``ONLINE_CHANGE_GRACE_MINUTES`` after it was
    made, but never once it has started). Staff may change it at any time. Callers check
    this before calling ``appointment_cancel`` or ``appointment_reschedule`` with
    ``actor=None``."""
    location = appointment.location
    call = f"Call {location.name} on {location.phone}"
    if appointment.status != Status.BOOKED:
        return False, (
            f"This appointment is {_label(appointment.status)}, so it can't be changed online. "
            f"{call} if you need help."
        )
    deadline = appointment_online_change_deadline(appointment)
    if deadline is not None and timezone.now() < deadline:
        return True, ""
    if timezone.now() >= appointment.starts_at:
        return False, f"This appointment has started, so it can't be changed online. {call}."
    hours = settings.CANCEL_NOTICE_HOURS
    grace = settings.ONLINE_CHANGE_GRACE_MINUTES
    also = (
        f", or in the first {grace} minutes after booking online"
        if grace and appointment.source == Appointment.Source.ONLINE
        else ""
    )
    return False, (
        f"Appointments can be changed online up to {hours} hours before they start{also}. "
        f"{call} to change this one."
    )


def appointment_online_change_deadline(appointment: Appointment) -> datetime | None:
    """The moment from which the patient can no longer cancel or move ``appointment`` online
    (they can until just before it), or None when it is not booked. Pages show it in the
    location's time zone, so what they promise is what ``appointment_patient_may_change``
    does.

    It is the later of the notice limit (``CANCEL_NOTICE_HOURS`` before the start) and, for
    a booking made online, the end of its grace period (``ONLINE_CHANGE_GRACE_MINUTES``
    after it was made, to the minute, so the time shown is exact); never after the start.
    The grace runs from the booking, not from a move, so moving does not extend it."""
    if appointment.status != Status.BOOKED:
        return None
    deadline = appointment.starts_at - timedelta(hours=settings.CANCEL_NOTICE_HOURS)
    grace = settings.ONLINE_CHANGE_GRACE_MINUTES
    if grace and appointment.source == Appointment.Source.ONLINE:
        made = appointment.created_at.replace(second=0, microsecond=0)
        deadline = max(deadline, min(made + timedelta(minutes=grace), appointment.starts_at))
    return deadline


def appointment_next_statuses(appointment: Appointment) -> list[AppointmentStatus]:
    """The statuses ``appointment`` may move to next, in the order of a visit (cancelled
    last); empty once it is discharged, a no-show or cancelled. For the day board's
    actions."""
    if appointment.status in TERMINAL_STATUSES:
        return []
    if not _is_infusion(appointment.appointment_type):
        return [*_VISIT_FLOW.get(appointment.status, ()), Status.CANCELLED]
    # Once an infusion's patient has checked in, its session decides how the visit ends.
    cancel = (Status.CANCELLED,) if appointment.status == Status.BOOKED else ()
    return [*_INFUSION_FLOW.get(appointment.status, ()), *cancel]


# --- The waitlist -------------------------------------------------------------------------


@transaction.atomic
def waitlist_add(
    *,
    actor: User | None,
    patient: Patient,
    location: Location,
    appointment_type: AppointmentType,
    earliest_date: date | None = None,
    latest_date: date | None = None,
    preferred_weekdays: Sequence[int] = (),
    preferred_after: time | None = None,
    preferred_before: time | None = None,
    request: HttpRequest | None = None,
) -> WaitlistEntry:
    """Put a patient on the waitlist for an earlier slot of ``appointment_type`` at
    ``location``: between the (local) dates given, on the weekdays given (0 = Monday; none
    means any), starting at or after ``preferred_after`` and before ``preferred_before``."""
    _require(actor, Capability.BOOK_APPOINTMENTS)
    errors: Errors = {}
    if not location.is_active:
        _add(errors, "location", f"{location.name} is not taking bookings: choose another one.")
    today = location.local_now().date()
    if latest_date is not None and latest_date < today:
        _add(errors, "latest_date", "That date has passed: choose a later one or leave it empty.")
    if earliest_date and latest_date and latest_date < earliest_date:
        _add(errors, "latest_date", "The latest date is before the earliest: swap them.")
    weekdays = list(preferred_weekdays)
    if all(isinstance(day, int) and 0 <= day <= 6 for day in weekdays):
        weekdays = sorted(set(weekdays))
    else:
        _add(errors, "preferred_weekdays", "Weekdays go from 0 (Monday) to 6 (Sunday).")
    if preferred_after and preferred_before and preferred_before <= preferred_after:
        _add(
            errors,
            "preferred_before",
            f"“Before {preferred_before:%H:%M}” must be later than “after "
            f"{preferred_after:%H:%M}”: widen the window.",
        )
    for field, messages in _eligibility_errors(patient, appointment_type).items():
        errors.setdefault(field, []).extend(messages)
    existing = (
        WaitlistEntry.objects.filter(
            patient=patient,
            location=location,
            appointment_type=appointment_type,
            state__in=[WaitlistEntry.State.WAITING, WaitlistEntry.State.OFFERED],
        )
        .order_by("created_at")
        .first()
    )
    if existing is not None:
        _add(
            errors,
            "patient",
            f"The patient is already on the waitlist for {appointment_type.name.lower()} at "
            f"{location.name} (since {_day(existing.created_at.astimezone(location.tz).date())})"
            ": change or remove that entry instead.",
        )
    if errors:
        raise ValidationError(errors)
    entry = WaitlistEntry.objects.create(
        patient=patient,
        location=location,
        appointment_type=appointment_type,
        earliest_date=earliest_date,
        latest_date=latest_date,
        preferred_weekdays=weekdays,
        preferred_after=preferred_after,
        preferred_before=preferred_before,
        created_by=actor if actor is not None and actor.is_authenticated else None,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=entry,
        summary=f"added patient {patient.public_id} to the waitlist for {appointment_type.kind}",
        request=request,
    )
    return entry


@transaction.atomic
def waitlist_remove(
    *, actor: User | None, entry: WaitlistEntry, request: HttpRequest | None = None
) -> WaitlistEntry:
    """Take a waiting (or offered) patient off the waitlist."""
    _require(actor, Capability.BOOK_APPOINTMENTS)
    current = WaitlistEntry.objects.select_for_update().get(pk=entry.pk)
    if current.state not in (WaitlistEntry.State.WAITING, WaitlistEntry.State.OFFERED):
        raise ValidationError(
            {"state": [f"This entry is {current.get_state_display().lower()} already."]}
        )
    current.state = WaitlistEntry.State.REMOVED
    current.save(update_fields=["state"])
    entry.state = current.state
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=current,
        summary=f"removed patient {current.patient.public_id} from the waitlist: changed state",
        request=request,
    )
    return current


def waitlist_matches(appointment: Appointment) -> list[WaitlistEntry]:
    """Who on the waitlist fits ``appointment``'s time, first come first: waiting entries of
    other patients for the same location and appointment type whose date window, weekdays
    and preferred start times (after ≤ start < before, local) include it, and who are free
    then. A read (one query); ``appointment_cancel`` and no-shows make the offer."""
    location = appointment.location
    start = appointment.starts_at.astimezone(location.tz)
    day, at = start.date(), start.time()
    busy = Appointment.objects.filter(
        BLOCKING,
        patient=OuterRef("patient"),
        starts_at__lt=appointment.blocks_until,
        blocks_until__gt=appointment.starts_at,
    ).exclude(pk=appointment.pk)
    entries = (
        WaitlistEntry.objects.filter(
            state=WaitlistEntry.State.WAITING,
            location_id=appointment.location_id,
            appointment_type_id=appointment.appointment_type_id,
        )
        .exclude(patient_id=appointment.patient_id)
        .filter(Q(earliest_date__isnull=True) | Q(earliest_date__lte=day))
        .filter(Q(latest_date__isnull=True) | Q(latest_date__gte=day))
        .filter(Q(preferred_weekdays=[]) | Q(preferred_weekdays__contains=[day.weekday()]))
        .filter(Q(preferred_after__isnull=True) | Q(preferred_after__lte=at))
        .filter(Q(preferred_before__isnull=True) | Q(preferred_before__gt=at))
        .exclude(Exists(busy))
        .select_related("patient", "location", "appointment_type")
        .order_by("created_at", "id")
    )
    return list(entries)


def _offer_freed_time(
    appointment: Appointment, *, actor: User | None, request: HttpRequest | None
) -> WaitlistEntry | None:
    """Offer a freed time still to come to the first waitlisted patient who fits.

    The entry becomes OFFERED with ``offered_appointment`` set, and the offer is queued to
    the patient in this transaction (``scheduling.message_queue.waitlist_offer_enqueue``)."""
    if appointment.starts_at <= timezone.now():
        return None
    for entry in waitlist_matches(appointment):
        # Conditional update: two freed times never offer the same entry twice.
        offered = WaitlistEntry.objects.filter(
            pk=entry.pk, state=WaitlistEntry.State.WAITING
        ).update(state=WaitlistEntry.State.OFFERED, offered_appointment=appointment)
        if not offered:
            continue
        entry.state = WaitlistEntry.State.OFFERED
        entry.offered_appointment = appointment
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            target=entry,
            summary=f"offered a freed time to patient {entry.patient.public_id}: changed "
            "state, offered_appointment",
            request=request,
        )
        waitlist_offer_enqueue(entry, appointment)
        return entry
    return None


# --- Checks --------------------------------------------------------------------------------


def _require(actor: User | None, capability: Capability) -> None:
    """``actor=None`` is the patient or the system, which the caller vouches for."""
    if actor is not None:
        require(actor, capability)


def require_status_permission(actor: User | None, appointment: Appointment, status: Status) -> None:
    """Who may move an appointment to ``status``: PermissionDenied with the reason if not.

    The day board asks it too, to show only the buttons a person may press.
    """
    if actor is None:
        return
    require(actor, Capability.BOOK_APPOINTMENTS)
    clinical = status in _CLINICAL_STATUSES or (
        status == Status.DISCHARGED and _is_infusion(appointment.appointment_type)
    )
    if clinical and not user_can(actor, Capability.RECORD_CLINICAL):
        raise PermissionDenied(
            "Only nurses and physicians record an infusion's progress: ask one of them."
        )


def _booking_errors(
    *,
    patient: Patient,
    location: Location,
    appointment_type: AppointmentType,
    starts_at: datetime,
    chair: Chair | None,
    clinician: User | None,
    course: TreatmentCourse | None,
    source: str,
) -> Errors:
    errors: Errors = {}
    if not location.is_active:
        _add(errors, "location", f"{location.name} is not taking bookings: choose another one.")
    if source == Appointment.Source.ONLINE and not appointment_type.bookable_online:
        _add(
            errors,
            "appointment_type",
            f"{appointment_type.name} can't be booked online: call {location.name} on "
            f"{location.phone}.",
        )
    if chair is not None:
        if not appointment_type.needs_chair:
            _add(
                errors,
                "chair",
                f"{_article(appointment_type)} needs no chair: leave the chair empty.",
            )
        elif chair.location_id != location.pk:
            _add(errors, "chair", f"That chair is at another location: choose one at {location}.")
        elif not chair.is_active:
            _add(errors, "chair", f"{chair.name} is out of use: choose another chair.")
    if clinician is not None:
        role = appointment_type.clinician
        if not clinician.is_active or role not in clinician.roles:
            _add(
                errors,
                "clinician",
                f"{clinician} is not an active {role}: choose a {role}, or leave it empty to "
                "take whoever is free.",
            )
    if course is not None:
        _course_errors(course, patient, location, appointment_type, errors)
    for field, messages in _time_errors(
        location=location,
        appointment_type=appointment_type,
        starts_at=starts_at,
        online=source == Appointment.Source.ONLINE,
    ).items():
        errors.setdefault(field, []).extend(messages)
    for field, messages in _eligibility_errors(patient, appointment_type).items():
        errors.setdefault(field, []).extend(messages)
    return errors


def _course_errors(
    course: TreatmentCourse,
    patient: Patient,
    location: Location,
    appointment_type: AppointmentType,
    errors: Errors,
) -> None:
    if course.patient_id != patient.pk:
        _add(errors, "course", "That treatment course is another patient's: choose theirs.")
    elif course.location_id != location.pk:
        _add(
            errors,
            "course",
            f"That treatment course is at {course.location}: book it there, or start a course "
            f"at {location.name}.",
        )
    elif course.state in (TreatmentCourse.State.COMPLETED, TreatmentCourse.State.DISCONTINUED):
        _add(
            errors,
            "course",
            f"That treatment course is {course.get_state_display().lower()}: start a new one.",
        )
    if not _is_infusion(appointment_type):
        _add(
            errors,
            "course",
            f"Only infusions belong to a treatment course: book {_article(appointment_type)} "
            "without one.",
        )


def _time_errors(
    *, location: Location, appointment_type: AppointmentType, starts_at: datetime, online: bool
) -> Errors:
    """Is ``starts_at`` a time this location could ever book: still to come, inside the
    opening hours (recovery included) and, for a patient booking online, inside the booking
    horizon?"""
    if not isinstance(starts_at, datetime) or timezone.is_naive(starts_at):
        return {"starts_at": ["Give the date and time with a time zone."]}
    if starts_at <= timezone.now():
        return {"starts_at": ["That time has passed: choose a later one."]}
    start = starts_at.astimezone(location.tz)
    end = (starts_at + appointment_type.occupied).astimezone(location.tz)
    if online:
        horizon = settings.BOOKING_HORIZON_DAYS
        if start.date() > location.local_now().date() + timedelta(days=horizon):
            return {
                "starts_at": [
                    f"Online booking is open for the next {horizon} days: choose an earlier day, "
                    f"or call {location.name} on {location.phone}."
                ]
            }
    hours = location_hours_on(location, start.date())
    if hours.closure is not None:
        return {
            "starts_at": [
                f"{location.name} is closed on {_day(start.date())} ({hours.closure.reason}): "
                "choose another day."
            ]
        }
    if hours.opens_at is None or hours.closes_at is None:
        return {"starts_at": [f"{location.name} is closed on {start:%A}s: choose another day."]}
    if start.time() < hours.opens_at or end.date() != start.date() or end.time() > hours.closes_at:
        recovery = ", recovery included," if appointment_type.recovery_minutes else ""
        return {
            "starts_at": [
                f"{start:%H:%M}–{end:%H:%M} on {_day(start.date())} is outside "
                f"{location.name}'s opening hours ({hours.opens_at:%H:%M}–"
                f"{hours.closes_at:%H:%M} local): choose a time that starts at "
                f"{hours.opens_at:%H:%M} or later and ends{recovery} by {hours.closes_at:%H:%M}."
            ]
        }
    return {}


def _shift_error(
    *, location: Location, appointment_type: AppointmentType, starts_at: datetime
) -> str | None:
    """Why no clinician of the needed role could see the patient then, if that is why."""
    start = starts_at.astimezone(location.tz)
    end = (starts_at + appointment_type.occupied).astimezone(location.tz)
    role = appointment_type.get_clinician_display().lower()
    shifts = list(
        StaffShift.objects.filter(
            location=location,
            weekday=start.weekday(),
            staff__is_active=True,
            staff__roles__contains=[appointment_type.clinician],
        ).order_by("starts_at")
    )
    if not shifts:
        return f"No {role} works at {location.name} on {start:%A}s: choose another day."
    if any(s.starts_at <= start.time() and end.time() <= s.ends_at for s in shifts):
        return None
    windows = ", ".join(f"{s.starts_at:%H:%M}–{s.ends_at:%H:%M}" for s in shifts)
    return (
        f"{start:%H:%M}–{end:%H:%M} on {_day(start.date())} is outside the {role}s' shifts at "
        f"{location.name} ({windows} local): choose a time inside one of them."
    )


def _eligibility_errors(patient: Patient, appointment_type: AppointmentType) -> Errors:
    """An infusion or booster needs a current, approved screening decision and the current
    consent form signed (ARCHITECTURE.md, invariant 2)."""
    if not _is_infusion(appointment_type):
        return {}
    errors: Errors = {}
    what = _article(appointment_type).lower()
    allowed, reason = course_scheduling_allowed(patient)
    if not allowed:
        _add(
            errors,
            "patient",
            f"Can't book {what}: there is no approved, current screening decision. {reason}",
        )
    allowed, reason = infusion_start_allowed(patient)
    if not allowed:
        _add(errors, "patient", f"Can't book {what}: there is no signed consent on file. {reason}")
    return errors


def _refuse_if_patient_busy(
    *,
    patient: Patient,
    location: Location,
    appointment_type: AppointmentType,
    starts_at: datetime,
    excluding: Appointment | None = None,
) -> None:
    """A double submit gets "already booked" (with the appointment); any other appointment
    of the patient's at that time gets SlotTaken with times the patient is free."""
    overlapping = (
        Appointment.objects.filter(
            BLOCKING,
            patient=patient,
            starts_at__lt=starts_at + appointment_type.occupied,
            blocks_until__gt=starts_at,
        )
        .select_related("location", "appointment_type")
        .order_by("starts_at")
    )
    if excluding is not None:
        overlapping = overlapping.exclude(pk=excluding.pk)
    other = overlapping.first()
    if other is None:
        return
    when = _when(other.starts_at, other.location)
    if (
        other.location_id == location.pk
        and other.appointment_type_id == appointment_type.pk
        and other.starts_at == starts_at
    ):
        raise SlotTaken(
            f"This appointment is already booked ({other.appointment_type.name.lower()} at "
            f"{when}, {other.location.name}): nothing was booked twice.",
            existing=other,
        )
    raise SlotTaken(
        f"The patient already has {_article(other.appointment_type).lower()} at {when} "
        f"({other.location.name}), which overlaps: choose another time.",
        _alternatives(location, appointment_type, starts_at, patient, excluding),
    )


def _free_slot_or_refuse(
    *,
    location: Location,
    appointment_type: AppointmentType,
    starts_at: datetime,
    patient: Patient,
    chair: Chair | None = None,
    clinician: User | None = None,
    excluding: Appointment | None = None,
) -> Slot:
    slot = slot_is_free(
        location=location,
        appointment_type=appointment_type,
        starts_at=starts_at,
        patient=patient,
        chair=chair,
        clinician=clinician,
        excluding=excluding,
    )
    if slot is not None:
        return slot
    shift_error = _shift_error(
        location=location, appointment_type=appointment_type, starts_at=starts_at
    )
    if shift_error is not None:
        raise ValidationError({"starts_at": [shift_error]})
    if appointment_type.needs_chair and not location.chairs.filter(is_active=True).exists():
        raise ValidationError(
            {
                "location": [
                    f"{location.name} has no chair in use: a clinic admin can add one under "
                    "Locations; until then book at another location."
                ]
            }
        )
    wanted = [str(x) for x in (chair.name if chair else None, clinician) if x is not None]
    with_whom = f" with {' and '.join(wanted)}" if wanted else ""
    raise _slot_taken(
        f"{_when(starts_at, location)} is not free at {location.name}{with_whom}",
        _alternatives(location, appointment_type, starts_at, patient, excluding),
    )


def _slot_taken(what: str, alternatives: list[Slot]) -> SlotTaken:
    if alternatives:
        return SlotTaken(f"{what}: choose one of the nearest free times.", alternatives)
    return SlotTaken(
        f"{what}, and no other time is free in the weeks around it: try another location.",
        alternatives,
    )


def _write_or_slot_taken(appointment: Appointment, *, update_fields: list[str] | None) -> None:
    """Insert (or update) in a savepoint; losing a race for the chair or the patient's time
    to another transaction becomes SlotTaken. Any other integrity error is a bug: re-raised."""
    for _attempt in range(_WRITE_ATTEMPTS):
        try:
            with transaction.atomic():
                if update_fields is None:
                    appointment.save(force_insert=True)
                else:
                    appointment.save(update_fields=update_fields)
            return
        except IntegrityError as error:
            if _violated_constraint(error) not in OVERLAP_CONSTRAINTS:
                raise
            break
        except OperationalError as error:
            # Two clashing rows written at the same instant wait for each other in the
            # exclusion check and PostgreSQL aborts one. Trying again waits for the other
            # transaction to end, then gets a clear answer.
            if getattr(error.__cause__, "sqlstate", None) != _DEADLOCK_DETECTED:
                raise
    raise _slot_taken(
        "That time was just taken by another booking",
        _alternatives(
            appointment.location,
            appointment.appointment_type,
            appointment.starts_at,
            appointment.patient,
            appointment if appointment.pk else None,
        ),
    )


def _violated_constraint(error: IntegrityError) -> str:
    diag = getattr(error.__cause__, "diag", None)
    name = getattr(diag, "constraint_name", None)
    if name:
        return name
    return next((name for name in OVERLAP_CONSTRAINTS if name in str(error)), "")


def _status(value: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        choices = ", ".join(_label(choice) for choice in Status)
        raise ValidationError(
            {"status": [f"“{value}” is not an appointment status: use one of {choices}."]}
        ) from None


def _cancel_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError(
            {"reason": ["Say why the appointment is cancelled, for example “patient unwell”."]}
        )
    if len(reason) > CANCEL_REASON_MAX_LENGTH:
        raise ValidationError(
            {
                "reason": [
                    f"Keep the reason to {CANCEL_REASON_MAX_LENGTH} characters "
                    f"(it has {len(reason)})."
                ]
            }
        )
    return reason


def _refuse_untimely(appointment: Appointment, status: Status) -> None:
    refusal = untimely_refusal(appointment, status)
    if refusal:
        raise ValidationError({"status": [refusal]})


def untimely_refusal(appointment: Appointment, status: Status) -> str:
    """Why the clock says no to moving ``appointment`` to ``status`` now ("" if it doesn't):
    check-in on the appointment's local day, ``CHECK_IN_EARLY_MINUTES`` before the start at
    the earliest; a no-show from ``NO_SHOW_GRACE_MINUTES`` after the start."""
    now = timezone.now()
    location = appointment.location
    if status == Status.CHECKED_IN:
        local_day = appointment.starts_at.astimezone(location.tz).date()
        today = now.astimezone(location.tz).date()
        if today != local_day:
            when = "is on" if today < local_day else "was on"
            return (
                f"The appointment {when} {_day(local_day)}: patients check in on the day of "
                f"their appointment (today is {_day(today)} at {location.name})."
            )
        earliest = appointment.starts_at - timedelta(minutes=settings.CHECK_IN_EARLY_MINUTES)
        if now < earliest:
            return (
                f"It's too early to check in: the appointment starts at "
                f"{_when(appointment.starts_at, location)}, and check-in opens "
                f"{settings.CHECK_IN_EARLY_MINUTES} minutes before, at "
                f"{earliest.astimezone(location.tz):%H:%M}."
            )
    if status == Status.NO_SHOW:
        earliest = appointment.starts_at + timedelta(minutes=settings.NO_SHOW_GRACE_MINUTES)
        if now < earliest:
            return (
                "It's too early to mark a no-show: the patient may still come. From "
                f"{_when(earliest, location)} ({settings.NO_SHOW_GRACE_MINUTES} minutes after "
                "the start) they can be marked one."
            )
    return ""


def _refuse_transition(appointment: Appointment, status: Status) -> None:
    if status in appointment_next_statuses(appointment):
        return
    raise ValidationError({"status": [_transition_refusal(appointment, status)]})


def _transition_refusal(appointment: Appointment, status: Status) -> str:
    current = Status(appointment.status)
    infusion = _is_infusion(appointment.appointment_type)
    if status == current:
        return f"This appointment is {_label(current)} already."
    if current in TERMINAL_STATUSES:
        return (
            f"This appointment is {_label(current)}, which is final: it can't become "
            f"{_label(status)}. Book a new appointment if the patient needs one."
        )
    if status == Status.BOOKED:
        return (
            f"The patient is {_label(current)}: an appointment can't go back to booked. Undo "
            "the check-in within a few minutes of it, or cancel with a reason and book again."
        )
    if status == Status.CANCELLED and infusion:
        return (
            f"The patient is {_label(current)}, so the infusion session decides how the visit "
            "ends: undo the check-in if it was a mistake, or mark the session not started "
            "with a reason."
        )
    if status == Status.NO_SHOW:
        return (
            f"The patient is {_label(current)}, so they came: they can't be a no-show. Cancel "
            "with a reason if the visit ends early."
        )
    if status in (Status.INFUSING, Status.RECOVERING) and not infusion:
        return (
            f"{_article(appointment.appointment_type)} has no infusion: mark the patient "
            "discharged when the visit ends."
        )
    if current == Status.BOOKED:
        return "The patient hasn't checked in yet: check them in first."
    if status == Status.CHECKED_IN:
        return f"The patient checked in already: they are {_label(current)}."
    if current == Status.CHECKED_IN:
        return "The infusion hasn't started: mark the patient infusing first."
    if current == Status.INFUSING:
        return "The patient must recover before going home: mark them recovering first."
    options = " or ".join(_label(choice) for choice in appointment_next_statuses(appointment))
    return (
        f"An appointment that is {_label(current)} can't become {_label(status)}: next it can "
        f"be {options}."
    )


# --- Helpers -------------------------------------------------------------------------------


def _lock_bookings(*, location_id: int, patient_id: int) -> None:
    """Hold other bookings at ``location`` and of ``patient`` off until this transaction ends
    (waiting for any in progress first). Then the checks the database cannot make see every
    committed booking, and two clashing rows are never inserted at the same instant (which
    would make PostgreSQL's exclusion check wait both ways and abort one as a deadlock).
    Always the location first, then the patient, then any row lock."""
    lock_location_bookings(location_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_PATIENT_LOCK, patient_id % 2**31])


def lock_location_bookings(location_id: int) -> None:
    """Wait for bookings in progress at a location and hold new ones off until this
    transaction ends. Anything that must see every booking there (a shift change counting
    appointments left outside its hours) takes it too."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [_LOCATION_LOCK, location_id % 2**31]
        )


def _locked(appointment: Appointment) -> Appointment:
    """The appointment re-read and locked for this transaction (only its own row)."""
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient", "location", "appointment_type")
        .get(pk=appointment.pk)
    )


def _copy_fields(source: Appointment, target: Appointment) -> None:
    if target is source:
        return
    for field in Appointment._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


def _alternatives(
    location: Location,
    appointment_type: AppointmentType,
    around: datetime,
    patient: Patient,
    excluding: Appointment | None,
) -> list[Slot]:
    return nearest_free_slots(
        location=location,
        appointment_type=appointment_type,
        around=around,
        patient=patient,
        count=ALTERNATIVES,
        excluding=excluding,
    )


def _is_infusion(appointment_type: AppointmentType) -> bool:
    return appointment_type.kind in INFUSION_KINDS


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _label(status: Any) -> str:
    return Status(status).label.lower()


def _article(appointment_type: AppointmentType) -> str:
    """The type's name with "A" or "An", to start a sentence: "An infusion"."""
    name = appointment_type.name.lower()
    return f"{'An' if name[:1] in 'aeiou' else 'A'} {name}"


def _day(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def _when(moment: datetime, location: Location) -> str:
    local = moment.astimezone(location.tz)
    return f"{local:%H:%M} on {_day(local.date())}"
