import zoneinfo
from collections.abc import Callable, Iterable
from datetime import time
from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models

from clinic.models import AuditEvent, Chair, Closure, Location, OpeningHours, User
from clinic.roles import Role

# --- Choosing a row by its public id -----------------------------------------------------


class PublicIdChoiceField(forms.ModelChoiceField):
    """A choice of one row by its public id. Anything that is not one of them, a value that
    is no UUID at all included, is "not in the list" (not Django's "is not a valid UUID")."""

    default_error_messages = {"invalid_choice": "That choice is not in the list. Pick one from it."}

    def __init__(self, queryset: models.QuerySet | None, **kwargs: Any) -> None:
        super().__init__(queryset, to_field_name="public_id", **kwargs)

    def to_python(self, value: Any) -> Any:
        try:
            return super().to_python(value)
        except ValidationError:
            raise ValidationError(
                self.error_messages["invalid_choice"], code="invalid_choice"
            ) from None


class LocationChoiceField(PublicIdChoiceField):
    """A choice of location; the form sets the queryset. A deactivated one is labelled so,
    unless ``mark_deactivated`` is False."""

    default_error_messages = {
        "invalid_choice": "That location is not in the list. Pick one from it."
    }

    def __init__(self, *, mark_deactivated: bool = True, **kwargs: Any) -> None:
        super().__init__(Location.objects.none(), **kwargs)
        self.mark_deactivated = mark_deactivated

    def label_from_instance(self, obj: Location) -> str:
        if self.mark_deactivated and not obj.is_active:
            return f"{obj.name} (deactivated)"
        return obj.name


class StaffChoiceField(PublicIdChoiceField):
    """A choice of staff account, labelled with name and email."""

    default_error_messages = {"invalid_choice": "That person is not in the list. Pick one from it."}

    def label_from_instance(self, obj: User) -> str:
        return f"{obj.full_name} ({obj.email})"


class StaffLoginForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email",
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "username"}),
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": (
            "That email and password do not match an active staff account. Check both and try "
            "again; after several failed attempts the account is locked for a while."
        ),
    }


class StaffPasswordResetForm(forms.Form):
    email = forms.EmailField(
        label="Email",
        max_length=254,
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
        help_text="The address you sign in with.",
        error_messages={
            "required": "Enter the email address you sign in with.",
            "invalid": "Enter a valid email address, e.g. name@yourclinic.com.",
        },
    )


# --- Staff accounts and the audit log --------------------------------------------------


class StaffAccountEditForm(forms.Form):
    full_name = forms.CharField(
        label="Full name",
        max_length=150,
        error_messages={"required": "Enter the person's full name, as colleagues know them."},
    )
    roles = forms.MultipleChoiceField(
        label="Roles",
        choices=Role.choices,
        widget=forms.CheckboxSelectMultiple,
        help_text=(
            "What this person does at the clinic; their access follows from it. Only a clinic "
            "admin who is also a physician can grant the physician or nurse role, and never "
            "to themselves."
        ),
        error_messages={"required": "Choose at least one role: without one they can do nothing."},
    )


class StaffAccountForm(StaffAccountEditForm):
    email = forms.EmailField(
        label="Email",
        max_length=254,
        error_messages={
            "required": "Enter the person's work email address; they sign in with it.",
            "invalid": "Enter a valid email address, e.g. name@yourclinic.com.",
        },
        help_text="They sign in with it. One account per person, so use their own address.",
    )

    field_order = ["email", "full_name", "roles"]


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=80,
        help_text="What will use it, so you know which token to revoke later, e.g. 'EHR sync'.",
        error_messages={
            "required": "Name the token after what will use it, e.g. 'EHR sync'.",
            "max_length": "Keep the name to 80 characters or fewer.",
        },
    )


class SearchForm(forms.Form):
    """A plain search box; Django's CharField refuses NUL bytes PostgreSQL cannot take."""

    q = forms.CharField(label="Search", max_length=100, required=False)

    def search(self) -> str:
        return self.cleaned_data["q"] if self.is_valid() else ""


class StaffFilterForm(forms.Form):
    q = forms.CharField(label="Name or email", max_length=100, required=False)
    role = forms.ChoiceField(
        label="Role", choices=[("", "Any role"), *Role.choices], required=False
    )
    status = forms.ChoiceField(
        label="Status",
        choices=[("", "Active and deactivated"), ("active", "Active"), ("inactive", "Deactivated")],
        required=False,
    )


class _ActorChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: User) -> str:
        return f"{obj.full_name} ({obj.email})"


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(
        label="Action", choices=[("", "Any action"), *AuditEvent.Action.choices], required=False
    )
    actor = _ActorChoiceField(
        label="Who",
        queryset=User.objects.order_by("full_name", "email"),
        to_field_name="public_id",
        required=False,
        empty_label="Anyone",
        error_messages={"invalid_choice": "That person is not in the list. Pick one from it."},
    )
    occurred_from = forms.DateField(
        label="From", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    occurred_to = forms.DateField(
        label="To", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    object_id = forms.CharField(
        label="Record id",
        max_length=64,
        required=False,
        help_text="The id shown in the Record column, e.g. a staff account's id.",
    )

    def clean(self) -> dict:
        cleaned = super().clean()
        occurred_from, occurred_to = cleaned.get("occurred_from"), cleaned.get("occurred_to")
        if occurred_from and occurred_to and occurred_to < occurred_from:
            self.add_error(
                "occurred_to",
                "The end date is before the start date. Pick an end date on or after the start.",
            )
        return cleaned


# --- Locations, opening hours, closures and chairs -------------------------------------


def _model_field(
    model: type[models.Model], name: str, required_message: str = "", **kwargs: Any
) -> forms.Field:
    """The form field Django makes for a model field: same label, help text and length.

    The model rules themselves are checked by the services in ``clinic.services``."""
    if required_message:
        kwargs["error_messages"] = {"required": required_message}
    return model._meta.get_field(name).formfield(**kwargs)


def _time_zone_choices() -> list[tuple[str, str]]:
    zones = sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")
    return [("", "Choose a time zone"), *((zone, zone.replace("_", " ")) for zone in zones)]


class LocationForm(forms.Form):
    name = _model_field(Location, "name", "Enter a name for the location, e.g. Riverside.")
    address_line1 = _model_field(Location, "address_line1", "Enter the street address.")
    address_line2 = _model_field(Location, "address_line2")
    city = _model_field(Location, "city", "Enter the city.")
    region = _model_field(Location, "region")
    postal_code = _model_field(Location, "postal_code")
    country = _model_field(Location, "country", "Enter the two-letter country code, e.g. US or CA.")
    phone = _model_field(
        Location,
        "phone",
        "Enter the phone number patients call.",
        widget=forms.TextInput(attrs={"type": "tel"}),
    )
    email = _model_field(Location, "email")
    on_call_email = _model_field(Location, "on_call_email")
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=_time_zone_choices,
        help_text=Location._meta.get_field("time_zone").help_text,
        error_messages={
            "required": "Choose the time zone the location is in.",
            "invalid_choice": "%(value)s is not a known time zone. Choose one from the list.",
        },
    )

    @staticmethod
    def initial_for(location: Location) -> dict[str, Any]:
        return {name: getattr(location, name) for name in LocationForm.base_fields}


def _time_input() -> forms.TimeInput:
    return forms.TimeInput(attrs={"type": "time", "class": "form-control"}, format="%H:%M")


class OpeningHoursForm(forms.Form):
    """The whole week on one form: for each weekday, open or not, and from when to when.

    Fields are named after the weekday: ``monday_open``, ``monday_opens_at``,
    ``monday_closes_at`` and so on.
    """

    WEEKDAYS = [(weekday, label, label.lower()) for weekday, label in OpeningHours.Weekday.choices]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for _weekday, label, key in self.WEEKDAYS:
            self.fields[f"{key}_open"] = forms.BooleanField(
                label=f"Open on {label}",
                required=False,
                widget=forms.CheckboxInput(attrs={"class": "form-check-input"}),
            )
            self.fields[f"{key}_opens_at"] = forms.TimeField(
                label=f"{label} opens at",
                required=False,
                widget=_time_input(),
                error_messages={"invalid": "Enter a time like 08:30."},
            )
            self.fields[f"{key}_closes_at"] = forms.TimeField(
                label=f"{label} closes at",
                required=False,
                widget=_time_input(),
                error_messages={"invalid": "Enter a time like 17:30."},
            )

    @classmethod
    def initial_for(cls, hours: Iterable[OpeningHours]) -> dict[str, Any]:
        by_weekday = {row.weekday: row for row in hours}
        initial: dict[str, Any] = {}
        for weekday, _label, key in cls.WEEKDAYS:
            row = by_weekday.get(weekday)
            initial[f"{key}_open"] = row is not None
            initial[f"{key}_opens_at"] = row.opens_at if row else None
            initial[f"{key}_closes_at"] = row.closes_at if row else None
        return initial

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for _weekday, label, key in self.WEEKDAYS:
            if not cleaned.get(f"{key}_open"):
                continue
            for suffix, verb in (("opens_at", "opens"), ("closes_at", "closes")):
                name = f"{key}_{suffix}"
                if cleaned.get(name) is None and name not in self.errors:
                    self.add_error(
                        name, f"Enter the time the location {verb} on {label}, or mark it closed."
                    )
        return cleaned

    def weekly_hours(self) -> dict[int, tuple[time, time] | None]:
        """The cleaned week, as ``location_set_opening_hours`` takes it."""
        data = self.cleaned_data
        return {
            weekday: (data[f"{key}_opens_at"], data[f"{key}_closes_at"])
            if data[f"{key}_open"]
            else None
            for weekday, _label, key in self.WEEKDAYS
        }

    def days(self) -> list[dict[str, Any]]:
        """One entry per weekday with its three bound fields, for the template's table."""
        for name, errors in self.errors.items():
            widget = self.fields[name].widget if name in self.fields else None
            if errors and widget is not None and "is-invalid" not in widget.attrs["class"]:
                widget.attrs["class"] += " is-invalid"
        return [
            {
                "label": label,
                "open": self[f"{key}_open"],
                "opens_at": self[f"{key}_opens_at"],
                "closes_at": self[f"{key}_closes_at"],
            }
            for _weekday, label, key in self.WEEKDAYS
        ]

    @staticmethod
    def field_for_error(key: str) -> str:
        """Where a service error about a weekday ("monday") is shown: by the closing time."""
        return f"{key}_closes_at"


def _date_input() -> forms.DateInput:
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


class ClosureForm(forms.Form):
    starts_on = forms.DateField(
        label="First day closed",
        widget=_date_input(),
        error_messages={
            "required": "Enter the first day the location is closed.",
            "invalid": "Enter the date as YYYY-MM-DD, e.g. 2025-12-24.",
        },
    )
    ends_on = forms.DateField(
        label="Last day closed",
        required=False,
        widget=_date_input(),
        help_text="Leave empty when it is closed for one day only.",
        error_messages={"invalid": "Enter the date as YYYY-MM-DD, e.g. 2025-12-26."},
    )
    reason = _model_field(Closure, "reason", "Say why it is closed, e.g. Thanksgiving.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("starts_on") and not cleaned.get("ends_on") and "ends_on" not in self.errors:
            cleaned["ends_on"] = cleaned["starts_on"]
        return cleaned


class ChairForm(forms.Form):
    name = _model_field(Chair, "name", "Enter a name for the chair, e.g. Chair 3.")


def show_service_errors(
    form: forms.Form, exc: ValidationError, field_for: Callable[[str], str] | None = None
) -> None:
    """Show a service's ValidationError next to the fields it names, the rest above the form."""
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc)
        return
    for key, errors in exc.error_dict.items():
        field = field_for(key) if field_for and key != NON_FIELD_ERRORS else key
        form.add_error(field if field in form.fields else None, errors)


# --- Second factor --------------------------------------------------------------------


def cosigner_code_field(label: str, *, attrs: dict[str, Any] | None = None) -> forms.CharField:
    """The second factor of a witness or physician confirming on someone else's screen,
    next to their password (``clinic.cosign.cosigner_errors`` checks both)."""
    return forms.CharField(
        label=label,
        required=False,
        max_length=24,
        widget=forms.TextInput(
            attrs=(attrs or {}) | {"autocomplete": "one-time-code", "inputmode": "numeric"}
        ),
        help_text="Only for someone with a second factor: the code their authenticator app shows "
        "now, or one of their recovery codes (if they use a passkey).",
    )


def _code_input() -> forms.TextInput:
    return forms.TextInput(
        attrs={
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "pattern": "[0-9 ]*",
            "autofocus": True,
            "class": "form-control font-monospace",
        }
    )


class AuthenticatorCodeForm(forms.Form):
    code = forms.CharField(
        label="6-digit code from your authenticator app",
        max_length=12,
        widget=_code_input(),
        error_messages={
            "required": "Enter the 6-digit code your authenticator app shows now.",
        },
    )


class RecoveryCodeForm(forms.Form):
    recovery_code = forms.CharField(
        label="Recovery code",
        max_length=24,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "class": "font-monospace"}
        ),
        help_text="One of the codes you saved when you set up your second factor. Each works once.",
        error_messages={"required": "Enter one of your recovery codes."},
    )


class SecondFactorPolicyForm(forms.Form):
    roles = forms.MultipleChoiceField(
        label="Roles that must sign in with a second factor",
        choices=Role.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text="Anyone holding at least one of these roles must set up an authenticator app "
        "or a passkey before they can use Chairside. Others may set one up if they wish.",
    )
