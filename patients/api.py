"""The patients API: the same selectors and services as the staff pages.

Everyone who may see patients reads demographics and status; intakes, measurements,
screening results and decisions need the clinical capability, and only physicians may
record a decision. Every read of a patient is in the audit log, as on the pages.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.permissions import capability_permission
from clinic.audit import Action, audit_record
from clinic.permissions import Capability
from patients.models import (
    IntakeSubmission,
    Measurement,
    Patient,
    ScreeningDecision,
    ScreeningResult,
)
from patients.selectors import patient_for, patients_visible_to


class PatientSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    preferred_location = serializers.UUIDField(
        source="preferred_location.public_id", read_only=True, allow_null=True
    )

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
            "preferred_location",
            "conditions",
            "status",
        ]
        read_only_fields = fields


class IntakeSerializer(serializers.ModelSerializer):
    class Meta:
        model = IntakeSubmission
        fields = ["version", "submitted_at", "answers"]
        read_only_fields = fields


class MeasurementSerializer(serializers.ModelSerializer):
    class Meta:
        model = Measurement
        fields = ["taken_at", "systolic", "diastolic", "heart_rate", "spo2", "weight_kg"]
        read_only_fields = fields


class ScreeningResultSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)

    class Meta:
        model = ScreeningResult
        fields = ["id", "created_at", "outcome", "findings", "ruleset_version", "thresholds"]
        read_only_fields = fields


class DecisionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    screening = serializers.UUIDField(source="screening.public_id", read_only=True)
    decided_by = serializers.CharField(source="decided_by.full_name", read_only=True)

    class Meta:
        model = ScreeningDecision
        fields = [
            "id",
            "decision",
            "screening",
            "ruleset_version",
            "decided_by",
            "decided_at",
            "reason",
            "needed",
            "override_justification",
        ]
        read_only_fields = fields


class PatientList(generics.ListAPIView):
    """Patients, searchable by name, email or phone (``q``)."""

    serializer_class = PatientSerializer
    permission_classes = [capability_permission(Capability.VIEW_PATIENTS)]

    @extend_schema(parameters=[OpenApiParameter("q", str, description="Name, email or phone")])
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Patient]:
        patients = patients_visible_to(self.request.user).select_related("preferred_location")
        search = self.request.query_params.get("q", "").replace("\x00", "").strip()[:100]
        if search:
            patients = patients.filter(
                Q(legal_first_name__icontains=search)
                | Q(legal_last_name__icontains=search)
                | Q(preferred_name__icontains=search)
                | Q(email__icontains=search)
                | Q(mobile__icontains=search)
            )
        return patients


class _PatientScoped:
    """Views under /patients/<id>/: fetch the patient through the one access function."""

    clinical = False
    reads = "record"
    kwargs: dict[str, Any]
    request: Request

    def patient(self) -> Patient:
        if not hasattr(self, "_patient"):
            self._patient = patient_for(
                self.request.user, self.kwargs["patient_id"], clinical=self.clinical
            )
            audit_record(
                actor=self.request.user,
                action=Action.VIEW,
                target=self._patient,
                summary=f"read {self.reads} through the API",
                request=self.request,
            )
        return self._patient


class PatientDetail(_PatientScoped, generics.RetrieveAPIView):
    serializer_class = PatientSerializer
    permission_classes = [capability_permission(Capability.VIEW_PATIENTS)]

    def get_object(self) -> Patient:
        return self.patient()


class PatientIntakes(_PatientScoped, generics.ListAPIView):
    """Every submitted intake version, newest first."""

    clinical = True
    reads = "intakes"
    serializer_class = IntakeSerializer
    permission_classes = [capability_permission(Capability.VIEW_CLINICAL)]

    def get_queryset(self) -> QuerySet[IntakeSubmission]:
        return self.patient().intakes.order_by("-version")


class PatientMeasurements(_PatientScoped, generics.ListAPIView):
    clinical = True
    reads = "measurements"
    serializer_class = MeasurementSerializer
    permission_classes = [capability_permission(Capability.VIEW_CLINICAL)]

    def get_queryset(self) -> QuerySet[Measurement]:
        return self.patient().measurements.all()


class PatientScreening(_PatientScoped, generics.RetrieveAPIView):
    """The latest screening result, with every finding."""

    clinical = True
    reads = "screening result"
    serializer_class = ScreeningResultSerializer
    permission_classes = [capability_permission(Capability.VIEW_CLINICAL)]

    def get_object(self) -> ScreeningResult:
        result = self.patient().screenings.first()
        if result is None:
            raise NotFound("No screening result yet: record an intake and measurements first.")
        return result


class PatientDecisions(_PatientScoped, generics.ListAPIView):
    clinical = True
    reads = "decisions"
    serializer_class = DecisionSerializer
    permission_classes = [capability_permission(Capability.VIEW_CLINICAL)]

    def get_queryset(self) -> QuerySet[ScreeningDecision]:
        return self.patient().decisions.select_related("screening", "decided_by")
