"""Holding bookings off each other: transaction-scoped advisory locks for a location's and a
patient's bookings, and the appointment row re-read under a row lock.

Two bookings at one location (or of one patient) are checked and written one after the
other, so the checks the database cannot make (``scheduling.availability.slot_is_free``)
see every committed booking."""

from __future__ import annotations

import hashlib

from django.db import connection

from scheduling.models import Appointment

# First keys of pg_advisory_xact_lock(int, int): "bookings at location <second key>" and
# "bookings of patient <second key>". Online booking (``scheduling.booking``) uses 7306 for
# "this booking form" and 7307 for "this person", taken in that order before these, and
# 7308 (a session lock, held only while they are counted) for its rate limits' counts.
_LOCATION_LOCK = 7_304
_PATIENT_LOCK = 7_305


def lock_bookings(*, location_id: int, patient_id: int) -> None:
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


def locked_appointment(appointment: Appointment) -> Appointment:
    """The appointment re-read and locked for this transaction (only its own row)."""
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("patient", "location", "appointment_type")
        .get(pk=appointment.pk)
    )


def copy_fields(source: Appointment, target: Appointment) -> None:
    if target is source:
        return
    for field in Appointment._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


def advisory_lock(first_key: int, value: str) -> None:
    """Hold others off ``value`` until this transaction ends (a stable 31-bit hash of it)."""
    if not value:
        return
    second_key = int.from_bytes(hashlib.sha256(value.encode()).digest()[:4], "big") % 2**31
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [first_key, second_key])
