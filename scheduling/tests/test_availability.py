"""Free slots follow opening hours, shifts, chairs, clinicians and the patient's own diary."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from clinic.models import Location
from patients.tests.factories import PatientFactory
from scheduling.availability import Slot, free_slots, nearest_free_slots, slot_is_free
from scheduling.models import AppointmentStatus, AppointmentType
from scheduling.tests.factories import (
    AppointmentFactory,
    ClosureFactory,
    StaffFactory,
    StaffShiftFactory,
    appointment_type,
    clinic_location,
)

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 2, 2, 12, 0, tzinfo=UTC)  # Monday 06:00 in Chicago
TUESDAY = date(2026, 2, 10)
SATURDAY = date(2026, 2, 14)


def at(day: date, hh_mm: str) -> datetime:
    """An aware Chicago wall-clock time on ``day``."""
    return datetime.combine(day, time.fromisoformat(hh_mm), CHICAGO)


def local_times(slots: list[Slot]) -> list[str]:
    return [slot.local_start.strftime("%H:%M") for slot in slots]


def every(step: int, first: str, last: str) -> list[str]:
    """Wall-clock times from ``first`` to ``last`` inclusive, ``step`` minutes apart."""
    start = datetime.combine(TUESDAY, time.fromisoformat(first))
    end = datetime.combine(TUESDAY, time.fromisoformat(last))
    times = []
    while start <= end:
        times.append(start.strftime("%H:%M"))
        start += timedelta(minutes=step)
    return times


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
    """Chicago, open 08:00-18:00 every day, two chairs, nina and phil on shift all day."""
    return clinic_location(name="Lakeview", staff=[nina, phil])


def slots_on(location, kind, day=TUESDAY, **extra) -> list[Slot]:
    return free_slots(
        location=location, appointment_type=kind, start_date=day, end_date=day, **extra
    )


def book(location, kind, starts_at, **fields):
    return AppointmentFactory(
        location=location, appointment_type=kind, starts_at=starts_at.astimezone(UTC), **fields
    )


# --- Opening hours and closures ----------------------------------------------------------


def test_it_offers_a_consultation_every_15_minutes_while_open(lakeview, consultation, phil):
    slots = slots_on(lakeview, consultation)

    # 45 minutes must fit before 18:00, so the last start is 17:15.
    assert local_times(slots) == every(15, "08:00", "17:15")
    assert {slot.clinician for slot in slots} == {phil}
    assert {slot.chair for slot in slots} == {None}
    first = slots[0]
    assert first.starts_at == datetime(2026, 2, 10, 14, 0, tzinfo=UTC)
    assert first.ends_at == first.starts_at + timedelta(minutes=45)
    assert first.blocks_until == first.ends_at
    assert first.location == lakeview


def test_it_walks_the_day_in_the_step_asked_for(lakeview, consultation):
    slots = slots_on(lakeview, consultation, step_minutes=60)

    assert local_times(slots) == every(60, "08:00", "17:00")


@pytest.mark.parametrize(
    ("kind", "last_start"),
    [
        ("consultation", "17:15"),  # 45 minutes
        ("follow_up", "17:30"),  # 30 minutes
        # 40 minutes plus 45 of recovery must end by 18:00: 16:35 at the latest.
        ("infusion", "16:30"),
        ("booster", "16:30"),
    ],
)
def test_the_procedure_and_recovery_end_by_closing_time(lakeview, kind, last_start):
    slots = slots_on(lakeview, appointment_type(kind))

    assert local_times(slots)[-1] == last_start
    assert all(slot.blocks_until <= at(TUESDAY, "18:00") for slot in slots)


def test_it_offers_nothing_on_days_without_opening_hours(nina, phil, consultation):
    weekdays_only = clinic_location(weekdays=range(5), staff=[nina, phil])

    slots = free_slots(
        location=weekdays_only,
        appointment_type=consultation,
        start_date=TUESDAY,
        end_date=SATURDAY + timedelta(days=1),
    )

    assert sorted({slot.local_start.date() for slot in slots}) == [
        date(2026, 2, 10),
        date(2026, 2, 11),
        date(2026, 2, 12),
        date(2026, 2, 13),
    ]


@pytest.mark.parametrize(
    ("day", "is_open"),
    [
        (date(2026, 2, 9), True),
        (date(2026, 2, 10), False),  # first day of the closure
        (date(2026, 2, 11), False),  # last day of the closure
        (date(2026, 2, 12), True),
    ],
)
def test_closures_remove_whole_local_days(lakeview, consultation, day, is_open):
    ClosureFactory(location=lakeview, starts_on=date(2026, 2, 10), ends_on=date(2026, 2, 11))

    slots = slots_on(lakeview, consultation, day=day)

    assert bool(slots) is is_open


def test_an_inactive_location_offers_nothing(lakeview, consultation):
    lakeview.is_active = False
    lakeview.save(update_fields=["is_active"])

    assert slots_on(lakeview, consultation) == []


def test_it_offers_nothing_before_now(lakeview, consultation, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: at(TUESDAY, "12:07"))

    slots = slots_on(lakeview, consultation)

    assert local_times(slots) == every(15, "12:15", "17:15")


def test_not_before_moves_the_earliest_start(lakeview, consultation):
    slots = slots_on(lakeview, consultation, not_before=at(TUESDAY, "16:30"))

    assert local_times(slots) == ["16:30", "16:45", "17:00", "17:15"]


# --- Clinicians and their shifts ----------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "on_shift", "offered"),
    [
        ("consultation", "phil", True),
        ("consultation", "nina", False),  # a nurse on shift makes no consultation slot
        ("follow_up", "nina", False),
        ("infusion", "nina", True),
        ("infusion", "phil", False),  # nor does a physician make an infusion slot
        ("booster", "nina", True),
    ],
)
def test_slots_need_a_clinician_of_the_right_role_on_shift(db, request, kind, on_shift, offered):
    clinician = request.getfixturevalue(on_shift)
    location = clinic_location(staff=[clinician])

    slots = slots_on(location, appointment_type(kind))

    assert bool(slots) is offered
    assert all(slot.clinician == clinician for slot in slots)


def test_slots_stay_inside_the_shift(phil, nina, consultation, infusion):
    location = clinic_location()
    StaffShiftFactory(staff=phil, location=location, weekday=1, starts_at=time(9), ends_at=time(12))
    StaffShiftFactory(
        staff=nina, location=location, weekday=1, starts_at=time(12), ends_at=time(16)
    )

    assert local_times(slots_on(location, consultation)) == every(15, "09:00", "11:15")
    # The nurse watches the patient through recovery too: 85 minutes before 16:00.
    assert local_times(slots_on(location, infusion)) == every(15, "12:00", "14:30")


def test_a_shift_on_another_weekday_makes_no_slot(phil, consultation):
    location = clinic_location()
    StaffShiftFactory(staff=phil, location=location, weekday=TUESDAY.weekday() + 1)

    assert slots_on(location, consultation) == []


def test_deactivated_staff_make_no_slots(olga, infusion):
    location = clinic_location(staff=[olga])

    assert slots_on(location, infusion) == []


def test_a_physician_holds_one_consultation_at_a_time(lakeview, consultation, phil):
    book(lakeview, consultation, at(TUESDAY, "10:00"), clinician=phil)

    times = local_times(slots_on(lakeview, consultation))

    assert "09:15" in times  # ends 10:00 just as the other begins
    assert not {"09:30", "09:45", "10:00", "10:15", "10:30"} & set(times)
    assert "10:45" in times


def test_a_second_physician_takes_the_consultation_the_first_cannot(lakeview, consultation, phil):
    book(lakeview, consultation, at(TUESDAY, "10:00"), clinician=phil)
    second = StaffFactory(full_name="Zed Physician", roles=["physician"])
    StaffShiftFactory(staff=second, location=lakeview, weekday=TUESDAY.weekday())

    slot = slot_is_free(
        location=lakeview, appointment_type=consultation, starts_at=at(TUESDAY, "10:00")
    )

    assert slot is not None
    assert slot.clinician == second


def test_a_physician_busy_at_another_location_is_busy_here(lakeview, consultation, phil):
    elsewhere = clinic_location(name="Evanston", staff=[phil])
    book(elsewhere, consultation, at(TUESDAY, "10:00"), clinician=phil)

    times = local_times(slots_on(lakeview, consultation))

    assert "10:00" not in times
    assert "10:45" in times


def test_a_consultation_booked_without_a_clinician_still_takes_the_only_physician(
    lakeview, consultation
):
    book(lakeview, consultation, at(TUESDAY, "10:00"), clinician=None)

    assert "10:00" not in local_times(slots_on(lakeview, consultation))


# --- Chairs and nurses --------------------------------------------------------------------


def test_the_first_free_chair_is_picked(lakeview, infusion, nina):
    chair_1, chair_2 = lakeview.chairs.order_by("name")

    assert slots_on(lakeview, infusion)[0].chair == chair_1

    book(lakeview, infusion, at(TUESDAY, "08:00"), chair=chair_1, clinician=nina)

    assert slots_on(lakeview, infusion)[0].chair == chair_2


def test_a_chair_is_taken_until_recovery_ends(nina, infusion):
    location = clinic_location(chairs=1, staff=[nina])
    book(location, infusion, at(TUESDAY, "10:00"), chair=location.chairs.get(), clinician=nina)

    times = local_times(slots_on(location, infusion))

    # Busy 10:00-11:25 (40 minutes plus 45 of recovery): an earlier infusion must be out
    # of the chair by 10:00 and the next one can start at 11:25, 11:30 on the grid.
    assert times[:4] == ["08:00", "08:15", "08:30", "11:30"]


def test_slot_is_free_offers_the_chair_the_minute_recovery_ends(nina, infusion):
    location = clinic_location(chairs=1, staff=[nina])
    book(location, infusion, at(TUESDAY, "10:00"), chair=location.chairs.get(), clinician=nina)

    kwargs = {"location": location, "appointment_type": infusion}
    assert slot_is_free(**kwargs, starts_at=at(TUESDAY, "11:24")) is None
    assert slot_is_free(**kwargs, starts_at=at(TUESDAY, "11:25")) is not None


@pytest.mark.parametrize(
    "status", [AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW], ids=str
)
def test_cancelled_and_no_show_appointments_free_their_time(nina, infusion, status):
    location = clinic_location(chairs=1, staff=[nina])
    book(
        location,
        infusion,
        at(TUESDAY, "10:00"),
        chair=location.chairs.get(),
        clinician=nina,
        status=status,
        cancel_reason="Patient unwell",
    )

    assert "10:00" in local_times(slots_on(location, infusion))


@pytest.mark.parametrize(
    "status",
    [
        AppointmentStatus.BOOKED,
        AppointmentStatus.CHECKED_IN,
        AppointmentStatus.INFUSING,
        AppointmentStatus.RECOVERING,
        AppointmentStatus.DISCHARGED,
    ],
    ids=str,
)
def test_active_appointments_keep_their_chair(nina, infusion, status):
    location = clinic_location(chairs=1, staff=[nina])
    book(location, infusion, at(TUESDAY, "10:00"), chair=location.chairs.get(), status=status)

    assert "10:00" not in local_times(slots_on(location, infusion))


def test_deactivated_chairs_are_ignored(nina, infusion, consultation, phil):
    location = clinic_location(chairs=2, staff=[nina, phil])
    location.chairs.update(is_active=False)

    assert slots_on(location, infusion) == []
    assert slots_on(location, consultation) != []


def test_a_deactivated_chair_is_never_picked(nina, infusion):
    location = clinic_location(chairs=2, staff=[nina])
    chair_1, chair_2 = location.chairs.order_by("name")
    chair_1.is_active = False
    chair_1.save(update_fields=["is_active"])

    slots = slots_on(location, infusion)

    assert {slot.chair for slot in slots} == {chair_2}


def test_an_infusion_booked_without_a_chair_still_needs_one(nina, infusion):
    location = clinic_location(chairs=1, staff=[nina])
    book(location, infusion, at(TUESDAY, "10:00"), chair=None, clinician=nina)

    assert "10:00" not in local_times(slots_on(location, infusion))


@pytest.mark.parametrize(
    ("per_nurse", "nurses", "free_at_ten"),
    [
        (2, 1, False),  # nina already watches two patients
        (3, 1, True),
        (2, 2, True),  # a second nurse on shift takes the third
    ],
)
def test_a_nurse_watches_at_most_infusions_per_nurse_patients(
    settings, nina, infusion, per_nurse, nurses, free_at_ten
):
    settings.INFUSIONS_PER_NURSE = per_nurse
    staff = [nina, *StaffFactory.create_batch(nurses - 1)]
    location = clinic_location(chairs=3, staff=staff)
    chair_1, chair_2, _ = location.chairs.order_by("name")
    book(location, infusion, at(TUESDAY, "10:00"), chair=chair_1, clinician=nina)
    book(location, infusion, at(TUESDAY, "10:30"), chair=chair_2, clinician=nina)

    slot = slot_is_free(
        location=location, appointment_type=infusion, starts_at=at(TUESDAY, "10:00")
    )

    assert (slot is not None) is free_at_ten


def test_the_nurse_is_free_again_once_a_patient_is_discharged(nina, infusion):
    location = clinic_location(chairs=3, staff=[nina])
    chair_1, chair_2, _ = location.chairs.order_by("name")
    book(location, infusion, at(TUESDAY, "10:00"), chair=chair_1, clinician=nina)
    book(location, infusion, at(TUESDAY, "10:30"), chair=chair_2, clinician=nina)

    times = local_times(slots_on(location, infusion))

    assert "11:15" not in times
    assert "11:30" in times  # the 10:00 patient left at 11:25


# --- The patient --------------------------------------------------------------------------


def test_a_patient_booked_elsewhere_is_not_offered_that_time(lakeview, infusion, nina):
    patient = PatientFactory()
    elsewhere = clinic_location(name="Evanston", staff=[nina])
    book(elsewhere, infusion, at(TUESDAY, "10:00"), patient=patient, chair=elsewhere.chairs.first())

    theirs = local_times(slots_on(lakeview, infusion, patient=patient))
    anyone_elses = local_times(slots_on(lakeview, infusion, patient=PatientFactory()))

    assert "10:00" not in theirs
    assert "08:30" in theirs
    assert "11:30" in theirs
    assert "10:00" in anyone_elses


def test_a_patient_with_a_cancelled_appointment_may_take_that_time(lakeview, consultation):
    patient = PatientFactory()
    book(
        lakeview,
        consultation,
        at(TUESDAY, "10:00"),
        patient=patient,
        status=AppointmentStatus.CANCELLED,
        cancel_reason="Moved",
    )

    assert "10:00" in local_times(slots_on(lakeview, consultation, patient=patient))


# --- slot_is_free ---------------------------------------------------------------------------


def test_slot_is_free_returns_the_concrete_slot(lakeview, infusion, nina):
    slot = slot_is_free(
        location=lakeview, appointment_type=infusion, starts_at=at(TUESDAY, "10:10")
    )

    assert slot == Slot(
        starts_at=datetime(2026, 2, 10, 16, 10, tzinfo=UTC),
        ends_at=datetime(2026, 2, 10, 16, 50, tzinfo=UTC),
        blocks_until=datetime(2026, 2, 10, 17, 35, tzinfo=UTC),
        chair=lakeview.chairs.order_by("name").first(),
        clinician=nina,
        location=lakeview,
    )
    assert slot.local_start == at(TUESDAY, "10:10")


def test_slot_is_free_honours_the_chair_and_clinician_asked_for(lakeview, infusion, nina):
    chair_1, chair_2 = lakeview.chairs.order_by("name")
    book(lakeview, infusion, at(TUESDAY, "10:00"), chair=chair_1, clinician=nina)
    kwargs = {"location": lakeview, "appointment_type": infusion, "starts_at": at(TUESDAY, "10:00")}

    assert slot_is_free(**kwargs, chair=chair_1) is None
    assert slot_is_free(**kwargs, chair=chair_2).chair == chair_2
    assert slot_is_free(**kwargs, clinician=nina).clinician == nina


def test_slot_is_free_refuses_a_clinician_who_cannot_do_it(lakeview, infusion, phil, fran):
    kwargs = {"location": lakeview, "appointment_type": infusion, "starts_at": at(TUESDAY, "10:00")}

    assert slot_is_free(**kwargs, clinician=phil) is None
    assert slot_is_free(**kwargs, clinician=fran) is None


def test_slot_is_free_refuses_a_chair_of_another_location(lakeview, infusion, nina):
    elsewhere = clinic_location(name="Evanston", staff=[nina])

    slot = slot_is_free(
        location=lakeview,
        appointment_type=infusion,
        starts_at=at(TUESDAY, "10:00"),
        chair=elsewhere.chairs.first(),
    )

    assert slot is None


@pytest.mark.parametrize(
    "starts_at",
    [
        pytest.param(datetime(2026, 2, 1, 16, 0, tzinfo=UTC), id="in the past"),
        pytest.param(at(TUESDAY, "07:45"), id="before opening"),
        pytest.param(at(TUESDAY, "17:30"), id="running past closing"),
        pytest.param(at(SATURDAY, "10:00"), id="on a closure day"),
    ],
)
def test_slot_is_free_refuses_times_outside_the_rules(lakeview, consultation, starts_at):
    ClosureFactory(location=lakeview, starts_on=SATURDAY)

    assert (
        slot_is_free(location=lakeview, appointment_type=consultation, starts_at=starts_at) is None
    )


def test_slot_is_free_wants_an_aware_time(lakeview, consultation):
    with pytest.raises(ValueError, match="aware"):
        slot_is_free(
            location=lakeview, appointment_type=consultation, starts_at=datetime(2026, 2, 10, 10)
        )


def test_the_appointment_being_moved_does_not_block_its_new_time(nina, infusion):
    location = clinic_location(chairs=1, staff=[nina])
    patient = PatientFactory()
    current = book(
        location, infusion, at(TUESDAY, "10:00"), patient=patient, chair=location.chairs.get()
    )
    later = at(TUESDAY, "10:30")
    kwargs = {"location": location, "appointment_type": infusion, "patient": patient}

    assert slot_is_free(**kwargs, starts_at=later) is None
    assert slot_is_free(**kwargs, starts_at=later, excluding=current) is not None


# --- nearest_free_slots ---------------------------------------------------------------------


def test_nearest_slots_come_closest_first_from_both_sides(lakeview, consultation):
    slots = nearest_free_slots(
        location=lakeview, appointment_type=consultation, around=at(TUESDAY, "10:07"), count=4
    )

    assert local_times(slots) == ["10:00", "10:15", "09:45", "10:30"]


def test_nearest_slots_skip_taken_times(lakeview, consultation, phil):
    book(lakeview, consultation, at(TUESDAY, "10:00"), clinician=phil)

    slots = nearest_free_slots(
        location=lakeview, appointment_type=consultation, around=at(TUESDAY, "10:00")
    )

    # Taken 10:00-10:45, so nothing from 09:30 (which would overlap) to 10:30.
    assert local_times(slots) == ["09:15", "10:45", "09:00"]


def test_nearest_slots_are_never_in_the_past(lakeview, consultation, monkeypatch):
    monkeypatch.setattr(timezone, "now", lambda: at(TUESDAY, "10:07"))

    slots = nearest_free_slots(
        location=lakeview, appointment_type=consultation, around=at(TUESDAY, "10:07")
    )

    assert local_times(slots) == ["10:15", "10:30", "10:45"]


def test_nearest_slots_look_past_a_long_closure(lakeview, consultation):
    ClosureFactory(location=lakeview, starts_on=date(2026, 2, 10), ends_on=date(2026, 2, 19))

    slots = nearest_free_slots(
        location=lakeview,
        appointment_type=consultation,
        around=at(date(2026, 2, 15), "13:00"),
        count=4,
    )

    # The 9th at 17:15 is 5 days 19h45 before; the 20th at 08:00 is 4 days 19h after.
    assert [slot.local_start.strftime("%d %H:%M") for slot in slots] == [
        "20 08:00",
        "20 08:15",
        "20 08:30",
        "20 08:45",
    ]


def test_nearest_slots_weigh_both_sides_of_a_closure(lakeview, consultation):
    ClosureFactory(location=lakeview, starts_on=date(2026, 2, 10), ends_on=date(2026, 2, 14))

    slots = nearest_free_slots(
        location=lakeview,
        appointment_type=consultation,
        around=at(date(2026, 2, 12), "13:00"),
        count=4,
    )

    assert [slot.local_start.strftime("%d %H:%M") for slot in slots] == [
        "15 08:00",  # 2 days 19h after
        "15 08:15",
        "15 08:30",
        "09 17:15",  # 2 days 19h45 before
    ]


def test_nearest_slots_may_be_fewer_than_asked_for(consultation):
    nobody_on_shift = clinic_location()

    assert (
        nearest_free_slots(
            location=nobody_on_shift, appointment_type=consultation, around=at(TUESDAY, "10:00")
        )
        == []
    )


# --- Queries --------------------------------------------------------------------------------


@pytest.mark.parametrize("existing", [1, 50])
def test_thirty_days_of_infusion_slots_cost_five_queries_however_busy(
    django_assert_num_queries, nina, infusion, existing
):
    location = clinic_location(chairs=2, staff=[nina])
    chairs = list(location.chairs.order_by("name"))
    patient = PatientFactory()
    for number in range(existing):
        book(
            location,
            infusion,
            at(TUESDAY + timedelta(days=number // 2), "10:00"),
            chair=chairs[number % 2],
            clinician=nina,
        )

    # Opening hours, closures, shifts (with staff), chairs, appointments.
    with django_assert_num_queries(5):
        slots = free_slots(
            location=location,
            appointment_type=infusion,
            start_date=TUESDAY,
            end_date=TUESDAY + timedelta(days=29),
            patient=patient,
        )

    assert len(slots) > 30 * 20


@pytest.mark.parametrize("existing", [1, 50])
def test_thirty_days_of_consultation_slots_cost_four_queries(
    django_assert_num_queries, phil, consultation, existing
):
    location = clinic_location(staff=[phil])
    for number in range(existing):
        book(location, consultation, at(TUESDAY + timedelta(days=number % 30), "10:00"))

    # No chairs to read for a consultation.
    with django_assert_num_queries(4):
        free_slots(
            location=location,
            appointment_type=consultation,
            start_date=TUESDAY,
            end_date=TUESDAY + timedelta(days=29),
        )


def test_prefetched_opening_hours_save_a_query(django_assert_num_queries, phil, consultation):
    location = Location.objects.prefetch_related("opening_hours").get(
        pk=clinic_location(staff=[phil]).pk
    )

    with django_assert_num_queries(3):
        slots_on(location, consultation)
