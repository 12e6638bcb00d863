"""The clinic's outcomes dashboard: per condition group and location, how the patients
in treatment are doing (response, remission, worsened, overdue), read from the scores
(``outcomes.scores`` holds the rules for one patient), the courses (``scheduling``) and
the infusions (``infusions``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

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
from infusions.models import InfusionSession
from outcomes.scores import (
    KNOWN_INSTRUMENTS,
    InstrumentOutcome,
    Point,
    instrument_order,
    instrument_outcome,
    overdue_days,
)
from patients import questionnaires
from patients.models import Patient, QuestionnaireResponse
from patients.questionnaires import Definition, Instrument, definition_for
from patients.selectors import patients_visible_to
from scheduling.models import TreatmentCourse


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


# Course states in which a patient is being treated.
ACTIVE_COURSE_STATES = (TreatmentCourse.State.INDUCTION, TreatmentCourse.State.MAINTENANCE)


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
            row.in_induction += patient.course_state == TreatmentCourse.State.INDUCTION
            row.in_maintenance += patient.course_state == TreatmentCourse.State.MAINTENANCE
            row.overdue += is_overdue
            outcome = outcomes.get(group.instrument)
            if outcome is not None and outcome.has_follow_up:
                row.response.add(bool(outcome.response))
                if row.remission is not None:
                    row.remission.add(bool(outcome.remission))
        flagged = tuple(
            outcome
            for _, outcome in sorted(outcomes.items(), key=lambda item: instrument_order(item[0]))
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
