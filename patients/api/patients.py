"""Patients: /api/v1/patients/ (the list, search and adding a patient) and
/api/v1/patients/<id>/ (one patient's details and status, and changing them).

Everyone who may see patients reads demographics and status, and the front desk and
clinicians change a patient's details; weight and height are shown only to staff who may
see clinical detail, and set only by staff who record clinical data.
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.pagination import KeysetPagination, page_said
from clinic.api.rows import RowWriter
from clinic.conditions import Condition
from clinic.models import Location
from clinic.permissions import Capability
from clinic.selectors import locations_visible_to
from patients.api.common import (
    CREATE_ERRORS,
    WRITE_ERRORS,
    PatientsAPIView,
    PatientScoped,
    choices_text,
    decimal_field,
    text_field,
)
from patients.models import Patient, PatientStatus, SexAtBirth
from patients.selectors import patients_search, search_date
from patients.services.details import patient_create, patient_update

# Patient fields only staff who record clinical data may set (as on the details form).
CLINICAL_PATIENT_FIELDS = ("weight_kg", "height_cm")


# --- Responses -----------------------------------------------------------------------------


class PatientClinicalSerializer(serializers.Serializer):
    """Weight and height, for staff who may see clinical detail."""

    weight_kg = serializers.DecimalField(
        max_digits=4, decimal_places=1, allow_null=True, read_only=True
    )
    height_cm = serializers.DecimalField(
        max_digits=4, decimal_places=1, allow_null=True, read_only=True
    )


class PatientSerializer(serializers.ModelSerializer):
    """A patient's details and status. ``clinical`` (weight and height) is null for staff
    who may not see clinical detail (front desk, clinic admins)."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    preferred_location = serializers.UUIDField(
        source="preferred_location.public_id", read_only=True, allow_null=True
    )
    clinical = serializers.SerializerMethodField()
    # Not declared `format: email`: a patient without one on file answers "".
    email = serializers.CharField(read_only=True, help_text="Email address, or empty if none.")

    class Meta:
        model = Patient
        fields = [
            "id",
            "legal_first_name",
            "legal_last_name",
            "preferred_name",
            "date_of_birth",
            "sex_at_birth",
            "email",
            "mobile",
            "address_line1",
            "address_line2",
            "city",
            "region",
            "postal_code",
            "country",
            "emergency_contact_name",
            "emergency_contact_relationship",
            "emergency_contact_phone",
            "preferred_location",
            "referring_clinician",
            "conditions",
            "status",
            "clinical",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(PatientClinicalSerializer(allow_null=True))
    def get_clinical(self, patient: Patient) -> dict[str, Any] | None:
        if not self.context.get("clinical"):
            return None
        return PatientClinicalSerializer(patient).data


@functools.cache
def _list_writer(*, clinical: bool) -> RowWriter:
    """The patient list's rows as PatientSerializer writes them, with ``clinical`` (weight
    and height) or null in its place. Made once: building a ModelSerializer's fields costs
    ~0.6 ms, and a field's to_representation keeps nothing of a request."""
    detail = RowWriter(PatientClinicalSerializer())
    return RowWriter(
        PatientSerializer(),
        written={"clinical": detail.write_one if clinical else lambda row: None},
        reads=detail.columns,
    )


# --- Requests -------------------------------------------------------------------------------


class PatientFilterSerializer(serializers.Serializer):
    """The patient list's query parameters, the same search as the staff list."""

    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="Name or its first letters, date of birth (YYYY-MM-DD or MM/DD/YYYY), "
        "phone or email.",
    )
    status = serializers.ChoiceField(
        choices=PatientStatus.choices,
        required=False,
        allow_blank=True,
        error_messages={
            "invalid_choice": f"Choose a status: one of {choices_text(PatientStatus.values)}."
        },
    )
    location = serializers.UUIDField(
        required=False,
        help_text="The id of a preferred location.",
        error_messages={"invalid": "Give a location's id, from /api/v1/locations/."},
    )
    condition = serializers.ChoiceField(
        choices=Condition.choices,
        required=False,
        allow_blank=True,
        error_messages={
            "invalid_choice": f"Choose a condition: one of {choices_text(Condition.values)}."
        },
    )

    def validate_q(self, q: str) -> str:
        try:
            search_date(q)
        except ValueError:
            raise serializers.ValidationError(
                f"{q} is not a real date. Enter a date of birth as YYYY-MM-DD or MM/DD/YYYY, "
                "e.g. 1984-03-27 or 03/27/1984."
            ) from None
        return q


class PatientWriteSerializer(serializers.Serializer):
    """A patient's details. To add a patient, send at least the legal names, date of birth
    and sex at birth; to change one, send only what changes. ``weight_kg`` and
    ``height_cm`` are for staff who record clinical data (nurses, physicians)."""

    legal_first_name = text_field()
    legal_last_name = text_field()
    preferred_name = text_field()
    date_of_birth = serializers.DateField(
        required=False,
        allow_null=True,
        error_messages={"invalid": "Enter the date of birth as YYYY-MM-DD, e.g. 1984-03-27."},
    )
    sex_at_birth = serializers.ChoiceField(
        choices=SexAtBirth.choices,
        required=False,
        allow_blank=True,
        error_messages={
            "invalid_choice": f"Choose the sex at birth: {choices_text(SexAtBirth.values)}."
        },
    )
    email = text_field()
    mobile = text_field(
        help_text="A US number with its area code, or + and the country code; stored as E.164."
    )
    address_line1 = text_field()
    address_line2 = text_field()
    city = text_field()
    region = text_field()
    postal_code = text_field()
    country = text_field(help_text="Two-letter country code, e.g. US.")
    emergency_contact_name = text_field()
    emergency_contact_relationship = text_field()
    emergency_contact_phone = text_field(
        help_text="A US number with its area code, or + and the country code; stored as E.164."
    )
    preferred_location = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="A location's id, from /api/v1/locations/; null for no preference.",
        error_messages={"invalid": "Give a location's id, from /api/v1/locations/."},
    )
    referring_clinician = text_field()
    conditions = serializers.ListField(
        child=serializers.ChoiceField(
            choices=Condition.choices,
            error_messages={
                "invalid_choice": (f"Choose conditions from: {choices_text(Condition.values)}.")
            },
        ),
        required=False,
    )
    weight_kg = decimal_field("weight in kg", "72.5")
    height_cm = decimal_field("height in cm", "172")


# --- Views ------------------------------------------------------------------------------------


def _location_for(
    user: Any, location_id: uuid.UUID | None, *, field: str, also: int | None = None
) -> Location | None:
    """The location a request names, among those ``user`` may see (and the one with pk
    ``also``: a patient's own location stays choosable after it is deactivated)."""
    if location_id is None:
        return None
    locations = locations_visible_to(user)
    if also is not None:
        locations = locations | Location.objects.filter(pk=also)
    location = locations.filter(public_id=location_id).first()
    if location is None:
        raise exceptions.ValidationError(
            {field: ["There is no location with that id. Pick one from /api/v1/locations/."]}
        )
    return location


class PatientList(PatientsAPIView, generics.ListAPIView):
    """Patients in name order: search (``q``) by name, date of birth, phone or email, and
    filter by status, preferred location and condition, as on the staff list.

    POST adds a patient (front desk, nurses, physicians, clinic admins); they start at
    "consultation requested"."""

    serializer_class = PatientSerializer
    write_capability = Capability.EDIT_PATIENT_DETAILS
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet[Patient]:
        filters = PatientFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return patients_search(
            self.request.user,
            search=data.get("q", ""),
            status=data.get("status", ""),
            location=_location_for(self.request.user, data.get("location"), field="location"),
            condition=data.get("condition", ""),
        )

    @extend_schema(parameters=[PatientFilterSerializer])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The page as PatientSerializer writes it, from plain rows (clinic.api.rows).
        writer = _list_writer(clinical=self.get_serializer_context()["clinical"])
        page = self.paginate_queryset(self.get_queryset().values(*writer.columns))
        # The list shows names and dates of birth: reading it is reading patient data.
        self.audit_read(
            None,
            f"read the patient list through the API: {page_said(self.paginator)}, "
            f"{len(page)} shown",
        )
        return self.get_paginated_response(writer.write(page))

    @extend_schema(
        request=PatientWriteSerializer,
        responses={201: PatientSerializer, **CREATE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.validated(PatientWriteSerializer)
        data["preferred_location"] = _location_for(
            request.user, data.get("preferred_location"), field="preferred_location"
        )
        patient = patient_create(
            actor=request.user,
            request=request,
            legal_first_name=data.pop("legal_first_name", ""),
            legal_last_name=data.pop("legal_last_name", ""),
            date_of_birth=data.pop("date_of_birth", None),
            sex_at_birth=data.pop("sex_at_birth", ""),
            **data,
        )
        return Response(self.get_serializer(patient).data, status=status.HTTP_201_CREATED)


class PatientDetail(PatientScoped, generics.RetrieveAPIView):
    """One patient's details and status. PATCH changes the details sent (status follows the
    clinical process and is not changed here)."""

    serializer_class = PatientSerializer
    write_capability = Capability.EDIT_PATIENT_DETAILS

    def get_object(self) -> Patient:
        return self.patient_read()

    @extend_schema(
        request=PatientWriteSerializer,
        responses={200: PatientSerializer, **WRITE_ERRORS},
    )
    def patch(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        patient = self.patient()
        data = self.validated(PatientWriteSerializer, partial=True)
        if "preferred_location" in data:
            data["preferred_location"] = _location_for(
                request.user,
                data["preferred_location"],
                field="preferred_location",
                also=patient.preferred_location_id,
            )
        updated = patient_update(actor=request.user, patient=patient, request=request, **data)
        if updated.updated_at == patient.updated_at:
            # Nothing changed, so the service logged nothing; the answer is still a read.
            self.audit_read(updated, "read record through the API (no changes to save)")
        return Response(self.get_serializer(updated).data)


urlpatterns = [
    path("patients/", PatientList.as_view(), name="patient-list"),
    path("patients/<uuid:patient_id>/", PatientDetail.as_view(), name="patient-detail"),
]
