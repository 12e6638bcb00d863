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

The clinic dashboard (``outcomes.dashboard``) groups patients by condition (depression,
anxiety, PTSD, pain: a patient may be in several groups) and by location (see
``clinic_outcomes`` for which location), and judges each group on its own instrument.
For the whole clinic at once, ``outcomes.facts`` applies these same rules in SQL (window
functions over every score, counted by the worker every few minutes); a change to a rule
here needs the same change there, and ``outcomes/tests/test_dashboard_pinned.py`` fails
until both agree.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import MappingProxyType

from django.conf import settings

from infusions.models import InfusionSession
from patients import questionnaires
from patients.models import Patient, QuestionnaireResponse
from patients.questionnaires import (
    Definition,
    Instrument,
    definition_for,
)

# Used when settings.OUTCOME_WORSENING_POINTS leaves an instrument out.
DEFAULT_WORSENING_POINTS: Mapping[Instrument, int] = MappingProxyType(
    {Instrument.PHQ9: 5, Instrument.GAD7: 4, Instrument.PCL5: 10, Instrument.PAIN_NRS: 2}
)

KNOWN_INSTRUMENTS = frozenset(instrument.value for instrument in Instrument)


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


def instrument_order(instrument: str) -> int:
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
    ordered = sorted(series, key=instrument_order)
    return [instrument_outcome(instrument, series[instrument], starts) for instrument in ordered]
