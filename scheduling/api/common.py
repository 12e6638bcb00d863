"""What the scheduling API's modules share: the kind field, the small shapes that name a
location, chair, clinician or patient, free slots and the 409 answer, looking up what a
request names, and the base view.

Times are returned in UTC, with ``local_start`` on the location's own clock. The fields,
error responses and base view every API module uses are in ``clinic.api``.
"""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import datetime
from typing import Any, TypeVar

from django.db.models import Model, QuerySet, TextChoices
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from clinic.api.errors import refused
from clinic.api.fields import UtcDateTimeField
from clinic.api.views import CapabilityAPIView
from clinic.models import Chair, Location, User
from clinic.permissions import Capability
from clinic.selectors import locations_visible_to
from patients.models import Patient
from patients.selectors import patients_visible_to
from scheduling.availability import Slot
from scheduling.models import AppointmentKind, AppointmentType
from scheduling.services.free_time import SlotTaken

KINDS = ", ".join(AppointmentKind.values)
M = TypeVar("M", bound=Model)


def local_time(instant: datetime, location: Location) -> str:
    """``instant`` on the location's clock, ISO 8601 with its offset."""
    return local_time_in(instant, location.time_zone)


def local_time_in(instant: datetime, time_zone: str) -> str:
    """``instant`` on the clock of ``time_zone`` (a location's), ISO 8601 with its offset."""
    return instant.astimezone(zoneinfo.ZoneInfo(time_zone)).isoformat()


# --- Fields -----------------------------------------------------------------------------------


def kind_field(**kwargs: Any) -> serializers.ChoiceField:
    return serializers.ChoiceField(
        choices=AppointmentKind.choices,
        help_text=kwargs.pop("help_text", "The kind of appointment."),
        error_messages={
            "required": f"Say which kind of appointment: one of {KINDS}.",
            "invalid_choice": f"Choose a kind of appointment: one of {KINDS}.",
        },
        **kwargs,
    )


def state_filter_field(choices: type[TextChoices], what: str) -> serializers.ChoiceField:
    """An optional filter on the ``what`` ("state", "status") of the rows listed."""
    return serializers.ChoiceField(
        choices=choices.choices,
        required=False,
        error_messages={"invalid_choice": f"Choose a {what}: one of {', '.join(choices.values)}."},
    )


# --- Responses --------------------------------------------------------------------------------


class LocationRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    name = serializers.CharField(read_only=True)
    time_zone = serializers.CharField(read_only=True, help_text="Local times are on this clock.")


class ChairRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    name = serializers.CharField(read_only=True)


class ClinicianRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    full_name = serializers.CharField(read_only=True)


class PatientRefSerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    name = serializers.CharField(source="display_name", read_only=True)


class SlotSerializer(serializers.Serializer):
    """A free start time, with the chair (for an infusion) and the clinician it would use."""

    starts_at = UtcDateTimeField(read_only=True)
    local_start = serializers.SerializerMethodField(
        help_text="The start on the location's clock, with its offset."
    )
    ends_at = UtcDateTimeField(read_only=True, help_text="The end of the procedure itself.")
    blocks_until = UtcDateTimeField(
        read_only=True,
        help_text="The end of recovery: the chair and the patient are taken until then.",
    )
    location = LocationRefSerializer(read_only=True)
    chair = ChairRefSerializer(read_only=True, allow_null=True)
    clinician = ClinicianRefSerializer(read_only=True, allow_null=True)

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_local_start(self, slot: Slot) -> str:
        return local_time(slot.starts_at, slot.location)


class SlotTakenSerializer(serializers.Serializer):
    """The time asked for is not free (or was taken a moment ago): nothing was booked."""

    detail = serializers.CharField(read_only=True, help_text="What happened and what to do.")
    alternatives = SlotSerializer(
        many=True,
        read_only=True,
        help_text="The nearest free times for the same patient, location and kind, closest "
        "first; empty when none is free in the weeks around it.",
    )
    existing = serializers.UUIDField(
        read_only=True,
        allow_null=True,
        help_text="When this very booking was made already (a repeated request): the id of "
        "that appointment.",
    )


# --- The 409 answer --------------------------------------------------------------------------

ERRORS_409 = OpenApiResponse(
    SlotTakenSerializer,
    description="The time is not free, or was taken a moment ago: nothing was booked. "
    "Choose one of the alternatives.",
)


def slot_taken_response(taken: SlotTaken) -> Response:
    body = {
        "detail": taken.message,
        "alternatives": taken.alternatives,
        "existing": taken.existing.public_id if taken.existing is not None else None,
    }
    return Response(SlotTakenSerializer(body).data, status=status.HTTP_409_CONFLICT)


# --- Looking up what a request names ----------------------------------------------------------


def location_named(user: Any, location_id: uuid.UUID, field: str = "location") -> Location:
    location = locations_visible_to(user).filter(public_id=location_id).first()
    if location is None:
        raise refused(field, "There is no location with that id. Pick one from /api/v1/locations/.")
    return location


def patient_named(user: Any, patient_id: uuid.UUID, field: str = "patient") -> Patient:
    patient = patients_visible_to(user).filter(public_id=patient_id).first()
    if patient is None:
        raise refused(field, "There is no patient with that id. Find one at /api/v1/patients/.")
    return patient


def appointment_type_named(kind: str, field: str = "type") -> AppointmentType:
    appointment_type = AppointmentType.objects.filter(kind=kind).first()
    if appointment_type is None:
        raise refused(field, f"The clinic does not offer {kind} appointments: choose another kind.")
    return appointment_type


def chair_named(chair_id: uuid.UUID | None) -> Chair | None:
    if chair_id is None:
        return None
    chair = Chair.objects.filter(public_id=chair_id).first()
    if chair is None:
        raise refused(
            "chair",
            "There is no chair with that id: each location's chairs are at /api/v1/locations/, "
            "or leave the chair out to take the first free one.",
        )
    return chair


def clinician_named(clinician_id: uuid.UUID | None) -> User | None:
    if clinician_id is None:
        return None
    clinician = User.objects.filter(public_id=clinician_id).first()
    if clinician is None:
        raise refused(
            "clinician",
            "There is no member of staff with that id: take the clinician of a slot from "
            "/api/v1/slots/, or leave it out to take whoever is free.",
        )
    return clinician


def filtered(rows: QuerySet[M], query: dict[str, Any], state_name: str) -> QuerySet[M]:
    """``rows`` of the location and patient a list's query names, in the state (or status,
    ``state_name``) it names; each filter only when given."""
    if "location" in query:
        rows = rows.filter(location__public_id=query["location"])
    if "patient" in query:
        rows = rows.filter(patient__public_id=query["patient"])
    if query.get(state_name):
        rows = rows.filter(**{state_name: query[state_name]})
    return rows


# --- Views ------------------------------------------------------------------------------------


# The base of the scheduling API's views (and of the infusion session's): its docstring is
# CapabilityAPIView's, which the schema shows for operations without one of their own.
class ScheduleAPIView(CapabilityAPIView):
    read_capability = Capability.VIEW_SCHEDULE
    write_capability = Capability.BOOK_APPOINTMENTS
