"""The appointment list (GET /api/v1/appointments/) from plain rows.

``AppointmentSerializer`` describes an appointment, in the schema and for one appointment
(a booking's answer, a course's bookings). A page of the list is the same JSON written from
plain rows (``.values()``): 50 appointments through the serializer's fields, each with five
nested or related objects to build and read, cost more than the rest of the request.
Everything shown is decided by the same functions as the serializer's (``local_time_in``,
``appointment_next_statuses``, ``booking_note_for``, ``display_name_of``) and formatted by
the same DRF fields; ``scheduling/tests/test_api_rows.py`` holds the two equal.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from django.db.models import Model, QuerySet
from django.db.models.expressions import RawSQL

from clinic.api.fields import UtcDateTimeField
from clinic.models import Chair, User
from patients.models.patient import display_name_of
from scheduling.api.common import local_time_in
from scheduling.models import Appointment, TreatmentCourse
from scheduling.selectors import booking_note_for
from scheduling.services.status_rules import appointment_next_statuses

_FIELDS = (
    "public_id",
    "patient__public_id",
    "patient__preferred_name",
    "patient__legal_first_name",
    "patient__legal_last_name",
    "location__public_id",
    "location__name",
    "location__time_zone",
    "appointment_type__kind",
    "appointment_type__name",
    "starts_at",
    "ends_at",
    "blocks_until",
    "status",
    "source",
    "cancel_reason",
    "booking_note",
    "created_at",
    "updated_at",
)

_TIME = UtcDateTimeField(read_only=True)


def appointment_rows(appointments: QuerySet[Appointment]) -> QuerySet[Appointment]:
    """``appointments`` (in their order) as the rows ``appointments_json`` writes, in one
    query. The patient, location and type (never missing) are joined; the chair, clinician
    and course (each may be missing) are read by a subquery each: with outer joins to them
    too, PostgreSQL's planner weighs every order of joining seven tables, which cost it
    ~9 ms a query at chain scale, ten times reading the page."""
    fields = [*_FIELDS]
    if "booking_note_alerted" in appointments.query.annotations:
        fields.append("booking_note_alerted")
    return appointments.annotate(**_RELATED).values(*fields, *_RELATED)


def _column_of(model: type[Model], foreign_key: str, column: str) -> RawSQL:
    """``column`` of the ``model`` row the appointment's ``foreign_key`` names (NULL when it
    names none), as a subquery. Written out because Django compiles a ``Subquery`` of a
    queryset at ~0.4 ms each, a fifth of the request; the list's queryset is always the
    outermost query, so the appointment table goes by its own name."""
    return RawSQL(  # noqa: S611 (model and column names, no input)
        f'SELECT "{column}" FROM "{model._meta.db_table}" '  # noqa: S608 (names, not input)
        f'WHERE "id" = "{Appointment._meta.db_table}"."{foreign_key}_id"',
        (),
    )


_RELATED = {
    "chair_public_id": _column_of(Chair, "chair", "public_id"),
    "chair_name": _column_of(Chair, "chair", "name"),
    "clinician_public_id": _column_of(User, "clinician", "public_id"),
    "clinician_full_name": _column_of(User, "clinician", "full_name"),
    "course_public_id": _column_of(TreatmentCourse, "course", "public_id"),
}


def appointments_json(rows: list[dict[str, Any]], user: Any) -> list[dict[str, Any]]:
    """``rows`` from ``appointment_rows`` as ``AppointmentSerializer`` writes them for
    ``user``."""
    time = _TIME.to_representation
    next_statuses: dict[tuple[str, str], list[str]] = {}
    written = []
    for row in rows:
        status, kind = row["status"], row["appointment_type__kind"]
        if (status, kind) not in next_statuses:
            next_statuses[status, kind] = [
                str(choice)
                for choice in appointment_next_statuses(
                    SimpleNamespace(status=status, appointment_type=SimpleNamespace(kind=kind))
                )
            ]
        chair_id, clinician_id, course_id = (
            row["chair_public_id"],
            row["clinician_public_id"],
            row["course_public_id"],
        )
        written.append(
            {
                "id": str(row["public_id"]),
                "patient": {
                    "id": str(row["patient__public_id"]),
                    "name": display_name_of(
                        row["patient__preferred_name"],
                        row["patient__legal_first_name"],
                        row["patient__legal_last_name"],
                    ),
                },
                "location": {
                    "id": str(row["location__public_id"]),
                    "name": row["location__name"],
                    "time_zone": row["location__time_zone"],
                },
                "type": kind,
                "type_name": row["appointment_type__name"],
                "chair": None
                if chair_id is None
                else {"id": str(chair_id), "name": row["chair_name"]},
                "clinician": None
                if clinician_id is None
                else {"id": str(clinician_id), "full_name": row["clinician_full_name"]},
                "course": None if course_id is None else str(course_id),
                "starts_at": time(row["starts_at"]),
                "local_start": local_time_in(row["starts_at"], row["location__time_zone"]),
                "ends_at": time(row["ends_at"]),
                "blocks_until": time(row["blocks_until"]),
                "status": status,
                "next_statuses": next_statuses[status, kind],
                "source": row["source"],
                "cancel_reason": row["cancel_reason"],
                "booking_note": _booking_note(user, row),
                "created_at": time(row["created_at"]),
                "updated_at": time(row["updated_at"]),
            }
        )
    return written


def _booking_note(user: Any, row: dict[str, Any]) -> str:
    if not row["booking_note"]:
        return ""
    # booking_note_for's rule, on the row's note, time and (for a reader without clinical
    # access) whether it raised a safety alert, read in the list's query.
    appointment = SimpleNamespace(booking_note=row["booking_note"], created_at=row["created_at"])
    if "booking_note_alerted" in row:
        appointment.booking_note_alerted = row["booking_note_alerted"]
    note = booking_note_for(user, appointment)
    return note.text if note is not None else ""
