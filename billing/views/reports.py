"""The billing index and its reports, for the front desk and clinic admins (VIEW_BILLING):
the daily close of a location (and its CSV), the aged balances (and their CSV) and the open
invoices. The sums are ``billing.reports``'; who may read them is ``reports_locations``.
"""

from __future__ import annotations

import csv
from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from billing.models import Invoice, InvoiceStatus
from billing.reports import (
    AGE_BUCKETS,
    AGED_SORTS,
    age_in_days,
    aged_balances,
    aged_totals,
    bucket_of,
    daily_close,
    daily_close_rows,
    local_today,
    reports_locations,
    spreadsheet_text,
)
from billing.selectors import invoices_with_sums, settlement
from clinic.audit import Action, audit_record
from clinic.models import Location
from clinic.paging import list_page
from clinic.permissions import Capability, capability_required, user_can
from patients.models import Patient

AGED_PER_PAGE = 50
OPEN_PER_PAGE = 50
# The CSV of the aged balances holds every patient who owes, read in chunks of this many.
CSV_CHUNK = 500


@require_GET
@capability_required(Capability.VIEW_BILLING)
def billing_index(request: HttpRequest) -> HttpResponse:
    context = {
        "may_manage_prices": user_can(request.user, Capability.MANAGE_PRICES),
        "buckets": AGE_BUCKETS,
    }
    return render(request, "billing/reports/index.html", context)


def _chosen_location(
    request: HttpRequest, locations: list[Location]
) -> tuple[Location | None, str]:
    """The location the query names (or the first one), and a problem to show if the query
    names one that is not there."""
    wanted = request.GET.get("location", "")
    if not locations:
        return None, ""
    if not wanted:
        return locations[0], ""
    for location in locations:
        if str(location.public_id) == wanted:
            return location, ""
    return locations[0], "That location is not in the list: showing the first one instead."


def _chosen_day(request: HttpRequest, location: Location) -> tuple[date, str]:
    today = local_today(location)
    wanted = request.GET.get("date", "")
    if not wanted:
        return today, ""
    try:
        day = date.fromisoformat(wanted)
    except ValueError:
        return today, "Enter the date as YYYY-MM-DD, e.g. 2026-03-27. Showing today instead."
    if not date(2000, 1, 1) <= day <= date(2199, 12, 30):
        return today, "Choose a date between 2000 and 2199. Showing today instead."
    return day, ""


def _close_for(request: HttpRequest) -> dict[str, Any]:
    locations = list(reports_locations(request.user))
    location, problem = _chosen_location(request, locations)
    context: dict[str, Any] = {"locations": locations, "location": location, "problems": []}
    if problem:
        context["problems"].append(problem)
    if location is None:
        return context
    day, problem = _chosen_day(request, location)
    if problem:
        context["problems"].append(problem)
    today = local_today(location)
    context |= {
        "day": day,
        "today": today,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1) if day < today else None,
        "close": daily_close(location, day),
        "currency": settings.BILLING_CURRENCY,
    }
    return context


@require_GET
@capability_required(Capability.VIEW_BILLING)
def daily_close_page(request: HttpRequest) -> HttpResponse:
    """The close of a location's day: eight queries for the books (the locations, then the
    close), however many payments the day had."""
    context = _close_for(request)
    status = 400 if context["problems"] else 200
    return render(request, "billing/reports/close.html", context, status=status)


@require_GET
@capability_required(Capability.VIEW_BILLING)
def daily_close_csv(request: HttpRequest) -> HttpResponse:
    context = _close_for(request)
    if context["problems"] or context["location"] is None:
        # What to fix (400), or that there is no location to close yet.
        status = 400 if context["problems"] else 200
        return render(request, "billing/reports/close.html", context, status=status)
    close = context["close"]
    audit_record(
        actor=request.user,
        action=Action.EXPORT,
        object_type="billing.payment",
        summary=f"downloaded the daily close of {close.location.name} for {close.day} (CSV)",
        request=request,
    )
    filename = f"daily-close-{close.day.isoformat()}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    csv.writer(response).writerows(daily_close_rows(close))
    return response


# --- Aged balances -----------------------------------------------------------------------------


def _aged_query(request: HttpRequest) -> dict[str, Any]:
    locations = list(reports_locations(request.user))
    problems = []
    location = None
    wanted = request.GET.get("location", "")
    if wanted:
        location = next((loc for loc in locations if str(loc.public_id) == wanted), None)
        if location is None:
            problems.append("That location is not in the list: showing every location.")
    sort = request.GET.get("sort", "amount")
    if sort not in AGED_SORTS:
        problems.append("Sort by amount or by age. Showing the largest amounts first.")
        sort = "amount"
    return {"locations": locations, "location": location, "sort": sort, "problems": problems}


def _with_patients(rows: list[dict[str, Any]], now: Any) -> list[dict[str, Any]]:
    """Each row with its patient (one query for the page) and the age of its oldest unpaid
    invoice."""
    patients = Patient.objects.in_bulk([row["patient_id"] for row in rows])
    for row in rows:
        row["patient"] = patients[row["patient_id"]]
        row["age_days"] = age_in_days(row["oldest"], now)
        row["bucket"] = bucket_of(row["age_days"])
    return rows


@require_GET
@capability_required(Capability.VIEW_BILLING)
def aged_balances_page(request: HttpRequest) -> HttpResponse:
    """Patients who owe, oldest debt or largest first: four queries for the books (the
    locations, the bucket totals, the page, its patients), however many owe."""
    context = _aged_query(request)
    now = timezone.now()
    rows = aged_balances(location=context["location"], sort=context["sort"])
    page = list_page(rows, per_page=AGED_PER_PAGE, number=request.GET.get("page"))
    context |= {
        "totals": aged_totals(rows, now),
        "page": page,
        "rows": _with_patients(list(page.object_list), now),
        "currency": settings.BILLING_CURRENCY,
    }
    audit_record(
        actor=request.user,
        action=Action.VIEW,
        object_type="patients.patient",
        summary=f"viewed the aged balances: page {page.number}, {len(context['rows'])} patients",
        request=request,
    )
    status = 400 if context["problems"] else 200
    return render(request, "billing/reports/aged.html", context, status=status)


@require_GET
@capability_required(Capability.VIEW_BILLING)
def aged_balances_csv(request: HttpRequest) -> HttpResponse:
    context = _aged_query(request)
    if context["problems"]:
        return aged_balances_page(request)
    now = timezone.now()
    rows = aged_balances(location=context["location"], sort=context["sort"])
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="aged-balances.csv"'
    writer = csv.writer(response)
    writer.writerow(
        ["Patient id", "Patient", "Owed", "Invoices owing", "Oldest issued", "Age (days)", "Bucket"]
    )
    written = 0
    for start in range(0, 10**9, CSV_CHUNK):
        chunk = _with_patients(list(rows[start : start + CSV_CHUNK]), now)
        for row in chunk:
            writer.writerow(
                [
                    row["patient"].public_id,
                    spreadsheet_text(row["patient"].display_name),
                    f"{row['owed']:.2f}",
                    row["invoices"],
                    row["oldest"].date().isoformat(),
                    row["age_days"],
                    row["bucket"].label,
                ]
            )
        written += len(chunk)
        if len(chunk) < CSV_CHUNK:
            break
    audit_record(
        actor=request.user,
        action=Action.EXPORT,
        object_type="patients.patient",
        summary=f"downloaded the aged balances (CSV): {written} patients",
        request=request,
    )
    return response


# --- Open invoices -----------------------------------------------------------------------------


def open_invoices(location: Location | None) -> QuerySet[Invoice]:
    """Drafts waiting to be issued and issued invoices that still owe, newest first."""
    rows = invoices_with_sums(
        Invoice.objects.filter(status__in=[InvoiceStatus.DRAFT, InvoiceStatus.ISSUED])
    ).filter(Q(status=InvoiceStatus.DRAFT) | Q(due__gt=0))
    if location is not None:
        rows = rows.filter(location=location)
    return rows.select_related("patient", "location").order_by("-created_at", "-id")


@require_GET
@capability_required(Capability.VIEW_BILLING)
def open_invoices_page(request: HttpRequest) -> HttpResponse:
    context = _aged_query(request)
    page = list_page(
        open_invoices(context["location"]), per_page=OPEN_PER_PAGE, number=request.GET.get("page")
    )
    context |= {
        "page": page,
        "invoices": [(invoice, settlement(invoice)) for invoice in page.object_list],
        "currency": settings.BILLING_CURRENCY,
    }
    audit_record(
        actor=request.user,
        action=Action.VIEW,
        object_type="billing.invoice",
        summary=f"viewed the open invoices: page {page.number}, {len(page.object_list)} shown",
        request=request,
    )
    status = 400 if context["problems"] else 200
    return render(request, "billing/reports/open.html", context, status=status)
