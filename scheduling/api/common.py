"""What the scheduling API's modules share: time and id fields, the small shapes that name
a location, chair, clinician or patient, free slots and the 409 answer, error responses for
the schema, looking up what a request names, and the base view.

Times are sent as ISO 8601 with their UTC offset (a time without one is refused: which
clock it was read on would be a guess) and returned in UTC, with ``local_start`` on the
location's own clock. Ids are public ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from clinic.api.permissions import capability_permission
from clinic.audit import Action, audit_record
from clinic.models import Chair, Location, User
from clinic.permissions import Capability
from clinic.selectors import locations_visible_to
from patients.models import Patient
from patients.selectors import patients_visible_to
from scheduling.availability import Slot
from scheduling.models import AppointmentKind, AppointmentType
from scheduling.services.free_time import SlotTaken

TIME_EXAMPLE = "2026-03-27T14:30:00-05:00"
# The dates a request may name: far wider than any booking, narrow enough that a day or a
# time zone either side of them is still a date.
EARLIEST, LATEST = date(2000, 1, 1), date(2199, 12, 31)
KINDS = ", ".join(AppointmentKind.values)
# Services name a few fields as the models do; the API names them as its requests do.
_API_FIELD_NAMES = {"appointment_type": "type", NON_FIELD_ERRORS: "non_field_errors"}


def local_time(instant: datetime, location: Location) -> str:
    """``instant`` on the location's clock, ISO 8601 with its offset."""
    return instant.astimezone(location.tz).isoformat()


# --- Fields -----------------------------------------------------------------------------------


class UtcDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a UTC offset in, UTC out."""

    default_error_messages = {
        "invalid": f"Enter the time as ISO 8601 with its UTC offset, e.g. {TIME_EXAMPLE}.",
        "naive": (
            f"Give the time with its UTC offset, e.g. {TIME_EXAMPLE} (or Z for UTC): "
            "without one it is ambiguous."
        ),
        "overflow": f"Enter a time between {EARLIEST} and {LATEST}.",
    }

    def enforce_timezone(self, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            self.fail("naive")
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            self.fail("overflow")
        if not EARLIEST <= value.date() <= LATEST:
            self.fail("overflow")
        return value


class _DateField(serializers.DateField):
    """A calendar date within the years anyone books in (a date near the ends of the
    calendar would overflow the arithmetic on either side of it)."""

    def to_internal_value(self, value: Any) -> date:
        day = super().to_internal_value(value)
        if not EARLIEST <= day <= LATEST:
            raise serializers.ValidationError(f"Enter a date between {EARLIEST} and {LATEST}.")
        return day


def id_field(what: str, where: str, **kwargs: Any) -> serializers.UUIDField:
    """A public id of ``what`` (``where`` lists them)."""
    return serializers.UUIDField(
        help_text=kwargs.pop("help_text", f"The {what}'s id, from {where}."),
        error_messages={
            "required": f"Say which {what}: give its id, from {where}.",
            "null": f"Say which {what}: give its id, from {where}.",
            "invalid": f"That is not an id. Give the {what}'s id, from {where}.",
        },
        **kwargs,
    )


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


def date_field(what: str, **kwargs: Any) -> serializers.DateField:
    return _DateField(
        error_messages={"invalid": f"Enter the {what} as YYYY-MM-DD, e.g. 2026-03-27."},
        **kwargs,
    )


def clock_field(what: str, **kwargs: Any) -> serializers.TimeField:
    return serializers.TimeField(
        error_messages={
            "invalid": f"Enter the {what} as HH:MM on the location's clock, e.g. 09:30."
        },
        **kwargs,
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


# --- Errors in the schema ---------------------------------------------------------------------

ERRORS_400 = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Nothing was saved. Messages saying what to fix, keyed by field or "
    'parameter: {"field": ["message"]}.',
)
PARAMETERS_400 = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="A parameter is wrong: messages saying what to fix, keyed by parameter: "
    '{"parameter": ["message"]}.',
)
ERRORS_403 = OpenApiResponse(OpenApiTypes.OBJECT, description="Your role does not allow this.")
ERRORS_404 = OpenApiResponse(OpenApiTypes.OBJECT, description="There is no such record.")
ERRORS_409 = OpenApiResponse(
    SlotTakenSerializer,
    description="The time is not free, or was taken a moment ago: nothing was booked. "
    "Choose one of the alternatives.",
)
READ_ERRORS = {403: ERRORS_403, 404: ERRORS_404}
LIST_ERRORS = {400: PARAMETERS_400, 403: ERRORS_403}
WRITE_ERRORS = {400: ERRORS_400, 403: ERRORS_403, 404: ERRORS_404}


def api_errors(exc: DjangoValidationError) -> exceptions.ValidationError:
    """A service's ValidationError as a 400 keyed by the API's field names."""
    if not hasattr(exc, "error_dict"):
        return exceptions.ValidationError({"non_field_errors": exc.messages})
    return exceptions.ValidationError(
        {_API_FIELD_NAMES.get(key, key): messages for key, messages in exc.message_dict.items()}
    )


@contextmanager
def field_errors() -> Iterator[None]:
    """Turn a service's ValidationError inside the block into a 400 (see ``api_errors``)."""
    try:
        yield
    except DjangoValidationError as exc:
        raise api_errors(exc) from None


def slot_taken_response(taken: SlotTaken) -> Response:
    body = {
        "detail": taken.message,
        "alternatives": taken.alternatives,
        "existing": taken.existing.public_id if taken.existing is not None else None,
    }
    return Response(SlotTakenSerializer(body).data, status=status.HTTP_409_CONFLICT)


# --- Looking up what a request names ----------------------------------------------------------


def refused(field: str, message: str) -> exceptions.ValidationError:
    return exceptions.ValidationError({field: [message]})


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


# --- Views ------------------------------------------------------------------------------------


class ScheduleAPIView(generics.GenericAPIView):
    """Reads need ``read_capability``; writes ``write_capability``."""

    read_capability = Capability.VIEW_SCHEDULE
    write_capability = Capability.BOOK_APPOINTMENTS

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method in SAFE_METHODS:
            return [capability_permission(self.read_capability)()]
        return [capability_permission(self.write_capability)()]

    def validated(
        self, serializer_class: type[serializers.Serializer], data: Any = None
    ) -> dict[str, Any]:
        """``data`` (the request body unless given) in the shape ``serializer_class``
        describes, or a 400."""
        serializer = serializer_class(data=self.request.data if data is None else data)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)

    def audit_read(self, target: Any, summary: str, *, object_type: str = "") -> None:
        audit_record(
            actor=self.request.user,
            action=Action.VIEW,
            target=target,
            object_type=object_type,
            summary=summary,
            request=self.request,
        )

    def audit_list_read(self, model: type, what: str, shown: int) -> None:
        self.audit_read(
            None,
            f"read the {what} through the API: page {self.paginator.page.number}, {shown} shown",
            object_type=model._meta.label_lower,
        )
