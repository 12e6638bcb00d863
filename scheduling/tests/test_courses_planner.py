"""The course planner: how many infusions, when, how far apart, and what it says when the
course does not fit.

The clock is frozen on Sunday 29 November 2026 at noon in Chicago, so "tomorrow" is Monday
30 November; Riverside is open 08:00 to 18:00 every day with nina on shift.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.utils import timezone

from clinic.models import Location
from patients.models import Patient
from scheduling.availability import Slot
from scheduling.courses.planner import CoursePlan, course_plan
from scheduling.tests.factories import AppointmentFactory, clinic_location
from scheduling.tests.test_booking import at, cleared_for_infusions

NOW = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)  # Sunday 12:00 in Chicago
MONDAY = date(2026, 11, 30)


def days(plan: CoursePlan) -> list[date]:
    return [slot.local_start.date() for slot in plan.slots]


def local_times(plan: CoursePlan) -> list[str]:
    return [slot.local_start.strftime("%H:%M") for slot in plan.slots]


def gaps(slots: list[Slot]) -> list[timedelta]:
    return [b.starts_at - a.starts_at for a, b in pairwise(slots)]


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch) -> datetime:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


@pytest.fixture
def riverside(nina) -> Location:
    return clinic_location(name="Riverside", chairs=2, staff=[nina])


@pytest.fixture
def cleared(phil) -> Patient:
    return cleared_for_infusions(phil)


def test_it_proposes_six_infusions_about_three_a_week_from_tomorrow(riverside, cleared):
    plan = course_plan(patient=cleared, location=riverside)

    assert plan.is_complete
    assert plan.shortfall == ""
    assert plan.notice == ""
    assert days(plan) == [
        MONDAY,
        date(2026, 12, 2),
        date(2026, 12, 5),
        date(2026, 12, 7),
        date(2026, 12, 9),
        date(2026, 12, 12),
    ]
    assert local_times(plan) == ["08:00"] * 6
    assert all(slot.chair is not None and slot.clinician is not None for slot in plan.slots)


def test_it_spreads_the_infusions_instead_of_cramming_them_a_day_apart(riverside, cleared):
    plan = course_plan(patient=cleared, location=riverside)

    assert min(gaps(plan.slots)) >= timedelta(days=2)
    assert (days(plan)[-1] - days(plan)[0]).days < 21


def test_it_takes_the_count_window_and_gap_it_is_given(riverside, cleared):
    plan = course_plan(
        patient=cleared,
        location=riverside,
        planned_infusions=10,
        window_days=14,
        min_gap_hours=30,
        start_date=date(2026, 12, 1),
    )

    assert len(plan.slots) == 10
    assert days(plan)[0] == date(2026, 12, 1)
    assert (days(plan)[-1] - days(plan)[0]).days <= 13
    assert min(gaps(plan.slots)) >= timedelta(hours=30)


@override_settings(COURSE_DEFAULT_INFUSIONS=4, COURSE_WINDOW_DAYS=14, COURSE_MIN_GAP_HOURS=48)
def test_its_defaults_come_from_the_settings(riverside, cleared):
    plan = course_plan(patient=cleared, location=riverside)

    assert (plan.planned_infusions, plan.window_days, plan.min_gap_hours) == (4, 14, 48)
    assert len(plan.slots) == 4
    assert min(gaps(plan.slots)) >= timedelta(hours=48)


def test_it_keeps_the_patients_preferred_days_and_times(riverside, cleared):
    plan = course_plan(
        patient=cleared,
        location=riverside,
        preferred_weekdays=[1, 3],  # Tuesdays and Thursdays
        preferred_after=time(14),
        preferred_before=time(16),
    )

    assert plan.is_complete
    assert plan.notice == ""
    assert {slot.local_start.strftime("%a") for slot in plan.slots} == {"Tue", "Thu"}
    assert local_times(plan) == ["14:00"] * 6
    assert (days(plan)[-1] - days(plan)[0]).days < 21


def test_it_says_how_many_fit_when_strict_preferences_leave_too_few(riverside, cleared):
    plan = course_plan(
        patient=cleared, location=riverside, preferred_weekdays=[0], strict_preferences=True
    )

    assert len(plan.slots) == 3
    assert not plan.is_complete
    assert plan.shortfall == (
        "Only 3 of 6 infusions fit within 21 days with these preferences: widen the days or times."
    )


def test_it_falls_back_to_other_days_and_says_which(riverside, cleared):
    plan = course_plan(patient=cleared, location=riverside, preferred_weekdays=[0])

    assert plan.is_complete
    assert plan.shortfall == ""
    assert plan.notice.startswith(
        "Only 3 of 6 infusions fit within 21 days with these preferences, so this plan also "
        "uses other days or times (4 marked “outside preferences”)"
    )
    outside = [slot for slot in plan.slots if not plan.fits_preferences(slot)]
    assert len(outside) == 4
    assert all(slot.local_start.weekday() != 0 for slot in outside)


def test_it_never_proposes_fewer_silently_when_the_clinic_is_too_full(nina, cleared):
    mondays_only = clinic_location(name="Lakeside", chairs=1, staff=[nina], weekdays=[0])

    plan = course_plan(patient=cleared, location=mondays_only)

    assert len(plan.slots) == 3
    assert plan.shortfall == (
        "Only 3 of 6 infusions fit within 21 days at Lakeside from Mon 30 Nov: choose a later "
        "start date, a longer window or fewer infusions, or another location."
    )


def test_it_says_so_when_nothing_fits(cleared):
    nobody_on_shift = clinic_location(name="Lakeside", chairs=1)

    plan = course_plan(patient=cleared, location=nobody_on_shift)

    assert plan.slots == []
    assert plan.shortfall.startswith("None of 6 infusions fit within 21 days at Lakeside")


def test_it_works_around_taken_chairs_and_the_patients_own_appointments(nina, riverside, cleared):
    for chair in riverside.chairs.all():
        AppointmentFactory(location=riverside, chair=chair, starts_at=at(riverside, MONDAY, 8))
    AppointmentFactory(
        location=riverside, patient=cleared, starts_at=at(riverside, date(2026, 12, 2), 9)
    )

    plan = course_plan(patient=cleared, location=riverside)

    # Both chairs are taken until 09:25 on Monday; the patient is busy 09:00-10:25 Wednesday.
    assert plan.slots[0].local_start.strftime("%a %H:%M") == "Mon 09:30"
    assert plan.slots[1].local_start.date() == date(2026, 12, 2)
    assert plan.slots[1].local_start.strftime("%H:%M") == "10:30"
    assert local_times(plan)[2:] == ["09:30"] * 4


def test_it_respects_the_nurses_capacity(nina, cleared):
    three_chairs = clinic_location(name="Lakeside", chairs=3, staff=[nina])
    chair_1, chair_2, _chair_3 = three_chairs.chairs.order_by("name")
    for chair in (chair_1, chair_2):
        AppointmentFactory(
            location=three_chairs,
            chair=chair,
            clinician=nina,
            starts_at=at(three_chairs, MONDAY, 8),
        )

    plan = course_plan(patient=cleared, location=three_chairs)

    # Chair 3 is free at 08:00, but nina already looks after two infusions then.
    assert plan.slots[0].local_start.strftime("%a %H:%M") == "Mon 09:30"


def test_it_plans_from_the_start_date_given(riverside, cleared):
    plan = course_plan(patient=cleared, location=riverside, start_date=date(2026, 12, 10))

    assert days(plan)[0] == date(2026, 12, 10)


@pytest.mark.parametrize(
    ("arguments", "field", "message"),
    [
        ({"planned_infusions": 3}, "planned_infusions", "A course has 4 to 10 infusions"),
        ({"planned_infusions": 11}, "planned_infusions", "A course has 4 to 10 infusions"),
        ({"window_days": 13}, "window_days", "within 14 to 28 days"),
        ({"window_days": 29}, "window_days", "within 14 to 28 days"),
        ({"min_gap_hours": 23}, "min_gap_hours", "at least 24 hours apart"),
        (
            {"planned_infusions": 10, "window_days": 14, "min_gap_hours": 48},
            "window_days",
            "10 infusions at least 48 hours apart need at least 19 days",
        ),
        ({"start_date": date(2026, 11, 28)}, "start_date", "That date has passed"),
        ({"preferred_weekdays": [7]}, "preferred_weekdays", "Weekdays go from 0 (Monday)"),
        (
            {"preferred_after": time(15), "preferred_before": time(9)},
            "preferred_before",
            "must be later than",
        ),
    ],
)
def test_it_refuses_settings_out_of_range(riverside, cleared, arguments, field, message):
    with pytest.raises(ValidationError) as caught:
        course_plan(patient=cleared, location=riverside, **arguments)

    assert message in " ".join(caught.value.message_dict[field])


def test_it_reads_availability_in_a_fixed_number_of_queries(
    riverside, cleared, django_assert_max_num_queries
):
    for day in range(10):
        AppointmentFactory(
            location=riverside, starts_at=at(riverside, MONDAY + timedelta(days=day), 12)
        )

    with django_assert_max_num_queries(7):
        plan = course_plan(patient=cleared, location=riverside, planned_infusions=10)

    assert plan.is_complete


# --- Across the spring DST change in Chicago (Sunday 8 March 2026) ---------------------------


def test_it_keeps_the_local_time_across_the_spring_clock_change(monkeypatch, riverside, cleared):
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 3, 1, 18, 0, tzinfo=UTC))

    plan = course_plan(
        patient=cleared,
        location=riverside,
        start_date=date(2026, 3, 5),
        preferred_after=time(10),
        preferred_before=time(10, 15),
    )

    assert plan.is_complete
    assert days(plan)[0] == date(2026, 3, 5)
    assert days(plan)[-1] > date(2026, 3, 8)
    assert local_times(plan) == ["10:00"] * 6
    # 10:00 is 16:00 UTC before the change (CST) and 15:00 UTC after it (CDT).
    utc_hours = [
        (slot.local_start.date() < date(2026, 3, 8), slot.starts_at.hour) for slot in plan.slots
    ]
    assert {hour for before, hour in utc_hours if before} == {16}
    assert {hour for before, hour in utc_hours if not before} == {15}
