"""The FHIR Bulk Data endpoints of the clinic-wide export (``interop.fhir.bulk``):

- ``GET /fhir/R4/$export`` with ``Prefer: respond-async`` starts an export: 202 and the
  status URL in ``Content-Location``;
- ``GET`` on the status URL: 202 with ``X-Progress`` while it runs, 200 with the manifest
  (one NDJSON file per resource type) when it is done; ``DELETE`` cancels it;
- ``GET`` on a file's URL downloads it, for the clinic admin who asked only.
"""

from __future__ import annotations

import uuid

from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, JsonResponse
from django.urls import reverse
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.audit import Action, audit_record
from interop.fhir.api import FhirView, operation_outcome
from interop.fhir.bulk import (
    AUDIT_TYPE,
    export_fail_stalled,
    export_file_path,
    export_job_for,
    fhir_export_cancel,
    fhir_export_start,
    requested_types,
)
from interop.fhir.common import instant
from interop.models import ExportJob, ExportStatus

NDJSON = "application/fhir+ndjson"
OUTPUT_FORMATS = {NDJSON, "application/ndjson", "ndjson"}
# The kick-off parameters of the Bulk Data specification this server supports.
SUPPORTED_PARAMETERS = {"_type", "_outputFormat"}
RETRY_AFTER_SECONDS = 10


def status_url(request: Request, job: ExportJob) -> str:
    return request.build_absolute_uri(reverse("fhir:bulk-status", args=[job.public_id]))


def file_url(request: Request, job: ExportJob, resource_type: str) -> str:
    path = reverse("fhir:bulk-file", args=[job.public_id, f"{resource_type}.ndjson"])
    return request.build_absolute_uri(path)


def refusal(message: str, status_code: int) -> Response:
    return Response(operation_outcome(message, status_code), status=status_code)


class BulkExportKickOff(FhirView):
    def get(self, request: Request) -> Response:
        if "respond-async" not in request.headers.get("Prefer", ""):
            return refusal(
                "A bulk export runs in the background: send the header "
                "'Prefer: respond-async', then follow the Content-Location of the answer.",
                400,
            )
        unsupported = sorted(set(request.query_params) - SUPPORTED_PARAMETERS)
        if unsupported:
            return refusal(
                f"This server does not support {', '.join(unsupported)}; leave it out. "
                "Supported: _type and _outputFormat.",
                400,
            )
        output_format = request.query_params.get("_outputFormat", NDJSON)
        if output_format not in OUTPUT_FORMATS:
            return refusal(
                f"This server writes NDJSON only: ask for _outputFormat={NDJSON} or leave it out.",
                400,
            )
        try:
            types = requested_types(request.query_params.get("_type", ""))
            job = fhir_export_start(actor=request.user, resource_types=types, request=request)
        except ValidationError as error:
            conflict = getattr(error, "code", "") == "under_way"
            return refusal(" ".join(error.messages), 409 if conflict else 400)
        response = refusal(
            "The export has started. Ask the Content-Location URL how far it is.", 202
        )
        response["Content-Location"] = status_url(request, job)
        return response


class BulkExportStatus(FhirView):
    def get(self, request: Request, job_id: uuid.UUID) -> Response | JsonResponse:
        export_fail_stalled()  # a job whose worker died answers with its error, not 202
        job = export_job_for(request.user, job_id)
        if job.status == ExportStatus.CANCELLED:
            raise Http404("This export was cancelled and its files deleted.")
        if job.under_way:
            response = Response(status=202)
            response["X-Progress"] = (
                f"{job.progress}% ({job.current_step})" if job.current_step else f"{job.progress}%"
            )
            response["Retry-After"] = str(RETRY_AFTER_SECONDS)
            return response
        if job.status == ExportStatus.FAILED:
            return refusal(job.error, 500)
        return JsonResponse(manifest(request, job))

    def delete(self, request: Request, job_id: uuid.UUID) -> Response:
        job = export_job_for(request.user, job_id)
        if job.status == ExportStatus.CANCELLED:
            raise Http404("This export was cancelled already.")
        fhir_export_cancel(actor=request.user, job=job, request=request)
        return refusal("The export is cancelled and its files deleted.", 202)


def manifest(request: Request, job: ExportJob) -> dict:
    """The completion manifest of the Bulk Data specification: one entry per file."""
    kickoff = request.build_absolute_uri(reverse("fhir:bulk-export"))
    if job.resource_types:
        kickoff += "?_type=" + ",".join(job.resource_types)
    return {
        "transactionTime": instant(job.started_at),
        "request": kickoff,
        "requiresAccessToken": True,
        "output": [
            {
                "type": export_file.resource_type,
                "url": file_url(request, job, export_file.resource_type),
                "count": export_file.count,
            }
            for export_file in job.files.all()
        ],
        "error": [],
    }


class BulkExportFile(FhirView):
    def get(self, request: Request, job_id: uuid.UUID, file_name: str) -> FileResponse:
        job = export_job_for(request.user, job_id)
        export_file = next((item for item in job.files.all() if item.file_name == file_name), None)
        if job.status != ExportStatus.COMPLETED or export_file is None:
            raise Http404("No such file in this export.")
        path = export_file_path(job, export_file)
        if not path.exists():
            raise Http404("This file is no longer on the server: start a new export.")
        audit_record(
            actor=request.user,
            action=Action.EXPORT,
            object_type=AUDIT_TYPE,
            object_id=str(job.public_id),
            summary=f"downloaded {export_file.file_name} of a FHIR bulk export",
            request=request,
        )
        return FileResponse(
            path.open("rb"), content_type=NDJSON, as_attachment=True, filename=file_name
        )
