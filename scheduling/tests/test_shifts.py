"""Staff shifts and appointment types: what the settings services save, refuse and log."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from clinic.models import AuditEvent, Location
from scheduling.availability import free_slots
from scheduling.models import AppointmentStatus, AppointmentType, StaffShift
from scheduling.shifts import (
    appointment_type_update,
    appointments_outside_hours,
    shift_clinicians,
    shift_remove,
    shift_set,
)
from scheduling.tests.factories import AppointmentFactory, appointment_type, clinic_location
from scheduling.tests.test_booking import at

pytestmark = pytest.mark.django_db

MONDAY = 0


@pytest.fixture
def riverside(db) -> Location:
    """Chicago, open 08:00 to 18:00 Monday to Friday, nobody on shift yet."""
    return clinic_location(name="Riverside", weekdays=range(5), chairs=2)


def next_monday(location: Location) -> date:
    today = location.local_now().date()
    return today + timedelta(days=7 - today.weekday())


def set_shift(actor, location, staff, weekday=MONDAY, starts=8, ends=18):
    return shift_set(
        actor=actor,
        location=location,
        staff=staff,
        weekday=weekday,
        starts_at=time(starts),
        ends_at=time(ends),
    )


def errors_of(excinfo) -> dict[str, list[str]]:
    return excinfo.value.message_dict


def events(model: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(object_type=f"scheduling.{model}").order_by("id"))


# --- Setting a shift -------------------------------------------------------------------------


def test_it_gives_a_clinician_a_shift_and_logs_it(alice, nina, riverside):
    change = set_shift(alice, riverside, nina, starts=9, ends=17)

    shift = StaffShift.objects.get()
    assert change.shift == shift
    assert change.created
    assert (shift.staff, shift.location, shift.weekday) == (nina, riverside, MONDAY)
    assert (shift.starts_at, shift.ends_at) == (time(9), time(17))
    [event] = events("staffshift")
    assert event.action == AuditEvent.Action.CREATE
    assert event.actor == alice
    assert event.summary == "created with staff, location, weekday, starts_at, ends_at"


def test_setting_the_same_day_again_changes_the_hours_in_place(alice, nina, riverside):
    first = set_shift(alice, riverside, nina, starts=8, ends=18).shift

    change = set_shift(alice, riverside, nina, starts=8, ends=14)

    assert StaffShift.objects.count() == 1
    assert change.shift.pk == first.pk
    assert not change.created
    assert change.changed == ["ends_at"]
    assert StaffShift.objects.get().ends_at == time(14)
    assert [event.summary for event in events("staffshift")][-1] == "changed ends_at"


def test_the_same_hours_again_change_and_log_nothing(alice, nina, riverside):
    set_shift(alice, riverside, nina)

    change = set_shift(alice, riverside, nina)

    assert not change.created and change.changed == []
    assert len(events("staffshift")) == 1


def test_a_person_may_work_several_days_and_locations(alice, nina, riverside):
    mesa = clinic_location(name="Mesa", time_zone="America/Denver")

    set_shift(alice, riverside, nina, weekday=0)
    set_shift(alice, riverside, nina, weekday=1)
    set_shift(alice, mesa, nina, weekday=0)

    assert StaffShift.objects.count() == 3


@pytest.mark.parametrize(("starts", "ends"), [(17, 8), (9, 9)])
def test_it_refuses_a_shift_that_does_not_end_after_it_starts(alice, nina, riverside, starts, ends):
    with pytest.raises(ValidationError) as excinfo:
        set_shift(alice, riverside, nina, starts=starts, ends=ends)

    [message] = errors_of(excinfo)["ends_at"]
    assert f"ends at {ends:02d}:00, which is not after it starts ({starts:02d}:00)" in message
    assert "enter a later end time" in message
    assert not StaffShift.objects.exists()


def test_it_refuses_times_that_are_not_times(alice, nina, riverside):
    with pytest.raises(ValidationError) as excinfo:
        shift_set(
            actor=alice,
            location=riverside,
            staff=nina,
            weekday=MONDAY,
            starts_at="08:00",
            ends_at=None,
        )

    assert set(errors_of(excinfo)) == {"starts_at", "ends_at"}


@pytest.mark.parametrize("user", ["fran", "alice", "edie"])
def test_it_refuses_someone_who_is_not_a_nurse_or_physician(alice, riverside, user, request):
    staff = request.getfixturevalue(user)

    with pytest.raises(ValidationError) as excinfo:
        set_shift(alice, riverside, staff)

    [message] = errors_of(excinfo)["staff"]
    assert f"{staff.full_name} is not a nurse or a physician" in message
    assert "choose a clinician" in message


def test_it_refuses_a_deactivated_account(alice, olga, riverside):
    with pytest.raises(ValidationError) as excinfo:
        set_shift(alice, riverside, olga)

    [message] = errors_of(excinfo)["staff"]
    assert "Olga Former's account is deactivated" in message


@pytest.mark.parametrize("weekday", [-1, 7, True, "0"])
def test_it_refuses_a_day_that_is_not_a_weekday(alice, nina, riverside, weekday):
    with pytest.raises(ValidationError) as excinfo:
        set_shift(alice, riverside, nina, weekday=weekday)

    assert errors_of(excinfo)["weekday"] == ["Choose a day of the week, Monday to Sunday."]


def test_it_refuses_shifts_at_a_deactivated_location(alice, nina, riverside):
    riverside.is_active = False
    riverside.save(update_fields=["is_active"])

    with pytest.raises(ValidationError) as excinfo:
        set_shift(alice, riverside, nina)

    assert "Riverside is deactivated" in errors_of(excinfo)["location"][0]


@pytest.mark.parametrize("user", ["fran", "nina", "phil", "edie", "olga"])
def test_only_clinic_admins_may_set_or_remove_shifts(nina, riverside, user, request, alice):
    actor = request.getfixturevalue(user)
    shift = set_shift(alice, riverside, nina).shift

    with pytest.raises(PermissionDenied):
        set_shift(actor, riverside, nina, starts=9)
    with pytest.raises(PermissionDenied):
        shift_remove(actor=actor, shift=shift)

    assert StaffShift.objects.get().starts_at == time(8)


def test_a_new_shift_makes_times_bookable(alice, phil, riverside):
    monday = next_monday(riverside)
    consultation = appointment_type("consultation")
    assert not free_slots(
        location=riverside, appointment_type=consultation, start_date=monday, end_date=monday
    )

    set_shift(alice, riverside, phil, starts=9, ends=12)

    slots = free_slots(
        location=riverside, appointment_type=consultation, start_date=monday, end_date=monday
    )
    assert slots[0].local_start.time() == time(9)
    assert slots[-1].local_start.time() == time(11, 15)
    assert {slot.clinician for slot in slots} == {phil}


def test_only_active_nurses_and_physicians_are_offered_for_shifts(
    alice, fran, nina, phil, edie, olga
):
    assert list(shift_clinicians()) == [nina, phil]


# --- Appointments left outside the hours -----------------------------------------------------


def consultation_with(clinician, location, day, hour, **fields):
    return AppointmentFactory(
        location=location,
        appointment_type=appointment_type("consultation"),
        clinician=clinician,
        starts_at=at(location, day, hour),
        **fields,
    )


def test_it_counts_future_appointments_the_new_hours_leave_out(alice, phil, riverside):
    set_shift(alice, riverside, phil)
    monday = next_monday(riverside)
    consultation_with(phil, riverside, monday, 9)  # inside 08:00-12:00
    consultation_with(phil, riverside, monday, 14)  # outside
    consultation_with(phil, riverside, monday + timedelta(days=7), 15)  # outside, a week on
    # None of these count: cancelled, another day, in the past, someone else's.
    consultation_with(
        phil, riverside, monday, 16, status=AppointmentStatus.CANCELLED, cancel_reason="ill"
    )
    consultation_with(phil, riverside, monday + timedelta(days=1), 15)
    consultation_with(phil, riverside, monday - timedelta(days=14), 15)

    change = set_shift(alice, riverside, phil, starts=8, ends=12)

    assert change.appointments_outside == 2


def test_an_appointment_running_past_the_new_end_counts_as_outside(alice, phil, riverside):
    set_shift(alice, riverside, phil)
    consultation_with(phil, riverside, next_monday(riverside), 11)  # 11:00 to 11:45

    assert set_shift(alice, riverside, phil, starts=8, ends=12).appointments_outside == 0
    assert set_shift(alice, riverside, phil, starts=8, ends=11).appointments_outside == 1
    assert set_shift(alice, riverside, phil, starts=11, ends=18).appointments_outside == 0


def test_removing_a_shift_keeps_its_appointments_and_counts_them(alice, phil, riverside):
    shift = set_shift(alice, riverside, phil).shift
    booked = consultation_with(phil, riverside, next_monday(riverside), 10)

    change = shift_remove(actor=alice, shift=shift)

    assert not StaffShift.objects.exists()
    assert change.shift is None
    assert change.weekday == MONDAY
    assert change.appointments_outside == 1
    booked.refresh_from_db()
    assert booked.status == AppointmentStatus.BOOKED
    event = events("staffshift")[-1]
    assert (event.action, event.actor, event.summary) == (
        AuditEvent.Action.DELETE,
        alice,
        "removed",
    )
    assert event.object_id == str(shift.pk)


def test_removing_a_shift_that_is_already_gone_changes_nothing(alice, phil, riverside):
    shift = set_shift(alice, riverside, phil).shift
    shift_remove(actor=alice, shift=shift)

    change = shift_remove(actor=alice, shift=shift)

    assert change.changed == []
    assert len(events("staffshift")) == 2


def test_it_counts_on_the_location_clock(alice, phil):
    """09:30 Monday in Denver is 15:30 UTC: the weekday and hours are Mesa's own."""
    mesa = clinic_location(name="Mesa", time_zone="America/Denver", weekdays=range(5))
    set_shift(alice, mesa, phil)
    consultation_with(phil, mesa, next_monday(mesa), 9)

    assert (
        appointments_outside_hours(
            location=mesa, staff=phil, weekday=MONDAY, starts_at=time(9), ends_at=time(10)
        )
        == 0
    )
    assert appointments_outside_hours(location=mesa, staff=phil, weekday=MONDAY) == 1
    assert appointments_outside_hours(location=mesa, staff=phil, weekday=1) == 0


# --- Appointment types -----------------------------------------------------------------------


def update_type(actor, kind, *, minutes=None, recovery=None, online=None) -> AppointmentType:
    current = appointment_type(kind)
    return appointment_type_update(
        actor=actor,
        appointment_type=current,
        duration_minutes=current.duration_minutes if minutes is None else minutes,
        recovery_minutes=current.recovery_minutes if recovery is None else recovery,
        bookable_online=current.bookable_online if online is None else online,
    )


def test_it_changes_an_appointment_types_minutes_and_logs_the_fields(alice):
    saved = update_type(alice, "infusion", minutes=50, recovery=60)

    assert (saved.duration_minutes, saved.recovery_minutes) == (50, 60)
    infusion = appointment_type("infusion")
    assert (infusion.duration_minutes, infusion.recovery_minutes) == (50, 60)
    [event] = events("appointmenttype")
    assert (event.action, event.actor) == (AuditEvent.Action.UPDATE, alice)
    assert event.summary == "changed duration_minutes, recovery_minutes"


def test_saving_the_same_minutes_logs_nothing(alice):
    update_type(alice, "consultation")

    assert events("appointmenttype") == []


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("minutes", 4, "must take between 5 and 480 minutes"),
        ("minutes", 481, "must take between 5 and 480 minutes"),
        ("minutes", "45", "must take between 5 and 480 minutes"),
        ("recovery", -1, "Recovery can last from 0 to 240 minutes"),
        ("recovery", 241, "Recovery can last from 0 to 240 minutes"),
    ],
)
def test_it_refuses_minutes_out_of_range(alice, field, value, words):
    with pytest.raises(ValidationError) as excinfo:
        update_type(alice, "infusion", **{field: value})

    key = "duration_minutes" if field == "minutes" else "recovery_minutes"
    [message] = errors_of(excinfo)[key]
    assert words in message
    assert appointment_type("infusion").duration_minutes == 40
    assert events("appointmenttype") == []


@pytest.mark.parametrize("kind", ["infusion", "booster", "follow_up"])
def test_only_consultations_may_be_booked_online(alice, kind):
    with pytest.raises(ValidationError) as excinfo:
        update_type(alice, kind, online=True)

    [message] = errors_of(excinfo)["bookable_online"]
    assert message.startswith("Only consultations can be booked online:")
    assert not appointment_type(kind).bookable_online


def test_online_booking_of_consultations_can_be_switched_off_and_on(alice):
    assert not update_type(alice, "consultation", online=False).bookable_online
    assert update_type(alice, "consultation", online=True).bookable_online


@pytest.mark.parametrize("user", ["fran", "nina", "phil", "edie"])
def test_only_clinic_admins_may_change_appointment_types(user, request):
    with pytest.raises(PermissionDenied):
        update_type(request.getfixturevalue(user), "consultation", minutes=60)

    assert appointment_type("consultation").duration_minutes == 45


def test_booked_appointments_keep_their_times_and_new_slots_use_the_new_minutes(
    alice, phil, riverside
):
    set_shift(alice, riverside, phil)
    monday = next_monday(riverside)
    booked = consultation_with(phil, riverside, monday, 9)

    update_type(alice, "consultation", minutes=60)

    booked.refresh_from_db()
    assert booked.ends_at - booked.starts_at == timedelta(minutes=45)
    slots = free_slots(
        location=riverside,
        appointment_type=appointment_type("consultation"),
        start_date=monday,
        end_date=monday,
    )
    assert slots[0].ends_at - slots[0].starts_at == timedelta(minutes=60)
    assert slots[-1].local_start.time() == time(17)
