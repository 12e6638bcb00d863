"""Package pages: the offers and their prices (clinic admins), selling a package to a patient
(the front desk), and the package liability report with its CSV (clinic admins)."""

from __future__ import annotations

import csv
import uuid

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from billing.models import PackageOffer
from billing.package_forms import OfferForm, PackagePriceForm, RetireForm, SellForm
from billing.package_selectors import (
    liability_totals,
    offer_for,
    offers_for,
    offers_on_sale,
    package_liability,
    patient_packages,
)
from billing.packages import (
    package_offer_create,
    package_offer_retire,
    package_price_set,
    package_sell,
    sale_terms,
)
from billing.selectors import billing_patient_for
from billing.views.common import confirmed_action, money
from clinic.audit import Action, audit_record
from clinic.forms import show_service_errors
from clinic.permissions import Capability, capability_required
from patients.models import Patient, PatientStatus
from patients.views.records import audit_patient_view
from scheduling.models import INFUSION_KINDS

# --- Offers (clinic admins) ------------------------------------------------------------------


@capability_required(Capability.MANAGE_PRICES)
def package_offers(request: HttpRequest) -> HttpResponse:
    """The offers, on sale first, with today's price; and a form for a new one."""
    today = timezone.localdate()
    offers = list(offers_for(request.user, today))
    currency = settings.BILLING_CURRENCY
    form = OfferForm(request.POST or None, currency=currency, initial={"effective_from": today})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = dict(form.cleaned_data)
            data["locations"] = list(data["locations"])
            try:
                offer = package_offer_create(actor=request.user, request=request, **data)
            except ValidationError as exc:
                show_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    f"“{offer.name}” is on sale: {offer.visits} visits for "
                    f"{money(data['amount'])} from {data['effective_from']:%b %-d, %Y}.",
                )
                return redirect(reverse("billing:package-offers"))
        status = 400
    context = {"form": form, "offers": offers, "currency": currency}
    return render(request, "billing/packages/offers.html", context, status=status)


@capability_required(Capability.MANAGE_PRICES)
def package_offer_page(request: HttpRequest, offer_id: uuid.UUID) -> HttpResponse:
    """One offer: its prices, newest first, and a form for a new one."""
    offer = offer_for(request.user, offer_id)
    currency = settings.BILLING_CURRENCY
    form = PackagePriceForm(
        request.POST or None, currency=currency, initial={"effective_from": timezone.localdate()}
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                price = package_price_set(
                    actor=request.user, offer=offer, request=request, **form.cleaned_data
                )
            except ValidationError as exc:
                show_service_errors(form, exc, lambda key: "amount" if key == "offer" else key)
            else:
                messages.success(
                    request,
                    f"“{offer.name}” sells at {money(price.amount)} from "
                    f"{price.effective_from:%b %-d, %Y}. Packages already sold keep their price.",
                )
                return redirect(reverse("billing:package-offer", args=[offer.public_id]))
        status = 400
    context = {
        "offer": offer,
        "prices": list(offer.prices.select_related("set_by").order_by("-effective_from")),
        "locations": list(offer.locations.order_by("name")),
        "sold": offer.sold.count(),
        "form": form,
        "currency": currency,
        "today": timezone.localdate(),
    }
    return render(request, "billing/packages/offer.html", context, status=status)


@capability_required(Capability.MANAGE_PRICES)
def package_offer_retire_view(request: HttpRequest, offer_id: uuid.UUID) -> HttpResponse:
    offer = offer_for(request.user, offer_id)
    done_url = reverse("billing:package-offer", args=[offer.public_id])

    def act(data: dict) -> str:
        package_offer_retire(actor=request.user, offer=offer, request=request)
        return f"“{offer.name}” is retired: it is no longer sold. Packages sold are used as before."

    return confirmed_action(
        request,
        RetireForm(request.POST if request.method == "POST" else None),
        context={
            "heading": "Retire the package",
            "button": "Retire it",
            "offer": offer,
            "cancel_url": done_url,
        },
        summary=lambda data: (
            f"“{offer.name}” will no longer be sold. Patients who bought it keep their visits."
        ),
        act=act,
        done_url=done_url,
        template="billing/packages/action.html",
    )


# --- Selling (front desk) --------------------------------------------------------------------


# A patient in one of these may be treated: a package of treatments sold before is money
# the clinic may have to give back if the physician does not approve.
CLEARED_FOR_TREATMENT = (PatientStatus.APPROVED, PatientStatus.IN_TREATMENT)


def _not_cleared_yet(patient: Patient, offer: PackageOffer) -> str:
    """A warning for the confirmation: a package of treatments for a patient not approved."""
    if offer.appointment_type.kind not in INFUSION_KINDS or patient.status in CLEARED_FOR_TREATMENT:
        return ""
    return (
        f" Note: {patient.display_name} is not approved for treatment yet "
        f"({patient.get_status_display().lower()}); treatments are usually sold after the "
        "physician's approval, or the money may have to be given back."
    )


@capability_required(Capability.TAKE_PAYMENTS)
def package_sell_view(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Choose the package and where it is sold, read what will happen, confirm: the invoice is
    issued and the page to take its payment opens."""
    patient = billing_patient_for(request.user, patient_id)
    cancel_url = reverse("billing:patient", args=[patient.public_id])
    offers = offers_on_sale().select_related("appointment_type")
    initial = {"location": getattr(patient.preferred_location, "public_id", None)}
    form = SellForm(request.POST or None, offers=offers, initial=initial)
    status, step, summary = 200, "form", ""
    if request.method == "POST":
        if not form.is_valid():
            status = 400
        elif "change" not in request.POST:
            offer, location = form.cleaned_data["offer"], form.cleaned_data["location"]
            try:
                if request.POST.get("confirmed") != "yes":
                    price = sale_terms(offer, location)
                    step = "confirm"
                    summary = (
                        f"Sell “{offer.name}” ({offer.visits} × "
                        f"{offer.appointment_type.name.lower()}) to {patient.display_name} at "
                        f"{location.name} for {money(price.amount)}. An invoice for that amount "
                        "is issued now; you take the payment on its page. Each visit of the kind "
                        "that ends is then covered by the package."
                    ) + _not_cleared_yet(patient, offer)
                else:
                    package = package_sell(
                        actor=request.user,
                        patient=patient,
                        offer=offer,
                        location=location,
                        request=request,
                    )
                    messages.success(
                        request,
                        f"Sold “{package.name}”: invoice {package.invoice.number} for "
                        f"{money(package.price)} is issued. Take the payment below.",
                    )
                    return redirect(reverse("billing:invoice", args=[package.invoice.public_id]))
            except ValidationError as exc:
                show_service_errors(form, exc)
                status = 400
    context = {
        "patient": patient,
        "form": form,
        "step": step,
        "summary": summary,
        "cancel_url": cancel_url,
        "heading": "Sell a package",
        "button": "Sell the package",
        "no_offers": not offers.exists(),
    }
    return render(request, "billing/packages/action.html", context, status=status)


@require_GET
@capability_required(Capability.VIEW_BILLING)
def patient_package_list(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Every package of the patient, with its uses (one query for the uses of all)."""
    patient = billing_patient_for(request.user, patient_id)
    audit_patient_view(request, patient, "viewed the packages")
    packages = list(patient_packages(patient).prefetch_related("uses__appointment__location"))
    context = {
        "patient": patient,
        "packages": packages,
        "currency": settings.BILLING_CURRENCY,
    }
    return render(request, "billing/packages/patient.html", context)


# --- The liability report (clinic admins) ----------------------------------------------------


CSV_HEADER = [
    "location",
    "package",
    "packages_sold",
    "visits_sold",
    "visits_used",
    "visits_left",
    "not_yet_earned",
    "currency",
]


@require_GET
@capability_required(Capability.MANAGE_PRICES)
def package_liability_view(request: HttpRequest) -> HttpResponse:
    """Per location and package: sold, used, left, and the money not yet earned; as a page or,
    with ``?format=csv``, a file."""
    rows = package_liability(request.user)
    totals = liability_totals(rows)
    currency = settings.BILLING_CURRENCY
    audit_record(
        actor=request.user,
        action=Action.VIEW,
        summary="viewed the package liability report"
        + (" as CSV" if request.GET.get("format") == "csv" else ""),
        request=request,
    )
    if request.GET.get("format") == "csv":
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        day = timezone.localdate()
        response["Content-Disposition"] = f'attachment; filename="package-liability-{day}.csv"'
        writer = csv.writer(response)
        writer.writerow(CSV_HEADER)
        for row in [*rows, totals] if rows else []:
            writer.writerow(
                [
                    _cell(row.location),
                    _cell(row.offer),
                    row.packages,
                    row.sold,
                    row.used,
                    row.left,
                    f"{row.unearned:.2f}",
                    currency,
                ]
            )
        return response
    context = {"rows": rows, "totals": totals, "currency": currency}
    return render(request, "billing/packages/liability.html", context)


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
