"""The course planner: ``course_plan`` proposes concrete infusion times for a course. It reads
availability once for the whole search (``scheduling.availability.free_slots``, which already
knows opening hours, shifts, chairs, nurse capacity and the patient's other appointments) and
then only arranges those slots: the earliest start, spread at about three a week, the same
time of day where it can, and on the patient's preferred days and times first. It never
silently plans fewer: a plan that falls short says so, and one that had to leave the
preferences says which infusions."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.exceptions import ValidationError

from clinic.models import Location
from patients.models import Patient
from scheduling.availability import Slot, free_slots
from scheduling.courses.limits import infusion_type, or_setting, settings_errors
from scheduling.courses.wording import add_error, course_day
from scheduling.models import AppointmentKind

# The pace clinics describe for an induction series: three infusions a week.
PACE_DAYS = 7 / 3


@dataclass(frozen=True)
class CoursePlan:
    """Proposed infusion times for a course, earliest first.

    ``shortfall`` says why fewer than ``planned_infusions`` are proposed (empty when all of
    them are); ``notice`` says when some times had to leave the patient's preferences, and
    ``outside_preferences`` holds those start times."""

    slots: list[Slot]
    planned_infusions: int
    window_days: int
    min_gap_hours: int
    start_date: date
    shortfall: str = ""
    notice: str = ""
    outside_preferences: frozenset[datetime] = frozenset()

    @property
    def is_complete(self) -> bool:
        return len(self.slots) == self.planned_infusions

    def fits_preferences(self, slot: Slot) -> bool:
        return slot.starts_at not in self.outside_preferences


@dataclass(frozen=True)
class _Preferences:
    weekdays: frozenset[int]
    after: time | None
    before: time | None

    @property
    def given(self) -> bool:
        return bool(self.weekdays) or self.after is not None or self.before is not None

    def allow(self, slot: Slot) -> bool:
        local = slot.local_start
        if self.weekdays and local.weekday() not in self.weekdays:
            return False
        if self.after is not None and local.time() < self.after:
            return False
        return self.before is None or local.time() < self.before


def course_plan(
    *,
    patient: Patient,
    location: Location,
    planned_infusions: int | None = None,
    window_days: int | None = None,
    min_gap_hours: int | None = None,
    start_date: date | None = None,
    preferred_weekdays: Sequence[int] = (),
    preferred_after: time | None = None,
    preferred_before: time | None = None,
    strict_preferences: bool = False,
) -> CoursePlan:
    """Propose ``planned_infusions`` infusion times at ``location`` for ``patient``, the
    first on or after ``start_date`` (the location's tomorrow by default) and within its
    first ``window_days`` days, all within ``window_days`` of the first, at least
    ``min_gap_hours`` apart. Defaults come from the COURSE_* settings.

    Preferred weekdays (0 = Monday) and start times (at or after ``preferred_after``, before
    ``preferred_before``, local) are kept if the whole course fits them; otherwise the plan
    uses other times too and says so in ``notice`` (or, with ``strict_preferences``, stops
    at what fits and says so in ``shortfall``). Raises ValidationError for settings out of
    range. A read: about five queries, whatever the number of appointments."""
    planned_infusions = or_setting(planned_infusions, "COURSE_DEFAULT_INFUSIONS")
    window_days = or_setting(window_days, "COURSE_WINDOW_DAYS")
    min_gap_hours = or_setting(min_gap_hours, "COURSE_MIN_GAP_HOURS")
    tomorrow = location.local_now().date() + timedelta(days=1)
    start_date = start_date or tomorrow
    errors = settings_errors(planned_infusions, window_days, min_gap_hours)
    if start_date < location.local_now().date():
        add_error(errors, "start_date", "That date has passed: start today or later.")
    weekdays = list(preferred_weekdays)
    if not all(isinstance(day, int) and 0 <= day <= 6 for day in weekdays):
        add_error(errors, "preferred_weekdays", "Weekdays go from 0 (Monday) to 6 (Sunday).")
    if preferred_after and preferred_before and preferred_before <= preferred_after:
        add_error(
            errors,
            "preferred_before",
            f"“Before {preferred_before:%H:%M}” must be later than “from "
            f"{preferred_after:%H:%M}”: widen the times.",
        )
    if errors:
        raise ValidationError(errors)
    preferences = _Preferences(frozenset(weekdays), preferred_after, preferred_before)
    # The first infusion may fall anywhere in the first window, and the course then runs a
    # window from it: read every slot that could be used, once.
    slots = free_slots(
        location=location,
        appointment_type=infusion_type(AppointmentKind.INFUSION),
        start_date=start_date,
        end_date=start_date + timedelta(days=2 * window_days - 2),
        patient=patient,
    )
    search = _Search(
        count=planned_infusions,
        window_days=window_days,
        gap=timedelta(hours=min_gap_hours),
        last_first_day=start_date + timedelta(days=window_days - 1),
    )
    plan = CoursePlan(
        slots=[],
        planned_infusions=planned_infusions,
        window_days=window_days,
        min_gap_hours=min_gap_hours,
        start_date=start_date,
    )

    def only(found: int) -> str:
        return _how_many_fit(found, planned_infusions, window_days)

    if preferences.given:
        preferred = search.run([slot for slot in slots if preferences.allow(slot)])
        if len(preferred) == planned_infusions:
            return _replace(plan, slots=preferred)
        shortfall = f"{only(len(preferred))} with these preferences: widen the days or times."
        if strict_preferences:
            return _replace(plan, slots=preferred, shortfall=shortfall)
        anything = search.run(slots)
        if len(anything) <= len(preferred):
            return _replace(plan, slots=preferred, shortfall=shortfall)
        outside = frozenset(slot.starts_at for slot in anything if not preferences.allow(slot))
        notice = (
            f"{only(len(preferred))} with these preferences, so this plan also uses "
            f"other days or times ({len(outside)} marked “outside preferences”): change them "
            "below, or widen the preferences and plan again."
        )
        plan = _replace(plan, slots=anything, notice=notice, outside_preferences=outside)
    else:
        plan = _replace(plan, slots=search.run(slots))
    if not plan.is_complete:
        found = len(plan.slots)
        plan = _replace(
            plan,
            shortfall=(
                f"{only(found)} at {location.name} "
                f"from {course_day(start_date)}: choose a later start date, a longer window or "
                "fewer infusions, or another location."
            ),
        )
    return plan


@dataclass(frozen=True)
class _Search:
    """Arranges free slots into a course: the earliest first day that can hold the whole
    course, at the widest spacing that fits (about three a week, down to the minimum gap)."""

    count: int
    window_days: int
    gap: timedelta
    last_first_day: date

    def run(self, slots: list[Slot]) -> list[Slot]:
        """The best sequence: complete if any is, else the longest (earliest on a tie)."""
        by_day: dict[date, list[Slot]] = defaultdict(list)
        for slot in slots:
            by_day[slot.local_start.date()].append(slot)
        best: list[Slot] = []
        for first_day in sorted(day for day in by_day if day <= self.last_first_day):
            first = by_day[first_day][0]
            for spacing in self._spacings():
                chosen = self._sequence(by_day, first, spacing)
                if len(chosen) == self.count:
                    return chosen
                if len(chosen) > len(best):
                    best = chosen
        return best

    def _spacings(self) -> list[float]:
        """Days between infusions to try, widest first. Three a week unless the window is
        too short for it; the minimum gap, and then back to back, only when needed."""
        gap_days = self.gap / timedelta(days=1)
        target = max(min(PACE_DAYS, (self.window_days - 1) / max(self.count - 1, 1)), gap_days)
        steps = [target, (2 * target + gap_days) / 3, (target + 2 * gap_days) / 3, gap_days, 0]
        return sorted(set(steps), reverse=True)

    def _sequence(self, by_day: dict[date, list[Slot]], first: Slot, spacing: float) -> list[Slot]:
        """From ``first``, each next infusion on the first day it can have that is no
        earlier than its place on the ``spacing`` grid nor ``spacing`` days after the one
        before, at least the minimum gap later, at the time of day nearest the first's."""
        first_day = first.local_start.date()
        last_day = first_day + timedelta(days=self.window_days - 1)
        wanted = _minutes(first.local_start.time())
        chosen = [first]
        for number in range(1, self.count):
            previous = chosen[-1]
            day = max(
                first_day + timedelta(days=math.floor(number * spacing + 0.5)),
                previous.local_start.date() + timedelta(days=math.floor(spacing)),
            )
            not_before = previous.starts_at + self.gap
            found = None
            while found is None and day <= last_day:
                options = [slot for slot in by_day.get(day, ()) if slot.starts_at >= not_before]
                if options:
                    found = min(
                        options,
                        key=lambda slot: (
                            abs(_minutes(slot.local_start.time()) - wanted),
                            slot.starts_at,
                        ),
                    )
                day += timedelta(days=1)
            if found is None:
                break
            chosen.append(found)
        return chosen


def _replace(plan: CoursePlan, **changes: Any) -> CoursePlan:
    return replace(plan, **changes)


def _how_many_fit(found: int, planned: int, window_days: int) -> str:
    """For example "Only 4 of 6 infusions fit within 21 days" (or "None of …")."""
    count = f"Only {found}" if found else "None"
    return f"{count} of {planned} infusions fit within {window_days} days"


def _minutes(at: time) -> int:
    return at.hour * 60 + at.minute
