"""The clinic admin's page for the FHIR bulk export: start one, watch it, download its
files, cancel it. The same services as the FHIR endpoints (``interop.fhir.bulk``)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from clinic.permissions import Capability, capability_required
from interop.fhir.bulk import (
    export_fail_stalled,
    export_job_for,
    export_jobs_visible_to,
    fhir_export_cancel,
    fhir_export_start,
)
from interop.models import EXPORT_UNDER_WAY, ExportJob

JOBS_PER_PAGE = 10


@require_http_methods(["GET", "POST"])
@capability_required(Capability.EXPORT_CLINIC_DATA)
def export_page(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            fhir_export_start(actor=request.user, request=request)
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request,
                "The export has started. This page shows how far it is; the files appear "
                "here when it is done.",
            )
        return redirect("interop:export")
    export_fail_stalled()  # so a job whose worker died shows as failed, not "running" forever
    jobs = export_jobs_visible_to(request.user).prefetch_related("files")
    page = Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "polls": any(job.under_way for job in page.object_list),
        "export_under_way": ExportJob.objects.filter(status__in=EXPORT_UNDER_WAY).exists(),
        "clinic_time_zone": settings.TIME_ZONE,
    }
    template = "interop/partials/_jobs.html" if request.GET.get("part") == "jobs" else None
    return render(request, template or "interop/export.html", context)


@require_http_methods(["GET", "POST"])
@capability_required(Capability.EXPORT_CLINIC_DATA)
def export_cancel(request: HttpRequest, job_id: uuid.UUID) -> HttpResponse:
    job = export_job_for(request.user, job_id)
    if request.method == "POST":
        fhir_export_cancel(actor=request.user, job=job, request=request)
        messages.success(request, "The export is cancelled and its files are deleted.")
        return redirect("interop:export")
    return render(
        request,
        "interop/export_cancel.html",
        {"job": job, "clinic_time_zone": settings.TIME_ZONE},
    )
