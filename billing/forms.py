"""Forms for the billing pages. They turn what was typed into values and check its shape
(an amount through ``billing.money.parse_amount``, the rule the services use too, so the
confirmation step never shows an amount the service would refuse); the rules about the books
(more than is owed, an invoice already issued) are ``billing.services``', whose
ValidationErrors the views show next to the fields.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings

from billing.models import MANUAL_METHODS, PaymentMethod
from billing.money import parse_amount
from billing.services import REASON_MAX
from clinic.models import Location
from scheduling.models import AppointmentType


class AmountField(forms.CharField):
    """An amount of money in the clinic's currency: a ``Decimal``, never a float."""

    def __init__(self, *, allow_zero: bool = False, **kwargs: Any) -> None:
        self.allow_zero = allow_zero
        kwargs.setdefault("max_length", 20)
        kwargs.setdefault("error_messages", {"required": "Enter the amount, e.g. 120.00."})
        super().__init__(**kwargs)

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        return super().widget_attrs(widget) | {"inputmode": "decimal", "autocomplete": "off"}

    def clean(self, value: Any) -> Decimal:
        text = super().clean(value)
        try:
            return parse_amount(
                text, currency=settings.BILLING_CURRENCY, allow_zero=self.allow_zero
            )
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


class PublicIdChoiceField(forms.ModelChoiceField):
    """A choice by public id: anything that is not one of the list (not even a UUID) gets
    the same "choose from the list" message."""

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except forms.ValidationError:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            ) from None


def _reason_field(label: str, help_text: str) -> forms.CharField:
    return forms.CharField(
        label=label,
        max_length=REASON_MAX,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=help_text,
        error_messages={"required": "Write the reason: it stays with the books."},
    )


class PriceForm(forms.Form):
    appointment_type = forms.ModelChoiceField(
        AppointmentType.objects.order_by("id"),
        label="Kind of visit",
        error_messages={
            "required": "Choose the kind of visit.",
            "invalid_choice": "Choose the kind of visit from the list.",
        },
    )
    location = PublicIdChoiceField(
        Location.objects.filter(is_active=True).order_by("name"),
        label="Location",
        to_field_name="public_id",
        error_messages={
            "required": "Choose the location.",
            "invalid_choice": "Choose the location from the list.",
        },
    )
    amount = AmountField(label="Price", allow_zero=True)
    effective_from = forms.DateField(
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="The first day (at the location) visits are charged this price.",
        error_messages={
            "required": "Enter the first day of the price.",
            "invalid": "Enter the day as YYYY-MM-DD.",
        },
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].label = f"Price ({currency})"


class LineForm(forms.Form):
    description = forms.CharField(
        label="What for",
        max_length=200,
        error_messages={"required": "Say what the line is for."},
    )
    quantity = forms.IntegerField(
        label="Quantity",
        initial=1,
        widget=forms.NumberInput(attrs={"min": 1, "max": 99}),
        error_messages={
            "required": "Enter a quantity from 1 to 99.",
            "invalid": "Enter a quantity from 1 to 99.",
        },
    )
    unit_amount = AmountField(label="Each", allow_zero=True)
    service_code = forms.CharField(
        label="Service code (optional)",
        required=False,
        max_length=10,
        help_text="The CPT or HCPCS code, for the superbill.",
    )

    def clean_quantity(self) -> int:
        quantity = self.cleaned_data["quantity"]
        if not 1 <= quantity <= 99:
            raise forms.ValidationError("Enter a quantity from 1 to 99.")
        return quantity


class PaymentForm(forms.Form):
    method = forms.ChoiceField(
        label="Paid by",
        choices=[(method.value, method.label) for method in MANUAL_METHODS],
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose how the patient paid.",
            "invalid_choice": "Choose how the patient paid: card terminal, cash or cheque.",
        },
    )
    amount = AmountField(label="Amount")
    reference = forms.CharField(
        label="Reference (optional)",
        required=False,
        max_length=60,
        help_text="The cheque number or the card terminal slip's reference.",
    )

    def method_label(self) -> str:
        return PaymentMethod(self.cleaned_data["method"]).label


class RefundForm(forms.Form):
    amount = AmountField(label="Amount to give back")
    reason = _reason_field("Why", "E.g. charged twice, visit cut short.")


class CreditForm(forms.Form):
    amount = AmountField(label="Amount to take off")
    reason = _reason_field("Why", "E.g. a discount agreed with the patient, a charge in error.")


class VoidForm(forms.Form):
    reason = _reason_field("Why", "E.g. made for the wrong patient, visit did not happen.")


class CardChargeForm(forms.Form):
    amount = AmountField(label="Amount to charge")


class CardRemoveForm(forms.Form):
    """Nothing to fill in: the confirmation is the point."""
