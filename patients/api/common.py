"""What the patients API's modules share: the small helpers that give request fields their
shape and error messages, the error responses for the schema, turning a service's answer
errors into a 400 keyed as the request is, and the base views (permissions by capability,
the audit of reads, and fetching the patient in the URL through
``patients.selectors.patient_for``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse
from rest_framework import exceptions, generics, serializers
from rest_framework.permissions import SAFE_METHODS, BasePermission

from clinic.api.permissions import capability_permission
from clinic.audit import Action, audit_record
from clinic.permissions import Capability
from patients.models import Patient
from patients.selectors import can_see_clinical, patient_for


def choices_text(values: Iterable[str]) -> str:
    return ", ".join(values)


# --- Requests: shapes only; the services check the values -----------------------------------


def text_field(**kwargs: Any) -> serializers.CharField:
    return serializers.CharField(required=False, allow_blank=True, allow_null=True, **kwargs)


def number_field(what: str, example: str, **kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False,
        allow_null=True,
        error_messages={"invalid": f"Enter the {what} as a whole number, e.g. {example}."},
        **kwargs,
    )


def decimal_field(what: str, example: str, **kwargs: Any) -> serializers.DecimalField:
    return serializers.DecimalField(
        max_digits=None,
        decimal_places=None,
        required=False,
        allow_null=True,
        error_messages={"invalid": f"Enter the {what} as a number, e.g. {example}."},
        **kwargs,
    )


# --- Errors in the schema ---------------------------------------------------------------------

ERRORS_400 = OpenApiResponse(
    OpenApiTypes.OBJECT,
    description="Nothing was saved. Messages saying what to fix, keyed by field: "
    '{"field": ["message"]}; answer errors are under "answers", keyed by question.',
)
ERRORS_403 = OpenApiResponse(OpenApiTypes.OBJECT, description="Your role does not allow this.")
ERRORS_404 = OpenApiResponse(OpenApiTypes.OBJECT, description="There is no such patient.")
WRITE_ERRORS = {400: ERRORS_400, 403: ERRORS_403, 404: ERRORS_404}
CREATE_ERRORS = {400: ERRORS_400, 403: ERRORS_403}


def answers_errors(
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


class PatientsAPIView(generics.GenericAPIView):
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


class PatientScoped(PatientsAPIView):
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
