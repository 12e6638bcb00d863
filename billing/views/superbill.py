"""The superbill pages: one visit's (from its invoice) and a patient's for a date range, both
printable (the browser's print to PDF: see ``templates/billing/superbill.html``); and the
codes behind them, for clinic admins (*Billing → Superbill codes*).

Who may see a superbill is ``billing.superbill``'s access functions' call (the front desk
and clinic admins); every read is in the audit log, as the invoice and billing pages are.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from billing.codes import (
    diagnosis_code_set,
    practice_details_set,
    service_code_save,
)
from billing.models import DiagnosisCode, PlaceOfService, PracticeDetails, ServiceCode, UnitsRule
from billing.selectors import billing_patient_for, invoice_for
from billing.superbill import (
    MAX_RANGE_DAYS,
    NotBillableYet,
    Superbill,
    invoice_superbill_for,
    range_superbill_for,
)
from billing.views.common import audit_invoice_view
from clinic.conditions import Condition
from clinic.forms import show_service_errors
from clinic.models import Location
from clinic.permissions import Capability, capability_required
from patients.views.records import audit_patient_view
from scheduling.models import AppointmentType


def _render(request: HttpRequest, bill: Superbill | None, **context: Any) -> HttpResponse:
    status = context.pop("status", 200)
    return render(
        request,
        "billing/superbill.html",
        {"bill": bill, "printed_on": timezone.localdate(), **context},
        status=status,
    )


@require_GET
@capability_required(Capability.VIEW_BILLING)
def invoice_superbill(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """One visit's superbill, from its invoice."""
    try:
        bill = invoice_superbill_for(request.user, invoice_id)
    except NotBillableYet:
        invoice = invoice_for(request.user, invoice_id)
        audit_invoice_view(request, invoice, "the superbill (not issued)")
        return _render(request, None, invoice=invoice, patient=invoice.patient)
    invoice = bill.visits[0].invoice
    audit_invoice_view(request, invoice, "the superbill")
    return _render(request, bill, invoice=invoice, patient=bill.patient)


class RangeForm(forms.Form):
    start = forms.DateField(
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": "Enter the first day.", "invalid": "Enter a date."},
    )
    end = forms.DateField(
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"required": "Enter the last day.", "invalid": "Enter a date."},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "The last day comes before the first: swap them.")
            elif (end - start).days >= MAX_RANGE_DAYS:
                self.add_error(
                    "end", f"One superbill covers {MAX_RANGE_DAYS} days at most: shorten it."
                )
        return data


@require_GET
@capability_required(Capability.VIEW_BILLING)
def patient_superbill(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Every visit of the patient from ``?start=`` to ``?end=`` (dates only in the URL); this
    year so far unless asked."""
    patient = billing_patient_for(request.user, patient_id)
    today = timezone.localdate()
    asked = "start" in request.GET or "end" in request.GET
    form = RangeForm(
        request.GET if asked else None,
        initial={"start": today.replace(month=1, day=1), "end": today},
    )
    if asked and not form.is_valid():
        audit_patient_view(request, patient, "opened the superbill (bad dates)")
        return _render(
            request, None, patient=patient, form=form, ranges=quick_ranges(today), status=400
        )
    start: date = form.cleaned_data["start"] if asked else today.replace(month=1, day=1)
    end: date = form.cleaned_data["end"] if asked else today
    bill = range_superbill_for(request.user, patient_id, start, end)
    audit_patient_view(request, patient, f"viewed the superbill for {start} to {end}")
    return _render(request, bill, patient=patient, form=form, ranges=quick_ranges(today))


# --- The codes, for clinic admins ------------------------------------------------------------


def codes_url() -> str:
    return reverse("billing:superbill-codes")


@require_GET
@capability_required(Capability.MANAGE_PRICES)
def superbill_codes(request: HttpRequest) -> HttpResponse:
    locations = list(Location.objects.filter(is_active=True))
    details = {row.location_id: row for row in PracticeDetails.objects.all()}
    kinds = list(AppointmentType.objects.all())
    codes: dict[int, list[ServiceCode]] = {kind.pk: [] for kind in kinds}
    for code in ServiceCode.objects.order_by("position", "id"):
        codes.setdefault(code.appointment_type_id, []).append(code)
    diagnoses = {row.condition: row for row in DiagnosisCode.objects.all()}
    context = {
        "clinic_wide": details.get(None),
        "locations": [(location, details.get(location.pk)) for location in locations],
        "kinds": [(kind, codes[kind.pk]) for kind in kinds],
        "conditions": [(value, label, diagnoses.get(value)) for value, label in Condition.choices],
    }
    return render(request, "billing/superbill_codes.html", context)


class PracticeForm(forms.Form):
    practice_name = forms.CharField(label="Practice name", required=False, max_length=200)
    address = forms.CharField(
        label="Billing address",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One line per line of the address. Empty: the location's own address.",
    )
    npi = forms.CharField(
        label="NPI", required=False, max_length=14, help_text="10 digits, e.g. 1234567893."
    )
    tax_id = forms.CharField(
        label="Tax id (EIN)", required=False, max_length=12, help_text="e.g. 12-3456789."
    )
    place_of_service = forms.ChoiceField(
        label="Place of service",
        required=False,
        choices=[("", "Not set (a location: as the clinic)"), *PlaceOfService.choices],
    )


def _form_page(request: HttpRequest, form: forms.Form, title: str, intro: str, status: int = 200):
    return render(
        request,
        "billing/superbill_form.html",
        {"form": form, "title": title, "intro": intro, "cancel_url": codes_url()},
        status=status,
    )


@capability_required(Capability.MANAGE_PRICES)
def practice_edit(request: HttpRequest, location_id: uuid.UUID | None = None) -> HttpResponse:
    location = get_object_or_404(Location, public_id=location_id) if location_id else None
    current = PracticeDetails.objects.filter(location=location).first()
    initial = (
        {
            name: getattr(current, name)
            for name in ("practice_name", "address", "npi", "tax_id", "place_of_service")
        }
        if current
        else {}
    )
    form = PracticeForm(request.POST or None, initial=initial)
    where = location.name if location else "the whole clinic"
    intro = (
        f"What {location.name}'s superbills say where it differs from the clinic's: leave a "
        "field empty to use the clinic's."
        if location
        else "What every superbill says about the practice, unless a location sets its own."
    )
    if request.method == "POST" and form.is_valid():
        try:
            practice_details_set(
                actor=request.user, location=location, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            messages.success(request, f"Saved the practice details for {where}.")
            return redirect(codes_url())
    status = 400 if request.method == "POST" else 200
    return _form_page(request, form, f"Practice details: {where}", intro, status)


class ServiceCodeForm(forms.Form):
    appointment_type = forms.ModelChoiceField(
        label="Kind of visit", queryset=AppointmentType.objects.all(), empty_label=None
    )
    code = forms.CharField(label="CPT or HCPCS code", max_length=5)
    description = forms.CharField(max_length=200)
    units_rule = forms.ChoiceField(label="Units", choices=UnitsRule.choices)
    position = forms.IntegerField(
        label="Order",
        min_value=0,
        max_value=99,
        initial=0,
        help_text="The first code that applies to a visit carries the visit's price.",
    )
    is_active = forms.BooleanField(label="In use", required=False, initial=True)


@capability_required(Capability.MANAGE_PRICES)
def service_code_edit(request: HttpRequest, code_id: uuid.UUID | None = None) -> HttpResponse:
    row = get_object_or_404(ServiceCode, public_id=code_id) if code_id else None
    initial = (
        {
            "appointment_type": row.appointment_type_id,
            "code": row.code,
            "description": row.description,
            "units_rule": row.units_rule,
            "position": row.position,
            "is_active": row.is_active,
        }
        if row
        else {}
    )
    form = ServiceCodeForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = service_code_save(
                actor=request.user, service_code=row, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            messages.success(
                request, f"Saved {saved.code} for {saved.appointment_type.name.lower()} visits."
            )
            return redirect(codes_url())
    status = 400 if request.method == "POST" else 200
    title = f"Service code {row.code}" if row else "Add a service code"
    intro = (
        "Switch a code off rather than changing it into another: superbills already printed "
        "keep what they said."
    )
    return _form_page(request, form, title, intro, status)


class DiagnosisForm(forms.Form):
    code = forms.CharField(
        label="ICD-10-CM code", required=False, max_length=8, help_text="e.g. F33.2. Empty: none."
    )
    description = forms.CharField(required=False, max_length=200)


@capability_required(Capability.MANAGE_PRICES)
def diagnosis_edit(request: HttpRequest, condition: str) -> HttpResponse:
    if condition not in Condition.values:
        raise Http404("The clinic treats no such condition.")
    row = DiagnosisCode.objects.filter(condition=condition).first()
    initial = {"code": row.code, "description": row.description} if row else {}
    form = DiagnosisForm(request.POST or None, initial=initial)
    label = Condition(condition).label
    if request.method == "POST" and form.is_valid():
        try:
            diagnosis_code_set(
                actor=request.user, condition=condition, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            messages.success(request, f"Saved the diagnosis code for {label.lower()}.")
            return redirect(codes_url())
    status = 400 if request.method == "POST" else 200
    intro = "The code superbills give patients treated for this condition."
    return _form_page(request, form, f"Diagnosis code: {label}", intro, status)


# Ranges the patient billing page offers with one click.
def quick_ranges(today: date) -> list[tuple[str, date, date]]:
    first_of_month = today.replace(day=1)
    last_month_end = first_of_month - timedelta(days=1)
    return [
        ("This year", today.replace(month=1, day=1), today),
        ("Last month", last_month_end.replace(day=1), last_month_end),
        ("Last year", date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
    ]
