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

from django.core.exceptions import EmptyResultSet, ValidationError
from django.core.paginator import Page, Paginator
from django.utils import timezone

from clinic.conditions import (
    ANXIETY_CONDITIONS,
    DEPRESSION_CONDITIONS,
    PAIN_CONDITIONS,
    PTSD_CONDITIONS,
)
from clinic.fragments import RowsOf, rows_version, writes_of
from clinic.models import Location
from clinic.permissions import Capability, require, user_can
from outcomes.facts import (
    FLAGS,
    Flag,
    FlaggedFacts,
    GroupCounts,
    GroupSpec,
    dashboard_figures,
    flagged_slice,
)
from outcomes.models import OutcomeFactsCount, PatientOutcomeFacts
from outcomes.scores import (
    KNOWN_INSTRUMENTS,
    InstrumentOutcome,
    Point,
    instrument_order,
    instrument_outcome,
    overdue_days,
    worsening_points,
)
from patients import questionnaires
from patients.models import Patient, QuestionnaireResponse
from patients.questionnaires import Definition, Instrument, definition_for
from patients.selectors import patients_visible_to


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
    with clinical access (``names_patients``), and only the first ``LISTED`` of each: the
    rest are on their own paginated page (``flagged_patients``). Their counts are there
    for everyone."""

    rows: list[DashboardRow]
    worsened: list[FlaggedPatient]
    overdue: list[FlaggedPatient]
    overdue_days: int
    patient_count: int
    worsened_count: int = 0
    overdue_count: int = 0
    names_patients: bool = True
    as_of: datetime | None = None  # when the facts were counted (None: nothing to count)
    # Until when ``overdue`` holds, at the latest, if nothing is written: the moment the
    # next patient's latest questionnaire becomes too old (None: no one's will).
    overdue_holds_until: datetime | None = None

    @property
    def worsened_more(self) -> int:
        """How many who worsened are not listed here."""
        return self.worsened_count - len(self.worsened) if self.names_patients else 0

    @property
    def overdue_more(self) -> int:
        return self.overdue_count - len(self.overdue) if self.names_patients else 0


@dataclass(frozen=True)
class FlaggedPage:
    """One page of the patients who worsened or are overdue (``flagged_patients``)."""

    flag: Flag
    page: Page  # of FlaggedPatient
    overdue_days: int
    as_of: datetime | None = None  # when the facts were counted


# How many of those who worsened, and of those overdue, the dashboard lists itself.
LISTED = 10
# How many a page of the full list shows.
PER_PAGE = 50


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
    questionnaire, and the patients whose scores worsened (the first ``LISTED`` of each).

    A patient's location is that of their current course (induction or maintenance),
    else of their latest course, else their preferred location. A patient is overdue when
    they are in an induction or maintenance course and have completed no questionnaire
    in the last ``settings.OUTCOME_OVERDUE_DAYS`` days (any questionnaire counts; the
    follow-up schedule itself is ``patients`` follow-ups' business).

    ``condition`` is a ``CONDITION_GROUPS`` key. Needs VIEW_OUTCOMES (403 otherwise); who
    worsened or is overdue is listed only with VIEW_CLINICAL (clinic admins see the
    aggregates and counts). Patients come through ``patients_visible_to``.

    The facts are those the worker last counted (``outcomes.facts``, every
    ``OUTCOME_FACTS_REFRESH_MINUTES``; ``as_of`` says when); whether a patient is
    overdue is judged at ``now``. Four queries at most, however many patients (the
    figures; the listed patients, the scores of those who worsened, the locations), once
    the facts have been counted (a database never counted is counted first).
    """
    require(user, Capability.VIEW_OUTCOMES)
    names_patients = user_can(user, Capability.VIEW_CLINICAL)
    groups = _groups(condition)
    now = now or timezone.now()
    days = overdue_days()
    figures = dashboard_figures(
        user,
        [_spec(group) for group in groups],
        location=location,
        since=now - timedelta(days=days),
        listed=LISTED if names_patients else 0,
    )
    flagged = {flag: figures.flagged[flag].facts for flag in FLAGS}
    location_ids = {counts.location_id for counts in figures.groups}
    location_ids |= {facts.location_id for listed in flagged.values() for facts in listed}
    locations = _locations(location_ids)
    listed = _flagged_patients(user, flagged, locations)
    rows = [_row(counts, locations) for counts in figures.groups]
    group_order = {group.key: index for index, group in enumerate(CONDITION_GROUPS)}
    rows.sort(
        key=lambda row: (
            group_order[row.group.key],
            row.location is None,
            row.location.name if row.location is not None else "",
        ),
    )
    return Dashboard(
        rows=rows,
        worsened=listed["worsened"],
        overdue=listed["overdue"],
        overdue_days=days,
        patient_count=figures.patient_count,
        worsened_count=figures.flagged["worsened"].count,
        overdue_count=figures.flagged["overdue"].count,
        names_patients=names_patients,
        as_of=figures.as_of,
        overdue_holds_until=(
            figures.oldest_recent_questionnaire_at + timedelta(days=days)
            if figures.oldest_recent_questionnaire_at is not None
            else None
        ),
    )


def clinic_outcomes_drawn_from(
    user: Any, *, location: Location | None = None, condition: str | None = None
) -> tuple[Any, ...]:
    """What ``clinic_outcomes(user, location=..., condition=...)`` is drawn from, for a key
    of the kept dashboard (``clinic.fragments``), in one query: the notes of writes to every
    table it reads whole (the patients, their scores and the counted facts, with
    ``writes_of``), a version of the count's row and of the locations, and which patients
    ``user`` may see and whether they may see who (the access rule's SQL itself, so a rule
    that comes to differ by user makes different keys). The clock is not in it:
    ``clinic_outcomes`` judges overdue at its ``now``, and says until when that holds
    (``Dashboard.overdue_holds_until``)."""
    try:
        visible: Any = patients_visible_to(user).order_by().values("pk").query.sql_with_params()
    except EmptyResultSet:
        visible = None
    version = rows_version(
        writes_of(Patient, QuestionnaireResponse, PatientOutcomeFacts),
        RowsOf(OutcomeFactsCount),
        RowsOf(Location),
    )
    return (
        version,
        visible,
        user_can(user, Capability.VIEW_CLINICAL),
        location.pk if location is not None else None,
        condition,
        overdue_days(),
        tuple(worsening_points(instrument) for instrument in Instrument),
    )


def flagged_patients(
    user: Any,
    flag: Flag,
    *,
    location: Location | None = None,
    condition: str | None = None,
    page: Any = 1,
    now: datetime | None = None,
    per_page: int | None = None,
) -> FlaggedPage:
    """One page of the patients who worsened (``flag`` "worsened", with the reasons) or
    who are overdue a questionnaire ("overdue"), with the dashboard's filters and in the
    patient list's order. ``page`` is a page number as the request gave it: past the end
    is the last page, and anything else that is not a page number is the first
    (``Paginator.get_page``); ``per_page`` defaults to ``PER_PAGE``. Needs VIEW_OUTCOMES
    and VIEW_CLINICAL (it names patients). From the facts the worker last counted, like
    ``clinic_outcomes``. Four queries at most, however many patients; five when the page
    asked for is past the end."""
    require(user, Capability.VIEW_OUTCOMES)
    require(user, Capability.VIEW_CLINICAL)
    if flag not in FLAGS:
        raise ValueError(f"No such list: {flag!r}.")
    specs = [_spec(group) for group in _groups(condition)]
    now = now or timezone.now()
    days = overdue_days()
    since = now - timedelta(days=days)
    per_page = per_page or PER_PAGE
    number = _page_number(page)
    found = flagged_slice(
        user,
        specs,
        flag,
        location=location,
        since=since,
        limit=per_page,
        offset=(number - 1) * per_page,
    )
    paginator = Paginator(range(found.count), per_page)
    if number > paginator.num_pages:  # past the end: the last page, as get_page does
        number = paginator.num_pages
        found = flagged_slice(
            user,
            specs,
            flag,
            location=location,
            since=since,
            limit=per_page,
            offset=(number - 1) * per_page,
        )
    locations = _locations({facts.location_id for facts in found.facts})
    listed = _flagged_patients(user, {flag: found.facts}, locations)[flag]
    return FlaggedPage(
        flag=flag, page=Page(listed, number, paginator), overdue_days=days, as_of=found.as_of
    )


def _groups(condition: str | None) -> list[ConditionGroup]:
    if condition and condition not in GROUPS_BY_KEY:
        names = ", ".join(GROUPS_BY_KEY)
        raise ValidationError({"condition": [f"Choose a condition group: one of {names}."]})
    return [GROUPS_BY_KEY[condition]] if condition else list(CONDITION_GROUPS)


def _spec(group: ConditionGroup) -> GroupSpec:
    return GroupSpec(
        key=group.key, conditions=sorted(group.conditions), instrument=group.instrument
    )


def _page_number(page: Any) -> int:
    try:
        number = int(page)
    except (TypeError, ValueError):
        return 1
    return max(number, 1)


def _locations(ids: set[int | None]) -> dict[int, Location]:
    ids = ids - {None}
    return Location.objects.in_bulk(ids) if ids else {}  # one query, or none


def _row(counts: GroupCounts, locations: dict[int, Location]) -> DashboardRow:
    group = GROUPS_BY_KEY[counts.key]
    return DashboardRow(
        group,
        locations.get(counts.location_id) if counts.location_id is not None else None,
        patients=counts.patients,
        in_induction=counts.in_induction,
        in_maintenance=counts.in_maintenance,
        response=Rate(counts.responded, counts.judged),
        remission=Rate(counts.remitted, counts.judged) if group.has_remission else None,
        overdue=counts.overdue,
    )


def _flagged_patients(
    user: Any, flagged: dict[Flag, list[FlaggedFacts]], locations: dict[int, Location]
) -> dict[Flag, list[FlaggedPatient]]:
    """The listed patients, with each worsened one's reasons (from ``outcomes.scores``, the
    words the chart uses). Two queries when anyone is listed (the patients, the scores of
    those who worsened), none otherwise."""
    ids = {facts.patient_id for listed in flagged.values() for facts in listed}
    if not ids:
        return {flag: [] for flag in FLAGS}
    patients = (
        patients_visible_to(user)
        .only("public_id", "legal_first_name", "legal_last_name", "preferred_name")
        .in_bulk(ids)
    )
    worsened_ids = [facts.patient_id for facts in flagged.get("worsened", [])]
    series: dict[int, dict[str, list[Point]]] = defaultdict(lambda: defaultdict(list))
    if worsened_ids:
        rows = (
            QuestionnaireResponse.objects.filter(
                patient__in=worsened_ids, instrument__in=KNOWN_INSTRUMENTS
            )
            .order_by("patient_id", "completed_at", "id")
            .values_list("patient_id", "instrument", "completed_at", "total")
        )
        for patient_id, instrument, completed_at, total in rows:
            series[patient_id][instrument].append(Point(completed_at, total))
    result: dict[Flag, list[FlaggedPatient]] = {}
    for flag, listed in flagged.items():
        result[flag] = []
        for facts in listed:
            patient = patients.get(facts.patient_id)
            if patient is None:  # gone since the figures were counted
                continue
            outcomes: tuple[InstrumentOutcome, ...] = ()
            if flag == "worsened":
                outcomes = _worsened_outcomes(series[facts.patient_id], facts.first_infusion_at)
            result[flag].append(
                FlaggedPatient(
                    patient,
                    locations.get(facts.location_id) if facts.location_id else None,
                    outcomes,
                    facts.last_questionnaire_at,
                )
            )
    for flag in FLAGS:
        result.setdefault(flag, [])
    return result


def _worsened_outcomes(
    series: dict[str, list[Point]], first_infusion_at: datetime | None
) -> tuple[InstrumentOutcome, ...]:
    # The first start is all the rules need; the chart's picture reads every start.
    starts = (first_infusion_at,) if first_infusion_at else ()
    outcomes = [
        instrument_outcome(instrument, points, starts) for instrument, points in series.items()
    ]
    return tuple(
        outcome
        for outcome in sorted(outcomes, key=lambda outcome: instrument_order(outcome.instrument))
        if outcome.worsened
    )
