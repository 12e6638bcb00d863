"""What the billing pages share: the audit of a read, money as staff read it, and the two-step
form (fill in, then confirm what will happen) behind every consequential action."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from billing.models import Invoice
from billing.money import format_amount
from clinic.audit import Action, audit_record
from clinic.forms import show_service_errors


def money(amount: Decimal) -> str:
    return format_amount(amount, settings.BILLING_CURRENCY)


def audit_invoice_view(request: HttpRequest, invoice: Invoice, page: str) -> None:
    audit_record(
        actor=request.user,
        action=Action.VIEW,
        target=invoice,
        summary=f"viewed {page} (patient {invoice.patient.public_id})",
        request=request,
    )


def confirmed_action(
    request: HttpRequest,
    form: forms.Form,
    *,
    context: dict[str, Any],
    summary: Callable[[dict[str, Any]], str],
    act: Callable[[dict[str, Any]], str],
    done_url: str,
    template: str = "billing/action.html",
) -> HttpResponse:
    """The page of one action on the books (``template``, ``billing/action.html`` unless
    another page frames it).

    GET shows the form. A valid POST shows ``summary(cleaned_data)`` (what will happen) with
    Confirm and Change buttons, the values carried along in hidden fields; the confirmed POST
    calls ``act(cleaned_data)``, shows the message it returns and goes to ``done_url``. Bad
    input, or a refusal by the service, shows the form again with what to fix (400) and
    changes nothing."""
    status = 200
    step = "form"
    if request.method == "POST":
        if not form.is_valid():
            status = 400
        elif "change" in request.POST:
            pass
        elif request.POST.get("confirmed") != "yes":
            step = "confirm"
        else:
            try:
                message = act(form.cleaned_data)
            except ValidationError as exc:
                show_service_errors(form, exc)
                status = 400
            else:
                messages.success(request, message)
                return redirect(done_url)
    page = context | {
        "form": form,
        "step": step,
        "summary": summary(form.cleaned_data) if step == "confirm" else "",
        "cancel_url": done_url,
    }
    return render(request, template, page, status=status)
