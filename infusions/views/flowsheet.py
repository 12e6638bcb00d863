"""The vitals flowsheet and the side effects and interventions of the session screen.

Two sections: ``#flowsheet`` (open alerts with their acknowledge forms, the next reading due
or an OVERDUE banner, the readings, and the entry form) and ``#events`` (side effects and
medications given, and their entry form). Every form posts to its own URL; with HTMX the
answer is the section again (a medication given while acknowledging an alert also swaps
the events section out of band, and a pause or stop that moved the session reloads the
page, since the header and the next steps changed); without JavaScript it is a redirect
back to the section, or the whole page with the errors next to the fields. Every accepted
HTMX change also swaps the discharge section's status (latest reading, what stands in the
way, values still out of range) out of band, so it never shows a superseded reading.

The live part of the flowsheet (alerts, due time, readings) refreshes itself every 60 s,
unless the nurse is typing in it, so "overdue" and a monitor's readings appear without a
reload. Every change goes through ``infusions.readings``, ``infusions.session_alerts`` and
``infusions.session_events``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Manager, Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from clinic.forms import show_service_errors
from clinic.models import Location
from clinic.permissions import Capability, capability_required
from infusions import session_alerts, vitals
from infusions.flowsheet import flowsheet_for
from infusions.flowsheet_rules import PHASE_FOR_STATE
from infusions.models import InfusionSession, SessionAlert, SideEffect
from infusions.models.events import MedicationRoute, Severity
from infusions.models.readings import AlertAction
from infusions.models.sessions import InfusionSessionState
from infusions.readings import VALUE_FIELDS, ReadingInput, reading_mark_in_error, reading_record
from infusions.selectors import session_for
from infusions.session_events import event_mark_in_error, event_record, events_for
from infusions.views.common import audit_session_view, session_base_context
from infusions.views.discharge import discharge_status_context

FLOWSHEET, EVENTS = "flowsheet", "events"
SECTION_TEMPLATES = {
    FLOWSHEET: "infusions/session/_flowsheet.html",
    EVENTS: "infusions/session/_events.html",
}
LIVE_TEMPLATE = "infusions/flowsheet/_live.html"
DISCHARGE_STATUS_TEMPLATE = "infusions/session/_discharge_status.html"
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
        help_text="Now, unless you change it.",
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
        widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}),
    )


def _mark_invalid(form: forms.Form) -> forms.Form:
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


def _local_moment(location: Location, at: Any) -> datetime | None:
    """A time of day entered on the location's clock, as today's instant there; None
    (meaning now, to the second) for the current minute, which the form offers by default,
    so a reading taken now sorts after one saved a few seconds earlier in the same minute."""
    if at is None:
        return None
    now = location.local_now()
    moment = datetime.combine(now.date(), at, tzinfo=location.tz)
    if moment <= now < moment + timedelta(minutes=1):
        return None
    return moment


def _now_on_clock(location: Location) -> str:
    return location.local_now().strftime("%H:%M")


# --- What the sections show --------------------------------------------------------------------


@dataclass
class AlertItem:
    alert: SessionAlert
    form: AcknowledgeForm


def section_context(request: HttpRequest, session: InfusionSession) -> dict[str, Any]:
    """What the flowsheet and events sections of the session screen show."""
    return flowsheet_context(request, session) | events_context(request, session)


def flowsheet_context(
    request: HttpRequest,
    session: InfusionSession,
    *,
    reading_form: ReadingForm | None = None,
    bound_ack: tuple[SessionAlert, AcknowledgeForm] | None = None,
    error_form: tuple[Any, InErrorForm] | None = None,
    done: str = "",
) -> dict[str, Any]:
    location = session.appointment.location
    sheet = flowsheet_for(session)
    items = []
    for alert in sheet.open_alerts:
        if bound_ack is not None and bound_ack[0].pk == alert.pk:
            form = bound_ack[1]
        else:
            form = AcknowledgeForm()
        form.auto_id = f"ack-{alert.public_id.hex}-%s"  # one form per alert on the page
        items.append(AlertItem(alert=alert, form=_mark_invalid(form)))
    problem = ""
    if bound_ack is not None and not any(item.alert.pk == bound_ack[0].pk for item in items):
        # Refused because it is no longer open (acknowledged meanwhile): say so up top.
        problem = " ".join(message for errors in bound_ack[1].errors.values() for message in errors)
    state = InfusionSessionState(session.state)
    return {
        "flowsheet": sheet,
        "flowsheet_problem": problem,
        "alert_items": items,
        "reading_form": _mark_invalid(
            reading_form or ReadingForm(initial={"taken_at": _now_on_clock(location)})
        ),
        "reading_error": error_form,
        "flowsheet_open": state in PHASE_FOR_STATE,
        "flowsheet_polls": state not in _ENDED and state != InfusionSessionState.SCHEDULED,
        "flowsheet_done": done,
        "consciousness_labels": vitals.CONSCIOUSNESS_LABELS,
    }


def events_context(
    request: HttpRequest,
    session: InfusionSession,
    *,
    event_form: EventForm | None = None,
    error_form: tuple[Any, InErrorForm] | None = None,
    done: str = "",
) -> dict[str, Any]:
    location = session.appointment.location
    state = InfusionSessionState(session.state)
    return {
        "events": events_for(session),
        "event_form": _mark_invalid(
            event_form or EventForm(initial={"occurred_at": _now_on_clock(location)})
        ),
        "event_error": error_form,
        "events_open": state in PHASE_FOR_STATE,
        "events_done": done,
    }


def _answer(
    request: HttpRequest,
    session: InfusionSession,
    section: str,
    context: dict[str, Any],
    *,
    refused: bool,
    done: str = "",
    also: dict[str, Any] | None = None,
) -> HttpResponse:
    """The section again (HTMX), or a redirect back to it (done) or the whole page with the
    errors in it (refused). ``also`` is the context of the other section to swap with it."""
    from infusions.views.session import session_context, session_url  # it imports this module

    if request.htmx:
        full = session_base_context(request, session) | context
        response = render(request, SECTION_TEMPLATES[section], full)
        if also is not None:
            other = EVENTS if section == FLOWSHEET else FLOWSHEET
            oob = session_base_context(request, session) | also | {"oob": True}
            response.content += render(request, SECTION_TEMPLATES[other], oob).content
        if not refused:
            # The session's chart listens for this to redraw itself.
            response["HX-Trigger"] = "session-records-changed"
            # The discharge section's latest reading, blockers and unresolved values follow
            # the flowsheet (its checklist form is left alone: nothing ticked is lost).
            status = discharge_status_context(session)
            if status is not None:
                oob = session_base_context(request, session) | status | {"oob": True}
                response.content += render(request, DISCHARGE_STATUS_TEMPLATE, oob).content
        return response
    if refused:
        full = session_context(request, session) | context
        return render(request, "infusions/session/detail.html", full)
    messages.success(request, done)
    return redirect(session_url(session, section))


def _child_or_404(manager: Manager, public_id: Any) -> Model:
    """A reading, alert or event of the session, by its public id; 404 otherwise."""
    try:
        return manager.get(public_id=public_id)
    except (manager.model.DoesNotExist, ValueError, ValidationError):
        raise Http404("No such record in this session.") from None


# --- Pages -------------------------------------------------------------------------------------


@require_GET
@capability_required(Capability.VIEW_CLINICAL)
def flowsheet_section(request: HttpRequest, session_id: Any) -> HttpResponse:
    """The flowsheet section alone (``?part=live``: only its live part), for HTMX."""
    session = session_for(request.user, session_id)
    audit_session_view(request, session, "infusion session vital signs")
    context = session_base_context(request, session) | flowsheet_context(request, session)
    if request.GET.get("part") == "live":
        response = render(request, LIVE_TEMPLATE, context)
        status = discharge_status_context(session)
        if status is not None:  # a monitor's reading may have come in meanwhile
            oob = context | status | {"oob": True}
            response.content += render(request, DISCHARGE_STATUS_TEMPLATE, oob).content
        return response
    return render(request, SECTION_TEMPLATES[FLOWSHEET], context)


@require_POST
@capability_required(Capability.RECORD_CLINICAL)
def reading_add(request: HttpRequest, session_id: Any) -> HttpResponse:
    session = session_for(request.user, session_id)
    form = ReadingForm(request.POST)
    location = session.appointment.location
    if form.is_valid():
        try:
            reading = reading_record(
                actor=request.user,
                session=session,
                values=form.values(),
                taken_at=_local_moment(location, form.cleaned_data["taken_at"]),
                request=request,
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            raised = reading.alerts.first()
            done = f"Reading at {reading.taken_at.astimezone(location.tz):%H:%M} saved."
            if raised is not None:
                done += (
                    f" Out of range: {raised.summary}. Acknowledge the alert with what was done."
                )
            return _answer(
                request,
                session,
                FLOWSHEET,
                flowsheet_context(request, session, done=done),
                refused=False,
                done=done,
            )
    context = flowsheet_context(request, session, reading_form=form)
    return _answer(request, session, FLOWSHEET, context, refused=True)


@require_POST
@capability_required(Capability.RECORD_CLINICAL)
def reading_error(request: HttpRequest, session_id: Any, reading_id: Any) -> HttpResponse:
    session = session_for(request.user, session_id)
    reading = _child_or_404(session.readings, reading_id)
    form = InErrorForm(request.POST, auto_id=f"reading-{reading.public_id.hex}-%s")
    if form.is_valid():
        try:
            reading_mark_in_error(
                actor=request.user,
                reading=reading,
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            done = "The reading is marked entered in error; its alerts are closed."
            return _answer(
                request,
                session,
                FLOWSHEET,
                flowsheet_context(request, session, done=done),
                refused=False,
                done=done,
            )
    context = flowsheet_context(request, session, error_form=(reading, _mark_invalid(form)))
    return _answer(request, session, FLOWSHEET, context, refused=True)


@require_POST
@capability_required(Capability.RECORD_CLINICAL)
def alert_acknowledge(request: HttpRequest, session_id: Any, alert_id: Any) -> HttpResponse:
    session = session_for(request.user, session_id)
    alert = _child_or_404(session.alerts, alert_id)
    form = AcknowledgeForm(request.POST)
    before = session.state
    if form.is_valid():
        data = form.cleaned_data
        try:
            session_alerts.alert_acknowledge(
                actor=request.user,
                alert=alert,
                action=data["action"],
                note=data["note"],
                medication_name=data["medication_name"],
                medication_dose=data["medication_dose"],
                medication_route=data["medication_route"],
                request=request,
            )
        except ValidationError as error:
            show_service_errors(form, error, lambda key: {"action_note": "note"}.get(key, key))
        else:
            return _acknowledged(request, session, alert, moved=session.state != before)
    context = flowsheet_context(request, session, bound_ack=(alert, form))
    return _answer(request, session, FLOWSHEET, context, refused=True)


def _acknowledged(
    request: HttpRequest, session: InfusionSession, alert: SessionAlert, *, moved: bool
) -> HttpResponse:
    done = f"Alert acknowledged by {request.user.full_name}: {alert.get_action_display().lower()}."
    if moved:
        done += f" {session.state_sentence}"
    elif alert.action in session_alerts.MOVE_FOR_ACTION:
        done += (
            f" The session was left as it is ({session.get_state_display().lower()}): use the "
            "buttons under “Next step” if it should change."
        )
    if moved and request.htmx:
        # The header and the next steps changed too: reload the whole page.
        messages.success(request, done)
        response = HttpResponse(status=204)
        response["HX-Refresh"] = "true"
        return response
    medication = alert.action == AlertAction.MEDICATION
    return _answer(
        request,
        session,
        FLOWSHEET,
        flowsheet_context(request, session, done=done),
        refused=False,
        done=done,
        also=events_context(request, session) if medication else None,
    )


@require_POST
@capability_required(Capability.RECORD_CLINICAL)
def event_add(request: HttpRequest, session_id: Any) -> HttpResponse:
    session = session_for(request.user, session_id)
    form = EventForm(request.POST)
    location = session.appointment.location
    if form.is_valid():
        data = form.cleaned_data
        try:
            event = event_record(
                actor=request.user,
                session=session,
                occurred_at=_local_moment(location, data["occurred_at"]),
                side_effect=data["side_effect"],
                severity=data["severity"],
                description=data["description"],
                medication_name=data["medication_name"],
                medication_dose=data["medication_dose"],
                medication_route=data["medication_route"],
                note=data["note"],
                request=request,
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            done = f"Recorded at {event.occurred_at.astimezone(location.tz):%H:%M}."
            return _answer(
                request,
                session,
                EVENTS,
                events_context(request, session, done=done),
                refused=False,
                done=done,
            )
    context = events_context(request, session, event_form=form)
    return _answer(request, session, EVENTS, context, refused=True)


@require_POST
@capability_required(Capability.RECORD_CLINICAL)
def event_error(request: HttpRequest, session_id: Any, event_id: Any) -> HttpResponse:
    session = session_for(request.user, session_id)
    event = _child_or_404(session.events, event_id)
    form = InErrorForm(request.POST, auto_id=f"event-{event.public_id.hex}-%s")
    if form.is_valid():
        try:
            event_mark_in_error(
                actor=request.user, event=event, reason=form.cleaned_data["reason"], request=request
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            done = "The entry is marked entered in error."
            return _answer(
                request,
                session,
                EVENTS,
                events_context(request, session, done=done),
                refused=False,
                done=done,
            )
    context = events_context(request, session, error_form=(event, _mark_invalid(form)))
    return _answer(request, session, EVENTS, context, refused=True)
