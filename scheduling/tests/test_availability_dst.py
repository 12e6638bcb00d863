"""Slots on the days Chicago changes its clocks: 2026-03-08 (02:00 jumps to 03:00) and
2026-11-01 (02:00 falls back to 01:00). Nothing is an hour off, skipped or offered twice."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from clinic.models import Location
from scheduling.availability import (
    Slot,
    free_slots,
    nearest_free_slots,
    slot_is_free,
    wall_clock_instants,
)
from scheduling.models import AppointmentType
from scheduling.tests.factories import (
    AppointmentFactory,
    ClosureFactory,
    StaffShiftFactory,
    appointment_type,
    clinic_location,
)

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SPRING_FORWARD = date(2026, 3, 8)
FALL_BACK = date(2026, 11, 1)
FIFTEEN_MINUTES = timedelta(minutes=15)


def at(day: date, hh_mm: str, fold: int = 0) -> datetime:
    return datetime.combine(day, time.fromisoformat(hh_mm), CHICAGO).replace(fold=fold)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def local_times(slots: list[Slot]) -> list[str]:
    return [slot.local_start.strftime("%H:%M") for slot in slots]


def every(first: str, last: str) -> list[str]:
    day = date(2000, 1, 1)
    start = datetime.combine(day, time.fromisoformat(first))
    end = datetime.combine(day, time.fromisoformat(last))
    times = []
    while start <= end:
        times.append(start.strftime("%H:%M"))
        start += FIFTEEN_MINUTES
    return times


def gaps(slots: list[Slot]) -> set[timedelta]:
    """The real time between one slot and the next."""
    return {b.starts_at - a.starts_at for a, b in pairwise(slots)}


def slots_on(location: Location, kind: AppointmentType, day: date) -> list[Slot]:
    return free_slots(location=location, appointment_type=kind, start_date=day, end_date=day)


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch) -> datetime:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


@pytest.fixture
def consultation(db) -> AppointmentType:
    return appointment_type("consultation")


@pytest.fixture
def infusion(db) -> AppointmentType:
    return appointment_type("infusion")


@pytest.fixture
def lakeview(nina, phil) -> Location:
    """Chicago, open 08:00-18:00 every day."""
    return clinic_location(name="Lakeview", staff=[nina, phil])


@pytest.fixture
def night_clinic(nina, phil) -> Location:
    """Chicago, open 00:00-06:00 every day: across the hour the clocks change."""
    return clinic_location(
        name="Night clinic", opens_at=time(0), closes_at=time(6), staff=[nina, phil]
    )


# --- A day clinic -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "first_start"),
    [
        (date(2026, 3, 7), "2026-03-07 14:00"),  # CST, UTC-6
        (SPRING_FORWARD, "2026-03-08 13:00"),  # CDT, UTC-5
        (date(2026, 3, 9), "2026-03-09 13:00"),
        (date(2026, 10, 31), "2026-10-31 13:00"),  # CDT
        (FALL_BACK, "2026-11-01 14:00"),  # CST again
        (date(2026, 11, 2), "2026-11-02 14:00"),
    ],
)
def test_the_day_starts_at_eight_local_whatever_the_utc_offset(
    lakeview, consultation, day, first_start
):
    slots = slots_on(lakeview, consultation, day)

    assert local_times(slots) == every("08:00", "17:15")
    assert slots[0].starts_at == utc(first_start)
    assert gaps(slots) == {FIFTEEN_MINUTES}
    # Ten hours from the first start to the end of the last consultation, at 18:00 local.
    assert slots[-1].ends_at - slots[0].starts_at == timedelta(hours=10)
    assert slots[-1].ends_at.astimezone(CHICAGO).strftime("%H:%M") == "18:00"


@pytest.mark.parametrize("around", [SPRING_FORWARD, FALL_BACK])
def test_a_range_across_the_change_has_each_slot_once(lakeview, infusion, around):
    slots = free_slots(
        location=lakeview,
        appointment_type=infusion,
        start_date=around - timedelta(days=1),
        end_date=around + timedelta(days=1),
    )

    assert len({slot.starts_at for slot in slots}) == len(slots) == 3 * 35
    for day in (around - timedelta(days=1), around, around + timedelta(days=1)):
        on_day = [slot for slot in slots if slot.local_start.date() == day]
        assert local_times(on_day) == every("08:00", "16:30")


@pytest.mark.parametrize("day", [SPRING_FORWARD, FALL_BACK])
def test_a_booking_on_the_change_day_blocks_its_own_local_time(lakeview, consultation, phil, day):
    AppointmentFactory(
        location=lakeview,
        appointment_type=consultation,
        clinician=phil,
        starts_at=at(day, "10:00").astimezone(UTC),
    )

    times = local_times(slots_on(lakeview, consultation, day))

    assert "09:15" in times
    assert not {"09:30", "10:00", "10:30"} & set(times)
    assert "10:45" in times


@pytest.mark.parametrize("day", [SPRING_FORWARD, FALL_BACK])
def test_shifts_are_read_in_local_time_on_the_change_day(phil, consultation, day):
    location = clinic_location()
    StaffShiftFactory(
        staff=phil, location=location, weekday=day.weekday(), starts_at=time(9), ends_at=time(12)
    )

    assert local_times(slots_on(location, consultation, day)) == every("09:00", "11:15")


def test_a_closure_on_the_change_day_removes_it(lakeview, consultation):
    ClosureFactory(location=lakeview, starts_on=SPRING_FORWARD)

    assert slots_on(lakeview, consultation, SPRING_FORWARD) == []
    assert slots_on(lakeview, consultation, date(2026, 3, 9)) != []


# --- A clinic open through the night ----------------------------------------------------


def test_the_skipped_hour_offers_no_slot_and_loses_no_other(night_clinic, consultation):
    slots = slots_on(night_clinic, consultation, SPRING_FORWARD)

    # 02:00-02:59 never happens; the clinic is open five real hours that night.
    assert local_times(slots) == every("00:00", "01:45") + every("03:00", "05:15")
    assert gaps(slots) == {FIFTEEN_MINUTES}
    assert slots[7].local_start.utcoffset() == timedelta(hours=-6)
    assert slots[8].local_start.utcoffset() == timedelta(hours=-5)
    assert slots[-1].ends_at == at(SPRING_FORWARD, "06:00")


def test_the_repeated_hour_is_offered_twice_at_different_instants(night_clinic, consultation):
    slots = slots_on(night_clinic, consultation, FALL_BACK)

    # 01:00-01:59 happens twice; the clinic is open seven real hours that night.
    assert local_times(slots) == every("00:00", "01:45") + every("01:00", "05:15")
    assert gaps(slots) == {FIFTEEN_MINUTES}
    first_one_am, second_one_am = [slot for slot in slots if local_times([slot]) == ["01:00"]]
    assert first_one_am.starts_at == utc("2026-11-01 06:00")
    assert second_one_am.starts_at == utc("2026-11-01 07:00")
    assert first_one_am.local_start.utcoffset() == timedelta(hours=-5)
    assert second_one_am.local_start.utcoffset() == timedelta(hours=-6)
    assert (first_one_am.local_start.fold, second_one_am.local_start.fold) == (0, 1)


def test_each_of_the_repeated_times_can_be_booked_by_its_fold(night_clinic, consultation, phil):
    earlier = slot_is_free(
        location=night_clinic, appointment_type=consultation, starts_at=at(FALL_BACK, "01:30")
    )
    later = slot_is_free(
        location=night_clinic,
        appointment_type=consultation,
        starts_at=at(FALL_BACK, "01:30", fold=1),
    )

    assert earlier.starts_at == utc("2026-11-01 06:30")
    assert later.starts_at == utc("2026-11-01 07:30")

    AppointmentFactory(
        location=night_clinic,
        appointment_type=consultation,
        clinician=phil,
        starts_at=earlier.starts_at,
    )

    # The first 01:30 is taken now; the second, an hour later in real time, is not.
    assert (
        slot_is_free(
            location=night_clinic, appointment_type=consultation, starts_at=earlier.starts_at
        )
        is None
    )
    assert (
        slot_is_free(
            location=night_clinic, appointment_type=consultation, starts_at=later.starts_at
        )
        == later
    )


def test_an_infusion_across_the_jump_lasts_its_real_minutes(night_clinic, infusion):
    slot = slot_is_free(
        location=night_clinic, appointment_type=infusion, starts_at=at(SPRING_FORWARD, "01:30")
    )

    assert slot.starts_at == utc("2026-03-08 07:30")
    assert slot.blocks_until - slot.starts_at == timedelta(minutes=85)
    # On the wall clock: 01:30 CST to 03:10 CDT, recovered by 03:55 CDT.
    assert slot.local_end.strftime("%H:%M %Z") == "03:10 CDT"
    assert slot.blocks_until.astimezone(CHICAGO).strftime("%H:%M %Z") == "03:55 CDT"


def test_a_time_in_the_skipped_hour_is_read_as_the_instant_it_denotes(night_clinic, consultation):
    # 02:30 on 8 March never shows on a Chicago clock; an aware datetime saying so still
    # denotes an instant (03:30 CDT, PEP 495), and the slot is for that instant.
    slot = slot_is_free(
        location=night_clinic,
        appointment_type=consultation,
        starts_at=at(SPRING_FORWARD, "02:30"),
    )

    assert slot is not None
    assert slot.local_start.strftime("%H:%M %Z") == "03:30 CDT"


def test_opening_in_the_skipped_hour_opens_when_the_clocks_jump(phil, consultation):
    location = clinic_location(opens_at=time(2, 30), closes_at=time(6), staff=[phil])

    slots = slots_on(location, consultation, SPRING_FORWARD)

    assert slots[0].starts_at == utc("2026-03-08 08:00")
    assert local_times(slots) == every("03:00", "05:15")


def test_closing_in_the_skipped_hour_closes_when_the_clocks_jump(phil, consultation):
    location = clinic_location(opens_at=time(0), closes_at=time(2, 30), staff=[phil])

    slots = slots_on(location, consultation, SPRING_FORWARD)

    assert local_times(slots) == every("00:00", "01:15")
    assert slots[-1].ends_at == utc("2026-03-08 08:00")


def test_closing_in_the_repeated_hour_closes_the_first_time_round(phil, consultation):
    location = clinic_location(opens_at=time(0), closes_at=time(1, 30), staff=[phil])

    slots = slots_on(location, consultation, FALL_BACK)

    assert local_times(slots) == every("00:00", "00:45")
    assert slots[-1].ends_at == utc("2026-11-01 06:30")


def test_nearest_slots_in_the_repeated_hour_are_ordered_in_real_time(night_clinic, consultation):
    slots = nearest_free_slots(
        location=night_clinic,
        appointment_type=consultation,
        around=at(FALL_BACK, "01:30", fold=1),
    )

    assert [slot.local_start.strftime("%H:%M %Z") for slot in slots] == [
        "01:30 CST",
        "01:15 CST",
        "01:45 CST",
    ]


def test_opening_in_the_repeated_hour_keeps_the_hour_that_follows(phil, consultation):
    location = clinic_location(opens_at=time(1, 30), closes_at=time(6), staff=[phil])

    slots = slots_on(location, consultation, FALL_BACK)

    # Open from the first 01:30 (CDT); the clock then shows 01:00 again (CST).
    assert local_times(slots)[:6] == ["01:30", "01:45", "01:00", "01:15", "01:30", "01:45"]
    assert slots[0].starts_at == utc("2026-11-01 06:30")
    assert gaps(slots) == {FIFTEEN_MINUTES}


def test_start_times_follow_the_opening_time_grid(phil, consultation):
    location = clinic_location(opens_at=time(8, 10), closes_at=time(10), staff=[phil])

    slots = slots_on(location, consultation, SPRING_FORWARD)

    assert local_times(slots) == ["08:10", "08:25", "08:40", "08:55", "09:10"]


@pytest.mark.parametrize(
    ("day", "hh_mm", "instants"),
    [
        (date(2026, 3, 7), "02:30", ["2026-03-07 08:30"]),
        (SPRING_FORWARD, "02:30", []),  # never shows on the clock
        (SPRING_FORWARD, "03:00", ["2026-03-08 08:00"]),
        (FALL_BACK, "01:30", ["2026-11-01 06:30", "2026-11-01 07:30"]),  # shows twice
        (FALL_BACK, "02:00", ["2026-11-01 08:00"]),
    ],
)
def test_wall_clock_instants_tells_skipped_and_repeated_times_apart(lakeview, day, hh_mm, instants):
    found = wall_clock_instants(location=lakeview, day=day, at=time.fromisoformat(hh_mm))

    assert found == [utc(text) for text in instants]
