"""Forms for planning and running treatment courses.

They only read what was typed: local dates and times are turned into instants with the
location's own clock (``wall_clock_instants``), so a time skipped when the clocks go forward
is refused instead of silently moved. The rules live in ``scheduling.courses``.
"""

from __future__ import annotations

from datetime import date, datetime, time
from typing import Any

from django import forms
from django.conf import settings

from clinic.models import Location
from scheduling.availability import wall_clock_instants
from scheduling.courses.boosters_and_end import DISCONTINUE_REASON_MAX_LENGTH
from scheduling.courses.limits import (
    GAP_MAX,
    GAP_MIN,
    INFUSIONS_MAX,
    INFUSIONS_MIN,
    WINDOW_MAX,
    WINDOW_MIN,
)

WEEKDAY_CHOICES = [
    (str(day), name)
    for day, name in enumerate(
        ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    )
]


def _time_input() -> forms.TimeInput:
    return forms.TimeInput(attrs={"type": "time", "step": 900}, format="%H:%M")


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class CourseSettingsForm(forms.Form):
    """What to plan: where, how many infusions within how many days, and the patient's
    preferred days and times."""

    location = forms.ModelChoiceField(
        label="Location",
        queryset=Location.objects.filter(is_active=True).order_by("name"),
        to_field_name="public_id",
        empty_label=None,
        error_messages={
            "required": "Choose the location where the infusions will be.",
            "invalid_choice": "That location is not taking bookings: choose one from the list.",
        },
    )
    planned_infusions = forms.IntegerField(
        label="Number of infusions",
        min_value=INFUSIONS_MIN,
        max_value=INFUSIONS_MAX,
        help_text=f"{INFUSIONS_MIN} to {INFUSIONS_MAX}.",
        error_messages={
            "required": "Enter how many infusions the course has.",
            "invalid": "Enter a whole number of infusions.",
        },
    )
    window_days = forms.IntegerField(
        label="Within (days)",
        min_value=WINDOW_MIN,
        max_value=WINDOW_MAX,
        help_text=f"All infusions fall within this many days of the first ({WINDOW_MIN} to "
        f"{WINDOW_MAX}).",
        error_messages={
            "required": "Enter how many days the course may take.",
            "invalid": "Enter a whole number of days.",
        },
    )
    min_gap_hours = forms.IntegerField(
        label="At least (hours apart)",
        min_value=GAP_MIN,
        max_value=GAP_MAX,
        help_text=f"Between the starts of two infusions ({GAP_MIN} or more).",
        error_messages={
            "required": "Enter the shortest time between two infusions, in hours.",
            "invalid": "Enter a whole number of hours.",
        },
    )
    start_date = forms.DateField(
        label="First infusion on or after",
        widget=_date_input(),
        error_messages={
            "required": "Enter the first day the patient could come.",
            "invalid": "Enter a date like 2026-12-01.",
        },
    )
    preferred_weekdays = forms.TypedMultipleChoiceField(
        label="Preferred days",
        choices=WEEKDAY_CHOICES,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave all unticked for any day.",
    )
    preferred_after = forms.TimeField(
        label="Start from",
        required=False,
        widget=_time_input(),
        help_text="Local time; empty for opening time.",
        error_messages={"invalid": "Enter a time like 09:00."},
    )
    preferred_before = forms.TimeField(
        label="Start before",
        required=False,
        widget=_time_input(),
        help_text="Local time; empty for any time of day.",
        error_messages={"invalid": "Enter a time like 15:00."},
    )
    strict_preferences = forms.BooleanField(
        label="Only on the preferred days and times",
        required=False,
        help_text="Otherwise, when the course does not fit them, other times are proposed "
        "too (and marked).",
    )

    @classmethod
    def defaults(cls, *, location: Location | None, tomorrow: date) -> dict[str, Any]:
        return {
            "location": location.public_id if location else None,
            "planned_infusions": settings.COURSE_DEFAULT_INFUSIONS,
            "window_days": settings.COURSE_WINDOW_DAYS,
            "min_gap_hours": settings.COURSE_MIN_GAP_HOURS,
            "start_date": tomorrow,
        }

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        after, before = data.get("preferred_after"), data.get("preferred_before")
        if after and before and before <= after:
            self.add_error(
                "preferred_before",
                f"“Start before” must be later than “start from” ({after:%H:%M}): widen the times.",
            )
        return data

    def plan_arguments(self) -> dict[str, Any]:
        """The cleaned values as ``course_plan`` takes them (call after ``is_valid``)."""
        data = self.cleaned_data
        return {
            "location": data["location"],
            "planned_infusions": data["planned_infusions"],
            "window_days": data["window_days"],
            "min_gap_hours": data["min_gap_hours"],
            "start_date": data["start_date"],
            "preferred_weekdays": data["preferred_weekdays"],
            "preferred_after": data["preferred_after"],
            "preferred_before": data["preferred_before"],
            "strict_preferences": data["strict_preferences"],
        }


class LocalDateTimeWidget(forms.SplitDateTimeWidget):
    """A date input and a time input side by side, each labelled for screen readers."""

    def __init__(self, label: str) -> None:
        css = "form-control d-inline-block w-auto"
        super().__init__(
            date_attrs={"type": "date", "aria-label": f"{label}: date", "class": css},
            time_attrs={
                "type": "time",
                "step": 900,
                "aria-label": f"{label}: time",
                "class": css,
            },
            date_format="%Y-%m-%d",
            time_format="%H:%M",
        )


class MarksInvalidDateTimes(forms.Form):
    """Marks the inputs of a date-and-time field that has errors (``is-invalid``,
    ``aria-invalid``) and ties them to the errors' element ``<field id>-errors``, since
    these fields are laid out by hand rather than by crispy-forms."""

    def add_error(self, field: str | None, error: Any) -> None:
        super().add_error(field, error)
        for name, field_errors in self.errors.items():
            widget = self.fields[name].widget if name in self.fields else None
            if not field_errors or not isinstance(widget, LocalDateTimeWidget):
                continue
            for part in widget.widgets:
                if "is-invalid" not in part.attrs["class"]:
                    part.attrs["class"] += " is-invalid"
                part.attrs["aria-invalid"] = "true"
                part.attrs["aria-describedby"] = f"{self[name].auto_id}-errors"


class LocalDateTimeField(forms.MultiValueField):
    """A date and a time on the location's wall clock; cleans to ``(date, time)``."""

    def __init__(self, *, label: str, **kwargs: Any) -> None:
        fields = (
            forms.DateField(error_messages={"invalid": "Enter a date like 2026-12-01."}),
            forms.TimeField(error_messages={"invalid": "Enter a time like 14:00."}),
        )
        super().__init__(
            fields,
            label=label,
            widget=LocalDateTimeWidget(label),
            require_all_fields=True,
            error_messages={
                "required": f"Enter a date and a time for {label.lower()}.",
                "incomplete": f"Enter both the date and the time for {label.lower()}.",
            },
            **kwargs,
        )

    def compress(self, data_list: list[Any]) -> tuple[date, time] | None:
        if not data_list:
            return None
        return data_list[0], data_list[1]


def local_instant(form: forms.Form, field: str, location: Location) -> datetime | None:
    """The instant ``form``'s cleaned ``field`` (date, time) means at ``location``, or None
    with an error on the field when that wall time never happens there (the hour skipped
    when clocks go forward). A time that happens twice (clocks going back) is the first."""
    value = form.cleaned_data.get(field)
    if value is None:
        return None
    day, at = value
    instants = wall_clock_instants(location=location, day=day, at=at)
    if not instants:
        form.add_error(
            field,
            f"{at:%H:%M} does not exist on {day:%a} {day.day} {day:%b} at {location.name}: the "
            "clocks go forward then. Choose another time.",
        )
        return None
    return instants[0]


class CourseConfirmForm(MarksInvalidDateTimes):
    """One date and time per infusion, prefilled from the plan; staff may change any."""

    def __init__(self, *args: Any, count: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.count = count
        for number in range(1, count + 1):
            self.fields[f"infusion_{number}"] = LocalDateTimeField(label=f"Infusion {number}")

    def starts(self, location: Location) -> list[datetime] | None:
        """Every infusion's start as an instant (after ``is_valid``); None, with the errors
        on their fields, if any wall time does not exist at ``location``."""
        starts = [
            local_instant(self, f"infusion_{number}", location)
            for number in range(1, self.count + 1)
        ]
        if any(starts_at is None for starts_at in starts):
            return None
        return [starts_at for starts_at in starts if starts_at is not None]

    def infusion_fields(self) -> list[forms.BoundField]:
        return [self[f"infusion_{number}"] for number in range(1, self.count + 1)]


class BoosterForm(MarksInvalidDateTimes):
    when = LocalDateTimeField(label="Booster")


class DiscontinueForm(forms.Form):
    reason = forms.CharField(
        label="Why does the course stop?",
        max_length=DISCONTINUE_REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required. The cancelled appointments carry this reason too.",
        error_messages={
            "required": "Say why the course stops, for example “patient moved away”.",
            "max_length": f"Keep the reason to {DISCONTINUE_REASON_MAX_LENGTH} characters.",
        },
    )
