"""Forms for the staff scheduling pages: the board's filters, booking, cancelling and the
waitlist.

Forms only turn what was typed into values; the rules (a time in the past, outside the
opening hours, an infusion without consent, a cancellation without a reason…) are the
services' (``scheduling.services``), whose ValidationErrors the views show next to the
fields with ``clinic.forms.show_service_errors``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from django import forms
from django.db.models import QuerySet

from clinic.models import Location
from scheduling.models import AppointmentType
from scheduling.services.status_rules import CANCEL_REASON_MAX_LENGTH

# Far enough either way for any real schedule, near enough that date arithmetic is safe.
EARLIEST_DAY = date(2000, 1, 1)
LATEST_DAY = date(2099, 12, 31)
WEEKDAYS = [
    (0, "Monday"),
    (1, "Tuesday"),
    (2, "Wednesday"),
    (3, "Thursday"),
    (4, "Friday"),
    (5, "Saturday"),
    (6, "Sunday"),
]


def _date_field(label: str, *, required: bool = True, **kwargs: Any) -> forms.DateField:
    return forms.DateField(
        label=label,
        required=required,
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        error_messages={
            "required": f"Choose the {label.lower()}.",
            "invalid": "Enter the date as YYYY-MM-DD, e.g. 2026-12-01.",
        },
        **kwargs,
    )


def _in_range(day: date | None) -> date | None:
    if day is not None and not EARLIEST_DAY <= day <= LATEST_DAY:
        raise forms.ValidationError(
            f"Choose a date between {EARLIEST_DAY:%Y-%m-%d} and {LATEST_DAY:%Y-%m-%d}."
        )
    return day


class _ByPublicId(forms.ModelChoiceField):
    """Chooses a row by its public id; anything that is not one of the choices (not even a
    UUID) gets the same "choose one of the list" message."""

    def __init__(self, queryset: QuerySet, **kwargs: Any) -> None:
        super().__init__(queryset, to_field_name="public_id", **kwargs)

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except forms.ValidationError:
            raise forms.ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            ) from None


def _location_field(locations: QuerySet[Location]) -> _ByPublicId:
    return _ByPublicId(
        locations,
        label="Location",
        empty_label=None,
        error_messages={
            "required": "Choose a location.",
            "invalid_choice": "That location is not one you can book at: choose one from the list.",
        },
    )


def _type_field() -> forms.ModelChoiceField:
    return forms.ModelChoiceField(
        AppointmentType.objects.order_by("id"),
        label="Appointment type",
        to_field_name="kind",
        empty_label=None,
        error_messages={
            "required": "Choose what kind of appointment it is.",
            "invalid_choice": "That is not an appointment type: choose one from the list.",
        },
    )


# --- The board ---------------------------------------------------------------------------


class BoardFilterForm(forms.Form):
    """Which location, day and view the board shows. An invalid value is shown with its
    error and the default is used instead."""

    location = forms.ChoiceField(label="Location")
    date = _date_field("Date", required=False)
    view = forms.ChoiceField(
        label="View",
        choices=[("day", "Day"), ("week", "Week")],
        required=False,
        error_messages={"invalid_choice": "Choose the day view or the week view."},
    )

    def __init__(self, *args: Any, locations: list[Location], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.locations = locations
        field = self.fields["location"]
        field.choices = [(str(location.public_id), location.name) for location in locations]
        field.required = False
        field.error_messages["invalid_choice"] = (
            "There is no open location with that id: showing yours instead. Choose a "
            "location from the list."
        )

    def clean_date(self) -> date | None:
        return _in_range(self.cleaned_data.get("date"))

    def choice(
        self,
        today_at: Callable[[Location], date],
        home: Callable[[list[Location]], Location] | None = None,
    ) -> tuple[Location, date, str]:
        """The location, day and view to show: each as asked for when valid, else the
        reader's own location (``home(locations)``, asked only then; without it the first),
        today there (``today_at(location)``) and the day view. An invalid value keeps its
        error for the page to show."""
        self.is_valid()  # cleaned_data keeps the fields that are valid
        data = self.cleaned_data
        by_id = {str(location.public_id): location for location in self.locations}
        location = by_id.get(data.get("location") or "")
        if location is None:
            location = home(self.locations) if home is not None else self.locations[0]
        return location, data.get("date") or today_at(location), data.get("view") or "day"


# --- Booking and moving ----------------------------------------------------------------------


class InstantField(forms.CharField):
    """A moment with its UTC offset, as the slot buttons send it ("2026-12-01T16:00:00+00:00");
    a time without an offset is refused rather than guessed."""

    default_error_messages = {
        "invalid": "That time could not be read: choose one of the free times listed.",
    }

    def to_python(self, value: Any) -> datetime | None:  # type: ignore[override]
        text = super().to_python(value)
        if not text:
            return None
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid") from None
        if moment.tzinfo is None or not EARLIEST_DAY <= moment.date() <= LATEST_DAY:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return moment


class SlotSearchForm(forms.Form):
    """Where, what and which day to look for free times (a GET form)."""

    appointment_type = _type_field()
    day = _date_field("Day")

    def __init__(self, *args: Any, locations: QuerySet[Location], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"] = _location_field(locations)
        self.order_fields(["location", "appointment_type", "day"])

    def clean_day(self) -> date | None:
        return _in_range(self.cleaned_data.get("day"))


class SlotChoiceForm(forms.Form):
    """The free time chosen (a slot button's value)."""

    starts_at = InstantField(
        label="Time",
        error_messages={"required": "Choose one of the free times listed."},
    )


class CancelForm(forms.Form):
    # Whether a reason was given, and how long it may be, is the service's rule: its message
    # appears under the field.
    reason = forms.CharField(
        label="Reason for cancelling",
        required=False,
        max_length=CANCEL_REASON_MAX_LENGTH,
        widget=forms.TextInput(attrs={"required": True, "autocomplete": "off"}),
        help_text="Required. Kept with the appointment, e.g. “patient unwell” or “clinic closed”.",
    )
    who = forms.ChoiceField(
        label="Who cancelled",
        choices=[
            ("patient", "The patient cancelled"),
            ("clinic", "The clinic cancelled (closed, staff away, equipment): no late-cancel fee"),
        ],
        initial="patient",
        required=False,
        widget=forms.RadioSelect,
    )


class UndoForm(forms.Form):
    # Whether a reason was given is the service's rule: its message appears under the field.
    reason = forms.CharField(
        label="Why undo it",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"required": True, "autocomplete": "off"}),
        help_text="Required. Kept with the appointment's history, e.g. “pressed by mistake”.",
    )


class NoShowForm(forms.Form):
    confirm = forms.BooleanField(
        label="Yes, the patient did not come",
        required=False,
        help_text="The time is freed and offered to the waitlist.",
    )


class EndVisitForm(forms.Form):
    confirm = forms.BooleanField(
        label="Yes, the consultation has taken place and the patient is leaving",
        required=False,
        help_text="The visit ends and its invoice is drafted.",
    )


class RescheduleRangeForm(forms.Form):
    """Which days the reschedule page lists free times for (a GET form)."""

    start = _date_field("From", required=False)

    def clean_start(self) -> date | None:
        return _in_range(self.cleaned_data.get("start"))


# --- The waitlist ----------------------------------------------------------------------------


class WaitlistEntryForm(forms.Form):
    appointment_type = _type_field()
    earliest_date = _date_field(
        "Earliest date", required=False, help_text="Leave empty for “as soon as possible”."
    )
    latest_date = _date_field(
        "Latest date", required=False, help_text="Leave empty for “any time”."
    )
    preferred_weekdays = forms.TypedMultipleChoiceField(
        label="Days that suit",
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked means any day.",
        error_messages={"invalid_choice": "Tick days from the list."},
    )
    preferred_after = forms.TimeField(
        label="Starting at or after",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={"invalid": "Enter the time as HH:MM, e.g. 09:30."},
        help_text="Local time at the location.",
    )
    preferred_before = forms.TimeField(
        label="Starting before",
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        error_messages={"invalid": "Enter the time as HH:MM, e.g. 16:00."},
        help_text="Local time at the location.",
    )

    def __init__(self, *args: Any, locations: QuerySet[Location], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"] = _location_field(locations)
        self.order_fields(
            [
                "location",
                "appointment_type",
                "earliest_date",
                "latest_date",
                "preferred_weekdays",
                "preferred_after",
                "preferred_before",
            ]
        )

    def clean_earliest_date(self) -> date | None:
        return _in_range(self.cleaned_data.get("earliest_date"))

    def clean_latest_date(self) -> date | None:
        return _in_range(self.cleaned_data.get("latest_date"))


class WaitlistFilterForm(forms.Form):
    location = forms.ChoiceField(label="Location", required=False)

    def __init__(self, *args: Any, locations: list[Location], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.by_id = {str(location.public_id): location for location in locations}
        field = self.fields["location"]
        field.choices = [("", "All locations")] + [
            (key, location.name) for key, location in self.by_id.items()
        ]
        field.error_messages["invalid_choice"] = (
            "There is no location with that id: showing all locations. Choose one from the list."
        )

    def chosen_location(self) -> Location | None:
        """The location asked for, or None for all (also when the choice was invalid)."""
        if not self.is_valid():
            return None
        return self.by_id.get(self.cleaned_data["location"])
