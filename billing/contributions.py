"""What ``billing`` adds to pages other apps own, registered from ``BillingConfig.ready``:
the patient's balance on the chart (``patients.views.chart.chart_page``), for everyone who
may see it, with a way to the invoices for those who may see them; and the visit's invoice on
the appointment page (``scheduling.views.appointments.appointment_page``) for the front desk."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings

from billing.models import Invoice
from billing.selectors import balance_for, can_see_billing, with_balance
from patients.models import Patient
from patients.views.chart import chart_page, chart_patient
from scheduling.models import Appointment
from scheduling.views.appointments import appointment_page

# The chart reads its patient with the balance: the contribution below asks nothing more.
chart_patient.register(with_balance)


@chart_page.register
def billing_balance(user: Any, patient: Patient, *, shown: Mapping[str, Any]) -> dict[str, Any]:
    balance = balance_for(user, patient)
    if balance is None:
        return {}
    return {
        "billing_balance": balance,
        "billing_currency": settings.BILLING_CURRENCY,
        "billing_link": can_see_billing(user),
    }


@appointment_page.register
def visit_invoice(user: Any, appointment: Appointment, *, shown: Mapping[str, Any]) -> dict:
    """The visit's invoice, for the front desk to issue and take payment at the end of the
    visit (one query, for those who see the books only)."""
    if not can_see_billing(user):
        return {}
    return {"visit_invoice": Invoice.objects.filter(appointment=appointment).first()}
