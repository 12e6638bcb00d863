"""What the outcomes dashboard counts, per patient: counted by the worker, read by the
dashboard.

``outcome_facts_refresh`` works out in one set-based statement, for every patient, what
``outcomes.dashboard`` once worked out in Python one patient at a time, and stores it
(``PatientOutcomeFacts``):

- the location of the current course, else of the latest course, and the state of the
  current course (induction or maintenance);
- when the first infusion started, and when the latest questionnaire was done;
- for each questionnaire (instrument): whether response can be judged (a baseline and a
  score since treatment began), response, remission, and whether the scores worsened:
  the rules of ``outcomes.scores`` (``instrument_outcome``), written as window functions
  over the scores, with the thresholds from the same settings. The pinned figures in
  ``outcomes/tests/test_dashboard_pinned.py`` hold the two writings together.

Each source table is read once, in full (no correlated subquery per patient), so the cost
grows with the rows: about half a second for a chain of 20,000 patients, too slow for
every page view but fine every few minutes (``OUTCOME_FACTS_REFRESH_MINUTES``).

The dashboard (``dashboard_figures``) and its lists (``flagged_slice``) each read the
stored facts in one statement: the patients the user may see
(``patients.selectors.patients_visible_to``, compiled into the statement so the access
rule stays in one place) joined to their facts, counted per condition group and
location, or one page of those who worsened or are overdue. Whether a patient is
overdue is judged when the page is read; the rest is as of the last count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from django.core.exceptions import EmptyResultSet
from django.db import connection, transaction
from django.utils import timezone

from clinic.models import Location
from infusions.models import InfusionSession
from outcomes.models import OutcomeFactsCount, PatientOutcomeFacts
from outcomes.scores import worsening_points
from patients import questionnaires
from patients.models import Patient, QuestionnaireResponse
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
    as_of: datetime | None = None  # when the facts were counted


@dataclass(frozen=True)
class Figures:
    patient_count: int
    groups: list[GroupCounts]
    flagged: dict[Flag, FlaggedList]
    as_of: datetime | None  # when the facts were counted; None: nothing to count
    # The latest questionnaire, among patients in a course and not overdue, that was done
    # first: when it is as old as the overdue limit, one more patient is overdue (None:
    # nobody will be until the facts change).
    oldest_recent_questionnaire_at: datetime | None = None


# The order of every list of patients: the patient list's (``Patient.Meta.ordering``).
_PATIENT_ORDER = "last_name, first_name, id"

# The facts of every patient with a course, an infusion or a questionnaire, counted from
# the records. {placeholders} are filled with SQL written here (table names from the
# models), never with input: every value is a parameter.
_COUNT = """
WITH first_infusion AS (
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
        instrument = ANY(%s) AND baseline IS NOT NULL AND latest IS NOT NULL AS follow_up,
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
        array_agg(instrument ORDER BY instrument) FILTER (WHERE follow_up) AS judged,
        array_agg(instrument ORDER BY instrument)
            FILTER (WHERE follow_up AND response) AS responded,
        array_agg(instrument ORDER BY instrument)
            FILTER (WHERE follow_up AND remission) AS remitted
    FROM judged
    GROUP BY patient_id
),
home AS (
    SELECT DISTINCT ON (c.patient_id) c.patient_id, c.location_id,
        CASE WHEN c.state = ANY(%s) THEN c.state ELSE '' END AS course_state
    FROM {course} c
    ORDER BY c.patient_id, c.state = ANY(%s) DESC, c.created_at DESC, c.id DESC
),
-- Every patient with a course, an infusion or a questionnaire.
counted AS (
    SELECT p.id AS patient_id, h.location_id AS course_location_id,
        coalesce(h.course_state, '') AS course_state, f.started_at AS first_infusion_at,
        a.last_at AS last_questionnaire_at, coalesce(a.worsened, false) AS worsened,
        coalesce(a.judged, '{{}}') AS judged, coalesce(a.responded, '{{}}') AS responded,
        coalesce(a.remitted, '{{}}') AS remitted
    FROM {patient} p
        LEFT JOIN home h ON h.patient_id = p.id
        LEFT JOIN answers a ON a.patient_id = p.id
        LEFT JOIN first_infusion f ON f.patient_id = p.id
    WHERE h.patient_id IS NOT NULL OR a.patient_id IS NOT NULL OR f.patient_id IS NOT NULL
),
-- The rows of patients with nothing left to count go; the others are written only where
-- they changed, so a count leaves few dead rows behind.
gone AS (
    DELETE FROM {facts} s
    WHERE NOT EXISTS (SELECT FROM counted c WHERE c.patient_id = s.patient_id)
)
INSERT INTO {facts} AS s (
    patient_id, course_location_id, course_state, first_infusion_at, last_questionnaire_at,
    worsened, judged, responded, remitted
)
SELECT patient_id, course_location_id, course_state, first_infusion_at, last_questionnaire_at,
    worsened, judged, responded, remitted
FROM counted
ON CONFLICT (patient_id) DO UPDATE SET
    course_location_id = EXCLUDED.course_location_id,
    course_state = EXCLUDED.course_state,
    first_infusion_at = EXCLUDED.first_infusion_at,
    last_questionnaire_at = EXCLUDED.last_questionnaire_at,
    worsened = EXCLUDED.worsened,
    judged = EXCLUDED.judged,
    responded = EXCLUDED.responded,
    remitted = EXCLUDED.remitted
WHERE (s.course_location_id, s.course_state, s.first_infusion_at, s.last_questionnaire_at,
        s.worsened, s.judged, s.responded, s.remitted)
    IS DISTINCT FROM (EXCLUDED.course_location_id, EXCLUDED.course_state,
        EXCLUDED.first_infusion_at, EXCLUDED.last_questionnaire_at, EXCLUDED.worsened,
        EXCLUDED.judged, EXCLUDED.responded, EXCLUDED.remitted)
"""

# The patients a user may see, with their facts as last counted. A patient with no row
# (nothing to count, or new since) has no course, no infusion and no questionnaire.
_READ = """
WITH visible (id, conditions, preferred_location_id, last_name, first_name) AS (
    {visible}
),
fact AS MATERIALIZED (
    SELECT v.id, v.last_name, v.first_name, v.conditions,
        coalesce(s.course_location_id, v.preferred_location_id) AS location_id,
        s.course_state, s.first_infusion_at, s.last_questionnaire_at AS last_at,
        coalesce(s.worsened, false) AS worsened,
        coalesce(s.course_state <> ''
            AND (s.last_questionnaire_at IS NULL OR s.last_questionnaire_at < %s), false)
            AS overdue,
        s.judged, s.responded, s.remitted
    FROM visible v LEFT JOIN {facts} s ON s.patient_id = v.id
    {where_location}
)
"""

# The counts, per location and for everyone (the empty grouping set): how many patients,
# worsened and overdue, and the same per condition group (_PER_GROUP, one set of columns
# a group). The patients are first folded into kinds (same location, conditions and
# facts: about 3,500 kinds for 20,000 patients), so the array tests run once a kind.
_COUNTS = """
(SELECT json_agg(counted) FROM (
    SELECT location_id, GROUPING(location_id) = 1 AS everyone,
        sum(n) AS patients,
        coalesce(sum(n) FILTER (WHERE worsened), 0) AS worsened,
        coalesce(sum(n) FILTER (WHERE overdue), 0) AS overdue,
        {per_group}
    FROM (
        SELECT location_id, conditions, course_state, overdue, worsened, judged, responded,
            remitted, count(*) AS n
        FROM fact
        GROUP BY location_id, conditions, course_state, overdue, worsened, judged, responded,
            remitted
    ) kind
    GROUP BY GROUPING SETS ((location_id), ())
) counted)
"""

_PER_GROUP = """
        coalesce(sum(n) FILTER (WHERE {member}), 0) AS patients_{n},
        coalesce(sum(n) FILTER (WHERE {member} AND course_state = %s), 0) AS in_induction_{n},
        coalesce(sum(n) FILTER (WHERE {member} AND course_state = %s), 0) AS in_maintenance_{n},
        coalesce(sum(n) FILTER (WHERE {member} AND overdue), 0) AS overdue_{n},
        coalesce(sum(n) FILTER (WHERE {member} AND %s = ANY(judged)), 0) AS judged_{n},
        coalesce(sum(n) FILTER (WHERE {member} AND %s = ANY(responded)), 0) AS responded_{n},
        coalesce(sum(n) FILTER (WHERE {member} AND %s = ANY(remitted)), 0) AS remitted_{n}"""

_FLAGGED = """
(SELECT coalesce(json_agg(json_build_object(
        'patient_id', id,
        'location_id', location_id,
        'last_questionnaire_at', last_at,
        'first_infusion_at', first_infusion_at
    ) ORDER BY {order}), '[]')
    FROM (SELECT * FROM fact WHERE {flag} ORDER BY {order} LIMIT %s OFFSET %s) listed)
"""

_AS_OF = "(SELECT counted_at FROM {count} WHERE id = 1)"
_FLAGGED_COUNT = "(SELECT count(*) FROM fact WHERE {flag})"
_OLDEST_RECENT = "(SELECT min(last_at) FROM fact WHERE course_state <> '' AND last_at >= %s)"


def _thresholds(name: str, values: dict[Instrument, int | None]) -> tuple[str, list[Any]]:
    """A CASE giving each instrument its number (``name`` only documents the SQL)."""
    sql = f"CASE instrument /* {name} */ " + " ".join("WHEN %s THEN %s" for _ in values) + " END"
    params: list[Any] = []
    for instrument, value in values.items():
        params += [instrument.value, value]
    return sql, params


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


def _read_sql(
    user: Any, groups: Sequence[GroupSpec], *, location: Location | None, since: datetime
) -> tuple[str, list[Any]]:
    """The statement's start: ``fact``, the patients ``user`` may see in ``groups`` (at
    ``location``) with their stored facts, and whether each is overdue at ``since``."""
    visible, visible_params = _visible_sql(user, sorted({c for g in groups for c in g.conditions}))
    sql = _READ.format(
        visible=visible,
        facts=PatientOutcomeFacts._meta.db_table,
        where_location=(
            "WHERE coalesce(s.course_location_id, v.preferred_location_id) = %s" if location else ""
        ),
    )
    return sql, [*visible_params, since, *([location.pk] if location else [])]


def _flagged_sql(flag: Flag, limit: int, offset: int) -> tuple[str, list[Any]]:
    """``limit`` of the patients with ``flag`` from ``offset`` on, as JSON."""
    if flag not in FLAGS:  # the flag is a column name in the statement
        raise ValueError(f"No such list: {flag!r}.")
    return _FLAGGED.format(flag=flag, order=_PATIENT_ORDER), [limit, offset]


def _counts_sql(groups: Sequence[GroupSpec]) -> tuple[str, list[Any]]:
    per_group, params = [], []
    member = "conditions && %s::varchar[]"
    for n, group in enumerate(groups):
        per_group.append(_PER_GROUP.format(n=n, member=member))
        conditions = sorted(group.conditions)
        params += [
            conditions,
            conditions,
            TreatmentCourse.State.INDUCTION.value,
            conditions,
            TreatmentCourse.State.MAINTENANCE.value,
            conditions,
            conditions,
            group.instrument.value,
            conditions,
            group.instrument.value,
            conditions,
            group.instrument.value,
        ]
    return _COUNTS.format(per_group=",".join(per_group).strip()), params


def _group_counts(groups: Sequence[GroupSpec], counted: list[dict[str, Any]]) -> list[GroupCounts]:
    """The rows of the dashboard's table: each group at each location with patients."""
    rows = []
    for line in counted:
        if line["everyone"]:
            continue
        for n, group in enumerate(groups):
            if not line[f"patients_{n}"]:
                continue
            rows.append(
                GroupCounts(
                    key=group.key,
                    location_id=line["location_id"],
                    **{name: line[f"{name}_{n}"] for name in _GROUP_COUNT_NAMES},
                )
            )
    return rows


_GROUP_COUNT_NAMES = (
    "patients",
    "in_induction",
    "in_maintenance",
    "overdue",
    "judged",
    "responded",
    "remitted",
)


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


def outcome_facts_refresh(*, now: datetime | None = None, unless_counted: bool = False) -> int:
    """Count every patient's facts again from their courses, infusions and scores, and
    store those that changed, with the time of the count (``OutcomeFactsCount``), in one
    transaction: readers see the previous count until it commits. Run by the worker every
    ``OUTCOME_FACTS_REFRESH_MINUTES`` (``outcomes.tasks.refresh_outcome_facts``); two
    runs at once take turns. ``unless_counted``: do nothing if a count was ever made
    (for the first readers of a new database, who would otherwise all count in turn).
    Returns how many patients have facts."""
    remission, remission_params = _thresholds(
        "remission below",
        {instrument: questionnaires.REMISSION_BELOW.get(instrument) for instrument in Instrument},
    )
    worsening, worsening_params = _thresholds(
        "worsening points",
        {instrument: worsening_points(instrument) for instrument in Instrument},
    )
    facts = PatientOutcomeFacts._meta.db_table
    sql = _COUNT.format(
        session=InfusionSession._meta.db_table,
        appointment=Appointment._meta.db_table,
        response=QuestionnaireResponse._meta.db_table,
        course=TreatmentCourse._meta.db_table,
        patient=Patient._meta.db_table,
        facts=facts,
        remission_below=remission,
        worsening_points=worsening,
    )
    known = [instrument.value for instrument in Instrument]
    active = [state.value for state in ACTIVE_COURSE_STATES]
    params = [
        known,
        *remission_params,
        *worsening_params,
        known,
        active,
        active,
    ]
    with transaction.atomic(), connection.cursor() as cursor:
        # Readers go on reading; a second refresh waits for this one.
        cursor.execute(f"LOCK TABLE {facts} IN EXCLUSIVE MODE")
        if unless_counted and (done := OutcomeFactsCount.objects.first()) is not None:
            return done.patients
        cursor.execute(sql, params)
        patients = PatientOutcomeFacts.objects.count()
        OutcomeFactsCount.objects.update_or_create(
            pk=1, defaults={"counted_at": now or timezone.now(), "patients": patients}
        )
    return patients


def dashboard_figures(
    user: Any,
    groups: Sequence[GroupSpec],
    *,
    location: Location | None,
    since: datetime,
    listed: int,
) -> Figures:
    """The counts per condition group and location, how many patients, the first
    ``listed`` patients who worsened and who are overdue, when the facts were counted,
    and the questionnaire that will be the next to make someone overdue. One query, from
    the stored facts; when none were ever stored, they are counted first
    (``outcome_facts_refresh``)."""
    try:
        read, params = _read_sql(user, groups, location=location, since=since)
    except EmptyResultSet:
        return Figures(0, [], {flag: FlaggedList(0, []) for flag in FLAGS}, as_of=None)
    counts, select_params = _counts_sql(groups)
    selects = [_AS_OF.format(count=OutcomeFactsCount._meta.db_table), counts]
    for flag in FLAGS:
        sql, flag_params = _flagged_sql(flag, listed, 0)
        selects.append(sql)
        select_params += flag_params
    selects.append(_OLDEST_RECENT)
    select_params.append(since)
    row = _fetch_counted(read + "SELECT " + ",\n".join(selects), [*params, *select_params])
    as_of, counted, *listed_facts, oldest_recent = row
    counted = counted or []
    everyone = next((line for line in counted if line["everyone"]), None)
    return Figures(
        patient_count=everyone["patients"] if everyone else 0,
        groups=_group_counts(groups, counted),
        flagged={
            flag: _parse_flagged(everyone[flag] if everyone else 0, listed_facts[n])
            for n, flag in enumerate(FLAGS)
        },
        as_of=as_of,
        oldest_recent_questionnaire_at=oldest_recent,
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
    from ``offset`` on, in the patients' order, with when the facts were counted. One
    query, from the stored facts (counted first when none ever were)."""
    try:
        read, params = _read_sql(user, groups, location=location, since=since)
    except EmptyResultSet:
        return FlaggedList(0, [], as_of=None)
    sql, flag_params = _flagged_sql(flag, limit, offset)
    as_of_sql = _AS_OF.format(count=OutcomeFactsCount._meta.db_table)
    count_sql = _FLAGGED_COUNT.format(flag=flag)  # flag checked by _flagged_sql
    as_of, count, listed = _fetch_counted(
        read + f"SELECT {as_of_sql}, {count_sql}, " + sql, [*params, *flag_params]
    )
    found = _parse_flagged(count, listed)
    return FlaggedList(found.count, found.facts, as_of=as_of)


def _fetch_counted(sql: str, params: list[Any]) -> tuple[Any, ...]:
    """The statement's one row, whose first column is when the facts were counted. On a
    database where they never were (a new installation, a test), they are counted now
    and the statement runs again."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
        if row[0] is None:
            outcome_facts_refresh(unless_counted=True)
            cursor.execute(sql, params)
            row = cursor.fetchone()
    return row
