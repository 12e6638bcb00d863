"""The patients API: the same selectors and services as the staff pages.

Everyone who may see patients reads demographics and status, and the front desk and
clinicians change a patient's details; intakes, measurements, questionnaires,
screening results and decisions need the clinical capability to read and to record,
and only physicians may record a decision. Every view fetches the patient through
``patients.selectors.patient_for``. Every read of patient data is in the audit log, as
on the pages; every write is logged by the service that makes it.

Serializers here only give requests and responses their shape: every rule (ranges,
formats, who may decide) is the services', whose ``ValidationError`` becomes a 400
with messages keyed by field (``clinic.api.exceptions``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.permissions import capability_permission
from clinic.audit import Action, audit_record
from clinic.models import Location
from clinic.permissions import Capability
from clinic.selectors import locations_visible_to
from patients.intake import SECTIONS
from patients.models import (
    Condition,
    IntakeSubmission,
    Measurement,
    Patient,
    PatientStatus,
    QuestionnaireResponse,
    ScreeningDecision,
    ScreeningResult,
    SexAtBirth,
)
from patients.questionnaires import Instrument
from patients.screening import Severity
from patients.selectors import can_see_clinical, patient_for, patients_search, search_date
from patients.services.intake import intake_submit
from patients.services.records import (
    measurement_record,
    patient_create,
    patient_update,
    questionnaire_record,
)
from patients.services.screening import decision_record, screening_latest

# Patient fields only staff who record clinical data may set (as on the details form).
CLINICAL_PATIENT_FIELDS = ("weight_kg", "height_cm")
INTAKE_QUESTIONS = [name for section in SECTIONS for name in section.base_fields]


def _choices_text(values: Iterable[str]) -> str:
    return ", ".join(values)


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


class IntakeSerializer(serializers.ModelSerializer):
    entered_by = serializers.CharField(
        source="entered_by.full_name", read_only=True, allow_null=True
    )
    through_patient_link = serializers.SerializerMethodField()

    class Meta:
        model = IntakeSubmission
        fields = ["version", "submitted_at", "entered_by", "through_patient_link", "answers"]
        read_only_fields = fields

    def get_through_patient_link(self, intake: IntakeSubmission) -> bool:
        return intake.via_link_id is not None


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


class FindingSerializer(serializers.Serializer):
    rule_id = serializers.CharField(read_only=True)
    severity = serializers.ChoiceField(choices=[s.value for s in Severity], read_only=True)
    reason = serializers.CharField(read_only=True, help_text="Why it matters, for a clinician.")
    value = serializers.CharField(
        read_only=True, help_text='The value that triggered it, or "not recorded".'
    )
    urgent = serializers.BooleanField(read_only=True, help_text="Contact the patient today.")
    missing = serializers.BooleanField(
        read_only=True, help_text="The information the rule needs is not recorded."
    )


class ScreeningResultSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    findings = FindingSerializer(many=True, read_only=True)
    intake_version = serializers.IntegerField(
        source="intake.version", read_only=True, allow_null=True
    )

    class Meta:
        model = ScreeningResult
        fields = [
            "id",
            "created_at",
            "outcome",
            "findings",
            "ruleset_version",
            "thresholds",
            "intake_version",
        ]
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


# --- Requests: shapes only; the services check the values -----------------------------------


def _text(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, allow_null=True, **kwargs)


def _number(what: str, example: str, **kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False,
        allow_null=True,
        error_messages={"invalid": f"Enter the {what} as a whole number, e.g. {example}."},
        **kwargs,
    )


def _decimal(what: str, example: str, **kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=None,
        decimal_places=None,
        required=False,
        allow_null=True,
        error_messages={"invalid": f"Enter the {what} as a number, e.g. {example}."},
        **kwargs,
    )


class PatientFilterSerializer(serializers.Serializer):
    """The patient list's query parameters, the same search as the staff list."""

    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        help_text="Name, date of birth (YYYY-MM-DD or MM/DD/YYYY), phone or email.",
    )
    status = serializers.ChoiceField(
        choices=PatientStatus.choices,
        required=False,
        allow_blank=True,
        error_messages={
            "invalid_choice": f"Choose a status: one of {_choices_text(PatientStatus.values)}."
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
            "invalid_choice": f"Choose a condition: one of {_choices_text(Condition.values)}."
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

    legal_first_name = _text()
    legal_last_name = _text()
    preferred_name = _text()
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
            "invalid_choice": f"Choose the sex at birth: {_choices_text(SexAtBirth.values)}."
        },
    )
    email = _text()
    mobile = _text(help_text="International format: + then country code and number.")
    address_line1 = _text()
    address_line2 = _text()
    city = _text()
    region = _text()
    postal_code = _text()
    country = _text(help_text="Two-letter country code, e.g. US.")
    emergency_contact_name = _text()
    emergency_contact_relationship = _text()
    emergency_contact_phone = _text(help_text="International format, e.g. +12125550142.")
    preferred_location = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="A location's id, from /api/v1/locations/; null for no preference.",
        error_messages={"invalid": "Give a location's id, from /api/v1/locations/."},
    )
    referring_clinician = _text()
    conditions = serializers.ListField(
        child=serializers.ChoiceField(
            choices=Condition.choices,
            error_messages={
                "invalid_choice": (f"Choose conditions from: {_choices_text(Condition.values)}.")
            },
        ),
        required=False,
    )
    weight_kg = _decimal("weight in kg", "72.5")
    height_cm = _decimal("height in cm", "172")


class MeasurementWriteSerializer(serializers.Serializer):
    systolic = _number("systolic pressure", "128", help_text="mmHg")
    diastolic = _number("diastolic pressure", "82", help_text="mmHg")
    heart_rate = _number("heart rate", "72", help_text="Beats a minute.")
    spo2 = _number("oxygen saturation", "98", help_text="%")
    weight_kg = _decimal(
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
            f"of patients male at birth): {_choices_text(INTAKE_QUESTIONS)}."
        ),
        error_messages={
            # DRF formats these messages: doubled braces are braces.
            "required": 'Send the answers, keyed by question, e.g. {{"hypertension": "no"}}.',
            "not_a_dict": "Send the answers as an object keyed by question.",
        },
    )


class QuestionnaireWriteSerializer(serializers.Serializer):
    instrument = serializers.ChoiceField(
        choices=[instrument.value for instrument in Instrument],
        error_messages={
            "required": "Say which questionnaire: one of "
            f"{_choices_text(instrument.value for instrument in Instrument)}.",
            "invalid_choice": "Choose a questionnaire: one of "
            f"{_choices_text(instrument.value for instrument in Instrument)}.",
        },
    )
    context = serializers.ChoiceField(
        choices=QuestionnaireResponse.Context.choices,
        required=False,
        help_text="When it was completed; baseline if left out.",
        error_messages={
            "invalid_choice": "Choose when it was completed: one of "
            f"{_choices_text(QuestionnaireResponse.Context.values)}."
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


class DecisionWriteSerializer(serializers.Serializer):
    screening = serializers.UUIDField(
        help_text="The id of the latest screening result, from .../screening/.",
        error_messages={
            "required": "Give the id of the screening result you decide on (GET .../screening/).",
            "invalid": "Give the id of the screening result you decide on (GET .../screening/).",
        },
    )
    decision = serializers.ChoiceField(
        choices=ScreeningDecision.Decision.choices,
        error_messages={
            "required": "Choose approve, defer or decline.",
            "invalid_choice": "Choose approve, defer or decline.",
        },
    )
    reason = _text(help_text="Why, in a sentence or two. Required.")
    needed = _text(help_text="Required to defer: what is needed first.")
    override_justification = _text(
        help_text="Required to approve when the screening found a contraindication."
    )


# --- Errors in the schema ---------------------------------------------------------------------

_ERRORS_400 = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Nothing was saved. Messages saying what to fix, keyed by field: "
    '{"field": ["message"]}; answer errors are under "answers", keyed by question.',
)
_ERRORS_403 = OpenApiResponse(OpenApiTypes.OBJECT, description="Your role does not allow this.")
_ERRORS_404 = OpenApiResponse(OpenApiTypes.OBJECT, description="There is no such patient.")
_WRITE_ERRORS = {400: _ERRORS_400, 403: _ERRORS_403, 404: _ERRORS_404}
_CREATE_ERRORS = {400: _ERRORS_400, 403: _ERRORS_403}


def _answers_errors(
    exc: DjangoValidationError, top_level: Iterable[str] = ()
) -> exceptions.ValidationError:
    """A service's errors keyed by question, nested under "answers" as in the request."""
    if not hasattr(exc, "error_dict"):
        return exceptions.ValidationError({"answers": exc.messages})
    errors: dict[str, Any] = {}
    by_question: dict[str, list[str]] = {}
    for key, messages in exc.message_dict.items():
        if key in top_level:
            errors[key] = messages
        else:
            by_question[key] = messages
    if by_question:
        errors["answers"] = by_question
    return exceptions.ValidationError(errors)


# --- Views ------------------------------------------------------------------------------------


class _PatientsAPIView(generics.GenericAPIView):
    """Reads need ``read_capability``; writes ``write_capability``, refused with
    ``write_refusal`` when it says more than the generic message."""

    read_capability = Capability.VIEW_PATIENTS
    write_capability: Capability | None = None
    write_refusal = ""

    def get_permissions(self) -> list[BasePermission]:
        if self.request.method in SAFE_METHODS or self.write_capability is None:
            return [capability_permission(self.read_capability)()]
        permission = capability_permission(self.write_capability)()
        if self.write_refusal:
            permission.message = self.write_refusal
        return [permission]

    def audit_read(self, patient: Patient | None, summary: str) -> None:
        audit_record(
            actor=self.request.user,
            action=Action.VIEW,
            target=patient,
            object_type=Patient._meta.label_lower,
            summary=summary,
            request=self.request,
        )

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "clinical": can_see_clinical(self.request.user)}

    def validated(
        self, serializer_class: type[serializers.Serializer], **kwargs: Any
    ) -> dict[str, Any]:
        """The request body in the shape ``serializer_class`` describes, or a 400."""
        serializer = serializer_class(data=self.request.data, **kwargs)
        serializer.is_valid(raise_exception=True)
        return dict(serializer.validated_data)


class _PatientScoped(_PatientsAPIView):
    """Views under /patients/<id>/: fetch the patient through the one access function."""

    clinical = False
    reads = "record"

    def patient(self) -> Patient:
        """The patient in the URL; 403 without the capability, 404 if there is none."""
        if not hasattr(self, "_patient"):
            self._patient = patient_for(
                self.request.user, self.kwargs["patient_id"], clinical=self.clinical
            )
        return self._patient

    def patient_read(self) -> Patient:
        """The patient, with the read of ``reads`` written to the audit log."""
        patient = self.patient()
        self.audit_read(patient, f"read {self.reads} through the API")
        return patient


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


class PatientList(_PatientsAPIView, generics.ListAPIView):
    """Patients in name order: search (``q``) by name, date of birth, phone or email, and
    filter by status, preferred location and condition, as on the staff list.

    POST adds a patient (front desk, nurses, physicians, clinic admins); they start at
    "consultation requested"."""

    serializer_class = PatientSerializer
    write_capability = Capability.EDIT_PATIENT_DETAILS

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
        page = self.paginate_queryset(self.get_queryset())
        # The list shows names and dates of birth: reading it is reading patient data.
        self.audit_read(
            None,
            f"read the patient list through the API: page {self.paginator.page.number}, "
            f"{len(page)} shown",
        )
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    @extend_schema(
        request=PatientWriteSerializer,
        responses={201: PatientSerializer, **_CREATE_ERRORS},
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


class PatientDetail(_PatientScoped, generics.RetrieveAPIView):
    """One patient's details and status. PATCH changes the details sent (status follows the
    clinical process and is not changed here)."""

    serializer_class = PatientSerializer
    write_capability = Capability.EDIT_PATIENT_DETAILS

    def get_object(self) -> Patient:
        return self.patient_read()

    @extend_schema(
        request=PatientWriteSerializer,
        responses={200: PatientSerializer, **_WRITE_ERRORS},
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


class PatientIntakes(_PatientScoped, generics.ListAPIView):
    """Every submitted intake version, newest first. POST keeps a complete intake entered by
    staff as the next version (nothing is overwritten) and runs the screening again."""

    clinical = True
    reads = "intakes"
    serializer_class = IntakeSerializer
    read_capability = Capability.VIEW_CLINICAL
    write_capability = Capability.RECORD_CLINICAL

    def get_queryset(self) -> QuerySet[IntakeSubmission]:
        return self.patient_read().intakes.select_related("entered_by").order_by("-version")

    @extend_schema(
        request=IntakeWriteSerializer, responses={201: IntakeSerializer, **_WRITE_ERRORS}
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        patient = self.patient()
        data = self.validated(IntakeWriteSerializer)
        try:
            intake = intake_submit(
                patient=patient, answers=data["answers"], entered_by=request.user, request=request
            )
        except DjangoValidationError as exc:
            raise _answers_errors(exc) from None
        return Response(IntakeSerializer(intake).data, status=status.HTTP_201_CREATED)


class PatientMeasurements(_PatientScoped, generics.ListAPIView):
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
        responses={201: MeasurementSerializer, **_WRITE_ERRORS},
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


class PatientQuestionnaires(_PatientScoped, generics.ListAPIView):
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
        responses={201: QuestionnaireSerializer, **_WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        patient = self.patient()
        data = self.validated(QuestionnaireWriteSerializer)
        try:
            response = questionnaire_record(
                actor=request.user, patient=patient, request=request, **data
            )
        except DjangoValidationError as exc:
            raise _answers_errors(exc, top_level={"instrument", "context"}) from None
        return Response(QuestionnaireSerializer(response).data, status=status.HTTP_201_CREATED)


class PatientScreening(_PatientScoped, generics.RetrieveAPIView):
    """The latest screening result, with every finding: decide on this one."""

    clinical = True
    reads = "screening result"
    serializer_class = ScreeningResultSerializer
    read_capability = Capability.VIEW_CLINICAL

    def get_object(self) -> ScreeningResult:
        result = screening_latest(self.patient_read())
        if result is None:
            raise exceptions.NotFound(
                "No screening result yet: record an intake and measurements first."
            )
        return result


class PatientDecisions(_PatientScoped, generics.ListAPIView):
    """Physicians' decisions, newest first (the first one is current). POST records a
    physician's decision on the latest screening result."""

    clinical = True
    reads = "decisions"
    serializer_class = DecisionSerializer
    read_capability = Capability.VIEW_CLINICAL
    write_capability = Capability.DECIDE_SCREENING
    write_refusal = (
        "Only a physician can approve, defer or decline treatment. Ask a physician to "
        "review the screening result."
    )

    def get_queryset(self) -> QuerySet[ScreeningDecision]:
        return self.patient_read().decisions.select_related("screening", "decided_by")

    @extend_schema(
        request=DecisionWriteSerializer,
        responses={201: DecisionSerializer, **_WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        patient = self.patient()
        data = self.validated(DecisionWriteSerializer)
        screening = ScreeningResult.objects.filter(
            patient=patient, public_id=data.pop("screening")
        ).first()
        if screening is None:
            raise exceptions.ValidationError(
                {
                    "screening": [
                        "That screening result is not this patient's. Decide on the latest "
                        "one, from .../screening/."
                    ]
                }
            )
        try:
            decision = decision_record(
                patient=patient,
                screening=screening,
                actor=request.user,
                request=request,
                decision=data["decision"],
                reason=data.get("reason") or "",
                needed=data.get("needed") or "",
                override_justification=data.get("override_justification") or "",
            )
        except DjangoValidationError as exc:
            if hasattr(exc, "error_dict"):
                raise
            # A result that is not the latest: the message is about the screening sent.
            raise exceptions.ValidationError({"screening": exc.messages}) from None
        return Response(DecisionSerializer(decision).data, status=status.HTTP_201_CREATED)
