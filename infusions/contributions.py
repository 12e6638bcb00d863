"""What ``infusions`` adds to pages and queries that the layers below it own, registered
from ``InfusionsConfig.ready`` (``clinic.contributions`` says how):

- the day board's cards (``scheduling.board.cards.board_cards``): each appointment's open vitals
  alerts and its session's state, in the board's own query; and the rows these come from
  (``scheduling.board.kept.board_card_rows``), so that a kept board changes with them;
- the day board (``scheduling.views.board.board_page``): the banner of the sessions with
  open alerts at the location;
- the appointment page (``scheduling.views.appointments.appointment_page``): its session;
- the patient chart (``patients.views.chart.chart_page``): the infusion sessions, for
  clinical staff;
- the staff home (``clinic.contributions.staff_home_page``): the sessions with open alerts
  where the clinician works; for prescribers, today's sessions waiting for a dose order;
  for clinic admins and physicians (the registrant answers for them), the ketamine
  inventories due within ``infusions.inventories.NOTICE_DAYS`` or overdue; and, for a
  location's DEA registrant, its open theft or loss incidents; for clinicians, the Spravato
  monitoring forms not yet marked submitted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.template.loader import render_to_string

from clinic.contributions import kept_version, staff_home_page
from clinic.fragments import Source, cached_fragment, rows_version
from clinic.models import Location
from clinic.permissions import Capability, user_can
from clinic.selectors import locations_visible_to
from infusions.alerts import open_alerts_for
from infusions.flowsheet_rules import OPEN_ALERT
from infusions.inventories import inventories_due
from infusions.ledger import LEDGER_CAPABILITY
from infusions.losses import incidents_for_registrant
from infusions.models import DoseOrder, InfusionSession, SessionAlert
from infusions.models.sessions import SessionKind
from infusions.orders import ORDER_STATES
from infusions.rems import forms_due
from infusions.selectors import (
    SessionStartsOfPatient,
    patient_sessions_sources,
    sessions_of_patient,
    with_session_state,
)
from infusions.session_alerts import with_open_alerts
from patients.models import Patient
from patients.selectors import can_see_clinical
from patients.views.chart import chart_page, chart_versions
from scheduling.board.cards import board_cards
from scheduling.board.day import board_locations, local_day_bounds
from scheduling.board.kept import board_card_rows
from scheduling.models import Appointment
from scheduling.shifts import shift_locations_of
from scheduling.views.appointments import appointment_page
from scheduling.views.board import board_page

board_cards.register(with_open_alerts)
board_cards.register(with_session_state)


@board_card_rows.register
def session_rows(appointments: QuerySet, *, shown: Mapping[str, Any]) -> dict:
    # What ``with_open_alerts`` and ``with_session_state`` read of these appointments.
    ids = appointments.values("pk")
    return {
        "infusion_sessions": InfusionSession.objects.filter(appointment__in=ids),
        "dose_orders": DoseOrder.objects.filter(session__appointment__in=ids),
        "open_vitals_alerts": SessionAlert.objects.filter(OPEN_ALERT, session__appointment__in=ids),
    }


@board_page.register
def location_open_alerts(user: Any, location: Location, *, shown: Mapping[str, Any]) -> dict:
    return {"open_alerts": open_alerts_for(user, location=location)}


@appointment_page.register
def appointment_session(user: Any, appointment: Appointment, *, shown: Mapping[str, Any]) -> dict:
    return {"infusion_session": InfusionSession.objects.filter(appointment=appointment).first()}


# How many of a patient's sessions the chart lists unless asked for all (``?show=sessions``):
# a patient on weekly boosters has a hundred after two years.
CHART_SESSIONS = 10


# The markup version of the chart's list in the fragment cache (clinic.fragments): change it
# when templates/infusions/partials/_patient_sessions.html changes.
CHART_SESSIONS_FRAGMENT = "1"


@chart_versions.register
def sessions_version_sources(user: Any, patient: Patient) -> dict[str, list[Source]]:
    # Read by the chart with its other versions, for those who see the list.
    if not can_see_clinical(user):
        return {}
    return {"chart-sessions": patient_sessions_sources(patient)}


@chart_page.register
def patient_sessions(user: Any, patient: Patient, *, shown: Mapping[str, Any]) -> dict:
    """``infusion_sessions``: every session's start (for the outcomes section: read when it
    asks for them), and ``infusion_sessions_html``, the section listing the latest of them.

    The list is the same for every clinician (each sees every session,
    ``infusions.selectors.sessions_visible_to``; no form, nothing of the reader's in it), so
    it is kept rendered, keyed by the patient, how many are listed and the version of the
    rows it shows: no query when it is cached (the chart reads the version with its others,
    ``sessions_version_sources``; a call on its own reads it), four when it is drawn."""
    if not can_see_clinical(user):
        return {}
    latest = None if shown.get("show_in_full") == "sessions" else CHART_SESSIONS
    version = kept_version(
        shown, "chart-sessions", lambda: rows_version(*patient_sessions_sources(patient))
    )
    html = cached_fragment(
        "chart-sessions",
        CHART_SESSIONS_FRAGMENT,
        ("clinical", patient.pk, latest, version),
        lambda: render_to_string(
            "infusions/partials/_patient_sessions.html",
            {"sessions": sessions_of_patient(user, patient, latest=latest)},
        ),
    )
    return {
        "infusion_sessions": SessionStartsOfPatient(user, patient),
        "infusion_sessions_html": html,
    }


@staff_home_page.register
def open_alerts(user: Any, *, shown: Mapping[str, Any]) -> dict:
    # Nurses and physicians: sessions with open vitals alerts where they work.
    clinical = user_can(user, Capability.VIEW_CLINICAL)
    return {"open_alerts": open_alerts_for(user) if clinical else None}


def sessions_awaiting_order(user: Any) -> list[InfusionSession]:
    """Today's sessions (each location's own today) that are checked in or past their
    checks, weighed today, with no current dose order, at the locations of the prescriber's
    shifts (every location they may see when they have none), in the order the patients are
    due: what they have to sign next. Three queries (locations, shifts, the sessions)."""
    locations = list(board_locations(user))
    shifts = set(shift_locations_of(user))
    if shifts:
        locations = [location for location in locations if location.pk in shifts]
    today = Q(pk__in=[])
    for location in locations:
        day = location.local_now().date()
        start, end = local_day_bounds(location, day, day)
        today |= Q(
            appointment__location=location,
            appointment__starts_at__gte=start,
            appointment__starts_at__lt=end,
            # Weighed today: before that there is nothing a physician can sign yet.
            pre_assessment__weighed_at__gte=start,
        )
    current = DoseOrder.objects.filter(session=OuterRef("pk"), replaced_by__isnull=True)
    return list(
        InfusionSession.objects.filter(today, state__in=ORDER_STATES)
        .exclude(kind=SessionKind.ESKETAMINE)
        .exclude(Exists(current))
        .select_related("appointment__patient", "appointment__location", "appointment__chair")
        .order_by("appointment__starts_at", "pk")
    )


@staff_home_page.register
def orders_to_sign(user: Any, *, shown: Mapping[str, Any]) -> dict:
    # Physicians: today's patients waiting for their dose order.
    if not user_can(user, Capability.SIGN_MEDICAL_ORDERS):
        return {"orders_to_sign": None}
    return {"orders_to_sign": sessions_awaiting_order(user)}


@staff_home_page.register
def rems_forms_due(user: Any, *, shown: Mapping[str, Any]) -> dict:
    # Clinicians: the Spravato monitoring forms not yet marked submitted (due within 7
    # days of each session), where they work.
    return {"rems_forms_due": forms_due(user)}


@staff_home_page.register
def inventories_due_soon(user: Any, *, shown: Mapping[str, Any]) -> dict:
    # Clinic admins (who run the locations) and physicians (the registrant is one).
    if not (
        user_can(user, Capability.MANAGE_LOCATIONS)
        or user_can(user, Capability.SIGN_MEDICAL_ORDERS)
    ):
        return {}
    locations = locations_visible_to(user).filter(is_active=True).order_by("name")
    return {
        "inventories_due": [due for due in inventories_due(locations) if due.soon],
        "can_take_inventory": user_can(user, LEDGER_CAPABILITY),
    }


@staff_home_page.register
def open_loss_incidents(user: Any, *, shown: Mapping[str, Any]) -> dict:
    # The registrant notifies the DEA: shown to them until Form 106 is filed.
    return {"loss_incidents": incidents_for_registrant(user)}
