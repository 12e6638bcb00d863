"""Forms for the controlled-substance ledger's pages.

The forms only shape what was typed; ``infusions.ledger`` checks the values (amounts,
decimals, balances, the witness and their password) and its messages are shown next to
these fields (``clinic.forms.show_service_errors``). Amounts are text fields so that what
was typed reaches the service as it was: it refuses rather than rounds.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from django import forms
from django.db.models import QuerySet
from django.utils import timezone

from clinic.forms import LocationChoiceField, StaffChoiceField, cosigner_code_field
from clinic.models import Location, User
from clinic.permissions import ROLE_CAPABILITIES
from infusions.ledger import LEDGER_CAPABILITY
from infusions.models import LedgerEntry

CONFIRM_LABEL = (
    "I have checked the figures. This record cannot be edited or deleted afterwards: a "
    "mistake is corrected by a new adjustment."
)
CONFIRM_REQUIRED = (
    "Tick the box to confirm: ledger records are permanent, so check the figures first."
)
EXPORT_DAYS = 30
EARLIEST, LATEST = date(2000, 1, 1), date(2199, 12, 31)


def _amount_field(label: str, help_text: str = "", **attrs: str) -> forms.CharField:
    # Not required here: the ledger's own message says what to enter, next to the others.
    return forms.CharField(
        label=label,
        required=False,
        max_length=30,
        help_text=help_text,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off", **attrs}),
    )


def _confirm_field() -> forms.BooleanField:
    return forms.BooleanField(label=CONFIRM_LABEL, error_messages={"required": CONFIRM_REQUIRED})


def ledger_roles() -> list[str]:
    """The roles whose holders may handle (and witness) the drug, from clinic.permissions."""
    return [role.value for role, caps in ROLE_CAPABILITIES.items() if LEDGER_CAPABILITY in caps]


def possible_witnesses(actor: User) -> QuerySet[User]:
    """Everyone else who could witness ``actor``'s waste: active nurses and physicians."""
    return (
        User.objects.filter(is_active=True, roles__overlap=ledger_roles())
        .exclude(pk=actor.pk)
        .order_by("full_name", "email")
    )


class WallClockDateTimeField(forms.DateTimeField):
    """A date and time as typed, without a zone: the view puts it on the location's clock
    (the location is chosen on the same form)."""

    def to_python(self, value: Any) -> datetime | None:
        with timezone.override(UTC):  # UTC has no gaps or repeats: nothing is refused here
            result = super().to_python(value)
        return result.replace(tzinfo=None) if result is not None else None


# --- The stock list ----------------------------------------------------------------------


class LotFilterForm(forms.Form):
    location = LocationChoiceField(
        label="Location", required=False, empty_label="Every location", mark_deactivated=False
    )
    q = forms.CharField(
        label="Lot number or product",
        max_length=100,
        required=False,
        help_text="Part of the lot number or the product name.",
    )
    show_all = forms.BooleanField(
        label="Also show empty and expired lots",
        required=False,
    )

    def __init__(self, *args: Any, locations: QuerySet[Location], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = locations.order_by("name")


# --- Receiving a delivery ----------------------------------------------------------------


class LotReceiveForm(forms.Form):
    location = LocationChoiceField(
        label="Location",
        empty_label="Choose where the stock is kept",
        error_messages={"required": "Choose the location that received the delivery."},
    )
    product_name = forms.CharField(
        label="Product",
        max_length=120,
        help_text="As on the label, e.g. Ketamine HCl injection 50 mg/mL.",
        required=False,  # the ledger says what is missing, with every other problem
    )
    concentration_mg_per_ml = _amount_field("Strength (mg/mL)", "e.g. 50 or 100.")
    container_volume_ml = _amount_field(
        "Container size (mL)", "The volume of one vial as on its label, e.g. 10."
    )
    containers_received = forms.CharField(
        label="Containers received",
        max_length=10,
        required=False,  # the ledger says what is missing, with every other problem
        help_text="How many vials of this lot arrived, e.g. 5.",
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    lot_number = forms.CharField(
        label="Lot number",
        max_length=60,
        required=False,  # the ledger says what is missing, with every other problem
    )
    expiry_date = forms.DateField(
        label="Expiry date",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": "Enter the expiry date printed on the packaging.",
            "invalid": "Enter the expiry date as YYYY-MM-DD, e.g. 2027-03-31.",
        },
    )
    supplier = forms.CharField(
        label="Supplier's name",
        max_length=150,
        required=False,  # the ledger says what is missing, with every other problem
    )
    supplier_address = forms.CharField(
        label="Supplier's address",
        max_length=300,
        required=False,  # the ledger says what is missing, with every other problem
        help_text="As on the invoice: street, city, state and ZIP code.",
    )
    supplier_dea_number = forms.CharField(
        label="Supplier's DEA number",
        max_length=20,
        required=False,  # the ledger checks it (format and check digit)
        help_text="On the invoice or DEA Form 222, e.g. PS1234563.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    invoice_number = forms.CharField(
        label="Invoice number",
        max_length=60,
        required=False,  # the ledger says what is missing, with every other problem
    )
    received_at = WallClockDateTimeField(
        label="Date and time received (optional)",
        required=False,
        help_text="On the location's clock. Leave empty for now.",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"],
        error_messages={"invalid": "Enter the time as YYYY-MM-DD HH:MM, e.g. 2026-03-27 09:30."},
    )

    def __init__(self, *args: Any, locations: QuerySet[Location], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = locations.filter(is_active=True).order_by("name")

    def clean_received_at(self) -> datetime | None:
        received_at = self.cleaned_data["received_at"]
        if received_at is not None:
            _within_range(received_at.date())
        return received_at


# --- A lot's entries ---------------------------------------------------------------------


class WasteForm(forms.Form):
    amount_mg = _amount_field("Amount wasted (mg)", "The drug destroyed, in mg.")
    witness = StaffChoiceField(
        label="Witness",
        # Any active account validates, so that choosing oneself or someone who may not
        # witness gets the ledger's own explanation; the list offers only those who may.
        queryset=User.objects.filter(is_active=True),
        empty_label="Choose the nurse or physician who saw it",
        required=False,
        help_text="Another nurse or physician who saw the drug destroyed.",
    )
    witness_password = forms.CharField(
        label="Witness's password",
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}, render_value=False),
        help_text="The witness types their own password to confirm.",
    )
    witness_otp = cosigner_code_field("Witness's 6-digit code")
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="e.g. remainder of a vial after a dose.",
    )
    confirm = _confirm_field()

    prefix = "waste"

    def __init__(self, *args: Any, actor: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["witness"]
        field.widget.choices = [
            ("", field.empty_label),
            *(
                (str(user.public_id), field.label_from_instance(user))
                for user in possible_witnesses(actor)
            ),
        ]


class AdjustmentForm(forms.Form):
    amount_mg = _amount_field(
        "Adjustment (mg)",
        "Signed: a positive amount adds to the balance, a negative one (e.g. -5) takes away.",
    )
    reason = forms.CharField(
        label="Reason",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Which entry was wrong and how, or what happened.",
        required=False,  # the ledger says why a reason is needed
    )
    corrects = forms.ChoiceField(
        label="Corrects entry (optional)",
        required=False,
        help_text="The entry this adjustment corrects, if any.",
        error_messages={"invalid_choice": "That entry is not in the list. Pick one from it."},
    )
    confirm = _confirm_field()

    prefix = "adjust"

    def __init__(
        self, *args: Any, entries: list[LedgerEntry], describe: Any, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.entries = {str(entry.public_id): entry for entry in entries}
        self.fields["corrects"].choices = [
            ("", "No entry: a new adjustment"),
            *((key, describe(entry)) for key, entry in self.entries.items()),
        ]

    def corrected_entry(self) -> LedgerEntry | None:
        return self.entries.get(self.cleaned_data.get("corrects") or "")


class CountForm(forms.Form):
    counted_mg = _amount_field(
        "Counted (mg)", "What is physically in this lot now, in mg (0 when it is empty)."
    )
    explanation = forms.CharField(
        label="Explanation of any difference",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Required when the count differs from the book; the difference is then "
        "booked as an adjustment.",
    )
    confirm = _confirm_field()

    prefix = "count"

    def __init__(self, *args: Any, lot: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lot = lot
        if lot is not None and lot.is_devices:
            # Spravato is counted in whole devices, as it is received; the ledger gets mg.
            self.fields["counted_mg"] = _amount_field(
                "Counted (devices)",
                "How many 28 mg Spravato devices are physically in this lot now (0 when it "
                "is empty).",
                inputmode="numeric",
            )

    def clean_counted_mg(self) -> Any:
        value = self.cleaned_data.get("counted_mg", "")
        if self.lot is None or not self.lot.is_devices or value in (None, ""):
            return value
        text = str(value).strip()
        if not text.isdigit() or len(text) > 6:
            raise forms.ValidationError(
                "Enter the whole number of devices counted (0 if none is there): Spravato is "
                "counted in devices, not mg."
            )
        return int(text) * self.lot.mg_per_device


# --- The export --------------------------------------------------------------------------


class ExportForm(forms.Form):
    start = forms.DateField(
        label="From",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": "Enter the first day to export.",
            "invalid": "Enter the first day as YYYY-MM-DD, e.g. 2026-03-01.",
        },
    )
    end = forms.DateField(
        label="To",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        help_text="Inclusive; each location's own dates.",
        error_messages={
            "required": "Enter the last day to export.",
            "invalid": "Enter the last day as YYYY-MM-DD, e.g. 2026-03-31.",
        },
    )

    @staticmethod
    def initial_for(today: date) -> dict[str, date]:
        return {"start": today - timedelta(days=EXPORT_DAYS), "end": today}

    def clean_start(self) -> date:
        return _within_range(self.cleaned_data["start"])

    def clean_end(self) -> date:
        return _within_range(self.cleaned_data["end"])


def _within_range(day: date) -> date:
    # Dates near the ends of the calendar would overflow the arithmetic around them.
    if not EARLIEST <= day <= LATEST:
        raise forms.ValidationError(f"Enter a date between {EARLIEST} and {LATEST}.")
    return day


class InspectionForm(ExportForm):
    """Which location's records and which dates the inspection report covers."""

    location = LocationChoiceField(
        label="Location",
        help_text="Each location keeps its records under its own DEA registration.",
        error_messages={"required": "Choose the location being inspected."},
    )
    field_order = ["location", "start", "end"]

    def __init__(self, *args: Any, locations: QuerySet[Location], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = locations.order_by("name")
        self.order_fields(self.field_order)
