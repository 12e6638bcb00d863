"""Candidacy screening: /api/v1/patients/<id>/screening/ (the latest result, with every
finding) and .../decisions/ (physicians' decisions, and recording one).

Reading needs the clinical capability; only physicians may record a decision, through
``patients.services.screening.decision_record`` as on the decision page.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import QuerySet
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.permissions import Capability
from patients.api.common import WRITE_ERRORS, PatientScoped, text_field
from patients.models import ScreeningDecision, ScreeningResult
from patients.screening import Severity
from patients.services.screening import decision_record, screening_latest

# --- Responses -----------------------------------------------------------------------------


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
            "missing_facts_acknowledged",
            "missing_facts_note",
        ]
        read_only_fields = fields


# --- Requests -------------------------------------------------------------------------------


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
    reason = text_field(help_text="Why, in a sentence or two. Required.")
    needed = text_field(help_text="Required to defer: what is needed first.")
    override_justification = text_field(
        help_text="Required to approve when the screening found a contraindication."
    )
    missing_facts_acknowledged = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Required (true) to approve while the screening lists facts not recorded "
        "(findings with missing=true): you asked the patient about each of them.",
    )
    missing_facts_note = text_field(
        help_text="Required to approve while facts are not recorded: what the patient "
        "answered, or why treatment is safe without it."
    )


# --- Views ------------------------------------------------------------------------------------


class PatientScreening(PatientScoped, generics.RetrieveAPIView):
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


class PatientDecisions(PatientScoped, generics.ListAPIView):
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
        responses={201: DecisionSerializer, **WRITE_ERRORS},
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
                missing_facts_acknowledged=data.get("missing_facts_acknowledged", False),
                missing_facts_note=data.get("missing_facts_note") or "",
            )
        except DjangoValidationError as exc:
            if hasattr(exc, "error_dict"):
                raise
            # A result that is not the latest: the message is about the screening sent.
            raise exceptions.ValidationError({"screening": exc.messages}) from None
        return Response(DecisionSerializer(decision).data, status=status.HTTP_201_CREATED)


urlpatterns = [
    path(
        "patients/<uuid:patient_id>/screening/",
        PatientScreening.as_view(),
        name="patient-screening",
    ),
    path(
        "patients/<uuid:patient_id>/decisions/",
        PatientDecisions.as_view(),
        name="patient-decisions",
    ),
]
