"""The DEA inspection report, under /staff/ledger/inspection/: one location's ketamine records
over a period, as a printable page and a CSV file (``infusions.ledger_reports``).

For the registrant (a physician) and clinic admins (``Capability.INSPECT_DEA_RECORDS``).
It names patients and their addresses, so every showing and every download is in the audit
log as an EXPORT (the location and the dates, no patient data). Nothing is left out for its
age: ledger and DEA records are kept, and the database refuses to delete them.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from clinic.audit import Action, audit_record
from clinic.forms import show_service_errors
from clinic.permissions import Capability, capability_required, user_can
from clinic.selectors import locations_visible_to
from infusions.forms_ledger import InspectionForm
from infusions.ledger import LEDGER_CAPABILITY
from infusions.ledger_reports import InspectionReport, inspection_csv, inspection_report

INSPECTION_CAPABILITY = Capability.INSPECT_DEA_RECORDS


@require_GET
@capability_required(INSPECTION_CAPABILITY)
def inspection_page(request: HttpRequest) -> HttpResponse:
    """The form (the first location, the last 30 days); with a location and dates, the
    report under it, or with ``format=csv`` the CSV file."""
    locations = locations_visible_to(request.user)
    if "location" not in request.GET:
        first = locations.filter(is_active=True).order_by("name").first()
        initial = InspectionForm.initial_for(timezone.localdate())
        form = InspectionForm(
            initial={**initial, "location": first.public_id if first else None},
            locations=locations,
        )
        return _page(request, form, None)
    form = InspectionForm(request.GET, locations=locations)
    if form.is_valid():
        data = form.cleaned_data
        try:
            report = inspection_report(
                location=data["location"], start=data["start"], end=data["end"]
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            as_csv = request.GET.get("format") == "csv"
            audit_inspection(request, report, "CSV" if as_csv else "page")
            if as_csv:
                return inspection_download(report)
            return _page(request, form, report)
    return _page(request, form, None, status=400)


def audit_inspection(request: HttpRequest, report: InspectionReport, how: str) -> None:
    """The report names patients: each showing or download is an EXPORT (dates only)."""
    audit_record(
        actor=request.user,
        action=Action.EXPORT,
        target=report.location,
        summary=f"DEA inspection report from {report.start} to {report.end} ({how})",
        request=request,
    )


def inspection_download(report: InspectionReport) -> HttpResponse:
    response = HttpResponse(inspection_csv(report), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="dea-inspection-{report.location.public_id.hex[:8]}-'
        f'{report.start:%Y-%m-%d}-to-{report.end:%Y-%m-%d}.csv"'
    )
    response["Cache-Control"] = "no-store"
    return response


def _page(
    request: HttpRequest, form: InspectionForm, report: InspectionReport | None, status: int = 200
) -> HttpResponse:
    context = {
        "form": form,
        "report": report,
        "csv_query": urlencode(
            {
                "location": report.location.public_id,
                "start": report.start.isoformat(),
                "end": report.end.isoformat(),
                "format": "csv",
            }
        )
        if report
        else "",
        "generated_at": timezone.now(),
        "can_record": user_can(request.user, LEDGER_CAPABILITY),
    }
    return render(request, "infusions/ledger/inspection.html", context, status=status)
