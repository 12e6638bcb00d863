"""Holding bookings off each other: transaction-scoped advisory locks for the time a booking
takes at a location and for a patient's bookings, and the appointment row re-read under a
row lock.

Two bookings that could clash are checked and written one after the other, so the checks the
database cannot make (``scheduling.availability.slot_is_free``: a physician's one patient at
a time, a nurse's ``INFUSIONS_PER_NURSE``, the chairs) see every committed booking. What a
booking is checked against is only what overlaps its own time (``slot_at`` looks at nothing
else), so only bookings whose times overlap at the same location wait for each other:
bookings of other times of the same day go ahead at once. The location's own lock is taken
shared by every booking and exclusively by whatever must see all of them (a shift change)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from django.db import connection

from scheduling.models import Appointment

# First keys of pg_advisory_xact_lock(int, int): "bookings at location <second key>" (shared
# by bookings, exclusive for a shift change) and "bookings of patient <second key>". Online
# booking (``scheduling.booking``) uses 7306 for "this booking form" and 7307 for "this
# person", taken in that order before these, and 7308 (a session lock, held only while they
# are counted) for its rate limits' counts.
_LOCATION_LOCK = 7_304
_PATIENT_LOCK = 7_305
# pg_advisory_xact_lock(bigint), a key space of its own: "bookings at a location in a quarter
# of an hour" is 7309 in the top bits, then the location's id and the quarter's number (24
# bits each), so every location's every quarter has a key of its own until the year 2478.
_TIME_LOCK = 7_309 << 48
_QUARTER = timedelta(minutes=15)
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def lock_bookings(
    *, location_id: int, patient_id: int, starts_at: datetime, blocks_until: datetime
) -> None:
    """Hold off, until this transaction ends, other bookings at ``location`` whose times
    overlap ``starts_at`` to ``blocks_until`` (waiting for any in progress first) and other
    bookings of ``patient``. Then the checks the database cannot make see every committed
    booking they could clash with, and two clashing rows are never inserted at the same
    instant (which would make PostgreSQL's exclusion check wait both ways and abort one as a
    deadlock).

    The order is always: the location (shared), the patient, the quarters of an hour the
    time touches (every two overlapping times share one) in ascending order, then any row
    lock. The patient comes before the times because a course books several times of one
    patient in one transaction: another booking of that patient waits for the course
    before it holds any of the course's times."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock_shared(%s, %s)", [_LOCATION_LOCK, location_id % 2**31]
        )
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [_PATIENT_LOCK, patient_id % 2**31])
        # PostgreSQL calls a volatile function in the select list after the ORDER BY, so
        # everyone takes the quarters in one order and two bookings never wait both ways.
        cursor.execute(
            "SELECT pg_advisory_xact_lock(k) FROM unnest(%s::bigint[]) AS k ORDER BY k",
            [_time_keys(location_id, starts_at, blocks_until)],
        )


def lock_location_bookings(location_id: int) -> None:
    """Wait for every booking in progress at a location and hold new ones off until this
    transaction ends. Anything that must see every booking there (a shift change counting
    appointments left outside its hours) takes it."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_xact_lock(%s, %s)", [_LOCATION_LOCK, location_id % 2**31]
        )


def _time_keys(location_id: int, starts_at: datetime, blocks_until: datetime) -> list[int]:
    """The keys of the quarters of an hour (UTC) from ``starts_at`` up to ``blocks_until``
    at the location, in ascending order."""
    first = (starts_at - _EPOCH) // _QUARTER
    last = max((blocks_until - _EPOCH - timedelta.resolution) // _QUARTER, first)
    location = (location_id % 2**24) << 24
    return [_TIME_LOCK | location | (quarter % 2**24) for quarter in range(first, last + 1)]


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
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [first_key, _hash31(value)])


def _hash31(value: str) -> int:
    """A stable 31-bit hash of ``value``, for the second key of an advisory lock."""
    return int.from_bytes(hashlib.sha256(value.encode()).digest()[:4], "big") % 2**31
