"""A patient's billing page: the balance, the invoices (a page at a time) and the latest
payments; and every payment, a page at a time. For the front desk and clinic admins;
clinicians see the balance on the chart only."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from billing.cards import CARD_ON_FILE_POLICY, card_on_file, cards_enabled
from billing.models import PackageUse
from billing.package_selectors import patient_packages
from billing.selectors import (
    balance_of,
    billing_patient_for,
    patient_invoices,
    patient_payments,
    settlement,
)
from clinic.paging import list_page
from clinic.permissions import Capability, capability_required, user_can
from patients.views.records import audit_patient_view

INVOICES_PER_PAGE = 20
PAYMENTS_PER_PAGE = 25
LATEST_PAYMENTS = 5


@require_GET
@capability_required(Capability.VIEW_BILLING)
def patient_billing(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    patient = billing_patient_for(request.user, patient_id)
    audit_patient_view(request, patient, "viewed the billing page")
    # Whether a package covers the visit, so that a draft at no charge is not taken for one
    # with no price (in the same query).
    covered = PackageUse.objects.filter(invoice=OuterRef("pk"), released_at__isnull=True)
    page = list_page(
        patient_invoices(patient).annotate(covered=Exists(covered)),
        per_page=INVOICES_PER_PAGE,
        number=request.GET.get("page"),
    )
    invoices = [(invoice, settlement(invoice)) for invoice in page.object_list]
    latest = list(patient_payments(patient)[: LATEST_PAYMENTS + 1])
    context = {
        "patient": patient,
        "balance": balance_of(patient),
        "currency": settings.BILLING_CURRENCY,
        "page": page,
        "invoices": invoices,
        "payments": latest[:LATEST_PAYMENTS],
        "more_payments": len(latest) > LATEST_PAYMENTS,
        "cards_on": cards_enabled(),
        "card": card_on_file(patient),
        "card_policy": CARD_ON_FILE_POLICY,
        "may_take_payments": user_can(request.user, Capability.TAKE_PAYMENTS),
        # Every package, voided ones too (a patient holds a handful): one query.
        "packages": list(patient_packages(patient)),
    }
    return render(request, "billing/patient.html", context)


@require_GET
@capability_required(Capability.VIEW_BILLING)
def patient_payment_list(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    patient = billing_patient_for(request.user, patient_id)
    audit_patient_view(request, patient, "viewed the payments")
    page = list_page(
        patient_payments(patient), per_page=PAYMENTS_PER_PAGE, number=request.GET.get("page")
    )
    context = {"patient": patient, "page": page, "currency": settings.BILLING_CURRENCY}
    return render(request, "billing/payments.html", context)
