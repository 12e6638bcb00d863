"""The medication list on the intake: one form per medicine (``MedicationRowForm``),
checking a whole list, and the list as stored with a patient's saved progress.

A row names a drug from the clinic's list (``patients.medicines``), either picked from
the search (``drug_key``) or typed in full (a listed generic or brand name is
recognised), or, when it is not listed, is kept as written (``other_name``). Strength,
how many each time, how often and since when may be unknown: the screening then reports
what it cannot compute instead of guessing.

In a link's draft and between the forms and ``intake_submit`` a row is a JSON object:
``drug_key``, ``other_name`` (or, going in, ``name`` as typed), ``strength_mg`` and
``units_each_time`` (decimal text or None), ``frequency``, ``since`` (ISO date or None)
and ``status``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from patients.intake.answers import to_json
from patients.intake.questions import NO, YES
from patients.medicines import drug_by_key, drug_by_name
from patients.medicines.doses import FREQUENCIES, FREQUENCY_BY_KEY
from patients.models import Medication, MedicationStatus, PatientLink

MAX_MEDICATIONS = 30
ROW_KEYS = (
    "drug_key",
    "other_name",
    "strength_mg",
    "units_each_time",
    "frequency",
    "since",
    "status",
)
FREQUENCY_CHOICES = [("", "I'm not sure"), *((f.key, f.label) for f in FREQUENCIES)]


class MedicationRowForm(forms.Form):
    """One medicine. ``name`` is what was typed; ``drug_key`` what was picked from the
    search (it wins when both are given)."""

    drug_key = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    name = forms.CharField(
        label="Medicine",
        required=False,
        max_length=120,
        label_suffix="",
        help_text="The name on the box, for example sertraline or Zoloft.",
        widget=forms.TextInput(attrs={"autocomplete": "off", "list": "medicine-names"}),
    )
    strength_mg = forms.DecimalField(
        label="Strength (mg)",
        required=False,
        min_value=Decimal("0.001"),
        max_value=Decimal(10000),
        max_digits=9,
        decimal_places=3,
        label_suffix="",
        help_text="As printed on the box, for one tablet or dose. Leave blank if you don't know.",
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any"}),
        error_messages={
            "invalid": "Enter the milligrams as a number, such as 0.5 or 20.",
            "min_value": "Enter more than 0 mg, or leave it blank if you don't know.",
            "max_value": "Enter 10,000 mg or less.",
            "max_decimal_places": "Use at most 3 decimal places, such as 0.125.",
            "max_digits": "Enter 10,000 mg or less, with at most 3 decimal places.",
        },
    )
    units_each_time = forms.DecimalField(
        label="How many each time",
        required=False,
        initial=Decimal(1),
        min_value=Decimal("0.01"),
        max_value=Decimal(50),
        max_digits=5,
        decimal_places=2,
        label_suffix="",
        help_text="Tablets, capsules or doses each time you take it, such as 1 or 0.5.",
        widget=forms.NumberInput(attrs={"inputmode": "decimal", "step": "any"}),
        error_messages={
            "invalid": "Enter a number, such as 1 or 0.5.",
            "min_value": "Enter more than 0, or leave it blank if you don't know.",
            "max_value": "Enter 50 or fewer.",
            "max_decimal_places": "Use at most 2 decimal places, such as 0.25.",
            "max_digits": "Enter 50 or fewer, with at most 2 decimal places.",
        },
    )
    frequency = forms.ChoiceField(
        label="How often",
        required=False,
        choices=FREQUENCY_CHOICES,
        label_suffix="",
        error_messages={"invalid_choice": "Choose one of the answers shown."},
    )
    since = forms.DateField(
        label="Since when",
        required=False,
        label_suffix="",
        help_text="Your best guess is fine.",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={"invalid": "Enter a date, for example 2023-05-01."},
    )
    status = forms.ChoiceField(
        label="Do you take it now?",
        choices=[
            (MedicationStatus.CURRENT, "Yes, I take it now"),
            (MedicationStatus.STOPPED, "No, I have stopped it"),
        ],
        initial=MedicationStatus.CURRENT,
        label_suffix="",
        widget=forms.RadioSelect,
        error_messages={
            "required": "Say whether you take it now or have stopped it.",
            "invalid_choice": "Choose one of the answers shown.",
        },
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        key = (data.get("drug_key") or "").strip()
        name = " ".join((data.get("name") or "").split())
        drug = drug_by_key(key) if key else drug_by_name(name)
        if key and drug is None:
            self.add_error(
                "name", "That medicine is not on our list: search again or type its name."
            )
        elif drug is not None:
            data["drug_key"], data["other_name"] = drug.key, ""
        elif name:
            data["drug_key"], data["other_name"] = "", name
        else:
            self.add_error("name", "Type the medicine's name, or search and choose it.")
        since = data.get("since")
        if since is not None and since > timezone.localdate():
            self.add_error("since", "This date is in the future: enter when you started it.")
        return data

    def row(self) -> dict[str, Any]:
        """A valid form's medicine, in stored form."""
        return {name: to_json(self.cleaned_data.get(name)) for name in ROW_KEYS} | {
            "frequency": self.cleaned_data.get("frequency") or "",
            "other_name": self.cleaned_data.get("other_name") or "",
        }


class BaseMedicationFormSet(forms.BaseFormSet):
    """Staff enter the list as rows of a formset; a row's name is typed or picked from the
    browser's own suggestions (a datalist of the clinic's list: no script needed)."""

    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        form.fields.pop("drug_key", None)  # staff type or pick the name itself

    def rows(self) -> list[dict[str, Any]]:
        """The valid formset's medicines, in stored form: rows left blank or marked to
        remove are left out."""
        return [
            form.row()
            for form in self.forms
            if form.cleaned_data and form not in self.deleted_forms
        ]


MedicationFormSet = forms.formset_factory(
    MedicationRowForm,
    formset=BaseMedicationFormSet,
    extra=3,
    can_delete=True,
    max_num=MAX_MEDICATIONS,
    validate_max=True,
)


def formset_initial(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Stored rows as a formset's initial values (the name shown as on the list)."""
    initial = []
    for row in rows:
        drug = drug_by_key(row.get("drug_key") or "")
        initial.append(
            {
                "name": drug.name if drug is not None else row.get("other_name") or "",
                "strength_mg": row.get("strength_mg"),
                "units_each_time": row.get("units_each_time"),
                "frequency": row.get("frequency") or "",
                "since": row.get("since"),
                "status": row.get("status") or MedicationStatus.CURRENT,
            }
        )
    return initial


def row_form_data(row: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """A stored row as the form's input (to check it again, or to edit it)."""
    data = {
        name: "" if row.get(name) is None else str(row.get(name))
        for name in ("drug_key", "strength_mg", "units_each_time", "frequency", "since", "status")
    }
    # A caller may give the name as typed ("name") rather than as stored ("other_name").
    data["name"] = str(row.get("name") or row.get("other_name") or "")
    if prefix:
        return {f"{prefix}-{name}": value for name, value in data.items()}
    return data


def clean_medication_rows(rows: Iterable[Any]) -> list[dict[str, Any]]:
    """Check a whole list and return it in stored form. Raises ``ValidationError`` with
    one message per wrong row, naming it ("Medicine 2: ...")."""
    rows = list(rows)
    if len(rows) > MAX_MEDICATIONS:
        raise ValidationError(
            f"List at most {MAX_MEDICATIONS} medicines; tell us about the rest at your "
            "consultation."
        )
    clean: list[dict[str, Any]] = []
    errors: list[ValidationError] = []
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, Mapping):
            errors.append(ValidationError(f"Medicine {number} is not a medicine."))
            continue
        form = MedicationRowForm(data=row_form_data(row))
        if form.is_valid():
            clean.append(form.row())
            continue
        for messages in form.errors.values():
            errors.extend(ValidationError(f"Medicine {number}: {message}") for message in messages)
    if errors:
        raise ValidationError(errors)
    return clean


def medication_models(rows: Iterable[Mapping[str, Any]]) -> list[Medication]:
    """Unsaved ``Medication`` rows (without their intake) from a clean list."""
    return [
        Medication(
            position=position,
            drug_key=row["drug_key"],
            other_name=row["other_name"],
            strength_mg=_decimal(row.get("strength_mg")),
            units_each_time=_decimal(row.get("units_each_time")),
            frequency=row.get("frequency") or "",
            since=row.get("since") or None,
            status=row["status"],
        )
        for position, row in enumerate(rows, start=1)
    ]


def medication_rows(medications: Iterable[Medication]) -> list[dict[str, Any]]:
    """Stored rows from saved ``Medication`` rows (to start a new version from them)."""
    return [
        {
            "drug_key": medication.drug_key,
            "other_name": medication.other_name,
            "strength_mg": to_json(medication.strength_mg),
            "units_each_time": to_json(medication.units_each_time),
            "frequency": medication.frequency,
            "since": to_json(medication.since),
            "status": medication.status,
        }
        for medication in medications
    ]


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


@dataclass(frozen=True)
class MedicationLine:
    """A row as people read it."""

    name: str
    class_label: str
    amount: str  # "1.5 mg, 1 each time, twice a day", or what is not known
    since: str
    status: str


def medication_lines(rows: Iterable[Mapping[str, Any]]) -> list[MedicationLine]:
    lines = []
    for row in rows:
        drug = drug_by_key(row.get("drug_key") or "")
        strength = _decimal(row.get("strength_mg"))
        units = _decimal(row.get("units_each_time"))
        frequency = FREQUENCY_BY_KEY.get(row.get("frequency") or "")
        amount = [
            f"{to_json(strength)} mg" if strength is not None else "strength not known",
            f"{to_json(units)} each time" if units is not None else "amount not known",
            frequency.label.lower() if frequency is not None else "how often not known",
        ]
        lines.append(
            MedicationLine(
                name=drug.name if drug is not None else str(row.get("other_name") or ""),
                class_label=drug.class_label if drug is not None else "Not on the clinic's list",
                amount=", ".join(amount),
                since=str(row.get("since") or ""),
                status=dict(MedicationStatus.choices).get(row.get("status") or "", ""),
            )
        )
    return lines


def list_problems(answers: Mapping[str, Any], rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """Where the answer to "do you take any medicines?" and the list disagree."""
    takes = answers.get("takes_medicines")
    current = [row for row in rows if row.get("status") == MedicationStatus.CURRENT]
    if takes == YES and not current:
        return [
            "You said you take medicines at the moment: add each one to the list, or "
            "change your answer to No."
        ]
    if takes == NO and current:
        return [
            f"You said you take no medicines at the moment, but {len(current)} on the list "
            f"{'is' if len(current) == 1 else 'are'} marked as taken now: change your answer, "
            "or mark them as stopped."
        ]
    return []


# --- A patient's unsubmitted list (kept on their link) ---------------------------------


def draft_medications(link: PatientLink) -> list[dict[str, Any]]:
    rows = (link.draft or {}).get("medications")
    return [dict(row) for row in rows if isinstance(row, Mapping)] if isinstance(rows, list) else []
