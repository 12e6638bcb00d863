"""The discharge and chart parts of the session screen, the printable session summary and
the after-care sheet.

The discharge section lists what stands in the way
(``infusions.discharge_readiness.discharge_blockers``), shows the baseline reading next to
the latest one so the nurse can judge "back near baseline", and holds the checklist; the
physician's fields appear only while an alert is unresolved. A refusal re-renders the
section with the messages next to the fields (HTMX) or redirects back with them (no
JavaScript). Signing changes the whole page (the state, the next steps), so after a
signature HTMX is told to load the page again. The form and what the section shows are in
``infusions.views.sections.discharge``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from clinic.forms import show_service_errors
from clinic.models import User
from clinic.permissions import Capability, capability_required
from infusions.chart import chart_for_session, event_label
from infusions.discharge import discharge_sign
from infusions.dose_corrections import correction_needed
from infusions.models import (
    Discharge,
    DoseAdministration,
    DoseOrder,
    InfusionSession,
    PreAssessment,
    SessionAlert,
    SessionEvent,
    VitalsReading,
)
from infusions.selectors import session_for
from infusions.views.common import audit_session_view, session_base_context, session_url
from infusions.views.sections.discharge import DischargeForm, discharge_context
from infusions.views.sections.screen import session_context

SECTION = "discharge"


@require_POST
@capability_required(Capability.RECORD_CLINICAL)
def discharge_view(request: HttpRequest, session_id: Any) -> HttpResponse:
    """Sign the discharge checklist."""
    session = session_for(request.user, session_id)
    form = DischargeForm(request.POST)
    signed = False
    if form.is_valid():
        data = form.cleaned_data
        try:
            discharge_sign(
                actor=request.user,
                session=session,
                vitals_near_baseline=data["vitals_near_baseline"],
                alert_and_oriented=data["alert_and_oriented"],
                aldrete_score=data["aldrete_score"],
                escort_present=data["escort_present"],
                escort_name=data["escort_name"],
                instructions_given=data["instructions_given"],
                physician=data["physician"],
                physician_password=data["physician_password"],
                physician_otp=data["physician_otp"],
                physician_note=data["physician_note"],
                request=request,
            )
        except ValidationError as error:
            show_service_errors(form, error)
        else:
            signed = True
    if signed:
        messages.success(request, "The discharge checklist is signed: the patient may go home.")
        if request.htmx:
            # The state badge and next steps change too: reload the screen. (A redirect to
            # the same page with a fragment would only scroll, not reload.)
            response = HttpResponse(status=204)
            response["HX-Refresh"] = "true"
            return response
        return redirect(session_url(session, SECTION))
    if request.htmx:
        context = session_base_context(request, session) | discharge_context(request, session, form)
        return render(request, "infusions/session/_discharge.html", context)
    # Without JavaScript: the whole screen again, with what was ticked and the messages.
    context = session_context(request, session) | discharge_context(request, session, form)
    return render(request, "infusions/session/detail.html", context)


# --- The printable summary and the after-care sheet -------------------------------------------


@require_GET
@capability_required(Capability.VIEW_CLINICAL)
def session_summary(request: HttpRequest, session_id: Any) -> HttpResponse:
    """One printable page: who, when, where, the checks, the dose, the picture, the readings,
    the alerts and events, and the discharge."""
    session = session_for(request.user, session_id)
    audit_session_view(request, session, f"infusion session summary {session.public_id}")
    return render(request, "infusions/summary.html", summary_context(request, session))


def summary_context(request: HttpRequest, session: InfusionSession) -> dict[str, Any]:
    appointment = session.appointment
    pre = (
        PreAssessment.objects.filter(session=session)
        .select_related("vitals", "recorded_by", "caution_acknowledged_by")
        .first()
    )
    orders = list(
        DoseOrder.objects.filter(session=session)
        .select_related("ordered_by")
        .prefetch_related(
            Prefetch(
                "administration",
                queryset=DoseAdministration.objects.select_related(
                    "lot",
                    "given_by",
                    "witness",
                    "correction__recorded_by",
                    "correction__witness",
                ),
            )
        )
        .order_by("signed_at", "id")
    )
    current = next((order for order in reversed(orders) if _is_current(order, orders)), None)
    administration = _administration(current)
    readings = list(
        VitalsReading.objects.filter(session=session, entered_in_error_at__isnull=True)
        .select_related("recorded_by")
        .order_by("taken_at", "id")
    )
    alerts = list(
        SessionAlert.objects.filter(session=session, reading__entered_in_error_at__isnull=True)
        .select_related("acknowledged_by")
        .order_by("raised_at", "id")
    )
    events = list(
        SessionEvent.objects.filter(session=session, entered_in_error_at__isnull=True)
        .select_related("recorded_by")
        .order_by("occurred_at", "id")
    )
    for event in events:
        event.label = event_label(event)
    discharge = (
        Discharge.objects.filter(session=session).select_related("signed_by", "physician").first()
    )
    changes = list(session.state_changes.select_related("by").order_by("at", "id"))
    staff = _staff_involved(
        [appointment.clinician, pre and pre.recorded_by, pre and pre.caution_acknowledged_by]
        + [change.by for change in changes]
        + [order.ordered_by for order in orders]
        + ([administration.given_by, administration.witness] if administration else [])
        + [reading.recorded_by for reading in readings]
        + [alert.acknowledged_by for alert in alerts]
        + [event.recorded_by for event in events]
        + ([discharge.signed_by, discharge.physician] if discharge else [])
    )
    return {
        "session": session,
        "appointment": appointment,
        "patient": appointment.patient,
        "location": appointment.location,
        "pre": pre,
        "order": current,
        "replaced_orders": [order for order in orders if order is not current],
        "administration": administration,
        # An infusion that ended early with its dose still recorded in full: outstanding.
        "dose_correction_needed": correction_needed(
            session, order=current, administration=administration
        )
        if administration
        else None,
        "readings": readings,
        "alerts": alerts,
        "events": events,
        "discharge": discharge,
        "changes": changes,
        "staff": staff,
        "chart": chart_for_session(session, id_prefix="summary-chart"),
        "printed_at": timezone.now(),
    }


def _is_current(order: DoseOrder, orders: list[DoseOrder]) -> bool:
    return not any(other.replaces_id == order.pk for other in orders)


def _administration(order: DoseOrder | None) -> DoseAdministration | None:
    if order is None:
        return None
    try:
        return order.administration
    except DoseAdministration.DoesNotExist:
        return None


def _staff_involved(people: list[User | None]) -> list[User]:
    seen: dict[int, User] = {}
    for person in people:
        if person is not None and person.pk not in seen:
            seen[person.pk] = person
    return sorted(seen.values(), key=lambda person: person.full_name)


@require_GET
@capability_required(Capability.VIEW_CLINICAL)
def session_aftercare(request: HttpRequest, session_id: Any) -> HttpResponse:
    """The after-care sheet to print (or show on a phone) and hand to the patient."""
    session = session_for(request.user, session_id)
    audit_session_view(
        request, session, f"after-care sheet of infusion session {session.public_id}"
    )
    appointment = session.appointment
    return render(
        request,
        "infusions/aftercare.html",
        {
            "session": session,
            "appointment": appointment,
            "location": appointment.location,
        },
    )
