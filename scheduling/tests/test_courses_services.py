"""Booking a course whole or not at all, its progress, boosters, completing and
discontinuing it."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import override_settings
from django.utils import timezone

from clinic.audit import Action
from clinic.models import AuditEvent, Location
from patients.models import ConsentSignature, Patient
from patients.tests.factories import PatientFactory, ScreeningDecisionFactory
from scheduling.availability import Slot
from scheduling.courses.boosters_and_end import (
    course_book_booster,
    course_complete,
    course_discontinue,
    course_suggested_booster_date,
)
from scheduling.courses.planner import course_plan
from scheduling.courses.reads import course_progress
from scheduling.courses.series_booking import CourseNotBooked, course_create
from scheduling.models import Appointment, AppointmentStatus, TreatmentCourse
from scheduling.services import free_time
from scheduling.services.free_time import SlotTaken
from scheduling.tests.factories import (
    AppointmentFactory,
    appointment_type,
    clinic_location,
    write_status,
)
from scheduling.tests.test_booking import at, cleared_for_infusions

NOW = datetime(2026, 11, 29, 18, 0, tzinfo=UTC)  # Sunday 12:00 in Chicago
Status = AppointmentStatus
State = TreatmentCourse.State

# Mon 30 Nov, Wed 2, Sat 5, Mon 7, Wed 9, Sat 12 Dec: what the planner proposes here.
COURSE_DAYS = [
    date(2026, 11, 30),
    date(2026, 12, 2),
    date(2026, 12, 5),
    date(2026, 12, 7),
    date(2026, 12, 9),
    date(2026, 12, 12),
]


@pytest.fixture(autouse=True)
def frozen_now(monkeypatch) -> datetime:
    monkeypatch.setattr(timezone, "now", lambda: NOW)
    return NOW


@pytest.fixture
def riverside(nina) -> Location:
    """One chair, so another patient's infusion takes a time away."""
    return clinic_location(name="Riverside", chairs=1, staff=[nina])


@pytest.fixture
def cleared(phil) -> Patient:
    return cleared_for_infusions(phil)


def starts(location: Location, hour: int = 10) -> list[datetime]:
    return [at(location, day, hour) for day in COURSE_DAYS]


def create(actor, patient, location, times=None, **extra) -> TreatmentCourse:
    arguments = {"planned_infusions": 6, "window_days": 21, "min_gap_hours": 24} | extra
    return course_create(
        actor=actor,
        patient=patient,
        location=location,
        starts=starts(location) if times is None else times,
        **arguments,
    )


def set_status(course: TreatmentCourse, count: int, status: str = Status.DISCHARGED) -> None:
    """The first ``count`` appointments of the course get ``status`` (the day board's work,
    done directly here)."""
    first = list(course.appointments.order_by("starts_at").values_list("pk", flat=True)[:count])
    write_status(Appointment.objects.filter(pk__in=first), status)


# --- Creating a course ------------------------------------------------------------------------


def test_it_creates_the_course_and_books_every_infusion(nina, riverside, cleared):
    course = create(nina, cleared, riverside)

    course.refresh_from_db()
    assert course.state == State.INDUCTION
    assert (course.planned_infusions, course.window_days, course.min_gap_hours) == (6, 21, 24)
    assert course.created_by == nina
    booked = list(course.appointments.order_by("starts_at"))
    assert [a.starts_at for a in booked] == starts(riverside)
    assert {a.appointment_type.kind for a in booked} == {"infusion"}
    assert {a.status for a in booked} == {Status.BOOKED}
    assert {a.chair for a in booked} == {riverside.chairs.get()}
    assert {a.clinician for a in booked} == {nina}


def test_it_books_what_the_planner_proposed(nina, riverside, cleared):
    plan = course_plan(patient=cleared, location=riverside)

    course = create(nina, cleared, riverside, [slot.starts_at for slot in plan.slots])

    assert course.appointments.count() == 6


def test_it_records_the_course_and_each_booking_in_the_audit_log(nina, riverside, cleared):
    course = create(nina, cleared, riverside)

    events = AuditEvent.objects.filter(object_type="scheduling.treatmentcourse")
    assert [event.action for event in events.order_by("id")] == [Action.CREATE, Action.UPDATE]
    assert {event.object_id for event in events} == {str(course.public_id)}
    assert all(str(cleared.public_id) in event.summary for event in events)
    assert AuditEvent.objects.filter(object_type="scheduling.appointment").count() == 6


def test_it_books_nothing_when_one_infusion_is_not_free(nina, riverside, cleared):
    AppointmentFactory(
        location=riverside,
        chair=riverside.chairs.get(),
        starts_at=at(riverside, COURSE_DAYS[3], 10),
    )

    with pytest.raises(CourseNotBooked) as caught:
        create(nina, cleared, riverside)

    errors = caught.value.message_dict
    assert set(errors) == {"infusion_4", "__all__"}
    assert errors["infusion_4"] == [
        "Infusion 4: 10:00 on Mon 7 Dec 2026 is not free at Riverside: choose one of the nearest "
        "free times."
    ]
    assert errors["__all__"] == [
        "Nothing was booked: 1 of the 6 infusions could not be booked. Change the time marked "
        "below and confirm again."
    ]
    assert caught.value.taken == {4}
    assert not TreatmentCourse.objects.exists()
    assert Appointment.objects.count() == 1
    assert not AuditEvent.objects.filter(object_type="scheduling.treatmentcourse").exists()


def test_its_alternatives_keep_the_courses_gaps_and_window(nina, riverside, cleared):
    AppointmentFactory(
        location=riverside,
        chair=riverside.chairs.get(),
        starts_at=at(riverside, COURSE_DAYS[3], 10),
    )

    with pytest.raises(CourseNotBooked) as caught:
        create(nina, cleared, riverside)

    alternatives = caught.value.alternatives[4]
    assert alternatives
    others = [s for number, s in enumerate(starts(riverside), start=1) if number != 4]
    for slot in alternatives:
        assert all(abs(slot.starts_at - other) >= timedelta(hours=24) for other in others)
        assert slot.local_start.date() == COURSE_DAYS[3]


def test_a_time_taken_at_the_last_moment_names_its_infusion(monkeypatch, nina, riverside, cleared):
    """Another transaction takes infusion 4's chair between the check and the insert."""
    chair = riverside.chairs.get()
    fourth = at(riverside, COURSE_DAYS[3], 10)
    AppointmentFactory(location=riverside, chair=chair, starts_at=fourth)
    real_slot_or_nearest = free_time.slot_or_nearest
    infusion = appointment_type("infusion")

    def stale_for_the_fourth(**kwargs):
        if kwargs["starts_at"] == fourth:
            stale = Slot(
                starts_at=fourth,
                ends_at=fourth + infusion.duration,
                blocks_until=fourth + infusion.occupied,
                chair=chair,
                clinician=nina,
                location=riverside,
            )
            return stale, list
        return real_slot_or_nearest(**kwargs)

    monkeypatch.setattr(free_time, "slot_or_nearest", stale_for_the_fourth)

    with pytest.raises(CourseNotBooked) as caught:
        create(nina, cleared, riverside)

    assert caught.value.message_dict["infusion_4"] == [
        "Infusion 4 on Mon 7 Dec 10:00: that time was just taken by another booking: choose "
        "one of the nearest free times."
    ]
    assert not TreatmentCourse.objects.exists()
    assert Appointment.objects.count() == 1


def test_it_reports_every_infusion_that_cannot_be_booked_at_once(nina, riverside, cleared):
    for day in (COURSE_DAYS[1], COURSE_DAYS[4]):
        AppointmentFactory(
            location=riverside, chair=riverside.chairs.get(), starts_at=at(riverside, day, 10)
        )

    with pytest.raises(CourseNotBooked) as caught:
        create(nina, cleared, riverside)

    assert set(caught.value.message_dict) == {"infusion_2", "infusion_5", "__all__"}
    assert caught.value.message_dict["__all__"][0].startswith(
        "Nothing was booked: 2 of the 6 infusions could not be booked."
    )


def test_it_is_refused_without_an_approved_screening_decision(nina, riverside, phil):
    patient = PatientFactory()
    cleared_for_infusions(phil, patient)
    ScreeningDecisionFactory(
        patient=patient, decided_by=phil, decision="defer", needed="Blood pressure below 140/90"
    )

    with pytest.raises(ValidationError) as caught:
        create(nina, patient, riverside)

    (message,) = caught.value.message_dict["patient"]
    assert message.startswith("Screening: The latest screening decision is “Deferred”")
    assert not TreatmentCourse.objects.exists()
    assert not Appointment.objects.exists()


def test_it_is_refused_without_consent_on_file(nina, riverside, phil):
    patient = cleared_for_infusions(phil)
    ConsentSignature.objects.filter(patient=patient).delete()

    with pytest.raises(ValidationError) as caught:
        create(nina, patient, riverside)

    (message,) = caught.value.message_dict["patient"]
    assert message.startswith("Consent: The patient has not signed the consent form")
    assert not TreatmentCourse.objects.exists()


def test_it_names_both_when_screening_and_consent_are_missing(nina, riverside):
    with pytest.raises(ValidationError) as caught:
        create(nina, PatientFactory(), riverside)

    messages = caught.value.message_dict["patient"]
    assert [message.split(":")[0] for message in messages] == ["Screening", "Consent"]


def test_it_refuses_a_second_course_while_one_is_going(nina, riverside, cleared):
    create(nina, cleared, riverside)

    with pytest.raises(ValidationError) as caught:
        create(nina, cleared, riverside, starts(riverside, hour=14))

    assert "already has a course (induction" in caught.value.message_dict["patient"][0]
    assert TreatmentCourse.objects.count() == 1


@pytest.mark.parametrize(
    ("times", "field", "message"),
    [
        (lambda loc: starts(loc)[:5], "starts", "The course has 6 infusions but 5 times"),
        (
            lambda loc: [*starts(loc)[:2], at(loc, COURSE_DAYS[1], 17), *starts(loc)[3:]],
            "infusion_3",
            "Infusion 3 on Wed 2 Dec 17:00 is 7 hours after infusion 2 (Wed 2 Dec 10:00): "
            "infusions must be at least 24 hours apart.",
        ),
        (
            lambda loc: [*starts(loc)[:5], at(loc, date(2026, 12, 21), 10)],
            "infusion_6",
            "Infusion 6 on Mon 21 Dec 10:00 is on day 22 of the course: all 6 infusions must "
            "fit within 21 days of the first (Mon 30 Nov).",
        ),
        (
            lambda loc: [at(loc, date(2026, 11, 29), 10), *starts(loc)[1:]],
            "infusion_1",
            "Infusion 1 on Sun 29 Nov 10:00: that time has passed.",
        ),
        (
            lambda loc: [s.replace(tzinfo=None) for s in starts(loc)],
            "starts",
            "with a time zone",
        ),
    ],
)
def test_it_checks_the_times_before_booking(nina, riverside, cleared, times, field, message):
    with pytest.raises(ValidationError) as caught:
        create(nina, cleared, riverside, times(riverside))

    assert message in " ".join(caught.value.message_dict[field])
    assert not TreatmentCourse.objects.exists()


def test_it_numbers_the_infusions_in_time_order(nina, riverside, cleared):
    course = create(nina, cleared, riverside, list(reversed(starts(riverside))))

    assert course.appointments.count() == 6


def test_it_refuses_settings_out_of_range(nina, riverside, cleared):
    with pytest.raises(ValidationError) as caught:
        create(nina, cleared, riverside, planned_infusions=12)

    assert "A course has 4 to 10 infusions" in caught.value.message_dict["planned_infusions"][0]


def test_the_front_desk_cannot_create_a_course(fran, riverside, cleared):
    with pytest.raises(PermissionDenied):
        create(fran, cleared, riverside)

    assert not TreatmentCourse.objects.exists()


def test_a_physician_can_create_a_course(phil, nina, riverside, cleared):
    course = create(phil, cleared, riverside)

    assert course.state == State.INDUCTION


# --- Progress ---------------------------------------------------------------------------------


def test_progress_counts_discharged_infusions_of_the_planned_number(nina, riverside, cleared):
    course = create(nina, cleared, riverside)
    set_status(course, 3)
    Appointment.objects.filter(course=course, starts_at=starts(riverside)[3]).update(
        status=Status.NO_SHOW
    )

    assert str(course_progress(course)) == "3 of 6"


def test_progress_is_zero_of_planned_for_a_new_course(nina, riverside, cleared):
    course = create(nina, cleared, riverside)

    progress = course_progress(course)

    assert (progress.done, progress.planned) == (0, 6)


# --- Boosters ---------------------------------------------------------------------------------


def test_it_suggests_a_booster_four_weeks_after_the_last_infusion(nina, riverside, cleared):
    course = create(nina, cleared, riverside)

    assert course_suggested_booster_date(course) == COURSE_DAYS[-1] + timedelta(days=28)


@override_settings(COURSE_BOOSTER_INTERVAL_DAYS=14)
def test_the_booster_interval_is_a_setting(nina, riverside, cleared):
    course = create(nina, cleared, riverside)

    assert course_suggested_booster_date(course) == COURSE_DAYS[-1] + timedelta(days=14)


def test_the_suggestion_is_never_in_the_past(nina, riverside, cleared, monkeypatch):
    course = create(nina, cleared, riverside)
    monkeypatch.setattr(timezone, "now", lambda: NOW + timedelta(days=90))

    assert course_suggested_booster_date(course) == date(2027, 2, 28)


def test_it_books_a_booster_once_the_induction_is_over(nina, riverside, cleared):
    course = create(nina, cleared, riverside)
    set_status(course, 6)
    booster_at = at(riverside, date(2027, 1, 9), 10)

    appointment = course_book_booster(actor=nina, course=course, starts_at=booster_at)

    assert appointment.course == course
    assert appointment.appointment_type.kind == "booster"
    assert appointment.starts_at == booster_at
    course.refresh_from_db()
    assert course.state == State.MAINTENANCE
    assert str(course_progress(course)) == "6 of 6"


def test_it_refuses_a_booster_while_induction_infusions_are_booked(nina, riverside, cleared):
    course = create(nina, cleared, riverside)
    set_status(course, 4)

    with pytest.raises(ValidationError) as caught:
        course_book_booster(
            actor=nina, course=course, starts_at=at(riverside, date(2027, 1, 9), 10)
        )

    assert caught.value.message_dict["course"] == [
        "The induction series is not over: the infusion on Wed 9 Dec 10:00 is still booked. "
        "Book boosters once every induction infusion has happened or been cancelled."
    ]
    assert course.appointments.count() == 6


def test_a_booster_keeps_the_minimum_gap(nina, riverside, cleared):
    course = create(nina, cleared, riverside)
    set_status(course, 6)

    with pytest.raises(ValidationError) as caught:
        course_book_booster(actor=nina, course=course, starts_at=at(riverside, COURSE_DAYS[-1], 17))

    assert "at least 24 hours from it" in caught.value.message_dict["starts_at"][0]


def test_a_booster_at_a_taken_time_gets_alternatives(nina, riverside, cleared):
    course = create(nina, cleared, riverside)
    set_status(course, 6)
    booster_at = at(riverside, date(2027, 1, 9), 10)
    AppointmentFactory(location=riverside, chair=riverside.chairs.get(), starts_at=booster_at)

    with pytest.raises(SlotTaken) as caught:
        course_book_booster(actor=nina, course=course, starts_at=booster_at)

    assert caught.value.alternatives
    course.refresh_from_db()
    assert course.state == State.INDUCTION


# --- Completing and discontinuing -------------------------------------------------------------


def test_it_discontinues_a_course_and_cancels_what_is_still_to_come(
    nina, riverside, cleared, monkeypatch
):
    course = create(nina, cleared, riverside)
    set_status(course, 2)
    monkeypatch.setattr(timezone, "now", lambda: at(riverside, COURSE_DAYS[2], 12))

    course_discontinue(actor=nina, course=course, reason="  Patient moved\naway ")

    course.refresh_from_db()
    assert course.state == State.DISCONTINUED
    assert course.discontinued_reason == "Patient moved away"
    statuses = list(
        course.appointments.order_by("starts_at").values_list("status", "cancel_reason")
    )
    assert statuses == [
        (Status.DISCHARGED, ""),
        (Status.DISCHARGED, ""),
        (Status.BOOKED, ""),  # earlier today: the day board deals with it
        (Status.CANCELLED, "Patient moved away"),
        (Status.CANCELLED, "Patient moved away"),
        (Status.CANCELLED, "Patient moved away"),
    ]
    event = AuditEvent.objects.filter(object_type="scheduling.treatmentcourse").latest("id")
    assert event.summary.endswith("changed state, discontinued_reason")
    assert "moved" not in event.summary


def test_discontinuing_needs_a_reason(nina, riverside, cleared):
    course = create(nina, cleared, riverside)

    with pytest.raises(ValidationError) as caught:
        course_discontinue(actor=nina, course=course, reason="   ")

    assert "Say why the course stops" in caught.value.message_dict["reason"][0]
    course.refresh_from_db()
    assert course.state == State.INDUCTION
    assert not course.appointments.filter(status=Status.CANCELLED).exists()


def test_a_discontinued_course_cannot_be_discontinued_again(nina, riverside, cleared):
    course = create(nina, cleared, riverside)
    course_discontinue(actor=nina, course=course, reason="Patient's choice")

    with pytest.raises(ValidationError) as caught:
        course_discontinue(actor=nina, course=course, reason="Again")

    assert caught.value.message_dict["course"] == ["This course is discontinued already."]


def test_it_completes_a_course_only_when_nothing_is_still_to_come(nina, riverside, cleared):
    course = create(nina, cleared, riverside)
    set_status(course, 5)

    with pytest.raises(ValidationError) as caught:
        course_complete(actor=nina, course=course)
    assert "still has infusion on Sat 12 Dec 10:00 (booked)" in caught.value.messages[0]

    set_status(course, 6)
    course_complete(actor=nina, course=course)

    course.refresh_from_db()
    assert course.state == State.COMPLETED


def test_a_new_course_may_be_planned_once_the_last_one_is_over(nina, riverside, cleared):
    course = create(nina, cleared, riverside)
    course_discontinue(actor=nina, course=course, reason="Restarting at another time")

    again = create(nina, cleared, riverside, starts(riverside, hour=14))

    assert again.state == State.INDUCTION


def test_a_course_across_the_spring_clock_change_keeps_its_local_times(
    nina, riverside, cleared, monkeypatch
):
    monkeypatch.setattr(timezone, "now", lambda: datetime(2026, 3, 1, 18, 0, tzinfo=UTC))
    days = [date(2026, 3, day) for day in (2, 4, 7, 9, 11, 14)]

    course = create(nina, cleared, riverside, [at(riverside, day, 10) for day in days])

    booked = list(course.appointments.order_by("starts_at"))
    assert [a.starts_at.astimezone(riverside.tz).strftime("%H:%M") for a in booked] == ["10:00"] * 6
    assert [a.starts_at.hour for a in booked] == [16, 16, 16, 15, 15, 15]  # CST, then CDT
