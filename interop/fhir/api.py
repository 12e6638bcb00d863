"""What every FHIR endpoint shares: answers in ``application/fhir+json`` whatever the
client accepts, and errors as an OperationOutcome (FHIR's way to say what went wrong),
with the same authentication as the rest of the API (a personal API token, or the staff
sign-in)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

FHIR_JSON = "application/fhir+json"


class FhirJSONRenderer(JSONRenderer):
    media_type = FHIR_JSON
    format = "fhir"


class FhirOnly(BaseContentNegotiation):
    """Always FHIR JSON: a FHIR client may ask for ``application/json`` or ``*/*``, and
    anything else would only get a 406 it cannot read."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


# FHIR's issue type (R4 IssueType) for each status we answer with.
_ISSUE_TYPE = {
    status.HTTP_400_BAD_REQUEST: "invalid",
    status.HTTP_401_UNAUTHORIZED: "login",
    status.HTTP_403_FORBIDDEN: "forbidden",
    status.HTTP_404_NOT_FOUND: "not-found",
    status.HTTP_405_METHOD_NOT_ALLOWED: "not-supported",
    status.HTTP_409_CONFLICT: "conflict",
    status.HTTP_429_TOO_MANY_REQUESTS: "throttled",
}


def operation_outcome(message: str, status_code: int) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error" if status_code >= 400 else "information",
                "code": _ISSUE_TYPE.get(
                    status_code, "processing" if status_code >= 400 else "informational"
                ),
                "diagnostics": message,
            }
        ],
    }


@extend_schema(exclude=True)  # FHIR describes itself; the OpenAPI schema is the v1 API's
class FhirView(APIView):
    renderer_classes = [FhirJSONRenderer]
    content_negotiation_class = FhirOnly

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, Http404):
            exc = exceptions.NotFound(str(exc) or "Not found.")
        elif isinstance(exc, PermissionDenied):
            exc = exceptions.PermissionDenied(
                str(exc) or "Your role does not allow this. Ask a clinic admin if you need it."
            )
        response = super().handle_exception(exc)
        if isinstance(exc, exceptions.APIException):
            detail = exc.detail
            message = detail if isinstance(detail, str) else str(exc)
            response.data = operation_outcome(str(message), response.status_code)
        return response
