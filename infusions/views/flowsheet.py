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
``infusions.session_events``. The forms and what the sections show are in
``infusions.views.sections.flowsheet``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Manager, Model
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from clinic.forms import show_service_errors
from clinic.models import Location
from clinic.permissions import Capability, capability_required
from infusions import session_alerts
from infusions.models import InfusionSession, SessionAlert
from infusions.models.readings import AlertAction
from infusions.readings import reading_mark_in_error, reading_record
from infusions.selectors import session_for
from infusions.session_events import event_mark_in_error, event_record
from infusions.views.common import audit_session_view, session_base_context, session_url
from infusions.views.sections.discharge import discharge_status_context
from infusions.views.sections.flowsheet import (
    AcknowledgeForm,
    EventForm,
    InErrorForm,
    ReadingForm,
    events_context,
    flowsheet_context,
    mark_invalid,
)
from infusions.views.sections.kept import chart_html, screen_versions
from infusions.views.sections.screen import session_context

FLOWSHEET, EVENTS = "flowsheet", "events"
SECTION_TEMPLATES = {
    FLOWSHEET: "infusions/session/_flowsheet.html",
    EVENTS: "infusions/session/_events.html",
}
# What each section shows (its context, given what was done or the posted form).
SECTION_CONTEXTS: dict[str, Callable[..., dict[str, Any]]] = {
    FLOWSHEET: flowsheet_context,
    EVENTS: events_context,
}
IN_ERROR_TEMPLATE = "infusions/flowsheet/_in_error_form.html"
# The "mark in error" form of a record in each section: what it calls the record, the URL it
# posts to, and what reading it is in the audit log.
IN_ERROR = {
    FLOWSHEET: ("reading", "infusions:reading-error", "infusion session vital signs"),
    EVENTS: ("event", "infusions:event-error", "infusion session side effects"),
}
DISCHARGE_STATUS_TEMPLATE = "infusions/session/_discharge_status.html"


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


def _saved(
    request: HttpRequest,
    session: InfusionSession,
    section: str,
    done: str,
    *,
    also: dict[str, Any] | None = None,
) -> HttpResponse:
    """The answer to an accepted change: ``section`` again saying ``done`` (HTMX), or a
    redirect back to it."""
    context = SECTION_CONTEXTS[section](request, session, done=done)
    return _answer(request, session, section, context, refused=False, done=done, also=also)


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
    """The flowsheet section alone (``?part=live``: only its live part; ``?part=chart``: the
    session's chart, which redraws itself when a reading or event is saved), for HTMX."""
    session = session_for(request.user, session_id)
    audit_session_view(request, session, "infusion session vital signs")
    if request.GET.get("part") == "chart":
        return HttpResponse(chart_html(session, screen_versions(session, chart=True)))
    context = session_base_context(request, session) | flowsheet_context(request, session)
    if request.GET.get("part") == "live":
        response = HttpResponse(context["flowsheet_live"])
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
            return _saved(request, session, FLOWSHEET, done)
    context = flowsheet_context(request, session, reading_form=form)
    return _answer(request, session, FLOWSHEET, context, refused=True)


@require_http_methods(["GET", "POST"])
@capability_required(Capability.RECORD_CLINICAL)
def reading_error(request: HttpRequest, session_id: Any, reading_id: Any) -> HttpResponse:
    """GET: the "mark in error" form of one reading (each row of the flowsheet links here
    rather than carrying a form of its own); POST: mark it."""
    session = session_for(request.user, session_id)
    reading = _child_or_404(session.readings, reading_id)
    if request.method == "GET":
        return _in_error_form(request, session, reading, section=FLOWSHEET)
    return _mark_in_error(
        request,
        session,
        reading,
        section=FLOWSHEET,
        mark=partial(reading_mark_in_error, reading=reading),
        done="The reading is marked entered in error; its alerts are closed.",
    )


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
    also = events_context(request, session) if medication else None
    return _saved(request, session, FLOWSHEET, done, also=also)


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
            return _saved(request, session, EVENTS, done)
    context = events_context(request, session, event_form=form)
    return _answer(request, session, EVENTS, context, refused=True)


@require_http_methods(["GET", "POST"])
@capability_required(Capability.RECORD_CLINICAL)
def event_error(request: HttpRequest, session_id: Any, event_id: Any) -> HttpResponse:
    """GET: the "mark in error" form of one event; POST: mark it."""
    session = session_for(request.user, session_id)
    event = _child_or_404(session.events, event_id)
    if request.method == "GET":
        return _in_error_form(request, session, event, section=EVENTS)
    return _mark_in_error(
        request,
        session,
        event,
        section=EVENTS,
        mark=partial(event_mark_in_error, event=event),
        done="The entry is marked entered in error.",
    )


def _in_error_form(
    request: HttpRequest, session: InfusionSession, record: Any, *, section: str
) -> HttpResponse:
    """The "mark in error" form of ``record`` (a reading, ``section`` FLOWSHEET, or an event),
    opened on demand: with HTMX the form alone, swapped in for the row's link; without
    JavaScript the whole screen with that form open (it posts, then comes back here)."""
    kind, url_name, what = IN_ERROR[section]
    audit_session_view(request, session, what)
    form = InErrorForm(auto_id=f"{kind}-{record.public_id.hex}-%s")
    if request.htmx:
        context = session_base_context(request, session) | {
            "record": record,
            "kind": kind,
            "url_name": url_name,
            "target": f"#{section}",
            "bound": (record, form),
        }
        return render(request, IN_ERROR_TEMPLATE, context)
    context = session_context(request, session) | SECTION_CONTEXTS[section](
        request, session, error_form=(record, form)
    )
    return render(request, "infusions/session/detail.html", context)


def _mark_in_error(
    request: HttpRequest,
    session: InfusionSession,
    record: Any,
    *,
    section: str,
    mark: Callable[..., Any],
    done: str,
) -> HttpResponse:
    """Mark a reading (``section`` FLOWSHEET) or an event (EVENTS) of the session entered in
    error through ``mark``, its service with the record given, and answer with its section."""
    kind = "reading" if section == FLOWSHEET else "event"
    form = InErrorForm(request.POST, auto_id=f"{kind}-{record.public_id.hex}-%s")
    if form.is_valid():
        try:
            mark(actor=request.user, reason=form.cleaned_data["reason"], request=request)
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            return _saved(request, session, section, done)
    context = SECTION_CONTEXTS[section](request, session, error_form=(record, mark_invalid(form)))
    return _answer(request, session, section, context, refused=True)
