"""Booking an appointment, by staff, online or for a course, and moving a booked one to another
time: all or nothing, checked first (``booking_rules``), then written while holding the locks
of its time at the location and of the patient (``locks``), with a free time
(``free_time``). Booking queues the reminders; moving queues "your appointment has moved"
and the new time's reminders."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest

from clinic.audit import Action, audit_record
from clinic.models import Chair, Location, User
from clinic.permissions import Capability
from patients.messages import message_base_url
from patients.models import Patient
from scheduling.message_queue import MOVED, appointment_change_enqueue, reminders_enqueue
from scheduling.models import Appointment, AppointmentStatus, AppointmentType, TreatmentCourse
from scheduling.services.booking_rules import booking_errors, eligibility_errors, time_errors
from scheduling.services.checks import label, require_if_staff
from scheduling.services.free_time import (
    free_slot_or_refuse,
    refuse_if_patient_busy,
    write_or_slot_taken,
)
from scheduling.services.infusion_gap import infusion_gap_errors
from scheduling.services.locks import copy_fields, lock_bookings, locked_appointment

Status = AppointmentStatus
# What a reschedule changes.
_MOVED_FIELDS = ["starts_at", "ends_at", "blocks_until", "chair", "clinician"]


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
    require_if_staff(actor, Capability.BOOK_APPOINTMENTS)
    errors = booking_errors(
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
    lock_bookings(
        location_id=location.pk,
        patient_id=patient.pk,
        starts_at=starts_at,
        blocks_until=starts_at + appointment_type.occupied,
    )
    refuse_if_patient_busy(
        patient=patient, location=location, appointment_type=appointment_type, starts_at=starts_at
    )
    # After the overlap check, so a double submit is still "already booked"; under the
    # patient's lock, so two infusions of one patient are never both let through.
    errors = infusion_gap_errors(
        patient=patient, location=location, appointment_type=appointment_type, starts_at=starts_at
    )
    if errors:
        raise ValidationError(errors)
    slot = free_slot_or_refuse(
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
    write_or_slot_taken(appointment, update_fields=None)
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
    require_if_staff(actor, Capability.BOOK_APPOINTMENTS)
    lock_bookings(
        location_id=appointment.location_id,
        patient_id=appointment.patient_id,
        starts_at=starts_at,
        blocks_until=starts_at + appointment.appointment_type.occupied,
    )
    current = locked_appointment(appointment)
    if current.status != Status.BOOKED:
        raise ValidationError(
            {
                "status": [
                    f"Only a booked appointment can be moved; this one is "
                    f"{label(current.status)}. Book a new appointment instead."
                ]
            }
        )
    errors = time_errors(
        location=current.location,
        appointment_type=current.appointment_type,
        starts_at=starts_at,
        online=actor is None and current.source == Appointment.Source.ONLINE,
    )
    if not errors and starts_at == current.starts_at:
        errors = {"starts_at": ["The appointment is already at that time: choose another one."]}
    if not errors:
        errors = eligibility_errors(current.patient, current.appointment_type)
    if errors:
        raise ValidationError(errors)
    refuse_if_patient_busy(
        patient=current.patient,
        location=current.location,
        appointment_type=current.appointment_type,
        starts_at=starts_at,
        excluding=current,
    )
    errors = infusion_gap_errors(
        patient=current.patient,
        location=current.location,
        appointment_type=current.appointment_type,
        starts_at=starts_at,
        excluding=current,
    )
    if errors:
        raise ValidationError(errors)
    slot = free_slot_or_refuse(
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
    write_or_slot_taken(current, update_fields=[*_MOVED_FIELDS, "updated_at"])
    copy_fields(current, appointment)
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
