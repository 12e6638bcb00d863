"""The price list, for clinic admins: what each kind of visit costs at each location, and
from which day. Setting a price never changes an invoice already made (its lines copied the
amount)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from billing.forms import PriceForm
from billing.selectors import prices_for
from billing.services import price_set
from billing.views.common import money
from clinic.forms import show_service_errors
from clinic.paging import list_page
from clinic.permissions import Capability, capability_required

PRICES_PER_PAGE = 50


@capability_required(Capability.MANAGE_PRICES)
def prices(request: HttpRequest) -> HttpResponse:
    listed = prices_for(request.user)
    currency = settings.BILLING_CURRENCY
    form = PriceForm(
        request.POST or None, currency=currency, initial={"effective_from": timezone.localdate()}
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                price = price_set(actor=request.user, request=request, **form.cleaned_data)
            except ValidationError as exc:
                show_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    f"{price.appointment_type.name} at {price.location.name} costs "
                    f"{money(price.amount)} from {price.effective_from:%b %-d, %Y}. Invoices "
                    "already made keep their amounts.",
                )
                return redirect(reverse("billing:prices"))
        status = 400
    page = list_page(listed, per_page=PRICES_PER_PAGE, number=request.GET.get("page"))
    context = {"form": form, "page": page, "currency": currency, "today": timezone.localdate()}
    return render(request, "billing/prices.html", context, status=status)
