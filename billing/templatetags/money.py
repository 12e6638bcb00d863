"""``{{ amount|money }}``: an amount in the clinic's currency as staff read it."""

from __future__ import annotations

from decimal import Decimal

from django import template
from django.conf import settings

from billing.money import format_amount

register = template.Library()


@register.filter
def money(amount: Decimal | None) -> str:
    if amount is None:
        return ""
    return format_amount(amount, settings.BILLING_CURRENCY)
