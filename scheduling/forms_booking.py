"""Forms of the public booking pages. They parse what was typed; the rules (who the booker
is, whether the time can be booked, consent) are ``scheduling.booking``'s."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from django import forms
from django.utils import timezone

from clinic.conditions import Condition
from clinic.phones import phone_e164
from patients.models import Channel, SexAtBirth
from scheduling.booking.booker import BookingDetails, consent_wording
from scheduling.booking.manage import CANCEL_NOTE_MAX_LENGTH
from scheduling.booking.offer import slot_parse
from scheduling.booking.submit import BOOKING_NOTE_MAX_LENGTH

NOT_SURE = "other"
REASON_MAX_LENGTH = BOOKING_NOTE_MAX_LENGTH
# The example numbers are ones the numbering plans hold: +44 7700 900123 is among those
# kept for drama, which the plan (and so the form) refuses.
MOBILE_HOW_TO = (
    "Enter your mobile number with its area code, e.g. (312) 555-0142, or from outside the US "
    "with + and the country code, e.g. +44 7400 123456."
)
_SLOT_UNREADABLE = (
    "That appointment time could not be read. Please choose a time from the list again."
)


class SlotField(forms.CharField):
    """A start time chosen from the list, as ``scheduling.booking.offer.slot_value`` wrote it."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("error_messages", {"required": _SLOT_UNREADABLE})
        super().__init__(max_length=40, **kwargs)

    def clean(self, value: Any) -> datetime:
        text = super().clean(value)
        starts_at = slot_parse(text)
        if starts_at is None:
            raise forms.ValidationError(_SLOT_UNREADABLE)
        return starts_at


class BookingDetailsForm(forms.Form):
    starts_at = SlotField()
    nonce = forms.CharField(widget=forms.HiddenInput, required=False)
    legal_first_name = forms.CharField(
        label="First name",
        max_length=100,
        help_text="Your legal first name, as on your photo ID.",
        widget=forms.TextInput(attrs={"autocomplete": "given-name"}),
        error_messages={"required": "Enter your first name, as on your photo ID."},
    )
    legal_last_name = forms.CharField(
        label="Last name",
        max_length=100,
        help_text="Your legal last name, as on your photo ID.",
        widget=forms.TextInput(attrs={"autocomplete": "family-name"}),
        error_messages={"required": "Enter your last name, as on your photo ID."},
    )
    date_of_birth = forms.DateField(
        label="Date of birth",
        help_text="For example 1984-03-27 (year, month, day) or 03/27/1984.",
        input_formats=["%Y-%m-%d", "%m/%d/%Y"],
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"),
        error_messages={
            "required": "Enter your date of birth, e.g. 1984-03-27.",
            "invalid": "Enter your date of birth as a real date, e.g. 1984-03-27 or 03/27/1984.",
        },
    )
    sex_at_birth = forms.ChoiceField(
        label="Sex recorded at birth",
        choices=SexAtBirth.choices,
        widget=forms.RadioSelect,
        help_text="Some treatments are not safe in pregnancy, so the physician needs to know.",
        error_messages={
            "required": "Choose the sex recorded at your birth.",
            "invalid_choice": "Choose the sex recorded at your birth from the options shown.",
        },
    )
    email = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
        error_messages={
            "required": "Enter your email address, e.g. name@example.com.",
            "invalid": "Enter a valid email address, e.g. name@example.com.",
        },
    )
    mobile = forms.CharField(
        label="Mobile number",
        max_length=32,
        help_text=(
            "With the area code, e.g. (312) 555-0142. From outside the US, start with + and "
            "the country code (international E.164 format), e.g. +447400123456."
        ),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}),
        error_messages={"required": "Enter your mobile number, e.g. (312) 555-0142."},
    )
    condition = forms.ChoiceField(
        label="What would you like help with?",
        choices=[("", "Choose one"), *Condition.choices, (NOT_SURE, "Something else, or not sure")],
        help_text=(
            "The main reason for your visit. You can tell the physician more at the consultation."
        ),
        error_messages={
            "required": "Choose the main reason for your visit, or “not sure”.",
            "invalid_choice": "Choose the main reason for your visit from the list.",
        },
    )
    reason = forms.CharField(
        label="Tell us a little more, in your own words (optional)",
        required=False,
        max_length=REASON_MAX_LENGTH,
        help_text=(
            "What brings you to us: a few words help us make sure you get the right help "
            "quickly. Our clinic team reads this before your visit. You can tell the physician "
            f"the details at the consultation. Up to {REASON_MAX_LENGTH} characters."
        ),
        widget=forms.Textarea(attrs={"rows": 3, "autocomplete": "off"}),
        error_messages={
            # Django fills in show_value: how many characters were typed.
            "max_length": f"Please keep this to {REASON_MAX_LENGTH} characters (it has "
            "%(show_value)d): you can tell the physician more at the consultation."
        },
    )
    consent_sms = forms.BooleanField(required=False)
    consent_email = forms.BooleanField(required=False)
    # Shown only where the location has a cancellation policy (scheduling.booking_terms); the
    # booking service says what to do when it is not ticked.
    agree_policy = forms.BooleanField(
        required=False,
        label="I have read the cancellation and no-show policy above and agree to it.",
    )
    policy_digest = forms.CharField(widget=forms.HiddenInput, required=False, max_length=64)
    # The honeypot: hidden from sight by CSS, labelled for screen readers, skipped by Tab.
    website = forms.CharField(
        label="Leave this field empty",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["consent_sms"].label = consent_wording(Channel.SMS)
        self.fields["consent_email"].label = consent_wording(Channel.EMAIL)

    def clean_nonce(self) -> str:
        # Made by booking_nonce; anything else (a hand-edited page) just gets no protection
        # against a double submit, rather than an error the booker cannot see or fix.
        nonce = self.cleaned_data["nonce"]
        return nonce if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", nonce) else ""

    def clean_date_of_birth(self) -> date:
        # The records service refuses it too; checked here as well so that this problem
        # shows with any others in the form, not on a second try.
        born = self.cleaned_data["date_of_birth"]
        if born > timezone.localdate():
            raise forms.ValidationError(
                "The date of birth is in the future. Check the year, e.g. 1984-03-27."
            )
        return born

    def clean_email(self) -> str:
        return self.cleaned_data["email"].strip().lower()

    def clean_mobile(self) -> str:
        """A mobile number in E.164, also accepting the ways people in the US write theirs:
        (312) 555-0142, 312.555.0142, 1-312-555-0142."""
        return phone_e164(self.cleaned_data["mobile"], how_to_write=MOBILE_HOW_TO, national=True)

    @property
    def is_honeypot_filled(self) -> bool:
        return bool(self.cleaned_data.get("website", "").strip())

    def details(self) -> BookingDetails:
        data = self.cleaned_data
        return BookingDetails(
            legal_first_name=data["legal_first_name"].strip(),
            legal_last_name=data["legal_last_name"].strip(),
            date_of_birth=data["date_of_birth"],
            sex_at_birth=data["sex_at_birth"],
            email=data["email"],
            mobile=data["mobile"],
            condition="" if data["condition"] == NOT_SURE else data["condition"],
            consent_sms=data["consent_sms"],
            consent_email=data["consent_email"],
            reason=" ".join(data["reason"].split()),
        )


class BookingCancelForm(forms.Form):
    note = forms.CharField(
        label="Reason (optional)",
        required=False,
        max_length=CANCEL_NOTE_MAX_LENGTH,
        help_text="If you would like to tell us why. Please don't include medical details.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
        error_messages={
            "max_length": f"Please keep the reason to {CANCEL_NOTE_MAX_LENGTH} characters, or "
            "leave it empty."
        },
    )


class BookingRescheduleForm(forms.Form):
    starts_at = SlotField()
