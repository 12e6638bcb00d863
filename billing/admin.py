"""Django admin for billing: the price list only.

Invoices, payments, refunds and credit notes are patient data, deliberately not registered:
a page read in the admin is not in the audit log, and the books change only through
``billing.services``; the staff area's billing pages show and audit them. Prices are the
clinic's, not a patient's: clinic admins may add and change them here as on the staff page
(/staff/billing/prices/), through the same service, so the audit log has them too.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest

from billing.models import Price
from billing.money import parse_amount
from billing.services import price_set


class PriceAdminForm(forms.ModelForm):
    class Meta:
        model = Price
        fields = ["appointment_type", "location", "effective_from", "amount"]

    def clean_amount(self) -> Decimal:
        try:
            return parse_amount(
                self.cleaned_data["amount"], currency=settings.BILLING_CURRENCY, allow_zero=True
            )
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(Price)
class PriceAdmin(admin.ModelAdmin):
    form = PriceAdminForm
    list_display = ["location", "appointment_type", "effective_from", "amount", "set_by"]
    list_filter = ["location", "appointment_type"]
    list_select_related = ["location", "appointment_type", "set_by"]
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        # A price's kind, place and day are what it is: a new day is a new price.
        return ["appointment_type", "location", "effective_from"] if obj else []

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Price, form: Any, change: bool) -> None:
        saved = price_set(
            actor=request.user,
            appointment_type=obj.appointment_type,
            location=obj.location,
            amount=obj.amount,
            effective_from=obj.effective_from,
            request=request,
        )
        obj.pk, obj.set_by, obj.set_at = saved.pk, saved.set_by, saved.set_at
