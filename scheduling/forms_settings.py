"""Forms for the scheduling settings pages: staff shifts and appointment types.

They only turn what was typed into values; the rules (a shift that ends before it starts,
someone who is not a clinician, minutes out of range, an infusion booked online) are
``scheduling.shifts``', whose ValidationErrors the views show next to the fields.
"""

from __future__ import annotations

from typing import Any

from django import forms

from clinic.models import User
from scheduling.forms import WEEKDAYS
from scheduling.shifts import shift_clinicians


def _time_field(label: str, verb: str, example: str) -> forms.TimeField:
    return forms.TimeField(
        label=label,
        input_formats=["%H:%M", "%H:%M:%S"],
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={
            "required": f"Enter the time the shift {verb}, e.g. {example}.",
            "invalid": f"Enter the time as HH:MM, e.g. {example}.",
        },
        help_text="Local time at the location.",
    )


class ClinicianChoiceField(forms.ModelChoiceField):
    """An active nurse or physician, chosen by public id; anything else (not even a UUID)
    gets the same "choose from the list" message."""

    def label_from_instance(self, obj: User) -> str:
        return f"{obj.full_name} ({', '.join(obj.role_labels).lower()})"

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except forms.ValidationError:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            ) from None


class ShiftHoursForm(forms.Form):
    """The hours of one shift (changing a shift whose person and day are fixed)."""

    starts_at = _time_field("Starts at", "starts", "08:00")
    ends_at = _time_field("Ends at", "ends", "17:30")


class ShiftForm(ShiftHoursForm):
    """A new shift, or new hours for someone's shift on that day."""

    staff = ClinicianChoiceField(
        shift_clinicians(),
        label="Who",
        to_field_name="public_id",
        empty_label="Choose a nurse or physician",
        error_messages={
            "required": "Choose who works the shift.",
            "invalid_choice": "That person is not an active nurse or physician: choose someone "
            "from the list.",
        },
    )
    weekday = forms.TypedChoiceField(
        label="Day",
        choices=WEEKDAYS,
        coerce=int,
        error_messages={
            "required": "Choose the day of the week.",
            "invalid_choice": "Choose a day of the week from the list.",
        },
    )

    field_order = ["staff", "weekday", "starts_at", "ends_at"]


class AppointmentTypeForm(forms.Form):
    duration_minutes = forms.IntegerField(
        label="Minutes",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={
            "required": "Enter how many minutes it takes.",
            "invalid": "Enter a whole number of minutes, e.g. 45.",
        },
        help_text="The appointment itself; between 5 and 480.",
    )
    recovery_minutes = forms.IntegerField(
        label="Recovery minutes",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={
            "required": "Enter the recovery minutes, or 0 for none.",
            "invalid": "Enter a whole number of minutes, e.g. 45, or 0 for none.",
        },
        help_text="How long the patient stays (in the chair) afterwards; 0 to 240.",
    )
    bookable_online = forms.BooleanField(
        label="Patients may book it online",
        required=False,
        help_text="When off, the public booking page asks patients to call instead.",
    )
