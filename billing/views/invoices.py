"""An invoice's page and the actions on it: put the visit's price on a draft, add or remove
a line, issue it, take a payment, refund a payment, write a credit note, void it.

Every consequential action goes through ``billing.views.common.confirmed_action``: the form,
then a confirmation that says what will happen. Who may do what is decided by
``billing.selectors.invoice_for`` / ``payment_for``; the rules are ``billing.services``'.
"""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from billing.cards import card_on_file, cards_enabled, pending_card_charge
from billing.deposits import deposit_give_back, deposit_to_come_off, deposit_unused
from billing.forms import CreditForm, LineForm, PaymentForm, RefundForm, VoidForm
from billing.models import Invoice, InvoiceStatus, Refund
from billing.selectors import (
    invoice_for,
    payment_for,
    price_in_effect,
    settlement,
    visit_date,
)
from billing.services import (
    credit_note_create,
    invoice_add_line,
    invoice_add_visit_price,
    invoice_issue,
    invoice_remove_line,
    invoice_void,
    payment_take,
    refund_make,
)
from billing.views.common import audit_invoice_view, confirmed_action, money
from clinic.forms import show_service_errors
from clinic.permissions import Capability, capability_required, user_can


def invoice_url(invoice: Invoice) -> str:
    return reverse("billing:invoice", args=[invoice.public_id])


def _title(invoice: Invoice) -> str:
    return f"Invoice {invoice.number}" if invoice.number else "Draft invoice"


def _page_context(request: HttpRequest, invoice: Invoice, **extra: Any) -> dict[str, Any]:
    """What the invoice page shows (four queries: lines, payments with their refunds, credit
    notes, and the price in effect for an empty draft)."""
    user = request.user
    payments = list(
        invoice.payments.select_related("taken_by").prefetch_related(
            Prefetch("refunds", queryset=Refund.objects.select_related("refunded_by"))
        )
    )
    for payment in payments:
        payment.left = payment.amount - sum(refund.amount for refund in payment.refunds.all())
    lines = list(invoice.lines.all())
    is_draft = invoice.status == InvoiceStatus.DRAFT
    issued = invoice.status == InvoiceStatus.ISSUED
    may_take = user_can(user, Capability.TAKE_PAYMENTS)
    may_correct = user_can(user, Capability.CORRECT_BILLING)
    missing_price = is_draft and not lines and invoice.appointment is not None
    return {
        "invoice": invoice,
        "title": _title(invoice),
        "state": settlement(invoice),
        "lines": lines,
        "payments": payments,
        "credit_notes": list(invoice.credit_notes.select_related("created_by")),
        "currency": settings.BILLING_CURRENCY,
        "missing_price": missing_price,
        "price_now_set": missing_price and price_in_effect(invoice.appointment) is not None,
        "visit_day": visit_date(invoice.appointment) if invoice.appointment else None,
        "can_edit": is_draft and may_take,
        "can_issue": is_draft and may_take and bool(lines),
        "can_take_payment": issued and may_take and invoice.due > 0,
        "can_credit": issued and may_correct and invoice.due > 0,
        "can_refund": may_correct,
        "can_void": may_correct and invoice.status != InvoiceStatus.VOID,
        "line_form": extra.pop("line_form", None) or LineForm(),
        "unused_deposit": deposit_unused(invoice) if issued else None,
        "deposit_to_come_off": deposit_to_come_off(invoice) if is_draft else None,
        "can_give_back": may_correct,
        **_card_context(invoice, issued and may_take and invoice.due > 0),
        **extra,
    }


def _card_context(invoice: Invoice, may_charge: bool) -> dict[str, Any]:
    """The card buttons: with card payments on, an invoice that owes, and the front desk
    (two queries: the card on file and a charge waiting for Stripe)."""
    if not may_charge:
        return {"cards_on": cards_enabled()}
    if not cards_enabled():
        return {"cards_on": False}
    return {
        "cards_on": True,
        "card": card_on_file(invoice.patient),
        "waiting_charge": pending_card_charge(invoice),
    }


@require_GET
@capability_required(Capability.VIEW_BILLING)
def invoice_page(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    invoice = invoice_for(request.user, invoice_id)
    audit_invoice_view(request, invoice, "the invoice")
    return render(request, "billing/invoice.html", _page_context(request, invoice))


def _draft_change(request: HttpRequest, invoice: Invoice, change: Any, done: str) -> HttpResponse:
    try:
        change()
    except ValidationError as exc:
        for problems in exc.message_dict.values():
            for problem in problems:
                messages.error(request, problem)
    else:
        messages.success(request, done)
    return redirect(invoice_url(invoice))


@require_POST
@capability_required(Capability.TAKE_PAYMENTS)
def invoice_visit_price(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    invoice = invoice_for(request.user, invoice_id, to_take_payment=True)
    return _draft_change(
        request,
        invoice,
        lambda: invoice_add_visit_price(actor=request.user, invoice=invoice, request=request),
        "The visit's price is on the draft.",
    )


@require_POST
@capability_required(Capability.TAKE_PAYMENTS)
def invoice_line_add(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    invoice = invoice_for(request.user, invoice_id, to_take_payment=True)
    form = LineForm(request.POST)
    if form.is_valid():
        try:
            line = invoice_add_line(
                actor=request.user, invoice=invoice, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            messages.success(request, f"Added “{line.description}”, {money(line.amount)}.")
            return redirect(invoice_url(invoice))
    context = _page_context(request, invoice, line_form=form)
    return render(request, "billing/invoice.html", context, status=400)


@require_POST
@capability_required(Capability.TAKE_PAYMENTS)
def invoice_line_remove(request: HttpRequest, invoice_id: uuid.UUID, line_id: int) -> HttpResponse:
    invoice = invoice_for(request.user, invoice_id, to_take_payment=True)
    return _draft_change(
        request,
        invoice,
        lambda: invoice_remove_line(
            actor=request.user, invoice=invoice, line_id=line_id, request=request
        ),
        "The line is off the draft.",
    )


@capability_required(Capability.TAKE_PAYMENTS)
def invoice_issue_view(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """Confirm, then issue: the invoice gets its number and its lines are final."""
    invoice = invoice_for(request.user, invoice_id, to_take_payment=True)
    if request.method == "POST":
        try:
            invoice_issue(actor=request.user, invoice=invoice, request=request)
        except ValidationError as exc:
            for problems in exc.message_dict.values():
                for problem in problems:
                    messages.error(request, problem)
        else:
            messages.success(
                request,
                f"Invoice {invoice.number} is issued for {money(invoice.total)}: take a payment "
                "when the patient pays.",
            )
        return redirect(invoice_url(invoice))
    audit_invoice_view(request, invoice, "the invoice to issue")
    return render(request, "billing/issue.html", _page_context(request, invoice))


@capability_required(Capability.TAKE_PAYMENTS)
def payment_take_view(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    invoice = invoice_for(request.user, invoice_id, to_take_payment=True)
    if invoice.status != InvoiceStatus.ISSUED:
        # Nothing to take: say why once, with no form to fill in, and for a draft the way to
        # issue it (whoever may take a payment may issue one that has lines).
        draft = invoice.status == InvoiceStatus.DRAFT
        issuable = draft and invoice.lines.exists()
        if issuable:
            why = "This invoice is a draft: issue it first, then take the payment."
        elif draft:
            why = "This invoice is a draft with no lines yet: add them and issue it first."
        else:
            why = f"This invoice is {invoice.get_status_display().lower()}: nothing is owed."
        context = _action_context(invoice, "Take a payment", "Take the payment") | {
            "cancel_url": invoice_url(invoice),
            "not_payable": why,
            "issue_url": reverse("billing:invoice-issue", args=[invoice.public_id])
            if issuable
            else "",
        }
        return render(request, "billing/action.html", context)
    form = PaymentForm(request.POST or None, initial={"amount": f"{invoice.due:.2f}"})
    if request.method == "GET":
        audit_invoice_view(request, invoice, "the invoice to take a payment")

    def act(data: dict[str, Any]) -> str:
        payment = payment_take(actor=request.user, invoice=invoice, request=request, **data)
        return f"Took {money(payment.amount)} ({payment.get_method_display().lower()})."

    return confirmed_action(
        request,
        form,
        context=_action_context(invoice, "Take a payment", "Take the payment"),
        summary=lambda data: (
            f"Record {money(data['amount'])} paid by {form.method_label().lower()} on "
            f"{_title(invoice).lower()}, which owes {money(invoice.due)}."
        ),
        act=act,
        done_url=invoice_url(invoice),
    )


@capability_required(Capability.CORRECT_BILLING)
def refund_view(request: HttpRequest, invoice_id: uuid.UUID, payment_id: uuid.UUID) -> HttpResponse:
    invoice = invoice_for(request.user, invoice_id, to_correct=True)
    payment = payment_for(request.user, invoice, payment_id)
    left = payment.amount - payment.refunded
    form = RefundForm(request.POST or None, initial={"amount": f"{left:.2f}"})

    def act(data: dict[str, Any]) -> str:
        refund = refund_make(actor=request.user, payment=payment, request=request, **data)
        if refund.stripe_refund:
            return f"Refunded {money(refund.amount)} to the card through Stripe."
        return (
            f"Refunded {money(refund.amount)}: give it back by "
            f"{payment.get_method_display().lower()}."
        )

    context = _action_context(invoice, "Refund a payment", "Refund")
    context["payment"], context["left"] = payment, left
    return confirmed_action(
        request,
        form,
        context=context,
        summary=lambda data: (
            f"Give back {money(data['amount'])} of the {money(payment.amount)} paid by "
            f"{payment.get_method_display().lower()} on {payment.taken_at:%b %-d, %Y}."
        ),
        act=act,
        done_url=invoice_url(invoice),
    )


@capability_required(Capability.CORRECT_BILLING)
def credit_view(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    invoice = invoice_for(request.user, invoice_id, to_correct=True)
    form = CreditForm(request.POST or None)

    def act(data: dict[str, Any]) -> str:
        credit = credit_note_create(actor=request.user, invoice=invoice, request=request, **data)
        return f"Credited {money(credit.amount)}."

    return confirmed_action(
        request,
        form,
        context=_action_context(invoice, "Write a credit note", "Write the credit note"),
        summary=lambda data: (
            f"Take {money(data['amount'])} off {_title(invoice).lower()}, which owes "
            f"{money(invoice.due)}. A credit note is final."
        ),
        act=act,
        done_url=invoice_url(invoice),
    )


@capability_required(Capability.CORRECT_BILLING)
def void_view(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    invoice = invoice_for(request.user, invoice_id, to_correct=True)
    form = VoidForm(request.POST or None)

    def act(data: dict[str, Any]) -> str:
        invoice_void(actor=request.user, invoice=invoice, request=request, **data)
        return f"{_title(invoice)} is void."

    def summary(data: dict[str, Any]) -> str:
        if invoice.status == InvoiceStatus.ISSUED:
            return (
                f"Void {_title(invoice).lower()}: a credit note takes off the "
                f"{money(invoice.due)} it still charges. This cannot be undone."
            )
        return "Void this draft: it will never be issued. This cannot be undone."

    return confirmed_action(
        request,
        form,
        context=_action_context(invoice, "Void the invoice", "Void it"),
        summary=summary,
        act=act,
        done_url=invoice_url(invoice),
    )


@capability_required(Capability.CORRECT_BILLING)
def deposit_give_back_view(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """Give back the booking deposit the visit's invoice did not use (a package covered the
    visit, or it cost less), after confirming."""
    invoice = invoice_for(request.user, invoice_id, to_correct=True)
    form = forms.Form(request.POST if request.method == "POST" else None)  # nothing to fill

    def act(data: dict[str, Any]) -> str:
        given = deposit_give_back(actor=request.user, invoice=invoice, request=request)
        return f"{money(given.amount)} of the booking deposit is given back to the patient."

    def summary(data: dict[str, Any]) -> str:
        unused = deposit_unused(invoice)
        if unused is None:
            return "No booking deposit is left to give back for this visit."
        return (
            f"Give back {money(unused.amount)} of the booking deposit: it is refunded the way "
            "it was paid, and the deposit's invoice is credited for it."
        )

    return confirmed_action(
        request,
        form,
        context=_action_context(invoice, "Give back the booking deposit", "Give it back"),
        summary=summary,
        act=act,
        done_url=invoice_url(invoice),
    )


def _action_context(invoice: Invoice, heading: str, button: str) -> dict[str, Any]:
    return {
        "invoice": invoice,
        "title": _title(invoice),
        "heading": heading,
        "button": button,
        "currency": settings.BILLING_CURRENCY,
    }
