"""Booking an appointment: what appointment_book saves, refuses, and logs.

The helpers at the top (``at``, ``next_week``, ``cleared_for_infusions``, ``riverside_for``)
are shared by the other booking, concurrency and waitlist tests.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, OperationalError
from django.test import override_settings

from clinic.audit import Action
from clinic.models import AuditEvent, Location, User
from patients.models import ConsentSignature, Patient
from patients.services.consent import consent_document_current, consent_document_snapshot
from patients.tests.factories import PatientFactory, ScreeningDecisionFactory
from scheduling.availability import Slot, slot_is_free
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services import free_time, status_changes
from scheduling.services.book_and_reschedule import appointment_book
from scheduling.services.free_time import SlotTaken
from scheduling.tests.factories import (
    AppointmentFactory,
    ClosureFactory,
    StaffShiftFactory,
    appointment_type,
    clinic_location,
)

# --- Shared helpers --------------------------------------------------------------------------


def at(location: Location, day: date, hour: int, minute: int = 0) -> datetime:
    """``hour:minute`` on ``day`` on the location's wall clock, in UTC."""
    return datetime.combine(day, time(hour, minute), tzinfo=location.tz).astimezone(UTC)


def next_week(location: Location) -> date:
    """A local day a week from now: in the future, well inside the booking horizon."""
    return location.local_now().date() + timedelta(days=7)


def cleared_for_infusions(physician: User, patient: Patient | None = None) -> Patient:
    """A patient an infusion may be booked for: treatment approved on the latest screening
    result, and the current consent form (published here if there is none) signed."""
    from patients.consent_defaults import seed_consent_document

    patient = patient or PatientFactory()
    ScreeningDecisionFactory(patient=patient, decided_by=physician)
    document = consent_document_current() or seed_consent_document()
    ConsentSignature.objects.create(
        patient=patient,
        document=document,
        signed_name=f"{patient.legal_first_name} {patient.legal_last_name}",
        sections_acknowledged=[section["heading"] for section in document.sections],
        document_snapshot=consent_document_snapshot(document),
        method=ConsentSignature.Method.TABLET,
    )
    return patient


def riverside_for(
    *staff: User, name: str = "Riverside", chairs: int = 1, **fields: object
) -> Location:
    """A Chicago location (Riverside unless named) open 08:00 to 18:00 every day, with
    ``staff`` on shift all day and one chair unless told."""
    return clinic_location(name=name, chairs=chairs, staff=staff, **fields)


def book(actor, patient, location, kind="consultation", hour=10, minute=0, day=None, **extra):
    return appointment_book(
        actor=actor,
        patient=patient,
        location=location,
        appointment_type=appointment_type(kind),
        starts_at=at(location, day or next_week(location), hour, minute),
        **extra,
    )


def messages(error: ValidationError, field: str) -> list[str]:
    return error.message_dict[field]


# --- Fixtures --------------------------------------------------------------------------------


@pytest.fixture
def riverside(nina, phil) -> Location:
    return riverside_for(nina, phil)


@pytest.fixture
def cleared(phil) -> Patient:
    return cleared_for_infusions(phil)


@pytest.fixture
def jordan(db) -> Patient:
    return PatientFactory(legal_first_name="Jordan", legal_last_name="Rivera")


# --- Booking -----------------------------------------------------------------------------------


def test_it_books_a_consultation_with_the_physician_on_shift(fran, phil, riverside, jordan):
    appointment = book(fran, jordan, riverside, "consultation", hour=10)

    appointment.refresh_from_db()
    assert appointment.starts_at == at(riverside, next_week(riverside), 10)
    assert appointment.ends_at == appointment.starts_at + timedelta(minutes=45)
    assert appointment.blocks_until == appointment.ends_at
    assert appointment.clinician == phil
    assert appointment.chair is None
    assert appointment.status == AppointmentStatus.BOOKED
    assert appointment.source == Appointment.Source.STAFF
    assert appointment.created_by == fran


def test_it_books_an_infusion_in_a_free_chair_with_a_nurse_until_recovery_ends(
    nina, riverside, cleared
):
    appointment = book(nina, cleared, riverside, "infusion", hour=9)

    assert appointment.chair == riverside.chairs.get()
    assert appointment.clinician == nina
    assert appointment.ends_at - appointment.starts_at == timedelta(minutes=40)
    assert appointment.blocks_until - appointment.starts_at == timedelta(minutes=85)


def test_it_records_the_booking_by_the_patients_opaque_id_only(fran, riverside, jordan):
    appointment = book(fran, jordan, riverside)

    event = AuditEvent.objects.get(action=Action.CREATE, object_type="scheduling.appointment")
    assert event.actor == fran
    assert event.object_id == str(appointment.public_id)
    assert str(jordan.public_id) in event.summary
    assert "Jordan" not in event.summary + event.object_label
    assert "Rivera" not in event.summary + event.object_label


def test_it_uses_the_chair_asked_for(nina, phil, cleared):
    riverside = riverside_for(nina, phil, chairs=3)
    chair = riverside.chairs.get(name="Chair 3")

    appointment = book(nina, cleared, riverside, "infusion", chair=chair)

    assert appointment.chair == chair


def test_the_front_desk_books_but_content_editors_may_not(fran, edie, riverside, jordan):
    book(fran, jordan, riverside, hour=9)

    with pytest.raises(PermissionDenied):
        book(edie, PatientFactory(), riverside, hour=11)
    assert Appointment.objects.count() == 1


def test_a_patient_booking_online_is_not_a_staff_member(riverside, jordan):
    appointment = book(None, jordan, riverside, source=Appointment.Source.ONLINE)

    assert appointment.source == Appointment.Source.ONLINE
    assert appointment.created_by is None
    assert AuditEvent.objects.get(action=Action.CREATE).actor is None


# --- Bad input: clear messages, nothing saved ------------------------------------------------


def assert_nothing_booked() -> None:
    assert not Appointment.objects.exists()
    assert not AuditEvent.objects.filter(object_type="scheduling.appointment").exists()


def test_it_refuses_a_time_that_has_passed(fran, riverside, jordan):
    yesterday = riverside.local_now().date() - timedelta(days=1)

    with pytest.raises(ValidationError) as caught:
        book(fran, jordan, riverside, day=yesterday)

    assert messages(caught.value, "starts_at") == ["That time has passed: choose a later one."]
    assert_nothing_booked()


def test_it_refuses_an_infusion_whose_recovery_runs_past_closing(nina, riverside, cleared):
    day = next_week(riverside)

    with pytest.raises(ValidationError) as caught:
        book(nina, cleared, riverside, "infusion", hour=17, day=day)

    [message] = messages(caught.value, "starts_at")
    assert message == (
        f"17:00–18:25 on {day:%a} {day.day} {day:%b %Y} is outside Riverside's opening hours "
        "(08:00–18:00 local): choose a time that starts at 08:00 or later and ends, recovery "
        "included, by 18:00."
    )
    assert_nothing_booked()


def test_it_refuses_a_time_before_opening(fran, riverside, jordan):
    with pytest.raises(ValidationError) as caught:
        book(fran, jordan, riverside, hour=7, minute=30)

    [message] = messages(caught.value, "starts_at")
    assert "is outside Riverside's opening hours (08:00–18:00 local)" in message
    assert_nothing_booked()


def test_it_refuses_a_weekday_the_location_is_closed(fran, riverside, jordan):
    day = next_week(riverside)
    riverside.opening_hours.filter(weekday=day.weekday()).delete()

    with pytest.raises(ValidationError) as caught:
        book(fran, jordan, riverside, day=day)

    assert messages(caught.value, "starts_at") == [
        f"Riverside is closed on {day:%A}s: choose another day."
    ]
    assert_nothing_booked()


def test_it_refuses_a_holiday_and_names_it(fran, riverside, jordan):
    day = next_week(riverside)
    ClosureFactory(location=riverside, starts_on=day, ends_on=day, reason="Thanksgiving")

    with pytest.raises(ValidationError) as caught:
        book(fran, jordan, riverside, day=day)

    assert messages(caught.value, "starts_at") == [
        f"Riverside is closed on {day:%a} {day.day} {day:%b %Y} (Thanksgiving): choose another day."
    ]
    assert_nothing_booked()


def test_it_refuses_a_time_outside_the_nurses_shifts(nina, phil, cleared):
    riverside = riverside_for(phil)
    day = next_week(riverside)
    StaffShiftFactory(
        staff=nina,
        location=riverside,
        weekday=day.weekday(),
        starts_at=time(12),
        ends_at=time(16),
    )

    with pytest.raises(ValidationError) as caught:
        book(nina, cleared, riverside, "infusion", hour=9, day=day)

    assert messages(caught.value, "starts_at") == [
        f"09:00–10:25 on {day:%a} {day.day} {day:%b %Y} is outside the nurses' shifts at "
        "Riverside (12:00–16:00 local): choose a time inside one of them."
    ]
    assert_nothing_booked()


def test_it_refuses_a_day_no_physician_works(nina, jordan):
    riverside = riverside_for(nina)
    day = next_week(riverside)

    with pytest.raises(ValidationError) as caught:
        book(nina, jordan, riverside, "consultation", day=day)

    assert messages(caught.value, "starts_at") == [
        f"No physician works at Riverside on {day:%A}s: choose another day."
    ]


def test_it_refuses_an_infusion_before_a_physician_approves_treatment(nina, riverside, jordan):
    with pytest.raises(ValidationError) as caught:
        book(nina, jordan, riverside, "infusion")

    errors = messages(caught.value, "patient")
    assert errors[0].startswith(
        "Can't book an infusion: there is no approved, current screening decision. "
        "No screening decision yet: a physician must review"
    )
    assert_nothing_booked()


def test_it_refuses_a_booster_without_consent_on_file(nina, phil, riverside, jordan):
    from patients.consent_defaults import seed_consent_document

    seed_consent_document()
    ScreeningDecisionFactory(patient=jordan, decided_by=phil)

    with pytest.raises(ValidationError) as caught:
        book(nina, jordan, riverside, "booster")

    assert messages(caught.value, "patient") == [
        "Can't book a booster infusion: there is no signed consent on file. The patient has "
        "not signed the consent form (version 1). Send them a consent link or have them sign "
        "on a clinic tablet before an infusion."
    ]
    assert_nothing_booked()


def test_it_names_every_problem_at_once(nina, riverside, jordan):
    with pytest.raises(ValidationError) as caught:
        book(nina, jordan, riverside, "infusion", hour=6)

    assert set(caught.value.message_dict) == {"starts_at", "patient"}
    assert len(messages(caught.value, "patient")) == 2


def test_a_consultation_needs_neither_screening_nor_consent(fran, riverside, jordan):
    assert book(fran, jordan, riverside, "consultation").pk


def test_it_refuses_a_chair_at_another_location_or_out_of_use(nina, phil, riverside, cleared):
    elsewhere = riverside_for(nina, phil, name="Mesa").chairs.get()
    broken = riverside.chairs.create(name="Broken", is_active=False)

    with pytest.raises(ValidationError) as caught:
        book(nina, cleared, riverside, "infusion", chair=elsewhere)
    assert messages(caught.value, "chair") == [
        "That chair is at another location: choose one at Riverside."
    ]
    with pytest.raises(ValidationError) as caught:
        book(nina, cleared, riverside, "infusion", chair=broken)
    assert messages(caught.value, "chair") == ["Broken is out of use: choose another chair."]
    assert_nothing_booked()


def test_it_refuses_a_clinician_without_the_role_needed(fran, nina, riverside, jordan):
    with pytest.raises(ValidationError) as caught:
        book(fran, jordan, riverside, "consultation", clinician=nina)

    assert messages(caught.value, "clinician") == [
        "Nina Nurse is not an active physician: choose a physician, or leave it empty to take "
        "whoever is free."
    ]


def test_online_booking_is_for_types_bookable_online_and_within_the_horizon(riverside, cleared):
    with pytest.raises(ValidationError) as caught:
        book(None, cleared, riverside, "infusion", source=Appointment.Source.ONLINE)
    assert messages(caught.value, "appointment_type") == [
        "Infusion can't be booked online: call Riverside on +13125550100."
    ]

    far = riverside.local_now().date() + timedelta(days=45)
    with pytest.raises(ValidationError) as caught:
        book(None, cleared, riverside, "consultation", day=far, source=Appointment.Source.ONLINE)
    assert messages(caught.value, "starts_at") == [
        "Online booking is open for the next 30 days: choose an earlier day, or call Riverside "
        "on +13125550100."
    ]
    assert_nothing_booked()


@override_settings(BOOKING_HORIZON_DAYS=60)
def test_the_online_horizon_is_a_setting(riverside, jordan):
    far = riverside.local_now().date() + timedelta(days=45)

    assert book(None, jordan, riverside, day=far, source=Appointment.Source.ONLINE).pk


# --- Taken times -------------------------------------------------------------------------------


def test_a_double_submit_books_once_and_says_it_is_already_booked(fran, riverside, jordan):
    first = book(fran, jordan, riverside, hour=11)

    with pytest.raises(SlotTaken) as caught:
        book(fran, jordan, riverside, hour=11)

    assert caught.value.existing == first
    assert caught.value.message.startswith("This appointment is already booked (consultation at ")
    assert caught.value.message.endswith(", Riverside): nothing was booked twice.")
    assert Appointment.objects.count() == 1


def test_a_taken_chair_gets_slot_taken_with_the_nearest_free_times(nina, riverside, cleared):
    day = next_week(riverside)
    AppointmentFactory(
        location=riverside, chair=riverside.chairs.get(), starts_at=at(riverside, day, 10)
    )

    with pytest.raises(SlotTaken) as caught:
        book(nina, cleared, riverside, "infusion", hour=10, day=day)

    assert caught.value.message == (
        f"10:00 on {day:%a} {day.day} {day:%b %Y} is not free at Riverside: choose one of the "
        "nearest free times."
    )
    # The chair is taken 10:00 to 11:25: 08:30 ends in time, 11:30 is the first start after.
    assert [slot.starts_at for slot in caught.value.alternatives] == [
        at(riverside, day, 8, 30),
        at(riverside, day, 11, 30),
        at(riverside, day, 8, 15),
    ]
    assert all(
        slot_is_free(
            location=riverside,
            appointment_type=appointment_type("infusion"),
            starts_at=slot.starts_at,
            patient=cleared,
        )
        for slot in caught.value.alternatives
    )
    assert Appointment.objects.count() == 1


def test_a_patient_cannot_be_booked_over_their_own_appointment(fran, nina, phil, jordan):
    riverside = riverside_for(nina, phil)
    mesa = riverside_for(nina, phil, name="Mesa")
    book(fran, jordan, mesa, "consultation", hour=10)

    with pytest.raises(SlotTaken) as caught:
        book(fran, jordan, riverside, "consultation", hour=10, minute=30)

    assert caught.value.message.startswith("The patient already has a consultation at 10:00 on ")
    assert caught.value.message.endswith("(Mesa), which overlaps: choose another time.")
    assert caught.value.alternatives
    assert Appointment.objects.count() == 1


def test_a_lost_race_for_the_chair_becomes_slot_taken(monkeypatch, nina, riverside, cleared):
    """What the database refuses (another transaction got the chair between the check and
    the insert) comes back as SlotTaken with alternatives, and the transaction goes on."""
    day = next_week(riverside)
    chair = riverside.chairs.get()
    AppointmentFactory(location=riverside, chair=chair, starts_at=at(riverside, day, 10))
    infusion = appointment_type("infusion")
    stale = Slot(
        starts_at=at(riverside, day, 10),
        ends_at=at(riverside, day, 10) + infusion.duration,
        blocks_until=at(riverside, day, 10) + infusion.occupied,
        chair=chair,
        clinician=nina,
        location=riverside,
    )
    monkeypatch.setattr(free_time, "slot_or_nearest", lambda **_: (stale, list))

    with pytest.raises(SlotTaken) as caught:
        book(nina, cleared, riverside, "infusion", hour=10, day=day)

    assert caught.value.message == (
        "That time was just taken by another booking: choose one of the nearest free times."
    )
    assert caught.value.alternatives[0].starts_at in {
        at(riverside, day, 8, 30),
        at(riverside, day, 11, 30),
    }
    assert Appointment.objects.count() == 1


def test_other_integrity_errors_are_not_disguised_as_slot_taken(
    monkeypatch, nina, riverside, cleared
):
    day = next_week(riverside)
    broken = Slot(
        starts_at=at(riverside, day, 10),
        ends_at=at(riverside, day, 9),  # ends before it starts: a bug, not a race
        blocks_until=at(riverside, day, 11),
        chair=riverside.chairs.get(),
        clinician=nina,
        location=riverside,
    )
    monkeypatch.setattr(free_time, "slot_or_nearest", lambda **_: (broken, list))

    with pytest.raises(IntegrityError, match="appointment_ends_after_start"):
        book(nina, cleared, riverside, "infusion", hour=10, day=day)


def test_a_cancelled_appointment_leaves_its_time_free(fran, riverside, jordan):
    first = book(fran, jordan, riverside, hour=10)
    status_changes.appointment_cancel(actor=fran, appointment=first, reason="Patient unwell")

    second = book(fran, PatientFactory(), riverside, hour=10)

    assert second.clinician == first.clinician
    assert Appointment.objects.filter(status=AppointmentStatus.BOOKED).get() == second


class Cause(Exception):
    """Stands in for the psycopg error Django wraps, which carries the SQLSTATE."""

    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


def save_failing_once(monkeypatch, sqlstate: str) -> list[int]:
    real_save = Appointment.save
    calls: list[int] = []

    def save(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("simulated") from Cause(sqlstate)
        return real_save(self, *args, **kwargs)

    monkeypatch.setattr(Appointment, "save", save)
    return calls


def test_a_write_that_loses_a_deadlock_is_tried_again(monkeypatch, fran, riverside, jordan):
    calls = save_failing_once(monkeypatch, "40P01")

    appointment = book(fran, jordan, riverside)

    assert len(calls) == 2
    assert Appointment.objects.get() == appointment


def test_other_database_errors_are_not_retried(monkeypatch, fran, riverside, jordan):
    calls = save_failing_once(monkeypatch, "57014")  # query cancelled

    with pytest.raises(OperationalError):
        book(fran, jordan, riverside)

    assert len(calls) == 1
    assert_nothing_booked()


def next_clock_change(location: Location) -> date:
    """The next local day (from tomorrow) on which the location's clocks go back or forward."""
    day = location.local_now().date() + timedelta(days=1)
    while True:
        morning = datetime.combine(day, time(0), tzinfo=location.tz).utcoffset()
        noon = datetime.combine(day, time(12), tzinfo=location.tz).utcoffset()
        if morning != noon:
            return day
        day += timedelta(days=1)


def test_an_infusion_on_the_day_the_clocks_change_is_at_the_local_time_booked(
    nina, phil, riverside, cleared
):
    day = next_clock_change(riverside)

    appointment = book(nina, cleared, riverside, "infusion", hour=16, minute=30, day=day)

    local = appointment.starts_at.astimezone(riverside.tz)
    assert (local.date(), local.hour, local.minute) == (day, 16, 30)
    assert appointment.blocks_until - appointment.starts_at == timedelta(minutes=85)
    # 16:30 plus 85 minutes is 17:55 local, whichever way the clocks went that night.
    assert appointment.blocks_until.astimezone(riverside.tz).time() == time(17, 55)
    with pytest.raises(ValidationError) as caught:
        book(nina, cleared_for_infusions(phil), riverside, "infusion", hour=16, minute=45, day=day)
    assert caught.value.message_dict["starts_at"][0].startswith(
        f"16:45–18:10 on {day:%a} {day.day} {day:%b %Y} is outside Riverside's opening hours"
    )


def test_it_says_when_a_location_has_no_chair_in_use(nina, phil, cleared):
    riverside = riverside_for(nina, phil, chairs=0)

    with pytest.raises(ValidationError) as caught:
        book(nina, cleared, riverside, "infusion")

    assert caught.value.message_dict["location"] == [
        "Riverside has no chair in use: a clinic admin can add one under Locations; until then "
        "book at another location."
    ]


def test_it_says_when_no_other_time_is_free_either(monkeypatch, fran, riverside, jordan):
    book(fran, PatientFactory(), riverside, hour=10)
    monkeypatch.setattr(free_time, "nearest_free_slots", lambda **_: [])
    monkeypatch.setattr(free_time, "slot_or_nearest", lambda **_: (None, list))

    with pytest.raises(SlotTaken) as caught:
        book(fran, jordan, riverside, hour=10)

    assert caught.value.alternatives == []
    assert caught.value.message.endswith(
        "is not free at Riverside, and no other time is free in the weeks around it: try "
        "another location."
    )
