"""The card pages: save a card on file at the desk (Stripe's page, showing the card policy
the patient agrees to), remove it, charge it for an issued invoice (after confirming), and
pay an invoice on Stripe's page at the desk. With no Stripe keys configured, each of these
answers that card payments are off (and the pages show no card button).

The patient's card number never reaches us: it is typed on Stripe's page, which comes back
to the ``…/done/`` pages here; what it changes is recorded once, by them or by the webhook.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from billing.cards import (
    CARD_ON_FILE_POLICY,
    card_charge,
    card_on_file,
    card_remove,
    card_setup_complete,
    card_setup_start,
    cards_enabled,
    checkout_settle,
    checkout_start,
    pending_card_charge,
)
from billing.forms import CardChargeForm, CardRemoveForm
from billing.models import CardCharge, CardChargeKind, CardSetup
from billing.selectors import billing_patient_for, invoice_for
from billing.stripe.errors import PaymentError
from billing.views.common import audit_invoice_view, confirmed_action, money
from billing.views.invoices import _action_context, _title, invoice_url
from clinic.forms import show_service_errors
from clinic.permissions import Capability, capability_required

CARDS_OFF = (
    "Card payments are off: no Stripe keys are configured. Take the payment by card "
    "terminal, cash or cheque."
)


def _patient_url(patient_id: uuid.UUID) -> str:
    return reverse("billing:patient", args=[patient_id])


def _cards_off(request: HttpRequest, back: str) -> HttpResponse | None:
    if cards_enabled():
        return None
    messages.error(request, CARDS_OFF)
    return redirect(back)


def _errors_to_messages(request: HttpRequest, exc: ValidationError) -> None:
    for problems in exc.message_dict.values():
        for problem in problems:
            messages.error(request, problem)


# --- The card on file ------------------------------------------------------------------------


@require_POST
@capability_required(Capability.TAKE_PAYMENTS)
def card_setup_view(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    """Open Stripe's page to save the patient's card, at the desk."""
    patient = billing_patient_for(request.user, patient_id)
    back = _patient_url(patient.public_id)
    if off := _cards_off(request, back):
        return off
    done = request.build_absolute_uri(
        reverse("billing:card-setup-done", args=[patient.public_id, uuid.UUID(int=0)])
    ).replace(str(uuid.UUID(int=0)), "{setup}")
    try:
        url = card_setup_start(
            actor=request.user,
            patient=patient,
            success_url=done,
            cancel_url=request.build_absolute_uri(back),
            request=request,
        )
    except ValidationError as exc:
        _errors_to_messages(request, exc)
        return redirect(back)
    return _open_checkout(
        request,
        url,
        patient=patient,
        heading="Save a card on Stripe's page",
        explanation="Hand the screen to the patient: on Stripe's page they type their card "
        "and, by saving it, agree to the clinic's card policy:",
        policy=CARD_ON_FILE_POLICY,
        cancel_url=back,
        back_label="Billing",
    )


def _open_checkout(request: HttpRequest, url: str, **context: Any) -> HttpResponse:
    """The link to Stripe's page. A link the desk follows, not a redirect: the page's form
    posts only to the clinic (Content-Security-Policy ``form-action 'self'``)."""
    return render(request, "billing/checkout_open.html", context | {"checkout_url": url})


@require_GET
@capability_required(Capability.TAKE_PAYMENTS)
def card_setup_done(
    request: HttpRequest, patient_id: uuid.UUID, setup_id: uuid.UUID
) -> HttpResponse:
    """Where Stripe's page comes back to once the card is saved."""
    patient = billing_patient_for(request.user, patient_id)
    back = _patient_url(patient.public_id)
    setup = CardSetup.objects.filter(public_id=setup_id, patient=patient).first()
    if setup is None:
        raise Http404("No card setup has that id.")
    if off := _cards_off(request, back):
        return off
    try:
        card = card_setup_complete(setup)
    except PaymentError:
        card = None
    if card is None:
        messages.info(
            request,
            "Stripe has not told us about the card yet: it shows here once it does.",
        )
    else:
        messages.success(request, f"{card.label} is on file.")
    return redirect(back)


@capability_required(Capability.TAKE_PAYMENTS)
def card_remove_view(request: HttpRequest, patient_id: uuid.UUID) -> HttpResponse:
    patient = billing_patient_for(request.user, patient_id)
    back = _patient_url(patient.public_id)
    card = card_on_file(patient)
    if card is None:
        messages.info(request, "This patient has no card on file.")
        return redirect(back)
    form = CardRemoveForm(request.POST or None)

    def act(data: dict[str, Any]) -> str:
        card_remove(actor=request.user, card=card, request=request)
        return f"{card.label} is no longer on file."

    context = {
        "patient": patient,
        "heading": "Remove the card on file",
        "button": "Remove the card",
        "title": "Billing",
    }
    return confirmed_action(
        request,
        form,
        context=context,
        summary=lambda data: (
            f"Stop charging {card.label}. The clinic can no longer charge it without the "
            "patient; the agreement they gave stays on record."
        ),
        act=act,
        done_url=back,
    )


# --- Charging the card on file ---------------------------------------------------------------


@capability_required(Capability.TAKE_PAYMENTS)
def card_charge_view(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """Charge the card on file for an issued invoice, after confirming. A charge still
    waiting for Stripe's answer is the one proposed (sent again with the same key)."""
    invoice = invoice_for(request.user, invoice_id, to_take_payment=True)
    back = invoice_url(invoice)
    if off := _cards_off(request, back):
        return off
    card = card_on_file(invoice.patient)
    if card is None:
        messages.error(request, "This patient has no card on file: save one on their billing page.")
        return redirect(back)
    waiting = pending_card_charge(invoice)
    amount = waiting.amount if waiting else invoice.due
    form = CardChargeForm(request.POST or None, initial={"amount": f"{amount:.2f}"})
    if request.method == "GET":
        audit_invoice_view(request, invoice, "the invoice to charge the card on file")

    def act(data: dict[str, Any]) -> str:
        payment = card_charge(
            actor=request.user, invoice=invoice, amount=data["amount"], request=request
        )
        return f"Charged {money(payment.amount)} to {card.label}."

    context = _action_context(invoice, "Charge the card on file", "Charge the card")
    context["card"], context["waiting"] = card, waiting
    return confirmed_action(
        request,
        form,
        context=context,
        summary=lambda data: (
            f"Charge {money(data['amount'])} to {card.label} for {_title(invoice).lower()}, "
            f"which owes {money(invoice.due)}. The patient is not asked again: they agreed "
            "to the card policy when they saved the card."
        ),
        act=act,
        done_url=back,
    )


# --- Paying on Stripe's page at the desk -----------------------------------------------------


@capability_required(Capability.TAKE_PAYMENTS)
def checkout_view(request: HttpRequest, invoice_id: uuid.UUID) -> HttpResponse:
    """The amount to pay, then Stripe's page, where the patient types their card and pays."""
    invoice = invoice_for(request.user, invoice_id, to_take_payment=True)
    back = invoice_url(invoice)
    if off := _cards_off(request, back):
        return off
    form = CardChargeForm(request.POST or None, initial={"amount": f"{invoice.due:.2f}"})
    status = 200
    if request.method == "POST" and form.is_valid():
        done = request.build_absolute_uri(
            reverse("billing:checkout-done", args=[invoice.public_id, uuid.UUID(int=0)])
        ).replace(str(uuid.UUID(int=0)), "{charge}")
        try:
            url = checkout_start(
                actor=request.user,
                invoice=invoice,
                amount=form.cleaned_data["amount"],
                success_url=done,
                cancel_url=request.build_absolute_uri(back),
                request=request,
            )
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            return _open_checkout(
                request,
                url,
                patient=invoice.patient,
                heading="Pay by card on Stripe's page",
                explanation=f"Hand the screen to the patient: on Stripe's page they pay "
                f"{money(form.cleaned_data['amount'])} for {_title(invoice).lower()} by card.",
                cancel_url=back,
                back_label=_title(invoice),
            )
    if request.method == "POST":
        status = 400
    else:
        audit_invoice_view(request, invoice, "the invoice to pay by card")
    context = _action_context(invoice, "Pay by card on Stripe's page", "Open Stripe's page")
    context |= {"form": form, "step": "form", "cancel_url": back, "checkout": True}
    return render(request, "billing/action.html", context, status=status)


@require_GET
@capability_required(Capability.TAKE_PAYMENTS)
def checkout_done(
    request: HttpRequest, invoice_id: uuid.UUID, charge_id: uuid.UUID
) -> HttpResponse:
    invoice = invoice_for(request.user, invoice_id, to_take_payment=True)
    back = invoice_url(invoice)
    charge = CardCharge.objects.filter(
        public_id=charge_id, invoice=invoice, kind=CardChargeKind.CHECKOUT
    ).first()
    if charge is None:
        raise Http404("This invoice has no card payment with that id.")
    if off := _cards_off(request, back):
        return off
    try:
        payment = checkout_settle(charge)
    except (PaymentError, ValidationError):
        payment = None
    if payment is None:
        messages.info(
            request, "Stripe has not told us about the payment yet: it shows here once it does."
        )
    else:
        messages.success(request, f"Took {money(payment.amount)} by card.")
    return redirect(back)
