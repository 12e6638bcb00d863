"""``GET /fhir/R4/Patient/<public_id>/$everything``: a patient's whole record as a FHIR
Bundle, for the clinicians who may see it (``interop.fhir.everything``)."""

from __future__ import annotations

import uuid

from rest_framework.request import Request
from rest_framework.response import Response

from clinic.audit import Action, audit_record
from interop.fhir.api import FhirView
from interop.fhir.everything import everything_bundle, patient_records

FHIR_BASE_PATH = "/fhir/R4"


def fhir_base_url(request: Request) -> str:
    return request.build_absolute_uri(FHIR_BASE_PATH)


class PatientEverything(FhirView):
    def get(self, request: Request, public_id: uuid.UUID) -> Response:
        records = patient_records(request.user, public_id)
        bundle = everything_bundle(records, fhir_base_url(request))
        audit_record(
            actor=request.user,
            action=Action.EXPORT,
            target=records.patient,
            summary=f"exported the patient's record as FHIR ({len(bundle['entry'])} resources)",
            request=request,
        )
        return Response(bundle)
