"""Pages patients reach without signing in, under /pay/ (namespace "billing_public"):

- /pay/card/<token>/: the link staff sent to save a card on file: the card policy, a box to
  agree, then on to Stripe's page (a link to follow: forms post only to the clinic);
  /pay/card/<token>/done/ is where Stripe's page comes back to.
- /pay/booking/<hold>/done/: where Stripe's page comes back to after a booking online that
  asked for a card or a deposit: the booking is confirmed (or still held, or released).

Every refusal is a page saying what to do, never a 500; nothing here names a condition.
"""

from __future__ import annotations

import contextlib
import uuid

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from billing.card_links import CardLinkError, card_link_for_token, card_link_open
from billing.cards import CARD_ON_FILE_POLICY, card_setup_complete
from billing.deposits import booking_hold_settle
from billing.models import BookingHold, BookingHoldStatus
from billing.stripe import gateway
from billing.stripe.errors import PaymentError
from scheduling.booking.manage import manage_token
from scheduling.wording import when_text


def _base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


class AgreeForm(forms.Form):
    agree = forms.BooleanField(
        label="I agree to the card policy above.",
        error_messages={
            "required": "Tick the box to agree to the card policy, or close this page."
        },
    )


def _problem(request: HttpRequest, error: CardLinkError) -> HttpResponse:
    return render(
        request, "billing/public/link_problem.html", {"message": str(error)}, status=error.status
    )


@never_cache
@require_http_methods(["GET", "POST"])
def card_link_page(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = card_link_for_token(token)
    except CardLinkError as error:
        return _problem(request, error)
    form = AgreeForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                url = card_link_open(link=link, base_url=_base_url(request))
            except ValidationError as exc:
                form.add_error(None, " ".join(exc.messages))
            else:
                return render(request, "billing/public/card_link_open.html", {"checkout_url": url})
        status = 400
    return render(
        request,
        "billing/public/card_link.html",
        {"form": form, "policy": CARD_ON_FILE_POLICY},
        status=status,
    )


@never_cache
@require_GET
def card_link_done(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = card_link_for_token(token)
    except CardLinkError as error:
        if "saved already" in str(error):
            return render(request, "billing/public/card_link_done.html", {"saved": True})
        return _problem(request, error)
    card = None
    if link.setup is not None:
        try:
            card = card_setup_complete(link.setup)
        except PaymentError:
            card = None
    return render(request, "billing/public/card_link_done.html", {"saved": card is not None})


@never_cache
@require_GET
def booking_hold_done(request: HttpRequest, hold_id: uuid.UUID) -> HttpResponse:
    """Back from Stripe's page after booking online: confirmed, still held, or released."""
    hold = (
        BookingHold.objects.select_related("appointment__location", "card_setup")
        .filter(public_id=hold_id)
        .first()
    )
    if hold is None:
        raise Http404("No held booking has that id.")
    if hold.status == BookingHoldStatus.WAITING:
        with contextlib.suppress(PaymentError):  # Stripe out of reach: the page says held
            booking_hold_settle(hold)
    appointment = hold.appointment
    if hold.status == BookingHoldStatus.CONFIRMED:
        return redirect("booking:confirmed", token=manage_token(appointment))
    checkout_url = ""
    if hold.status == BookingHoldStatus.WAITING and hold.card_setup is not None:
        try:
            checkout_url = gateway.get_checkout(hold.card_setup.checkout_session_id or "").url or ""
        except PaymentError:
            checkout_url = ""
    return render(
        request,
        "billing/public/booking_held.html",
        {
            "hold": hold,
            "released": hold.status == BookingHoldStatus.RELEASED,
            "location": appointment.location,
            "when": when_text(appointment.starts_at, appointment.location),
            "until": when_text(hold.expires_at, appointment.location),
            "checkout_url": checkout_url,
        },
    )
