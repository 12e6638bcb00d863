"""Forms for the DEA records' pages. They shape what was typed; ``infusions.dea`` checks the
values (the number's format and check digit, the registrant, the expiry) and its messages
are shown next to these fields (``clinic.forms.show_service_errors``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from clinic.forms import LocationChoiceField, StaffChoiceField
from clinic.models import Location, User
from infusions.dea import possible_registrants

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
