"""Forms for the DEA records' pages. They shape what was typed; ``infusions.dea`` checks the
values (the number's format and check digit, the registrant, the expiry) and its messages
are shown next to these fields (``clinic.forms.show_service_errors``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from clinic.forms import LocationChoiceField, StaffChoiceField, cosigner_code_field
from clinic.models import Location, User
from infusions.dea import possible_registrants
from infusions.forms_ledger import WallClockDateTimeField, possible_witnesses
from infusions.inventories import count_field, explanation_field
from infusions.models import Lot
from infusions.models.dea import DestructionMethod, InventoryTime, LossKind, LossStep

REGISTRATION_CONFIRM_LABEL = (
    "I copied these from the registration certificate. A registration cannot be edited "
    "afterwards: a renewal or a correction is recorded as a new one."
)


class DeaRegistrationForm(forms.Form):
    location = LocationChoiceField(
        label="Location",
        empty_label="Choose the registered location",
        error_messages={"required": "Choose the location this certificate registers."},
    )
    number = forms.CharField(
        label="DEA registration number",
        max_length=20,
        required=False,  # infusions.dea says what is missing, with every other problem
        help_text="Two letters and seven digits, as on the certificate, e.g. BJ1234563.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    registrant = StaffChoiceField(
        label="Registrant",
        # Any active account validates, so that a non-physician gets infusions.dea's own
        # explanation; the list offers only active physicians.
        queryset=User.objects.filter(is_active=True),
        empty_label="Choose the physician the certificate names",
        required=False,
    )
    expires_on = forms.DateField(
        label="Expiry date",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        required=False,
        error_messages={"invalid": "Enter the expiry date as YYYY-MM-DD, e.g. 2029-06-30."},
    )
    confirm = forms.BooleanField(
        label=REGISTRATION_CONFIRM_LABEL,
        error_messages={
            "required": "Tick the box to confirm: a registration is permanent, so check it first."
        },
    )

    def __init__(self, *args: Any, locations: QuerySet[Location], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = locations.filter(is_active=True).order_by("name")
        field = self.fields["registrant"]
        field.widget.choices = [
            ("", field.empty_label),
            *(
                (str(user.public_id), field.label_from_instance(user))
                for user in possible_registrants()
            ),
        ]


class InventoryForm(forms.Form):
    """A location's inventory: one count (and an explanation of any difference) per lot,
    the time of day, and the witness confirming with their password."""

    time_of_day = forms.ChoiceField(
        label="The count is as of",
        choices=InventoryTime.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Say whether you count at opening or at close of business."},
    )
    taken_at = WallClockDateTimeField(
        label="Date and time of the count (optional)",
        required=False,
        help_text="On the location's clock. Leave empty for now.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        error_messages={"invalid": "Enter the time as YYYY-MM-DD HH:MM, e.g. 2026-03-27 17:30."},
    )
    witness = StaffChoiceField(
        label="Witness",
        queryset=User.objects.filter(is_active=True),
        empty_label="Choose the nurse or physician who counted with you",
        required=False,
        help_text="Another nurse or physician who saw every lot counted.",
    )
    witness_password = forms.CharField(
        label="Witness's password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False),
        help_text="The witness types their own password to sign the inventory.",
    )
    witness_otp = cosigner_code_field("Witness's 6-digit code")
    confirm = forms.BooleanField(
        label="We counted every lot listed. The inventory cannot be edited or deleted afterwards.",
        error_messages={"required": "Tick the box to confirm: an inventory is permanent."},
    )

    def __init__(self, *args: Any, lots: list[Lot], actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lots = lots
        for lot in lots:
            # Spravato is counted in whole devices, as it is received (the ledger in mg).
            book = (
                f"{lot.devices_left} devices ({lot.balance_mg.normalize():f} mg)"
                if lot.is_devices
                else f"{lot.balance_mg} mg"
            )
            self.fields[count_field(lot)] = forms.CharField(
                label=f"Lot {lot.lot_number}: counted ({'devices' if lot.is_devices else 'mg'})",
                required=False,
                max_length=30,
                help_text=f"{lot.product_name}, expires {lot.expiry_date:%Y-%m-%d}. "
                f"The book says {book}.",
                widget=forms.TextInput(
                    attrs={
                        "inputmode": "numeric" if lot.is_devices else "decimal",
                        "autocomplete": "off",
                    }
                ),
            )
            self.fields[explanation_field(lot)] = forms.CharField(
                label=f"Lot {lot.lot_number}: explanation of any difference",
                required=False,
                max_length=1000,
            )
        field = self.fields["witness"]
        field.widget.choices = [
            ("", field.empty_label),
            *(
                (str(user.public_id), field.label_from_instance(user))
                for user in possible_witnesses(actor)
            ),
        ]
        # The lots first, then who and when.
        order = [name for name in self.fields if name.startswith(("count_", "explain_"))]
        self.order_fields([*order, "time_of_day", "taken_at", "witness"])

    def counts(self) -> dict[Lot, str]:
        return {lot: self.cleaned_data.get(count_field(lot), "") for lot in self.lots}

    def explanations(self) -> dict[Lot, str]:
        return {lot: self.cleaned_data.get(explanation_field(lot), "") for lot in self.lots}


class LossIncidentForm(forms.Form):
    location = LocationChoiceField(
        label="Location",
        empty_label="Choose where it happened",
        error_messages={"required": "Choose the location the drug is missing from."},
    )
    kind = forms.ChoiceField(
        label="What happened",
        choices=LossKind.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose what happened."},
    )
    discovered_at = WallClockDateTimeField(
        label="Discovered at (optional)",
        required=False,
        help_text="On the location's clock. Leave empty for now.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        error_messages={"invalid": "Enter the time as YYYY-MM-DD HH:MM, e.g. 2026-03-27 17:30."},
    )
    description = forms.CharField(
        label="What is missing, and how it was found",
        required=False,  # the service says why it is needed
        max_length=4000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    amount_mg = forms.CharField(
        label="Amount missing (mg, optional)",
        required=False,
        max_length=30,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    confirm = forms.BooleanField(
        label="This report cannot be edited or deleted afterwards.",
        error_messages={"required": "Tick the box to confirm: the report is permanent."},
    )

    def __init__(self, *args: Any, locations: QuerySet[Location], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = locations.filter(is_active=True).order_by("name")


class LossStepForm(forms.Form):
    step = forms.ChoiceField(
        label="Report made",
        choices=LossStep.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose which report was made."},
    )
    reference = forms.CharField(
        label="Reference",
        required=False,  # the service says what to enter
        max_length=200,
        help_text="To whom and how the notice went, or Form 106's confirmation number.",
    )


def _witness_fields(prefix: str, label: str) -> dict[str, forms.Field]:
    return {
        prefix: StaffChoiceField(
            label=label,
            queryset=User.objects.filter(is_active=True),
            empty_label="Choose a nurse or physician who saw it",
            required=False,
        ),
        f"{prefix}_password": forms.CharField(
            label=f"{label}'s password",
            required=False,
            strip=False,
            widget=forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False),
        ),
        f"{prefix}_otp": cosigner_code_field(f"{label}'s 6-digit code"),
    }


class DestructionForm(forms.Form):
    """What DEA Form 41 asks of destroyed stock, and the two witnesses' signatures."""

    amount_mg = forms.CharField(
        label="Amount destroyed (mg)",
        required=False,
        max_length=30,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"}),
    )
    containers = forms.CharField(
        label="Containers (whole or partial)",
        required=False,
        max_length=10,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    reason = forms.CharField(
        label="Reason", required=False, max_length=300, help_text="e.g. expired, vial broken."
    )
    method = forms.ChoiceField(
        label="How",
        choices=DestructionMethod.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose how it is destroyed."},
    )
    reverse_distributor = forms.CharField(
        label="Reverse distributor's name", required=False, max_length=150
    )
    reverse_distributor_address = forms.CharField(
        label="Reverse distributor's address", required=False, max_length=300
    )
    reverse_distributor_dea_number = forms.CharField(
        label="Reverse distributor's DEA number", required=False, max_length=20
    )
    on_site_method = forms.CharField(
        label="How it was destroyed on site",
        required=False,
        max_length=300,
        help_text="e.g. emptied into a drug disposal container that renders it non-retrievable.",
    )
    confirm = forms.BooleanField(
        label="This record cannot be edited or deleted afterwards.",
        error_messages={"required": "Tick the box to confirm: the record is permanent."},
    )

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for prefix, label in (("witness", "First witness"), ("second_witness", "Second witness")):
            for name, field in _witness_fields(prefix, label).items():
                self.fields[name] = field
            choices = self.fields[prefix]
            choices.widget.choices = [
                ("", choices.empty_label),
                *(
                    (str(user.public_id), choices.label_from_instance(user))
                    for user in possible_witnesses(actor)
                ),
            ]
        self.order_fields([name for name in self.fields if name != "confirm"] + ["confirm"])
