"""Forms for the package pages: shapes and messages only; the rules are
``billing.packages``', whose ValidationErrors the views show next to the fields."""

from __future__ import annotations

from typing import Any

from django import forms

from billing.forms import AmountField, PublicIdChoiceField
from billing.models import PackageOffer
from billing.packages import MAX_VISITS, NAME_MAX
from clinic.models import Location
from scheduling.models import AppointmentType


def _from_field(help_text: str) -> forms.DateField:
    return forms.DateField(
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text=help_text,
        error_messages={
            "required": "Enter the first day of the price.",
            "invalid": "Enter the day as YYYY-MM-DD.",
        },
    )


class OfferForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=NAME_MAX,
        help_text="As the patient reads it on the invoice, e.g. “Induction series of six "
        "infusions”.",
        error_messages={"required": "Name the package."},
    )
    appointment_type = forms.ModelChoiceField(
        AppointmentType.objects.order_by("id"),
        label="Kind of visit",
        error_messages={
            "required": "Choose the kind of visit the package covers.",
            "invalid_choice": "Choose the kind of visit from the list.",
        },
    )
    visits = forms.IntegerField(
        label="Number of visits",
        min_value=1,
        max_value=MAX_VISITS,
        error_messages=dict.fromkeys(
            ("required", "invalid", "min_value", "max_value"),
            f"Enter the number of visits, from 1 to {MAX_VISITS}.",
        ),
    )
    amount = AmountField(label="Package price")
    effective_from = _from_field("The first day (at the location) the package sells at it.")
    locations = forms.ModelMultipleChoiceField(
        Location.objects.filter(is_active=True).order_by("name"),
        label="Sold at",
        required=False,
        to_field_name="public_id",
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick none to sell it at every location.",
        error_messages={"invalid_choice": "Choose the locations from the list."},
    )

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].label = f"Package price ({currency})"


class PackagePriceForm(forms.Form):
    amount = AmountField(label="Package price")
    effective_from = _from_field("The first day (at the location) the package sells at it.")

    def __init__(self, *args: Any, currency: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["amount"].label = f"Package price ({currency})"


class RetireForm(forms.Form):
    """Nothing to fill in: the confirmation is the point."""


class SellForm(forms.Form):
    offer = PublicIdChoiceField(
        PackageOffer.objects.none(),
        label="Package",
        to_field_name="public_id",
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose the package.",
            "invalid_choice": "Choose the package from the list.",
        },
    )
    location = PublicIdChoiceField(
        Location.objects.filter(is_active=True).order_by("name"),
        label="Sold at",
        to_field_name="public_id",
        error_messages={
            "required": "Choose the location.",
            "invalid_choice": "Choose the location from the list.",
        },
    )

    def __init__(self, *args: Any, offers: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["offer"].queryset = offers
        self.fields["offer"].label_from_instance = lambda offer: (
            f"{offer.name}: {offer.visits} × {offer.appointment_type.name.lower()}"
        )
