"""Outcomes: the section of the patient chart with each questionnaire's course and the
picture of it, for clinical staff (VIEW_CLINICAL), and the clinic's outcomes dashboard
(VIEW_OUTCOMES: clinical staff and clinic admins; only clinical staff see who).

The rules (baseline, response, remission, worsened, overdue) live in
``outcomes.scores`` and ``outcomes.dashboard``; the picture is drawn by
``outcomes.trajectory``.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from clinic.audit import Action, audit_record
from clinic.forms import LocationChoiceField
from clinic.fragments import RowsOf, Source, ValuesOf, cached_fragment, kept_value
from clinic.permissions import Capability, capability_required
from clinic.selectors import locations_visible_to
from infusions.models import InfusionSession
from outcomes.dashboard import (
    CONDITION_GROUPS,
    clinic_outcomes,
    clinic_outcomes_drawn_from,
    flagged_patients,
)
from outcomes.facts import Flag
from outcomes.scores import InstrumentOutcome, patient_outcomes
from outcomes.trajectory import trajectory_svg
from patients.models import Patient, QuestionnaireResponse
from scheduling.models import Appointment

# --- The chart section ------------------------------------------------------------------

# The picture's markup version in the fragment cache (clinic.fragments): change it when
# outcomes.trajectory draws differently, so copies drawn before are not shown.
TRAJECTORY_VERSION = "1"
# The same for the whole section: change it when _outcomes.html or outcome_tables changes.
OUTCOMES_SECTION_VERSION = "1"


def worsening_setting() -> dict[str, Any]:
    """The clinic's worsening thresholds by instrument (settings.OUTCOME_WORSENING_POINTS),
    which decide the section's "Worsened" badges."""
    return dict(getattr(settings, "OUTCOME_WORSENING_POINTS", {}) or {})


@dataclass(frozen=True)
class ChartOutcomes:
    """What the chart's outcomes section shows: each questionnaire's outcome, the infusion
    start times, the picture (safe markup) and the time zone its dates are in."""

    instruments: list[InstrumentOutcome]
    infusions: tuple[datetime, ...]
    svg: str
    time_zone: str
    # What the section is drawn from (clinic.fragments keys): the scores, the infusion
    # starts and the time zone.
    drawn_from: tuple[Any, ...] = ()


def chart_outcomes(
    patient: Patient, infusion_sessions: Sequence[Any] | None = None
) -> ChartOutcomes:
    """The outcomes section of ``patient``'s chart. ``infusion_sessions`` is the chart's
    ``infusions.selectors.sessions_of_patient``, whose start times save a query; one query
    (the scores) with it, two without. Dates are in the patient's preferred location's
    time zone, else the clinic's default."""
    starts = infusion_sessions.starts if infusion_sessions is not None else None
    instruments = patient_outcomes(patient, infusion_starts=starts)
    location = patient.preferred_location
    time_zone = location.time_zone if location is not None else timezone.get_default_timezone_name()
    infusions = instruments[0].infusions if instruments else ()
    series = {
        outcome.instrument: [(point.completed_at, point.total) for point in outcome.series]
        for outcome in instruments
    }
    # Drawn again only when what it shows changes: the key is the scores, the infusions and
    # the time zone themselves (read above for the tables), so no stale picture is possible.
    drawn_from = (
        tuple((str(instrument), tuple(points)) for instrument, points in series.items()),
        tuple(infusions),
        time_zone,
    )
    svg = cached_fragment(
        "outcomes-trajectory",
        TRAJECTORY_VERSION,
        drawn_from,
        lambda: trajectory_svg(
            series,
            list(infusions),
            zoneinfo.ZoneInfo(time_zone),
            title="Questionnaire scores over time, with infusions marked",
            id_prefix="outcomes-trajectory",
        ),
    )
    return ChartOutcomes(
        instruments=instruments,
        infusions=infusions,
        svg=svg,
        time_zone=time_zone,
        drawn_from=drawn_from,
    )


def chart_outcomes_section(outcomes: ChartOutcomes) -> str:
    """The chart's outcomes section (templates/patients/chart/partials/_outcomes.html),
    kept rendered: it is the same for every clinician, and a function of the scores, the
    infusion starts, the time zone and the clinic's worsening thresholds alone (no clock,
    no form), so those are its key."""
    return cached_fragment(
        "chart-outcomes",
        OUTCOMES_SECTION_VERSION,
        (outcomes.drawn_from, repr(sorted(worsening_setting().items()))),
        lambda: render_to_string(
            "patients/chart/partials/_outcomes.html", {"outcomes_chart": outcomes}
        ),
    )


# The markup version of the section kept by the version of its rows: change it with
# OUTCOMES_SECTION_VERSION.
KEPT_SECTION_VERSION = "1"


def chart_outcomes_sources(patient: Patient) -> list[Source]:
    """The rows the chart's outcomes section is drawn from, for its version
    (``clinic.fragments``): the patient's questionnaires and the sessions of their
    appointments (the infusion starts)."""
    appointments = ValuesOf(Appointment, "pk", "patient", [patient.pk])
    return [
        RowsOf(QuestionnaireResponse, "patient", [patient.pk]),
        RowsOf(InfusionSession, "appointment", appointments),
    ]


def kept_chart_outcomes_section(
    patient: Patient, infusion_sessions: Any = None, *, version: str
) -> str:
    """The chart's outcomes section kept by ``version`` (of ``chart_outcomes_sources``, read
    by the chart with its other versions) where ``chart_outcomes_section`` is keyed by the
    scores themselves, which must be read (a query) and worked out first: nothing is read
    when it is kept. The rest of what it is drawn from is in the key: the time zone (of
    the patient's place, on the patient's row the chart reads) and the worsening
    thresholds. Drawn by ``chart_outcomes`` (``infusion_sessions``: as it takes them)."""
    location = patient.preferred_location
    time_zone = location.time_zone if location is not None else timezone.get_default_timezone_name()
    return cached_fragment(
        "chart-outcomes-kept",
        KEPT_SECTION_VERSION,
        (patient.pk, time_zone, repr(sorted(worsening_setting().items())), version),
        lambda: chart_outcomes_section(chart_outcomes(patient, infusion_sessions)),
    )


# --- The dashboard ----------------------------------------------------------------------


class OutcomeFilterForm(forms.Form):
    location = LocationChoiceField(label="Location", required=False, empty_label="Every location")
    condition = forms.ChoiceField(
        label="Condition",
        choices=[("", "Every condition")] + [(g.key, g.label) for g in CONDITION_GROUPS],
        required=False,
        error_messages={"invalid_choice": "That condition is not in the list. Pick one from it."},
    )

    def __init__(self, *args: Any, locations: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["location"].queryset = locations.order_by("-is_active", "name")

    def filters(self) -> dict[str, Any]:
        """The valid filters, for ``clinic_outcomes``; an invalid one is shown and left out."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {"location": data.get("location"), "condition": data.get("condition") or None}


def freshness(as_of: datetime | None) -> dict[str, Any]:
    """What the pages say about when the figures were counted: how often they are, and
    whether the last count is late (three rounds missed: the worker may have stopped)."""
    minutes = settings.OUTCOME_FACTS_REFRESH_MINUTES
    late = as_of is not None and timezone.now() - as_of > timedelta(minutes=3 * minutes)
    return {"refresh_minutes": minutes, "counting_late": late}


def filter_query(filters: dict[str, Any]) -> str:
    """The valid filters as a query string, for links between the dashboard and its lists:
    the location's opaque id and the condition group's key, nothing about a patient."""
    query = {}
    if filters.get("location") is not None:
        query["location"] = str(filters["location"].public_id)
    if filters.get("condition"):
        query["condition"] = filters["condition"]
    return urlencode(query)


# The dashboard's markup version in the fragment cache: change it when
# outcomes/partials/_dashboard.html (or what it includes) changes.
OUTCOMES_DASHBOARD_VERSION = "2"


@require_GET
@capability_required(Capability.VIEW_OUTCOMES)
def outcomes_dashboard(request: HttpRequest) -> HttpResponse:
    locations = locations_visible_to(request.user)
    form = OutcomeFilterForm(request.GET, locations=locations)
    filters = form.filters()
    # Kept rendered (clinic.fragments): the filters' form, the table and the first patients
    # who worsened or are overdue are the same for every reader with the same access, and a
    # function of the tables clinic_outcomes_drawn_from versions, the filters as given (the
    # form shows them, and its errors), the locations the form offers, and the time:
    # overdue is judged when drawn, and the drawing is shown until the next patient would
    # become overdue (overdue_holds_until), then drawn again.
    parts = (
        clinic_outcomes_drawn_from(request.user, **filters),
        _query_shape(locations),
        (request.GET.get("location"), request.GET.get("condition")),
        timezone.get_current_timezone_name(),
    )

    def draw() -> tuple[str, int, int, int, bool, datetime | None, datetime | None]:
        dashboard = clinic_outcomes(request.user, **filters)
        markup = render_to_string(
            "outcomes/partials/_dashboard.html",
            {
                "form": form,
                "dashboard": dashboard,
                "filtered": any(value is not None for value in filters.values()),
                "filter_query": filter_query(filters),
            },
        )
        return (
            markup,
            dashboard.patient_count,
            dashboard.worsened_count,
            dashboard.overdue_count,
            dashboard.names_patients,
            dashboard.as_of,
            dashboard.overdue_holds_until,
        )

    def still_good(kept: tuple[Any, ...]) -> bool:
        holds_until = kept[-1]
        return holds_until is None or timezone.now() < holds_until

    markup, patients, worsened, overdue, names_patients, as_of, _ = kept_value(
        "outcomes-dashboard", OUTCOMES_DASHBOARD_VERSION, parts, draw, still_good=still_good
    )
    # For clinical staff the page names the patients who worsened or are overdue: reading
    # it is reading patient data. The summary says how many, never who.
    audit_record(
        actor=request.user,
        action=Action.VIEW,
        object_type=Patient._meta.label_lower,
        summary=(
            f"viewed the outcomes dashboard: {patients} patients, "
            f"{worsened} worsened, {overdue} overdue"
            + ("" if names_patients else " (counts only, no names shown)")
        ),
        request=request,
    )
    context = {
        "dashboard_markup": mark_safe(markup),  # noqa: S308 (drawn from the template above)
        "as_of": as_of,
        **freshness(as_of),
    }
    return render(request, "outcomes/dashboard.html", context)


def _query_shape(queryset: QuerySet) -> Any:
    """A queryset's SQL and parameters, for a key: which rows it reads (None: none)."""
    try:
        return queryset.query.sql_with_params()
    except EmptyResultSet:
        return None


FLAGGED_AUDIT_NAMES = {"worsened": "who worsened", "overdue": "overdue a questionnaire"}
FLAGGED_TITLES = {
    "worsened": "Scores worsened: consider a booster",
    "overdue": "Questionnaires overdue",
}


@require_GET
@capability_required(Capability.VIEW_OUTCOMES)
def flagged_list(request: HttpRequest, flag: Flag) -> HttpResponse:
    """Everyone who worsened, or everyone overdue a questionnaire, a page at a time, with
    the dashboard's filters. For clinical staff only (it names patients): 403 otherwise,
    from ``flagged_patients``."""
    form = OutcomeFilterForm(request.GET, locations=locations_visible_to(request.user))
    filters = form.filters()
    listed = flagged_patients(request.user, flag, page=request.GET.get("page"), **filters)
    page = listed.page
    audit_record(
        actor=request.user,
        action=Action.VIEW,
        object_type=Patient._meta.label_lower,
        summary=(
            f"viewed the outcomes list of patients {FLAGGED_AUDIT_NAMES[flag]}: "
            f"page {page.number} of {page.paginator.num_pages}, "
            f"{len(page.object_list)} of {page.paginator.count} patients"
        ),
        request=request,
    )
    context = {
        "form": form,
        "flag": flag,
        "title": FLAGGED_TITLES[flag],
        "listed": listed,
        "page": page,
        "filtered": any(value is not None for value in filters.values()),
        "filter_query": filter_query(filters),
        **freshness(listed.as_of),
    }
    return render(request, "outcomes/flagged.html", context)
