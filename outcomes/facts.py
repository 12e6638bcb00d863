"""What the outcomes dashboard counts, per patient, as one set-based SQL statement.

For every patient the dashboard covers, the statement works out in the database what
``outcomes.dashboard`` used to work out in Python, one patient at a time:

- the location (that of the current course, else of the latest course, else the
  preferred location) and the state of the current course (induction or maintenance);
- when the first infusion started, and when the latest questionnaire was done;
- for each questionnaire (instrument): whether response can be judged (a baseline and a
  score since treatment began), response, remission, and whether the scores worsened:
  the rules of ``outcomes.scores`` (``instrument_outcome``), written as window functions
  over the scores. The thresholds come from the same settings; the pinned figures in
  ``outcomes/tests/test_dashboard_pinned.py`` hold the two writings together.

Each source table is read once, in full (no correlated subquery per patient), so the cost
grows with the rows, not with rows times patients. Then the statement either counts the
facts per condition group and location (``dashboard_figures``) or lists one page of the
patients who worsened or are overdue (``flagged_page``); both in one round trip.

Patients come through ``patients.selectors.patients_visible_to``: its query is compiled
into the statement, so the access rule stays in one place.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import EmptyResultSet
from django.db import connection

from clinic.models import Location
from infusions.models import InfusionSession
from outcomes.scores import worsening_points
from patients import questionnaires
from patients.models import QuestionnaireResponse
from patients.questionnaires import Instrument
from patients.selectors import patients_visible_to
from scheduling.models import Appointment, TreatmentCourse

Flag = Literal["worsened", "overdue"]
FLAGS: tuple[Flag, ...] = ("worsened", "overdue")

# Course states in which a patient is being treated.
ACTIVE_COURSE_STATES = (TreatmentCourse.State.INDUCTION, TreatmentCourse.State.MAINTENANCE)


@dataclass(frozen=True)
class GroupSpec:
    """A condition group as the statement needs it (``outcomes.dashboard.ConditionGroup``)."""

    key: str
    conditions: Sequence[str]
    instrument: Instrument


@dataclass(frozen=True)
class GroupCounts:
    key: str
    location_id: int | None
    patients: int
    in_induction: int
    in_maintenance: int
    overdue: int
    judged: int  # patients with a baseline and a later score on the group's questionnaire
    responded: int
    remitted: int


@dataclass(frozen=True)
class FlaggedFacts:
    patient_id: int
    location_id: int | None
    last_questionnaire_at: datetime | None
    first_infusion_at: datetime | None


@dataclass(frozen=True)
class FlaggedList:
    count: int  # all the patients with the flag
    facts: list[FlaggedFacts]  # the requested slice of them, in the patients' order


@dataclass(frozen=True)
class Figures:
    patient_count: int
    groups: list[GroupCounts]
    flagged: dict[Flag, FlaggedList]


# The order of every list of patients: the patient list's (``Patient.Meta.ordering``).
_PATIENT_ORDER = "last_name, first_name, id"

# One statement; {placeholders} are filled with SQL written here (table names from the
# models, one column per instrument), never with input: every value is a parameter.
_FACTS = """
WITH visible (id, conditions, preferred_location_id, last_name, first_name) AS (
    {visible}
),
first_infusion AS (
    SELECT a.patient_id, min(s.started_at) AS started_at
    FROM {session} s JOIN {appointment} a ON a.id = s.appointment_id
    WHERE s.started_at IS NOT NULL
    GROUP BY a.patient_id
),
-- Every score, newest first per patient and instrument, with the score before it.
point AS (
    SELECT r.patient_id, r.instrument, r.total, r.completed_at,
        r.completed_at >= f.started_at AS after,  -- since treatment began (NULL: no infusion)
        row_number() OVER newest_first AS nth_latest,
        lead(r.total) OVER newest_first AS previous_total,
        lead(r.completed_at >= f.started_at) OVER newest_first AS previous_after
    FROM {response} r LEFT JOIN first_infusion f ON f.patient_id = r.patient_id
    WINDOW newest_first AS (
        PARTITION BY r.patient_id, r.instrument ORDER BY r.completed_at DESC, r.id DESC
    )
),
-- Per patient and instrument: the latest score since treatment began, the score before
-- it, the baseline (the last score before the first infusion; before any infusion, the
-- latest score), and the lowest score since treatment began other than the latest.
series AS (
    SELECT patient_id, instrument, max(completed_at) AS last_at,
        max(total) FILTER (WHERE nth_latest = 1 AND after) AS latest,
        max(previous_total) FILTER (WHERE nth_latest = 1 AND after) AS previous,
        coalesce(
            max(previous_total) FILTER (WHERE after AND previous_after IS NOT TRUE),
            max(total) FILTER (WHERE nth_latest = 1 AND after IS NOT TRUE)
        ) AS baseline,
        min(total) FILTER (WHERE after AND nth_latest > 1) AS lowest_before_latest
    FROM point
    GROUP BY patient_id, instrument
),
judged AS (
    SELECT patient_id, instrument, last_at,
        baseline IS NOT NULL AND latest IS NOT NULL AS follow_up,
        baseline > 0 AND latest * 2 <= baseline AS response,
        latest < {remission_below} AS remission,
        latest IS NOT NULL AND (
            latest - previous >= {worsening_points}
            OR (baseline > 0 AND latest * 2 > baseline AND lowest_before_latest * 2 <= baseline)
        ) AS worsened
    FROM series
),
answers AS (
    SELECT patient_id, max(last_at) AS last_at,
        coalesce(bool_or(worsened) FILTER (WHERE instrument = ANY(%s)), false) AS worsened,
        {per_instrument}
    FROM judged
    GROUP BY patient_id
),
home AS (
    SELECT DISTINCT ON (c.patient_id) c.patient_id, c.location_id,
        CASE WHEN c.state = ANY(%s) THEN c.state END AS course_state
    FROM {course} c
    ORDER BY c.patient_id, c.state = ANY(%s) DESC, c.created_at DESC, c.id DESC
),
fact AS MATERIALIZED (
    SELECT v.id, v.last_name, v.first_name, v.conditions,
        coalesce(h.location_id, v.preferred_location_id) AS location_id,
        h.course_state, f.started_at AS first_infusion_at, a.last_at,
        coalesce(a.worsened, false) AS worsened,
        h.course_state IS NOT NULL AND (a.last_at IS NULL OR a.last_at < %s) AS overdue,
        {instrument_columns}
    FROM visible v
        LEFT JOIN home h ON h.patient_id = v.id
        LEFT JOIN answers a ON a.patient_id = v.id
        LEFT JOIN first_infusion f ON f.patient_id = v.id
    {where_location}
)
"""

_GROUP_COUNTS = """
(SELECT coalesce(json_agg(counted), '[]') FROM (
    SELECT g.key, f.location_id, count(*) AS patients,
        count(*) FILTER (WHERE f.course_state = %s) AS in_induction,
        count(*) FILTER (WHERE f.course_state = %s) AS in_maintenance,
        count(*) FILTER (WHERE f.overdue) AS overdue,
        count(*) FILTER (WHERE g.follow_up) AS judged,
        count(*) FILTER (WHERE g.follow_up AND g.response) AS responded,
        count(*) FILTER (WHERE g.follow_up AND g.remission) AS remitted
    FROM fact f CROSS JOIN LATERAL (
        VALUES {group_rows}
    ) AS g(key, member, follow_up, response, remission)
    WHERE g.member
    GROUP BY g.key, f.location_id
) counted)
"""

_FLAGGED = """
(SELECT count(*) FROM fact WHERE {flag}),
(SELECT coalesce(json_agg(json_build_object(
        'patient_id', id,
        'location_id', location_id,
        'last_questionnaire_at', last_at,
        'first_infusion_at', first_infusion_at
    ) ORDER BY {order}), '[]')
    FROM (SELECT * FROM fact WHERE {flag} ORDER BY {order} LIMIT %s OFFSET %s) listed)
"""


def _instrument_sql() -> tuple[str, list[Any], str, list[Any], str, list[Any], str]:
    """The per-instrument SQL: thresholds as CASEs, one column per instrument."""
    instruments = list(Instrument)
    remission = "CASE instrument " + " ".join("WHEN %s THEN %s" for _ in instruments) + " END"
    remission_params: list[Any] = []
    worsening = "CASE instrument " + " ".join("WHEN %s THEN %s" for _ in instruments) + " END"
    worsening_params: list[Any] = []
    aggregates, aggregate_params, columns = [], [], []
    for n, instrument in enumerate(instruments):
        remission_params += [instrument.value, questionnaires.REMISSION_BELOW.get(instrument)]
        worsening_params += [instrument.value, worsening_points(instrument)]
        for fact in ("follow_up", "response", "remission"):
            aggregates.append(f"bool_or({fact}) FILTER (WHERE instrument = %s) AS {fact}_{n}")
            aggregate_params.append(instrument.value)
            columns.append(f"coalesce(a.{fact}_{n}, false) AS {fact}_{n}")
    return (
        remission,
        remission_params,
        worsening,
        worsening_params,
        ",\n        ".join(aggregates),
        aggregate_params,
        ",\n        ".join(columns),
    )


def _visible_sql(user: Any, conditions: Sequence[str]) -> tuple[str, Sequence[Any]]:
    """The patients ``user`` may see with any of ``conditions``, as SQL (raises
    EmptyResultSet when they may see none)."""
    patients = (
        patients_visible_to(user)
        .filter(conditions__overlap=sorted(conditions))
        .order_by()
        .values_list(
            "id", "conditions", "preferred_location_id", "legal_last_name", "legal_first_name"
        )
    )
    return patients.query.sql_with_params()


def _facts_sql(
    user: Any, groups: Sequence[GroupSpec], *, location: Location | None, since: datetime
) -> tuple[str, list[Any]]:
    visible, visible_params = _visible_sql(user, sorted({c for g in groups for c in g.conditions}))
    (
        remission,
        remission_params,
        worsening,
        worsening_params,
        aggregates,
        aggregate_params,
        columns,
    ) = _instrument_sql()
    active = [state.value for state in ACTIVE_COURSE_STATES]
    sql = _FACTS.format(
        visible=visible,
        session=InfusionSession._meta.db_table,
        appointment=Appointment._meta.db_table,
        response=QuestionnaireResponse._meta.db_table,
        course=TreatmentCourse._meta.db_table,
        remission_below=remission,
        worsening_points=worsening,
        per_instrument=aggregates,
        instrument_columns=columns,
        where_location=(
            "WHERE coalesce(h.location_id, v.preferred_location_id) = %s" if location else ""
        ),
    )
    params = [
        *visible_params,
        *remission_params,
        *worsening_params,
        [instrument.value for instrument in Instrument],
        *aggregate_params,
        active,
        active,
        since,
        *([location.pk] if location else []),
    ]
    return sql, params


def _flagged_sql(flag: Flag, limit: int, offset: int) -> tuple[str, list[Any]]:
    if flag not in FLAGS:  # the flag is a column name in the statement
        raise ValueError(f"No such list: {flag!r}.")
    return _FLAGGED.format(flag=flag, order=_PATIENT_ORDER), [limit, offset]


def _group_counts_sql(groups: Sequence[GroupSpec]) -> tuple[str, list[Any]]:
    index = {instrument: n for n, instrument in enumerate(Instrument)}
    rows, params = [], []
    for group in groups:
        n = index[group.instrument]
        rows.append(
            f"(%s, f.conditions && %s::varchar[], f.follow_up_{n}, f.response_{n}, f.remission_{n})"
        )
        params += [group.key, sorted(group.conditions)]
    sql = _GROUP_COUNTS.format(group_rows=", ".join(rows))
    return sql, [
        TreatmentCourse.State.INDUCTION.value,
        TreatmentCourse.State.MAINTENANCE.value,
        *params,
    ]


def _parse_flagged(count: int, listed: list[dict[str, Any]]) -> FlaggedList:
    facts = [
        FlaggedFacts(
            patient_id=item["patient_id"],
            location_id=item["location_id"],
            last_questionnaire_at=_moment(item["last_questionnaire_at"]),
            first_infusion_at=_moment(item["first_infusion_at"]),
        )
        for item in listed
    ]
    return FlaggedList(count=count, facts=facts)


def _moment(text: str | None) -> datetime | None:
    """A time from the statement's JSON (ISO 8601 with its UTC offset)."""
    return datetime.fromisoformat(text) if text is not None else None


def dashboard_figures(
    user: Any,
    groups: Sequence[GroupSpec],
    *,
    location: Location | None,
    since: datetime,
    listed: int,
) -> Figures:
    """The counts per condition group and location, how many patients, and the first
    ``listed`` patients who worsened and who are overdue. One query."""
    try:
        facts, params = _facts_sql(user, groups, location=location, since=since)
    except EmptyResultSet:
        return Figures(0, [], {flag: FlaggedList(0, []) for flag in FLAGS})
    counts, counts_params = _group_counts_sql(groups)
    selects, select_params = [counts, "(SELECT count(*) FROM fact)"], [*counts_params]
    for flag in FLAGS:
        sql, flag_params = _flagged_sql(flag, listed, 0)
        selects.append(sql)
        select_params += flag_params
    with connection.cursor() as cursor:
        cursor.execute(facts + "SELECT " + ",\n".join(selects), [*params, *select_params])
        row = cursor.fetchone()
    counted, patient_count, *flagged = row
    return Figures(
        patient_count=patient_count,
        groups=[GroupCounts(**item) for item in counted],
        flagged={
            flag: _parse_flagged(flagged[2 * n], flagged[2 * n + 1]) for n, flag in enumerate(FLAGS)
        },
    )


def flagged_slice(
    user: Any,
    groups: Sequence[GroupSpec],
    flag: Flag,
    *,
    location: Location | None,
    since: datetime,
    limit: int,
    offset: int,
) -> FlaggedList:
    """How many patients have ``flag`` ("worsened" or "overdue"), and ``limit`` of them
    from ``offset`` on, in the patients' order. One query."""
    try:
        facts, params = _facts_sql(user, groups, location=location, since=since)
    except EmptyResultSet:
        return FlaggedList(0, [])
    sql, flag_params = _flagged_sql(flag, limit, offset)
    with connection.cursor() as cursor:
        cursor.execute(facts + "SELECT " + sql, [*params, *flag_params])
        count, listed = cursor.fetchone()
    return _parse_flagged(count, listed)
