"""A patient's clinical records: /api/v1/patients/<id>/intakes/, .../measurements/ and
.../questionnaires/.

Reading them needs the clinical capability, recording them the capability to record
clinical data; each write goes through the same service as the staff pages and runs the
screening again where the screening uses what it records.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.permissions import Capability
from patients.api.common import (
    WRITE_ERRORS,
    PatientScoped,
    answers_errors,
    choices_text,
    decimal_field,
    number_field,
)
from patients.intake.medications import medication_rows
from patients.intake.questions import SECTIONS
from patients.models import IntakeSubmission, Measurement, QuestionnaireResponse
from patients.questionnaires import Instrument
from patients.services.intake import intake_submit
from patients.services.measurements import measurement_record
from patients.services.questionnaires import questionnaire_record

INTAKE_QUESTIONS = [name for section in SECTIONS for name in section.base_fields]


# --- Responses -----------------------------------------------------------------------------


class IntakeSerializer(serializers.ModelSerializer):
    entered_by = serializers.CharField(
        source="entered_by.full_name", read_only=True, allow_null=True
    )
    through_patient_link = serializers.SerializerMethodField()
    medications = serializers.SerializerMethodField()

    class Meta:
        model = IntakeSubmission
        fields = [
            "version",
            "submitted_at",
            "entered_by",
            "through_patient_link",
            "answers",
            "medications",
        ]
        read_only_fields = fields

    def get_through_patient_link(self, intake: IntakeSubmission) -> bool:
        return intake.via_link_id is not None

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_medications(self, intake: IntakeSubmission) -> list[dict[str, Any]]:
        return medication_rows(intake.medications.all())


class MeasurementSerializer(serializers.ModelSerializer):
    taken_by = serializers.CharField(source="taken_by.full_name", read_only=True, allow_null=True)

    class Meta:
        model = Measurement
        fields = [
            "taken_at",
            "taken_by",
            "systolic",
            "diastolic",
            "heart_rate",
            "spo2",
            "weight_kg",
        ]
        read_only_fields = fields


class QuestionnaireSerializer(serializers.ModelSerializer):
    entered_by = serializers.CharField(
        source="entered_by.full_name", read_only=True, allow_null=True
    )

    class Meta:
        model = QuestionnaireResponse
        fields = [
            "instrument",
            "context",
            "completed_at",
            "entered_by",
            "answers",
            "total",
            "band",
            "item9_positive",
        ]
        read_only_fields = fields


# --- Requests -------------------------------------------------------------------------------


class MeasurementWriteSerializer(serializers.Serializer):
    systolic = number_field("systolic pressure", "128", help_text="mmHg")
    diastolic = number_field("diastolic pressure", "82", help_text="mmHg")
    heart_rate = number_field("heart rate", "72", help_text="Beats a minute.")
    spo2 = number_field("oxygen saturation", "98", help_text="%")
    weight_kg = decimal_field(
        "weight in kg", "72.5", help_text="Optional; also becomes the patient's weight."
    )
    taken_at = serializers.DateTimeField(
        required=False,
        allow_null=True,
        help_text="When it was taken; now if left out.",
        error_messages={"invalid": "Enter the time as ISO 8601, e.g. 2026-03-27T14:30:00Z."},
    )


class IntakeWriteSerializer(serializers.Serializer):
    answers = serializers.DictField(
        help_text=(
            "Every question of the intake, keyed by name (pregnancy questions are not asked "
            f"of patients male at birth): {choices_text(INTAKE_QUESTIONS)}."
        ),
        error_messages={
            # DRF formats these messages: doubled braces are braces.
            "required": 'Send the answers, keyed by question, e.g. {{"hypertension": "no"}}.',
            "not_a_dict": "Send the answers as an object keyed by question.",
        },
    )
    medications = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        default=list,
        help_text=(
            "The medication list, one object per medicine: drug_key (from the clinic's list) "
            "or name (as written), strength_mg, units_each_time, frequency, since, status "
            "(current or stopped)."
        ),
    )


class QuestionnaireWriteSerializer(serializers.Serializer):
    instrument = serializers.ChoiceField(
        choices=[instrument.value for instrument in Instrument],
        error_messages={
            "required": "Say which questionnaire: one of "
            f"{choices_text(instrument.value for instrument in Instrument)}.",
            "invalid_choice": "Choose a questionnaire: one of "
            f"{choices_text(instrument.value for instrument in Instrument)}.",
        },
    )
    context = serializers.ChoiceField(
        choices=QuestionnaireResponse.Context.choices,
        required=False,
        help_text="When it was completed; baseline if left out.",
        error_messages={
            "invalid_choice": "Choose when it was completed: one of "
            f"{choices_text(QuestionnaireResponse.Context.values)}."
        },
    )
    answers = serializers.DictField(
        child=serializers.IntegerField(
            allow_null=True,
            error_messages={"invalid": "Answer with a whole number on the questionnaire's scale."},
        ),
        help_text='Each item\'s score keyed by item, e.g. {"q1": 2, "q2": 1, ...}.',
        error_messages={
            "required": 'Send the answers keyed by item, e.g. {{"q1": 2, "q2": 1}}.',
            "not_a_dict": 'Send the answers as an object keyed by item, e.g. {{"q1": 2}}.',
        },
    )


# --- Views ------------------------------------------------------------------------------------


class PatientIntakes(PatientScoped, generics.ListAPIView):
    """Every submitted intake version, newest first. POST keeps a complete intake entered by
    staff as the next version (nothing is overwritten) and runs the screening again."""

    clinical = True
    reads = "intakes"
    serializer_class = IntakeSerializer
    read_capability = Capability.VIEW_CLINICAL
    write_capability = Capability.RECORD_CLINICAL

    def get_queryset(self) -> QuerySet[IntakeSubmission]:
        return (
            self.patient_read()
            .intakes.select_related("entered_by")
            .prefetch_related("medications")
            .order_by("-version")
        )

    @extend_schema(request=IntakeWriteSerializer, responses={201: IntakeSerializer, **WRITE_ERRORS})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        patient = self.patient()
        data = self.validated(IntakeWriteSerializer)
        try:
            intake = intake_submit(
                patient=patient,
                answers=data["answers"],
                medications=data["medications"],
                entered_by=request.user,
                request=request,
            )
        except DjangoValidationError as exc:
            raise answers_errors(exc, top_level=("medications",)) from None
        return Response(IntakeSerializer(intake).data, status=status.HTTP_201_CREATED)


class PatientMeasurements(PatientScoped, generics.ListAPIView):
    """Measurements, newest first. POST records baseline vitals (and weight), then runs the
    screening again."""

    clinical = True
    reads = "measurements"
    serializer_class = MeasurementSerializer
    read_capability = Capability.VIEW_CLINICAL
    write_capability = Capability.RECORD_CLINICAL

    def get_queryset(self) -> QuerySet[Measurement]:
        return self.patient_read().measurements.select_related("taken_by")

    @extend_schema(
        request=MeasurementWriteSerializer,
        responses={201: MeasurementSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        patient = self.patient()
        data = self.validated(MeasurementWriteSerializer)
        measurement = measurement_record(
            actor=request.user,
            patient=patient,
            request=request,
            systolic=data.pop("systolic", None),
            diastolic=data.pop("diastolic", None),
            heart_rate=data.pop("heart_rate", None),
            spo2=data.pop("spo2", None),
            **data,
        )
        return Response(MeasurementSerializer(measurement).data, status=status.HTTP_201_CREATED)


class PatientQuestionnaires(PatientScoped, generics.ListAPIView):
    """Scored questionnaires (PHQ-9, GAD-7, PCL-5, pain), newest first. POST scores and
    keeps a completed one; a baseline PHQ-9 runs the screening again."""

    clinical = True
    reads = "questionnaires"
    serializer_class = QuestionnaireSerializer
    read_capability = Capability.VIEW_CLINICAL
    write_capability = Capability.RECORD_CLINICAL

    def get_queryset(self) -> QuerySet[QuestionnaireResponse]:
        return self.patient_read().questionnaires.select_related("entered_by")

    @extend_schema(
        request=QuestionnaireWriteSerializer,
        responses={201: QuestionnaireSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        patient = self.patient()
        data = self.validated(QuestionnaireWriteSerializer)
        try:
            response = questionnaire_record(
                actor=request.user, patient=patient, request=request, **data
            )
        except DjangoValidationError as exc:
            raise answers_errors(exc, top_level={"instrument", "context"}) from None
        return Response(QuestionnaireSerializer(response).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path(
        "patients/<uuid:patient_id>/intakes/",
        PatientIntakes.as_view(),
        name="patient-intakes",
    ),
    path(
        "patients/<uuid:patient_id>/measurements/",
        PatientMeasurements.as_view(),
        name="patient-measurements",
    ),
    path(
        "patients/<uuid:patient_id>/questionnaires/",
        PatientQuestionnaires.as_view(),
        name="patient-questionnaires",
    ),
]
