"""Fees and the online booking policy, for the front desk and clinic admins.

/staff/billing/fees/ lists the open no-show and late-cancel fees (oldest first, a constant
number of queries) and those decided lately; each is charged (the card on file or to pay at
the desk) or waived with a reason, after confirming. /staff/billing/booking-policies/ lets
clinic admins set what booking online at each location asks for (``billing.deposits``).
"""

from __future__ import annotations

import uuid

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from billing.cards import card_on_file, cards_enabled
from billing.deposits import booking_policy_set
from billing.fees import (
    HOW_CARD,
    HOW_DESK,
    decided_fee_proposals,
    fee_charge,
    fee_proposal_for,
    fee_waive,
    open_fee_proposals,
)
from billing.models import BookingPolicy, BookingRequirement
from billing.views.common import confirmed_action, money
from clinic.forms import show_service_errors
from clinic.models import Location
from clinic.permissions import Capability, capability_required, user_can

RECENTLY_DECIDED = 10


@require_GET
@capability_required(Capability.VIEW_BILLING)
def fee_list(request: HttpRequest) -> HttpResponse:
    context = {
        "open": list(open_fee_proposals(request.user)),
        "decided": list(decided_fee_proposals(request.user)[:RECENTLY_DECIDED]),
        "may_take_payments": user_can(request.user, Capability.TAKE_PAYMENTS),
        "currency": settings.BILLING_CURRENCY,
    }
    return render(request, "billing/fees.html", context)


class FeeChargeForm(forms.Form):
    how = forms.ChoiceField(
        label="How the patient pays",
        widget=forms.RadioSelect,
        choices=[
            (HOW_CARD, "Charge the card on file now"),
            (HOW_DESK, "Add it to what they owe, to pay at the desk"),
        ],
        error_messages={"required": "Choose how the patient pays the fee."},
    )


class FeeWaiveForm(forms.Form):
    reason = forms.CharField(
        label="Why the fee is waived",
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Kept with the fee and in the audit log, e.g. “called ahead: car broke down”.",
        error_messages={"required": "Say why the fee is waived: it stays with the books."},
    )


def _fee_context(proposal, heading: str, button: str) -> dict:
    return {
        "patient": proposal.patient,
        "heading": heading,
        "button": button,
        "fee": proposal,
    }


@capability_required(Capability.TAKE_PAYMENTS)
def fee_charge_view(request: HttpRequest, fee_id: uuid.UUID) -> HttpResponse:
    proposal = fee_proposal_for(request.user, fee_id)
    done = reverse("billing:fees")
    card = card_on_file(proposal.patient) if cards_enabled() else None
    form = FeeChargeForm(
        request.POST if request.method == "POST" else None,
        initial={"how": HOW_CARD if card is not None else HOW_DESK},
    )
    if card is None:
        form.fields["how"].choices = [c for c in form.fields["how"].choices if c[0] != HOW_CARD]

    def summary(data: dict) -> str:
        where = f"to {card.label}" if data["how"] == HOW_CARD and card else "to pay at the desk"
        return (
            f"Charge the {proposal.get_kind_display().lower()} of {money(proposal.amount)} "
            f"{where}: an invoice is issued for it."
        )

    def act(data: dict) -> str:
        had_invoice = proposal.invoice_id is not None
        try:
            invoice, payment = fee_charge(
                actor=request.user, proposal=proposal, how=data["how"], request=request
            )
        except ValidationError as exc:
            if had_invoice or proposal.invoice is None:
                raise  # refused before anything was recorded: the form says why
            # The invoice is issued; the card declined: it stays to pay at the desk.
            problems = " ".join(" ".join(p) for p in exc.message_dict.values())
            messages.warning(request, problems)
            return (
                f"Invoice {proposal.invoice.number} is issued for the fee; the card was not "
                "charged, so take the payment at the desk."
            )
        if payment is not None:
            return f"{money(payment.amount)} taken from the card on invoice {invoice.number}."
        return f"Invoice {invoice.number} issued for {money(proposal.amount)}, to pay at the desk."

    return confirmed_action(
        request,
        form,
        context=_fee_context(proposal, "Charge the fee", "Charge the fee") | {"card": card},
        summary=summary,
        act=act,
        done_url=done,
    )


@capability_required(Capability.TAKE_PAYMENTS)
def fee_waive_view(request: HttpRequest, fee_id: uuid.UUID) -> HttpResponse:
    proposal = fee_proposal_for(request.user, fee_id)
    form = FeeWaiveForm(request.POST if request.method == "POST" else None)

    def act(data: dict) -> str:
        fee_waive(actor=request.user, proposal=proposal, reason=data["reason"], request=request)
        return f"The {proposal.get_kind_display().lower()} of {money(proposal.amount)} is waived."

    return confirmed_action(
        request,
        form,
        context=_fee_context(proposal, "Waive the fee", "Waive the fee"),
        summary=lambda data: (
            f"Waive the {proposal.get_kind_display().lower()} of {money(proposal.amount)}, "
            f"because: {data['reason']}"
        ),
        act=act,
        done_url=reverse("billing:fees"),
    )


# --- The online booking policy of each location ----------------------------------------------


class BookingPolicyForm(forms.Form):
    requirement = forms.ChoiceField(
        label="To book a consultation online, ask for",
        choices=BookingRequirement.choices,
        widget=forms.RadioSelect,
    )
    deposit_amount = forms.CharField(
        label="Deposit", required=False, help_text="Only when asking for a deposit, e.g. 50.00."
    )
    wording = forms.CharField(
        label="The policy the patient reads and agrees to",
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Shown on the booking page with a box to tick; kept word for word with "
        "each booking. Leave empty to ask nothing.",
    )
    no_show_fee = forms.CharField(label="No-show fee", required=False, initial="0.00")
    late_cancel_fee = forms.CharField(label="Late-cancel fee", required=False, initial="0.00")
    late_cancel_hours = forms.CharField(
        label="A cancellation is late within this many hours of the visit", initial="24"
    )


@capability_required(Capability.MANAGE_PRICES)
def booking_policies(request: HttpRequest) -> HttpResponse:
    locations = list(Location.objects.order_by("name"))
    policies = {p.location_id: p for p in BookingPolicy.objects.all()}
    rows = [(location, policies.get(location.pk)) for location in locations]
    return render(
        request,
        "billing/booking_policies.html",
        {"rows": rows, "cards_on": cards_enabled(), "currency": settings.BILLING_CURRENCY},
    )


@capability_required(Capability.MANAGE_PRICES)
def booking_policy_edit(request: HttpRequest, location_id: uuid.UUID) -> HttpResponse:
    location = Location.objects.filter(public_id=location_id).first()
    if location is None:
        raise Http404("No location has that id.")
    policy = BookingPolicy.objects.filter(location=location).first()
    initial = {"requirement": BookingRequirement.NOTHING, "late_cancel_hours": 24}
    if policy is not None:
        initial = {
            "requirement": policy.requirement,
            "deposit_amount": policy.deposit_amount or "",
            "wording": policy.wording,
            "no_show_fee": policy.no_show_fee,
            "late_cancel_fee": policy.late_cancel_fee,
            "late_cancel_hours": policy.late_cancel_hours,
        }
    form = BookingPolicyForm(request.POST if request.method == "POST" else None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                booking_policy_set(
                    actor=request.user, location=location, request=request, **form.cleaned_data
                )
            except ValidationError as exc:
                show_service_errors(form, exc)
            else:
                messages.success(request, f"The online booking policy of {location.name} is saved.")
                return redirect("billing:booking-policies")
        status = 400
    return render(
        request,
        "billing/booking_policy.html",
        {"form": form, "location": location, "cards_on": cards_enabled()},
        status=status,
    )
