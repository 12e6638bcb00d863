"""The flowsheet and events sections of the session screen: their forms (shapes only; the
services check the values) and what each section shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms
from django.http import HttpRequest

from clinic.permissions import Capability, user_can
from infusions import vitals
from infusions.flowsheet import Flowsheet, flowsheet_for
from infusions.flowsheet_rules import PHASE_FOR_STATE
from infusions.models import InfusionSession, SessionAlert
from infusions.models.events import MedicationRoute, Severity
from infusions.models.readings import AlertAction
from infusions.models.sessions import InfusionSessionState
from infusions.readings import VALUE_FIELDS, ReadingInput
from infusions.session_events import events_for
from infusions.views.sections.kept import SessionVersions, live_html
from patients.models import SideEffect

# Final states: the record is closed, nothing refreshes.
_ENDED = frozenset(
    {
        InfusionSessionState.DISCHARGED,
        InfusionSessionState.STOPPED_EARLY,
        InfusionSessionState.NOT_STARTED,
    }
)


# --- Forms: shapes only; the services check the values -----------------------------------------


def _number(label: str, help_text: str = "") -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=False,
        help_text=help_text,
        error_messages={"invalid": "Enter a whole number, e.g. 72."},
        widget=forms.NumberInput(
            attrs={
                "inputmode": "numeric",
                "pattern": "[0-9]*",
                "class": "form-control form-control-lg",
                "autocomplete": "off",
            }
        ),
    )


def _time(label: str) -> forms.TimeField:
    return forms.TimeField(
        label=label,
        required=False,
        # Empty by default, meaning the moment it is saved: a time filled in when the page
        # was drawn would go stale while the screen stays open (the poll redraws the table,
        # not the form, so as not to wipe what is being typed).
        help_text="Leave it empty for the time you save, or enter when it was taken.",
        error_messages={"invalid": "Enter a time like 10:15."},
        widget=forms.TimeInput(
            attrs={"type": "time", "class": "form-control form-control-lg"}, format="%H:%M"
        ),
    )


def _text(label: str, max_length: int, **kwargs: Any) -> forms.CharField:
    attrs = {"class": "form-control form-control-lg", "autocomplete": "off"}
    return forms.CharField(
        label=label,
        required=False,
        max_length=max_length,
        widget=forms.TextInput(attrs=attrs),
        **kwargs,
    )


def _radios(label: str, choices: Any, **kwargs: Any) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label,
        choices=choices,
        required=False,
        widget=forms.RadioSelect(attrs={"class": "btn-check"}),
        **kwargs,
    )


def _route_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label="Route",
        choices=[("", "Choose…"), *MedicationRoute.choices],
        required=False,
        widget=forms.Select(attrs={"class": "form-select form-select-lg"}),
    )


class ReadingForm(forms.Form):
    taken_at = _time("Time taken")
    systolic = _number("Systolic (mmHg)")
    diastolic = _number("Diastolic (mmHg)")
    heart_rate = _number("Heart rate (/min)")
    spo2 = _number("SpO2 (%)")
    respiratory_rate = _number("Resp. rate (/min)")
    pain = _number("Pain (0–10)", "Where relevant.")
    consciousness = _radios(
        "Level of consciousness",
        vitals.CONSCIOUSNESS_CHOICES,
        error_messages={"invalid_choice": "Choose one of the levels."},
    )

    def values(self) -> ReadingInput:
        data = self.cleaned_data
        level = data.get("consciousness")
        return ReadingInput(
            **{name: data.get(name) for name in VALUE_FIELDS if name != "consciousness"},
            consciousness=int(level) if level else None,
        )


class AcknowledgeForm(forms.Form):
    action = forms.ChoiceField(
        label="What was done",
        choices=AlertAction.choices,
        error_messages={
            "required": "Say what was done: press one of the buttons.",
            "invalid_choice": "Say what was done: press one of the buttons.",
        },
    )
    note = _text("Note (optional)", 1000)
    medication_name = _text("Medication", 100)
    medication_dose = _text("Dose", 50, help_text="e.g. 4 mg")
    medication_route = _route_field()

    def has_medication_errors(self) -> bool:
        return any(name.startswith("medication_") for name in self.errors)


class EventForm(forms.Form):
    occurred_at = _time("Time")
    side_effect = forms.ChoiceField(
        label="Side effect",
        choices=[("", "None: a medication only"), *SideEffect.choices],
        required=False,
        widget=forms.Select(attrs={"class": "form-select form-select-lg"}),
    )
    severity = _radios("Severity", Severity.choices)
    description = _text("Describe it", 200, help_text="Needed for “other”.")
    medication_name = _text("Medication given", 100)
    medication_dose = _text("Dose", 50, help_text="e.g. 4 mg")
    medication_route = _route_field()
    note = forms.CharField(
        label="Note (optional)",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2, "class": "form-control"}),
    )


class InErrorForm(forms.Form):
    reason = forms.CharField(
        label="Why is it wrong?",
        max_length=500,
        error_messages={"required": "Say why it is wrong: it stays on the record."},
        # Only ever shown for the one record it was opened for: straight into the box.
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "autofocus": True}),
    )


def mark_invalid(form: forms.Form) -> forms.Form:
    """Bootstrap's invalid style and the ARIA links from each field to its message."""
    for name in form.errors:
        if name not in form.fields:
            continue
        attrs = form.fields[name].widget.attrs
        if "btn-check" not in attrs.get("class", ""):
            attrs["class"] = attrs.get("class", "form-control") + " is-invalid"
        attrs["aria-invalid"] = "true"
        attrs["aria-describedby"] = f"{form[name].auto_id}-error"
    return form


# --- What the sections show --------------------------------------------------------------------


@dataclass
class AlertItem:
    alert: SessionAlert
    form: AcknowledgeForm


def section_context(
    request: HttpRequest, session: InfusionSession, *, versions: SessionVersions | None = None
) -> dict[str, Any]:
    """What the flowsheet and events sections of the session screen show (``versions``: the
    screen's, ``kept.screen_versions``, when it has read them)."""
    return flowsheet_context(request, session, versions=versions) | events_context(request, session)


def alert_items(
    sheet: Flowsheet, bound_ack: tuple[SessionAlert, AcknowledgeForm] | None = None
) -> list[AlertItem]:
    """The open alerts of ``sheet``, each with its acknowledge form (``bound_ack``: the one
    refused, with its errors)."""
    items = []
    for alert in sheet.open_alerts:
        if bound_ack is not None and bound_ack[0].pk == alert.pk:
            form = bound_ack[1]
        else:
            form = AcknowledgeForm()
        form.auto_id = f"ack-{alert.public_id.hex}-%s"  # one form per alert on the page
        items.append(AlertItem(alert=alert, form=mark_invalid(form)))
    return items


def flowsheet_context(
    request: HttpRequest,
    session: InfusionSession,
    *,
    reading_form: ReadingForm | None = None,
    bound_ack: tuple[SessionAlert, AcknowledgeForm] | None = None,
    error_form: tuple[Any, InErrorForm] | None = None,
    done: str = "",
    versions: SessionVersions | None = None,
) -> dict[str, Any]:
    """The flowsheet section's context. Its live part is ``flowsheet_live``, kept rendered
    (``kept.live_html``), unless it shows a refused form of its own or says what was just
    done (its colour follows the open alerts): then ``flowsheet`` and ``alert_items``, drawn."""
    state = InfusionSessionState(session.state)
    can_record = user_can(request.user, Capability.RECORD_CLINICAL)
    polls = state not in _ENDED and state != InfusionSessionState.SCHEDULED
    if reading_form is None and can_record and state in PHASE_FOR_STATE:  # else not shown
        reading_form = ReadingForm()
    context: dict[str, Any] = {
        "reading_form": None if reading_form is None else mark_invalid(reading_form),
        "reading_error": error_form,
        "flowsheet_open": state in PHASE_FOR_STATE,
        "flowsheet_polls": polls,
        "flowsheet_done": done,
        "flowsheet_problem": "",
        "consciousness_labels": vitals.CONSCIOUSNESS_LABELS,
    }
    if bound_ack is None and error_form is None and not done:
        live = live_html(
            request,
            session,
            can_record=can_record,
            polls=polls,
            alert_items=alert_items,
            versions=versions,
        )
        return context | {"flowsheet_live": live}
    sheet = flowsheet_for(session)
    items = alert_items(sheet, bound_ack)
    if bound_ack is not None and not any(item.alert.pk == bound_ack[0].pk for item in items):
        # Refused because it is no longer open (acknowledged meanwhile): say so up top.
        context["flowsheet_problem"] = " ".join(
            message for errors in bound_ack[1].errors.values() for message in errors
        )
    return context | {"flowsheet": sheet, "alert_items": items, "flowsheet_live": None}


def events_context(
    request: HttpRequest,
    session: InfusionSession,
    *,
    event_form: EventForm | None = None,
    error_form: tuple[Any, InErrorForm] | None = None,
    done: str = "",
) -> dict[str, Any]:
    state = InfusionSessionState(session.state)
    return {
        "events": events_for(session),
        "event_form": mark_invalid(event_form or EventForm()),
        "event_error": error_form,
        "events_open": state in PHASE_FOR_STATE,
        "events_done": done,
    }
