"""Forms for the patient record pages: details, contact consent, measurements, the list.

Forms only turn what was typed into values; the rules (ranges, dates, formats) are the
record services' (``patients.services.details`` and its siblings), whose ValidationErrors
the views show next to the fields with ``clinic.forms.show_service_errors``. So number
fields here have no minimum or maximum of their own: the service's message says what to fix.
"""

from __future__ import annotations

from typing import Any

from django import forms

from clinic.conditions import Condition
from clinic.forms import LocationChoiceField
from clinic.models import Location
from patients.models import (
    Channel,
    CommunicationConsent,
    Patient,
    PatientStatus,
    QuestionnaireResponse,
    SexAtBirth,
)
from patients.questionnaires import DEFINITIONS
from patients.selectors import search_date

DATE_OF_BIRTH_FORMATS = ["%Y-%m-%d", "%m/%d/%Y"]


def _model_field(name: str, required_message: str = "", **kwargs: Any) -> forms.Field:
    """The form field Django makes for a Patient text field: same label, help text and
    length."""
    field = Patient._meta.get_field(name).formfield(**kwargs)
    if required_message:
        field.error_messages["required"] = required_message
    return field


def _tel(**attrs: str) -> forms.TextInput:
    return forms.TextInput(attrs={"type": "tel", "autocomplete": "off", **attrs})


# What the phone fields take (patients.services.details reads them so).
PHONE_HELP = "With the area code, e.g. (212) 555-0142; outside the US, + and the country code."


class PatientForm(forms.Form):
    """A patient's details. Weight and height only for those who record clinical data."""

    legal_first_name = _model_field(
        "legal_first_name", "Enter the patient's legal first name, as on their ID."
    )
    legal_last_name = _model_field(
        "legal_last_name", "Enter the patient's legal last name, as on their ID."
    )
    preferred_name = _model_field("preferred_name", help_text="What they like to be called.")
    date_of_birth = forms.DateField(
        label="Date of birth",
        input_formats=DATE_OF_BIRTH_FORMATS,
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": "Enter the date of birth, e.g. 1984-03-27.",
            "invalid": "Enter the date of birth as YYYY-MM-DD or MM/DD/YYYY, e.g. 1984-03-27.",
        },
    )
    sex_at_birth = forms.ChoiceField(
        label="Sex at birth",
        choices=[("", "Choose"), *SexAtBirth.choices],
        error_messages={"required": "Choose the sex recorded at birth."},
    )
    email = forms.CharField(
        label="Email",
        max_length=254,
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "off"}),
    )
    mobile = forms.CharField(
        label="Mobile",
        max_length=30,
        required=False,
        widget=_tel(),
        help_text=PHONE_HELP,
    )
    address_line1 = _model_field("address_line1")
    address_line2 = _model_field("address_line2")
    city = _model_field("city")
    region = _model_field("region")
    postal_code = _model_field("postal_code")
    country = _model_field(
        "country", "Enter the two-letter country code, e.g. US.", help_text="Two letters, e.g. US."
    )
    emergency_contact_name = _model_field("emergency_contact_name")
    emergency_contact_relationship = _model_field(
        "emergency_contact_relationship", help_text="E.g. spouse, parent, friend."
    )
    emergency_contact_phone = forms.CharField(
        label="Emergency contact phone",
        max_length=30,
        required=False,
        widget=_tel(),
        help_text=PHONE_HELP,
    )
    preferred_location = LocationChoiceField(
        label="Preferred location", required=False, empty_label="No preference"
    )
    referring_clinician = _model_field(
        "referring_clinician", help_text="Name and practice of whoever referred them, if anyone."
    )
    conditions = forms.MultipleChoiceField(
        label="Conditions being treated",
        choices=Condition.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Tick every one that applies; it decides which questionnaires are suggested.",
        error_messages={"invalid_choice": "%(value)s is not in the list. Tick from the list."},
    )
    weight_kg = forms.DecimalField(
        label="Weight (kg)",
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
        error_messages={"invalid": "Enter the weight in kg as a number, e.g. 72.5."},
    )
    height_cm = forms.DecimalField(
        label="Height (cm)",
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
        error_messages={"invalid": "Enter the height in cm as a number, e.g. 172."},
    )

    CLINICAL_FIELDS = ("weight_kg", "height_cm")

    def __init__(
        self, *args: Any, locations: Any = None, clinical: bool = False, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.fields["preferred_location"].queryset = (
            locations if locations is not None else Location.objects.filter(is_active=True)
        ).order_by("name")
        if not clinical:
            for name in self.CLINICAL_FIELDS:
                del self.fields[name]

    @classmethod
    def initial_for(cls, patient: Patient) -> dict[str, Any]:
        initial = {name: getattr(patient, name) for name in cls.base_fields}
        location = patient.preferred_location
        initial["preferred_location"] = location.public_id if location else None
        return initial


class ContactConsentForm(forms.Form):
    channel = forms.ChoiceField(
        label="Channel",
        choices=Channel.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose email or text message (SMS)."},
    )
    granted = forms.TypedChoiceField(
        label="Consent",
        choices=[
            ("yes", "Given: the patient agrees to be contacted this way"),
            ("no", "Withdrawn or refused"),
        ],
        coerce=lambda value: value == "yes",
        widget=forms.RadioSelect,
        error_messages={"required": "Choose whether consent is given or withdrawn."},
    )
    method = forms.CharField(
        label="How",
        max_length=CommunicationConsent._meta.get_field("method").max_length,
        help_text="E.g. by phone, in person at reception, replied STOP to a text.",
        error_messages={"required": "Say how the patient gave or withdrew it, e.g. 'by phone'."},
    )
    wording = forms.CharField(
        label="Wording the patient agreed to",
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="If they saw or heard a consent statement, what it said.",
    )


class MeasurementForm(forms.Form):
    systolic = forms.IntegerField(
        label="Systolic BP (mmHg)",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={
            "required": "Enter the systolic blood pressure, the higher number, e.g. 128.",
            "invalid": "Enter the systolic pressure as a whole number, e.g. 128.",
        },
    )
    diastolic = forms.IntegerField(
        label="Diastolic BP (mmHg)",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={
            "required": "Enter the diastolic blood pressure, the lower number, e.g. 82.",
            "invalid": "Enter the diastolic pressure as a whole number, e.g. 82.",
        },
    )
    heart_rate = forms.IntegerField(
        label="Heart rate (beats a minute)",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={
            "required": "Enter the heart rate, e.g. 72.",
            "invalid": "Enter the heart rate as a whole number, e.g. 72.",
        },
    )
    spo2 = forms.IntegerField(
        label="SpO₂ (%)",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
        error_messages={
            "required": "Enter the oxygen saturation, e.g. 98.",
            "invalid": "Enter the oxygen saturation as a whole number, e.g. 98.",
        },
    )
    weight_kg = forms.DecimalField(
        label="Weight (kg)",
        required=False,
        widget=forms.NumberInput(attrs={"step": "0.1", "inputmode": "decimal"}),
        help_text="Leave empty if not weighed today; a weight updates the patient's record.",
        error_messages={"invalid": "Enter the weight in kg as a number, e.g. 72.5."},
    )


class QuestionnaireContextForm(forms.Form):
    context = forms.ChoiceField(
        label="When",
        choices=QuestionnaireResponse.Context.choices,
        initial=QuestionnaireResponse.Context.BASELINE,
        error_messages={"required": "Choose when the questionnaire was completed."},
    )


class QuestionnaireLinkForm(forms.Form):
    """Which questionnaires a link asks, and what the answers count as."""

    instruments = forms.MultipleChoiceField(
        label="Questionnaires",
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one questionnaire to send."},
    )
    context = forms.ChoiceField(
        label="The answers count as",
        choices=QuestionnaireResponse.Context.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose what the answers count as."},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["instruments"].choices = [
            (instrument.value, definition.title) for instrument, definition in DEFINITIONS.items()
        ]


class PatientFilterForm(forms.Form):
    q = forms.CharField(
        label="Search",
        max_length=100,
        required=False,
        help_text="Name or its first letters, date of birth (YYYY-MM-DD or MM/DD/YYYY), "
        "phone or email.",
    )
    status = forms.ChoiceField(
        label="Status", choices=[("", "Any status"), *PatientStatus.choices], required=False
    )
    location = LocationChoiceField(
        label="Preferred location", required=False, empty_label="Any location"
    )
    condition = forms.ChoiceField(
        label="Condition", choices=[("", "Any condition"), *Condition.choices], required=False
    )

    def __init__(self, *args: Any, locations: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if locations is not None:
            # What the choice shows and is chosen by: the list reads it on every search.
            self.fields["location"].queryset = locations.order_by("-is_active", "name").only(
                "pk", "public_id", "name", "is_active"
            )

    def clean_q(self) -> str:
        q = self.cleaned_data["q"].strip()
        try:
            search_date(q)
        except ValueError:
            raise forms.ValidationError(
                f"{q} is not a real date. Enter a date of birth as YYYY-MM-DD or MM/DD/YYYY, "
                "e.g. 1984-03-27 or 03/27/1984."
            ) from None
        return q

    def filters(self) -> dict[str, Any]:
        """The valid filters, for ``patients_search``; an invalid one is left out."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "search": data.get("q", ""),
            "status": data.get("status", ""),
            "location": data.get("location"),
            "condition": data.get("condition", ""),
        }
