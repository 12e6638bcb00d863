"""The controlled-substance ledger's pages, under /staff/ledger/: read and exported by nurses,
physicians and clinic admins (``LEDGER_READ_CAPABILITY``), written by those who handle the
drug (``LEDGER_CAPABILITY``: nurses and physicians).

- the stock: every lot with its balance, per location, searchable;
- receiving a delivery (``infusions.ledger.lot_receive``);
- one lot: its entries as a running balance, and the forms that add to it (witnessed waste,
  adjustments, counts), each confirmed first because a ledger record is permanent;
- the CSV export of a date range, for inspections.

Lots are fetched through ``infusions.selectors.lots_visible_to`` / ``lot_for`` only; every
write goes through ``infusions.ledger``, whose refusals are shown next to the fields and
change nothing. Records are kept (at least two years) and never edited or deleted: there is
no delete path here, and corrections are new adjustments.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, TypeVar
from uuid import UUID

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import DateField, DateTimeField, F, Func, Q, QuerySet, Value
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from clinic.audit import Action, audit_record
from clinic.forms import show_service_errors
from clinic.permissions import capability_required, user_can
from clinic.selectors import locations_visible_to
from infusions.forms_ledger import (
    AdjustmentForm,
    CountForm,
    ExportForm,
    LotFilterForm,
    LotReceiveForm,
    WasteForm,
)
from infusions.inventories import inventories_due
from infusions.ledger import (
    LEDGER_CAPABILITY,
    LEDGER_READ_CAPABILITY,
    MG_PLACES,
    ledger_adjust,
    ledger_count,
    ledger_waste,
    lot_receive,
)
from infusions.ledger_reports import ledger_csv
from infusions.models import LedgerEntry, Lot
from infusions.selectors import lot_for, lots_visible_to

LOTS_PER_PAGE = 25
ENTRIES_PER_PAGE = 50
EXPIRY_WARNING_DAYS = 30
ML_PLACES = Decimal("0.01")
FormT = TypeVar("FormT", bound=forms.Form)


# --- The stock ---------------------------------------------------------------------------


@require_GET
@capability_required(LEDGER_READ_CAPABILITY)
def lot_list(request: HttpRequest) -> HttpResponse:
    form = LotFilterForm(request.GET, locations=locations_visible_to(request.user))
    form.is_valid()  # an invalid filter is shown with its error and ignored
    filters = form.cleaned_data
    lots = lots_visible_to(request.user)
    if filters.get("location"):
        lots = lots.filter(location=filters["location"])
    if filters.get("q"):
        lots = lots.filter(
            Q(lot_number__icontains=filters["q"]) | Q(product_name__icontains=filters["q"])
        )
    if not filters.get("show_all"):
        lots = lots_in_stock(lots)
    lots = lots.order_by("location__name", "expiry_date", "received_at", "id")
    page = Paginator(lots, LOTS_PER_PAGE).get_page(request.GET.get("page"))
    now = timezone.now()
    context = {
        "form": form,
        "page": page,
        "rows": [lot_row(lot, now) for lot in page.object_list],
        "filtered": bool(filters.get("location") or filters.get("q")),
        "show_all": bool(filters.get("show_all")),
        "can_record": user_can(request.user, LEDGER_CAPABILITY),
        # Inventories due soon or overdue, at the locations the list shows.
        "due": inventories_due(
            locations_visible_to(request.user).filter(is_active=True).order_by("name")
        ),
    }
    return render(request, "infusions/ledger/lot_list.html", context)


def lots_in_stock(lots: QuerySet[Lot]) -> QuerySet[Lot]:
    """Lots with drug left that have not expired, by the date at their own location."""
    # The application's clock, not the database's now(): the rows (lot_row) and every other
    # date rule read timezone.now(), and the two clocks need not agree.
    now = Value(timezone.now(), output_field=DateTimeField())
    local_today = Cast(
        Func(F("location__time_zone"), now, function="timezone", output_field=DateTimeField()),
        output_field=DateField(),
    )
    return lots.alias(local_today=local_today).filter(
        balance_mg__gt=0, expiry_date__gte=F("local_today")
    )


def lot_row(lot: Lot, now: datetime) -> dict[str, Any]:
    """What the stock list and the lot page show about ``lot``, on its location's calendar."""
    today = now.astimezone(lot.location.tz).date()
    days_left = (lot.expiry_date - today).days
    if days_left < 0:
        expiry = f"Expired {lot.expiry_date:%b} {lot.expiry_date.day}, {lot.expiry_date.year}"
    elif days_left <= EXPIRY_WARNING_DAYS:
        expiry = {0: "Expires today", 1: "Expires tomorrow"}.get(
            days_left, f"Expires in {days_left} days"
        )
    else:
        expiry = ""
    return {
        "lot": lot,
        "expired": days_left < 0,
        "expiry_warning": expiry,
        "balance_ml": (lot.balance_mg / lot.concentration_mg_per_ml).quantize(
            ML_PLACES, rounding=ROUND_HALF_UP
        ),
    }


# --- Receiving ---------------------------------------------------------------------------


@capability_required(LEDGER_CAPABILITY)
def lot_receive_page(request: HttpRequest) -> HttpResponse:
    form = LotReceiveForm(request.POST or None, locations=locations_visible_to(request.user))
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        location = data.pop("location")
        wall_clock = data.pop("received_at")
        try:
            lot = lot_receive(
                actor=request.user,
                location=location,
                received_at=wall_clock.replace(tzinfo=location.tz) if wall_clock else None,
                request=request,
                **data,
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            messages.success(
                request,
                f"Received lot {lot.lot_number}: {lot.balance_mg} mg at {location}.",
            )
            return redirect("ledger:lot", lot_id=lot.public_id)
    return render(request, "infusions/ledger/receive.html", {"form": form, "can_record": True})


# --- One lot -----------------------------------------------------------------------------


@require_GET
@capability_required(LEDGER_READ_CAPABILITY)
def lot_detail(request: HttpRequest, lot_id: UUID) -> HttpResponse:
    lot = lot_for(request.user, lot_id)
    return _lot_page(request, lot)


@require_POST
@capability_required(LEDGER_CAPABILITY)
def lot_waste(request: HttpRequest, lot_id: UUID) -> HttpResponse:
    lot = lot_for(request.user, lot_id)
    form = WasteForm(request.POST, actor=request.user)
    if form.is_valid():
        data = form.cleaned_data
        try:
            entry = ledger_waste(
                actor=request.user,
                lot=lot,
                amount_mg=data["amount_mg"],
                witness=data["witness"],
                witness_password=data["witness_password"],
                witness_otp=data["witness_otp"],
                reason=data["reason"],
                request=request,
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            messages.success(
                request,
                f"Recorded {-entry.amount_mg.quantize(MG_PLACES)} mg wasted from lot "
                f"{lot.lot_number}, witnessed by {entry.witness}. The balance is "
                f"{entry.balance_after_mg} mg.",
            )
            return redirect(lot_url(lot))
    return _lot_page(request, lot, waste_form=_unconfirmed(form))


@require_POST
@capability_required(LEDGER_CAPABILITY)
def lot_adjust(request: HttpRequest, lot_id: UUID) -> HttpResponse:
    lot = lot_for(request.user, lot_id)
    form = AdjustmentForm(request.POST, entries=_entries_to_correct(lot), describe=describe_entry)
    if form.is_valid():
        data = form.cleaned_data
        try:
            entry = ledger_adjust(
                actor=request.user,
                lot=lot,
                amount_mg=data["amount_mg"],
                reason=data["reason"],
                corrects=form.corrected_entry(),
                request=request,
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            messages.success(
                request,
                f"Recorded an adjustment of {entry.amount_mg.quantize(MG_PLACES):+} mg to lot "
                f"{lot.lot_number}. The balance is {entry.balance_after_mg} mg.",
            )
            return redirect(lot_url(lot))
    return _lot_page(request, lot, adjust_form=_unconfirmed(form))


@require_POST
@capability_required(LEDGER_CAPABILITY)
def lot_count(request: HttpRequest, lot_id: UUID) -> HttpResponse:
    lot = lot_for(request.user, lot_id)
    form = CountForm(request.POST, lot=lot)
    if form.is_valid():
        data = form.cleaned_data
        try:
            count = ledger_count(
                actor=request.user,
                lot=lot,
                counted_mg=data["counted_mg"],
                explanation=data["explanation"],
                request=request,
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            if count.discrepancy_mg:
                done = (
                    f"Recorded the count of lot {lot.lot_number}: {count.counted_mg} mg, "
                    f"{count.discrepancy_mg:+} mg against the book, booked as an adjustment. "
                    "Report a significant loss to the DEA within one business day."
                )
            else:
                done = f"Recorded the count of lot {lot.lot_number}: it matches the book."
            messages.success(request, done)
            return redirect(lot_url(lot))
    return _lot_page(request, lot, count_form=_unconfirmed(form))


def _unconfirmed(form: FormT) -> FormT:
    """A refused record shows again with its box cleared: once corrected, it is confirmed
    afresh (the witness's password is never shown again either)."""
    form.data = form.data.copy()
    form.data.pop(form.add_prefix("confirm"), None)
    return form


def lot_url(lot: Lot) -> str:
    return reverse("ledger:lot", kwargs={"lot_id": lot.public_id})


def describe_entry(entry: LedgerEntry) -> str:
    """An entry in a few words, for the list of entries an adjustment may correct."""
    when = timezone.localtime(entry.occurred_at, entry.lot.location.tz)
    return (
        f"{entry.get_kind_display()} {entry.amount_mg:+} mg on {when:%Y-%m-%d %H:%M} "
        f"(#{short_id(entry)})"
    )


def short_id(entry: LedgerEntry) -> str:
    return str(entry.public_id)[:8]


def _entries_to_correct(lot: Lot) -> list[LedgerEntry]:
    """The lot's entries, newest first (one query; the lot's location is already known)."""
    entries = list(lot.entries.order_by("-created_at", "-id"))
    for entry in entries:
        entry.lot = lot
    return entries


def _lot_page(
    request: HttpRequest,
    lot: Lot,
    *,
    waste_form: WasteForm | None = None,
    adjust_form: AdjustmentForm | None = None,
    count_form: CountForm | None = None,
) -> HttpResponse:
    entries = lot.entries.select_related(
        "recorded_by", "witness", "patient", "session", "corrects"
    ).order_by("created_at", "id")
    paginator = Paginator(entries, ENTRIES_PER_PAGE)
    # The latest entries first come into view: the last page unless another is asked for.
    page = paginator.get_page(request.GET.get("page") or paginator.num_pages)
    for entry in page.object_list:
        entry.lot = lot
    # The entries name patients: reading them is reading patient data.
    audit_record(
        actor=request.user,
        action=Action.VIEW,
        target=lot,
        summary="ketamine lot ledger entries",
        request=request,
    )
    context = {
        "lot": lot,
        "row": lot_row(lot, timezone.now()),
        "location": lot.location,
        "page": page,
        "entries": [
            {"entry": entry, "short_id": short_id(entry), "corrects_id": _corrects_id(entry)}
            for entry in page.object_list
        ],
        "waste_form": waste_form or WasteForm(actor=request.user),
        "adjust_form": adjust_form
        or AdjustmentForm(entries=_entries_to_correct(lot), describe=describe_entry),
        "count_form": count_form
        or CountForm(
            lot=lot,
            initial={"counted_mg": lot.devices_left if lot.is_devices else lot.balance_mg},
        ),
        "open_form": (
            "waste" if waste_form else "adjust" if adjust_form else "count" if count_form else ""
        ),
        # Clinic admins read the ledger; only those who handle the drug add to it.
        "can_record": user_can(request.user, LEDGER_CAPABILITY),
    }
    return render(request, "infusions/ledger/lot_detail.html", context)


def _corrects_id(entry: LedgerEntry) -> str:
    return str(entry.corrects.public_id)[:8] if entry.corrects else ""


# --- The export --------------------------------------------------------------------------


@require_GET
@capability_required(LEDGER_READ_CAPABILITY)
def ledger_export(request: HttpRequest) -> HttpResponse:
    """The form (last 30 days by default); with ``start`` and ``end``, the CSV itself."""
    if "start" not in request.GET and "end" not in request.GET:
        form = ExportForm(initial=ExportForm.initial_for(timezone.localdate()))
        return _export_page(request, form)
    form = ExportForm(request.GET)
    if form.is_valid():
        start, end = form.cleaned_data["start"], form.cleaned_data["end"]
        try:
            content = ledger_csv(start=start, end=end)
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            return csv_download(request, content, start, end)
    return _export_page(request, form)


def _export_page(request: HttpRequest, form: ExportForm) -> HttpResponse:
    context = {"form": form, "can_record": user_can(request.user, LEDGER_CAPABILITY)}
    return render(request, "infusions/ledger/export.html", context)


def csv_download(request: HttpRequest, content: str, start: date, end: date) -> HttpResponse:
    # The file names patients: the export itself is in the audit log (dates only).
    audit_record(
        actor=request.user,
        action=Action.EXPORT,
        object_type=LedgerEntry._meta.label_lower,
        summary=f"exported the ketamine ledger from {start} to {end} as CSV",
        request=request,
    )
    response = HttpResponse(content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = (
        f'attachment; filename="ketamine-ledger-{start:%Y-%m-%d}-to-{end:%Y-%m-%d}.csv"'
    )
    response["Cache-Control"] = "no-store"
    return response
