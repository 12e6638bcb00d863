"""Treatment outcomes: is the patient getting better? Per patient, and for the clinic.

Everything here is read from the questionnaire scores (``QuestionnaireResponse``) and the
times infusions started (``InfusionSession.started_at``); nothing is stored. The figures
follow DOMAIN.md through ``patients.questionnaires`` (``response``, ``remission``).

For each patient and questionnaire (instrument):

- **Baseline**: the latest score completed *before* the patient's first infusion started
  (the earliest ``started_at`` of their sessions). Before any infusion has started, the
  latest score is the baseline. A patient whose first infusion started with no earlier
  score has no baseline, so response cannot be judged.
- **Latest**: the latest score completed at or after the first infusion started (None
  before treatment, or when no questionnaire was done since).
- **Response**: latest at least 50 % below the baseline (``questionnaires.response``);
  None without both a baseline and a latest score.
- **Remission**: the latest PHQ-9 or GAD-7 below 5 (``questionnaires.remission``); None
  for the other instruments and without a latest score.
- **Worsened** (a prompt to offer a booster), judged on the latest score after treatment
  began, either of:
  1. it is higher than the score just before it (which may be the baseline) by at least
     the meaningful change for the instrument, ``settings.OUTCOME_WORSENING_POINTS``
     (defaults: PHQ-9 5, GAD-7 4, PCL-5 10, pain NRS 2); or
  2. an earlier score after treatment began met response, and the latest no longer does.

The clinic dashboard (``clinic_outcomes``) groups patients by condition (depression,
anxiety, PTSD, pain: a patient may be in several groups) and by location (see
``clinic_outcomes`` for which location), and judges each group on its own instrument.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import BigIntegerField, Case, F, IntegerField, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.utils import timezone

from clinic.conditions import (
    ANXIETY_CONDITIONS,
    DEPRESSION_CONDITIONS,
    PAIN_CONDITIONS,
    PTSD_CONDITIONS,
)
from clinic.models import Location
from clinic.permissions import Capability, require, user_can
from patients import questionnaires
from patients.models import Patient, QuestionnaireResponse
from patients.questionnaires import Definition, Instrument, definition_for
from patients.selectors import patients_visible_to

# Used when settings.OUTCOME_WORSENING_POINTS leaves an instrument out.
DEFAULT_WORSENING_POINTS: Mapping[Instrument, int] = MappingProxyType(
    {Instrument.PHQ9: 5, Instrument.GAD7: 4, Instrument.PCL5: 10, Instrument.PAIN_NRS: 2}
)

KNOWN_INSTRUMENTS = frozenset(instrument.value for instrument in Instrument)

# Course states in which a patient is being treated (scheduling.models.TreatmentCourse).
INDUCTION = "induction"
MAINTENANCE = "maintenance"
ACTIVE_COURSE_STATES = (INDUCTION, MAINTENANCE)


def worsening_points(instrument: Instrument | str) -> int:
    """The rise, in points, that counts as a meaningful worsening on ``instrument``."""
    instrument = Instrument(instrument)
    configured = getattr(settings, "OUTCOME_WORSENING_POINTS", {})
    return int(configured.get(instrument.value, DEFAULT_WORSENING_POINTS[instrument]))


def overdue_days() -> int:
    return int(getattr(settings, "OUTCOME_OVERDUE_DAYS", 30))


# --- One patient ------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    completed_at: datetime
    total: int


@dataclass(frozen=True)
class InstrumentOutcome:
    """One questionnaire's course for one patient; see the module docstring for the rules."""

    instrument: Instrument
    series: tuple[Point, ...]  # every score, oldest first
    infusions: tuple[datetime, ...]  # when each infusion started, oldest first
    baseline: Point | None
    latest: Point | None  # the latest score after treatment began
    response: bool | None
    remission: bool | None
    worsened_reasons: tuple[str, ...]

    @property
    def definition(self) -> Definition:
        return definition_for(self.instrument)

    @property
    def worsened(self) -> bool:
        return bool(self.worsened_reasons)

    @property
    def has_follow_up(self) -> bool:
        """A baseline and a score after treatment began: response can be judged."""
        return self.baseline is not None and self.latest is not None

    @property
    def change(self) -> int | None:
        """Latest minus baseline (negative is better), when both exist."""
        if self.baseline is None or self.latest is None:
            return None
        return self.latest.total - self.baseline.total


def instrument_outcome(
    instrument: Instrument | str,
    series: Sequence[Point],
    infusions: Sequence[datetime] = (),
) -> InstrumentOutcome:
    """The outcome of one instrument from its scores and the infusion start times (both
    in any order). Pure: no query."""
    instrument = Instrument(instrument)
    points = tuple(sorted(series, key=lambda point: point.completed_at))
    starts = tuple(sorted(infusions))
    first_infusion = starts[0] if starts else None

    if first_infusion is None:
        baseline = points[-1] if points else None
        after: tuple[Point, ...] = ()
    else:
        before = [point for point in points if point.completed_at < first_infusion]
        baseline = before[-1] if before else None
        after = tuple(point for point in points if point.completed_at >= first_infusion)
    latest = after[-1] if after else None

    response = None
    if baseline is not None and latest is not None:
        response = questionnaires.response(baseline.total, latest.total)
    remission = questionnaires.remission(instrument, latest.total) if latest is not None else None
    return InstrumentOutcome(
        instrument=instrument,
        series=points,
        infusions=starts,
        baseline=baseline,
        latest=latest,
        response=response,
        remission=remission,
        worsened_reasons=_worsened_reasons(instrument, points, baseline, after),
    )


def _worsened_reasons(
    instrument: Instrument,
    points: tuple[Point, ...],
    baseline: Point | None,
    after: tuple[Point, ...],
) -> tuple[str, ...]:
    if not after:
        return ()  # not in treatment yet, or nothing since: no booster to offer
    name = definition_for(instrument).short_name
    latest = after[-1]
    reasons = []
    # ``after`` ends the series, so the score before the latest is points[-2].
    if len(points) > 1:
        previous = points[-2]
        rise = latest.total - previous.total
        threshold = worsening_points(instrument)
        if rise >= threshold:
            reasons.append(
                f"{name} rose {rise} points, from {previous.total} to {latest.total} "
                f"({threshold} or more is a meaningful change)."
            )
    if baseline is not None and _lost_response(baseline, after):
        reasons.append(
            f"{name} had responded (at least 50 % below the baseline of "
            f"{baseline.total}) but is {latest.total} now."
        )
    return tuple(reasons)


def _lost_response(baseline: Point, after: tuple[Point, ...]) -> bool:
    """An earlier score since treatment began met response; the latest does not."""
    if questionnaires.response(baseline.total, after[-1].total):
        return False
    return any(questionnaires.response(baseline.total, point.total) for point in after[:-1])


def _instrument_order(instrument: str) -> int:
    return list(Instrument).index(Instrument(instrument))


def patient_outcomes(
    patient: Patient, *, infusion_starts: Iterable[datetime | None] | None = None
) -> list[InstrumentOutcome]:
    """The outcome of each questionnaire the patient has done, in the instruments' order
    (PHQ-9, GAD-7, PCL-5, pain NRS), each with its scores and the infusion start times.

    Two queries (the scores, the infusion starts); one when the caller passes the start
    times it already has (``infusion_starts``; None entries, for sessions not started,
    are skipped). Who may see this is the caller's decision: pages check VIEW_CLINICAL.
    """
    from infusions.models import InfusionSession

    rows = (
        QuestionnaireResponse.objects.filter(patient=patient)
        .order_by("completed_at", "id")
        .values_list("instrument", "completed_at", "total")
    )
    series: dict[str, list[Point]] = defaultdict(list)
    for instrument, completed_at, total in rows:
        if instrument in KNOWN_INSTRUMENTS:
            series[instrument].append(Point(completed_at, total))
    if not series:
        return []
    if infusion_starts is None:
        infusion_starts = InfusionSession.objects.filter(
            appointment__patient=patient, started_at__isnull=False
        ).values_list("started_at", flat=True)
    starts = tuple(sorted(start for start in infusion_starts if start is not None))
    ordered = sorted(series, key=_instrument_order)
    return [instrument_outcome(instrument, series[instrument], starts) for instrument in ordered]


# --- The clinic -------------------------------------------------------------------------


@dataclass(frozen=True)
class ConditionGroup:
    key: str
    label: str
    conditions: frozenset[str]
    instrument: Instrument  # the questionnaire the group is judged on

    @property
    def definition(self) -> Definition:
        return definition_for(self.instrument)

    @property
    def has_remission(self) -> bool:
        return self.instrument in questionnaires.REMISSION_BELOW


CONDITION_GROUPS: tuple[ConditionGroup, ...] = (
    ConditionGroup("depression", "Depression", DEPRESSION_CONDITIONS, Instrument.PHQ9),
    ConditionGroup("anxiety", "Anxiety", ANXIETY_CONDITIONS, Instrument.GAD7),
    ConditionGroup("ptsd", "PTSD", PTSD_CONDITIONS, Instrument.PCL5),
    ConditionGroup("pain", "Pain", PAIN_CONDITIONS, Instrument.PAIN_NRS),
)
GROUPS_BY_KEY: Mapping[str, ConditionGroup] = MappingProxyType(
    {group.key: group for group in CONDITION_GROUPS}
)


def groups_of(conditions: Iterable[str]) -> list[ConditionGroup]:
    conditions = set(conditions)
    return [group for group in CONDITION_GROUPS if group.conditions & conditions]


@dataclass
class Rate:
    count: int = 0
    n: int = 0  # patients it could be judged for

    @property
    def percent(self) -> int | None:
        return round(100 * self.count / self.n) if self.n else None

    def add(self, met: bool) -> None:
        self.n += 1
        self.count += int(met)


@dataclass
class DashboardRow:
    group: ConditionGroup
    location: Location | None  # None: no course and no preferred location recorded
    patients: int = 0
    in_induction: int = 0
    in_maintenance: int = 0
    response: Rate = field(default_factory=Rate)
    remission: Rate | None = None  # None for groups whose questionnaire defines none
    overdue: int = 0


@dataclass(frozen=True)
class FlaggedPatient:
    patient: Patient
    location: Location | None
    outcomes: tuple[InstrumentOutcome, ...] = ()  # the worsened ones
    last_questionnaire_at: datetime | None = None


@dataclass(frozen=True)
class Dashboard:
    """``worsened`` and ``overdue`` name patients, so they are filled in only for a user
    with clinical access (``names_patients``); their counts are there for everyone."""

    rows: list[DashboardRow]
    worsened: list[FlaggedPatient]
    overdue: list[FlaggedPatient]
    overdue_days: int
    patient_count: int
    worsened_count: int = 0
    overdue_count: int = 0
    names_patients: bool = True


def clinic_outcomes(
    user: Any,
    *,
    location: Location | None = None,
    condition: str | None = None,
    now: datetime | None = None,
) -> Dashboard:
    """The outcomes dashboard: per condition group and location, the patients in induction
    and in maintenance, response and remission rates (among patients with a baseline and
    a later score on the group's questionnaire, with n), the patients overdue a
    questionnaire, and the patients whose scores worsened.

    A patient's location is that of their current course (induction or maintenance),
    else of their latest course, else their preferred location. A patient is overdue when
    they are in an induction or maintenance course and have completed no questionnaire
    in the last ``settings.OUTCOME_OVERDUE_DAYS`` days (any questionnaire counts; the
    follow-up schedule itself is ``patients`` follow-ups' business).

    ``condition`` is a ``CONDITION_GROUPS`` key. Needs VIEW_OUTCOMES (403 otherwise); who
    worsened or is overdue is listed only with VIEW_CLINICAL (clinic admins see the
    aggregates and counts). Patients come through ``patients_visible_to``. Three queries,
    however many patients.
    """
    from infusions.models import InfusionSession
    from scheduling.models import TreatmentCourse

    require(user, Capability.VIEW_OUTCOMES)
    names_patients = user_can(user, Capability.VIEW_CLINICAL)
    if condition and condition not in GROUPS_BY_KEY:
        names = ", ".join(GROUPS_BY_KEY)
        raise ValidationError({"condition": [f"Choose a condition group: one of {names}."]})
    groups = [GROUPS_BY_KEY[condition]] if condition else list(CONDITION_GROUPS)
    now = now or timezone.now()
    days = overdue_days()

    courses = TreatmentCourse.objects.filter(patient=OuterRef("pk"))
    current_course = courses.filter(state__in=ACTIVE_COURSE_STATES).order_by("-created_at", "-id")
    home_course = courses.order_by(
        Case(
            When(state__in=ACTIVE_COURSE_STATES, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        ),
        "-created_at",
        "-id",
    )
    first_infusion = (
        InfusionSession.objects.filter(
            appointment__patient=OuterRef("pk"), started_at__isnull=False
        )
        .order_by("started_at")
        .values("started_at")[:1]
    )
    patients = (
        patients_visible_to(user)
        .filter(conditions__overlap=sorted(set().union(*(group.conditions for group in groups))))
        .annotate(
            course_state=Subquery(current_course.values("state")[:1]),
            home_location_id=Coalesce(
                Subquery(home_course.values("location_id")[:1]),
                F("preferred_location_id"),
                output_field=BigIntegerField(),
            ),
            first_infusion_at=Subquery(first_infusion),
        )
        .only("public_id", "legal_first_name", "legal_last_name", "preferred_name", "conditions")
        .order_by("legal_last_name", "legal_first_name", "id")
    )
    if location is not None:
        patients = patients.filter(home_location_id=location.pk)
    patient_list = list(patients)  # query 1

    series: dict[int, dict[str, list[Point]]] = defaultdict(lambda: defaultdict(list))
    last_done: dict[int, datetime] = {}
    if patient_list:
        rows = (
            QuestionnaireResponse.objects.filter(patient__in=[p.pk for p in patient_list])
            .order_by("patient_id", "completed_at", "id")
            .values_list("patient_id", "instrument", "completed_at", "total")
        )
        for patient_id, instrument, completed_at, total in rows:  # query 2
            last_done[patient_id] = completed_at
            if instrument in KNOWN_INSTRUMENTS:
                series[patient_id][instrument].append(Point(completed_at, total))
    location_ids = {p.home_location_id for p in patient_list} - {None}
    locations = Location.objects.in_bulk(location_ids) if location_ids else {}  # query 3

    table: dict[tuple[str, int | None], DashboardRow] = {}
    worsened: list[FlaggedPatient] = []
    overdue: list[FlaggedPatient] = []
    since = now - timedelta(days=days)
    for patient in patient_list:
        # The first start is all the rules need; the chart's picture reads every start.
        starts = (patient.first_infusion_at,) if patient.first_infusion_at else ()
        outcomes = {
            instrument: instrument_outcome(instrument, points, starts)
            for instrument, points in series[patient.pk].items()
        }
        home = locations.get(patient.home_location_id)
        last = last_done.get(patient.pk)
        is_overdue = patient.course_state in ACTIVE_COURSE_STATES and (last is None or last < since)
        for group in groups_of(patient.conditions):
            if group not in groups:
                continue
            row = table.get((group.key, patient.home_location_id))
            if row is None:
                row = DashboardRow(group, home, remission=Rate() if group.has_remission else None)
                table[(group.key, patient.home_location_id)] = row
            row.patients += 1
            row.in_induction += patient.course_state == INDUCTION
            row.in_maintenance += patient.course_state == MAINTENANCE
            row.overdue += is_overdue
            outcome = outcomes.get(group.instrument)
            if outcome is not None and outcome.has_follow_up:
                row.response.add(bool(outcome.response))
                if row.remission is not None:
                    row.remission.add(bool(outcome.remission))
        flagged = tuple(
            outcome
            for _, outcome in sorted(outcomes.items(), key=lambda item: _instrument_order(item[0]))
            if outcome.worsened
        )
        if flagged:
            worsened.append(FlaggedPatient(patient, home, flagged, last))
        if is_overdue:
            overdue.append(FlaggedPatient(patient, home, last_questionnaire_at=last))

    group_order = {group.key: index for index, group in enumerate(CONDITION_GROUPS)}
    rows_sorted = sorted(
        table.values(),
        key=lambda row: (
            group_order[row.group.key],
            row.location is None,
            row.location.name if row.location is not None else "",
        ),
    )
    return Dashboard(
        rows=rows_sorted,
        worsened=worsened if names_patients else [],
        overdue=overdue if names_patients else [],
        overdue_days=days,
        patient_count=len(patient_list),
        worsened_count=len(worsened),
        overdue_count=len(overdue),
        names_patients=names_patients,
    )
