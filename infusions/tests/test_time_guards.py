"""The clock at the chair: check-in through the session (on the day, at most 60 minutes
early) and its undo; an IV infusion not ended before its planned duration less
INFUSION_END_TOLERANCE_MINUTES (5) unless stopped early with a reason or ended by a physician
with one, pauses left out; MIN_RECOVERY_MINUTES (30) of recovery before discharge unless a
physician writes a note; questionnaires count for an infusion when completed within
PRE_INFUSION_QUESTIONNAIRE_HOURS (72) before it.

Each guard one minute before, at and one minute after its boundary, in New York and Denver,
and on the spring-forward day. The clock is frozen (not ticking), so a boundary is hit
exactly. Every refusal says why and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from clinic.models import AuditEvent, Location, User
from conftest import PASSWORD
from infusions.discharge import discharge_sign
from infusions.discharge_readiness import recovery_shortfall
from infusions.models import Discharge, InfusionSession, SessionStateChange
from infusions.models.sessions import InfusionSessionState
from infusions.preassessment_checklist import (
    pre_session_questionnaires,
    questionnaires_before_infusion,
)
from infusions.sessions import infusion_minutes_run, session_for_appointment, session_transition
from infusions.tests.factories import complete_pre_assessment, signed_order
from infusions.tests.test_discharge import CHECKLIST, correct_dose, give
from patients.tests.factories import QuestionnaireResponseFactory
from scheduling.models import Appointment, AppointmentStatus, AppointmentStatusChange
from scheduling.services.status_changes import appointment_set_status
from scheduling.services.undo import appointment_undo
from scheduling.tests.test_booking import book, cleared_for_infusions, riverside_for

S = InfusionSessionState
A = AppointmentStatus
NEW_YORK = "America/New_York"
DENVER = "America/Denver"
MONDAY = date(2027, 1, 11)
SPRING_FORWARD = date(2027, 3, 14)  # 02:00 → 03:00 in both zones
WRITES = [AuditEvent.Action.CREATE, AuditEvent.Action.UPDATE, AuditEvent.Action.DELETE]
REASON = "Pressed by mistake"
STOP_REASON = "Patient felt faint and asked to stop."

Clock = Callable[[datetime], None]


# --- Helpers -----------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Iterator[Clock]:
    """``clock(moment)`` stops the clock at ``moment`` (no ticking); undone at the end."""
    travels: list[time_machine.travel] = []

    def stop_at(moment: datetime) -> None:
        travel = time_machine.travel(moment, tick=False)
        travel.start()
        travels.append(travel)

    yield stop_at
    while travels:
        travels.pop().stop()


def local(location: Location, day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=location.tz).astimezone(UTC)


def later(minutes: float) -> datetime:
    return timezone.now() + timedelta(minutes=minutes)


@pytest.fixture(params=[NEW_YORK, DENVER], ids=["new_york", "denver"])
def clinic(request, nina, phil) -> Location:
    """Open around the clock, so an infusion may be booked on the spring-forward night."""
    return riverside_for(
        nina, phil, time_zone=request.param, opens_at=time(0), closes_at=time(23, 59)
    )


def booked(clock: Clock, nurse: User, physician: User, location: Location, day=MONDAY, hour=9):
    """A cleared patient's infusion at ``hour`` on ``day`` (local), booked a week before, and
    its session opened; the clock stays at the booking."""
    clock(local(location, day, hour) - timedelta(days=7))
    patient = cleared_for_infusions(physician)
    appointment = book(nurse, patient, location, "infusion", hour=hour, day=day)
    return session_for_appointment(appointment=appointment, actor=nurse)


def ready(session: InfusionSession, nurse: User, physician: User) -> InfusionSession:
    complete_pre_assessment(session, nurse)
    signed_order(session, physician)  # 40 minutes
    return session


def move(actor: User, session: InfusionSession, to_state: S, reason: str = ""):
    return session_transition(actor=actor, session=session, to_state=to_state, reason=reason)


def infusing(clock, nurse, physician, location, day=MONDAY, hour=9) -> InfusionSession:
    """Checked in ten minutes before the start, checks passed and infusing from then; the
    clock stays at the start of the infusion."""
    session = booked(clock, nurse, physician, location, day, hour)
    clock(session.appointment.starts_at - timedelta(minutes=10))
    session = ready(move(nurse, session, S.CHECKED_IN), nurse, physician)
    return move(nurse, move(nurse, session, S.PRE_ASSESSMENT_PASSED), S.INFUSING)


def snapshot(session: InfusionSession) -> tuple:
    session = InfusionSession.objects.get(pk=session.pk)
    appointment = Appointment.objects.get(pk=session.appointment_id)
    return (
        session.state,
        session.stop_reason,
        appointment.status,
        list(SessionStateChange.objects.values_list("pk", flat=True)),
        list(AppointmentStatusChange.objects.values_list("pk", flat=True)),
        list(Discharge.objects.values_list("pk", flat=True)),
        AuditEvent.objects.filter(action__in=WRITES).count(),
    )


def assert_refused(attempt, session: InfusionSession, says: str, field: str = "state") -> None:
    before = snapshot(session)
    with pytest.raises(ValidationError) as error:
        attempt()
    assert says in " ".join(error.value.message_dict[field])
    assert snapshot(session) == before


def day_agrees() -> None:
    """The deferred "appointment and session agree" triggers, checked now (and deferred
    again, as the services expect)."""
    names = "infusion_day_agrees_appointment, infusion_day_agrees_session"
    with connection.cursor() as cursor:
        cursor.execute(f"SET CONSTRAINTS {names} IMMEDIATE")
        cursor.execute(f"SET CONSTRAINTS {names} DEFERRED")


# --- Checking in through the session -----------------------------------------------------------


@pytest.mark.parametrize("minutes_before", [60, 59])
def test_a_session_checks_in_from_60_minutes_before(clock, nina, phil, clinic, minutes_before):
    session = booked(clock, nina, phil, clinic)
    clock(session.appointment.starts_at - timedelta(minutes=minutes_before))

    session = move(nina, session, S.CHECKED_IN)
    day_agrees()

    session.appointment.refresh_from_db()
    assert (session.state, session.appointment.status) == (S.CHECKED_IN, A.CHECKED_IN)


def test_a_session_check_in_61_minutes_early_is_refused(clock, nina, phil, clinic):
    session = booked(clock, nina, phil, clinic)
    clock(session.appointment.starts_at - timedelta(minutes=61))

    assert_refused(
        lambda: move(nina, session, S.CHECKED_IN),
        session,
        "It's too early to check in: the appointment starts at 09:00 on Mon 11 Jan 2027, and "
        "check-in opens 60 minutes before, at 08:00.",
    )


@pytest.mark.parametrize(
    ("day", "says"),
    [(MONDAY - timedelta(days=1), "is on"), (MONDAY + timedelta(days=1), "was on")],
    ids=["day_before", "day_after"],
)
def test_a_session_check_in_on_another_local_day_is_refused(
    clock, fran, nina, phil, clinic, day, says
):
    session = booked(clock, nina, phil, clinic, hour=0)
    clock(local(clinic, day, 23, 59) if day < MONDAY else local(clinic, day, 0, 0))

    assert_refused(
        lambda: move(fran, session, S.CHECKED_IN),
        session,
        f"The appointment {says} Mon 11 Jan 2027: patients check in on the day",
    )
    # The board asks the session, and is refused the same way.
    assert_refused(
        lambda: appointment_set_status(
            actor=fran, appointment=session.appointment, status=A.CHECKED_IN
        ),
        session,
        "patients check in on the day",
        field="status",
    )


def test_a_session_check_in_opens_at_01_00_for_03_00_on_the_spring_forward_day(
    clock, nina, phil, clinic
):
    session = booked(clock, nina, phil, clinic, day=SPRING_FORWARD, hour=3)

    clock(local(clinic, SPRING_FORWARD, 0, 59))
    assert_refused(lambda: move(nina, session, S.CHECKED_IN), session, "at 01:00.")
    clock(local(clinic, SPRING_FORWARD, 1, 0))
    session = move(nina, session, S.CHECKED_IN)
    assert session.state == S.CHECKED_IN


# --- Undoing an infusion's check-in ------------------------------------------------------------


@pytest.mark.parametrize("minutes_after", [14, 15])
def test_undoing_a_check_in_takes_the_session_back_to_scheduled(
    clock, fran, nina, phil, clinic, minutes_after
):
    session = booked(clock, nina, phil, clinic)
    clock(session.appointment.starts_at - timedelta(minutes=10))
    appointment_set_status(actor=fran, appointment=session.appointment, status=A.CHECKED_IN)
    clock(later(minutes_after))

    appointment = appointment_undo(actor=fran, appointment=session.appointment, reason=REASON)
    day_agrees()

    session.refresh_from_db()
    assert (session.state, appointment.status) == (S.SCHEDULED, A.BOOKED)
    last = session.state_changes.last()
    assert (last.from_state, last.to_state, last.by, last.reason) == (
        S.CHECKED_IN,
        S.SCHEDULED,
        fran,
        REASON,
    )
    undone = appointment.status_changes.last()
    assert (undone.to_status, undone.undo, undone.reason) == (A.BOOKED, True, REASON)
    assert AuditEvent.objects.filter(
        object_id=str(session.public_id), summary__startswith="undid the check-in"
    ).exists()
    # The patient may check in again.
    assert move(fran, session, S.CHECKED_IN).state == S.CHECKED_IN


def test_undoing_a_check_in_16_minutes_after_is_refused(clock, nina, phil, clinic):
    session = booked(clock, nina, phil, clinic)
    clock(session.appointment.starts_at - timedelta(minutes=10))
    move(nina, session, S.CHECKED_IN)
    clock(later(16))

    assert_refused(
        lambda: appointment_undo(actor=nina, appointment=session.appointment, reason=REASON),
        session,
        "It was checked in more than 15 minutes ago, so it can't be undone any more",
        field="status",
    )


def test_a_nurses_check_in_is_not_undone_by_the_front_desk(clock, fran, nina, phil, clinic):
    session = booked(clock, nina, phil, clinic)
    clock(session.appointment.starts_at - timedelta(minutes=10))
    move(nina, session, S.CHECKED_IN)

    assert_refused(
        lambda: appointment_undo(actor=fran, appointment=session.appointment, reason=REASON),
        session,
        "Only someone in the role of the person who made the change can undo it",
        field="status",
    )


def test_an_infusion_check_in_undo_without_a_reason_changes_nothing(clock, nina, phil, clinic):
    session = booked(clock, nina, phil, clinic)
    clock(session.appointment.starts_at - timedelta(minutes=10))
    move(nina, session, S.CHECKED_IN)

    assert_refused(
        lambda: appointment_undo(actor=nina, appointment=session.appointment, reason=" "),
        session,
        "Say why the change is undone",
        field="reason",
    )


def test_a_check_in_is_not_undone_once_the_pre_assessment_is_passed(clock, nina, phil, clinic):
    session = booked(clock, nina, phil, clinic)
    clock(session.appointment.starts_at - timedelta(minutes=10))
    session = ready(move(nina, session, S.CHECKED_IN), nina, phil)
    move(nina, session, S.PRE_ASSESSMENT_PASSED)
    clock(later(2))

    assert_refused(
        lambda: appointment_undo(actor=nina, appointment=session.appointment, reason=REASON),
        session,
        "so the check-in can't be undone: mark the session not started with a reason instead.",
        field="status",
    )


# --- Ending an IV infusion: planned 40 minutes, tolerance 5 ------------------------------------


def test_a_nurse_may_not_end_the_infusion_at_34_of_40_minutes(clock, nina, phil, clinic):
    session = infusing(clock, nina, phil, clinic)
    clock(later(34))

    assert_refused(
        lambda: move(nina, session, S.RECOVERING),
        session,
        "The infusion has run 34 of its planned 40 minutes. To end it now, stop it early with "
        "a reason, or ask a physician to end it with theirs.",
    )
    # A nurse's reason is not a physician's acknowledgement.
    assert_refused(
        lambda: move(nina, session, S.RECOVERING, reason="Bag ran through"),
        session,
        "run 34 of its planned 40 minutes",
    )
    # Nor does the board's "Move to recovery" get round it.
    assert_refused(
        lambda: appointment_set_status(
            actor=nina, appointment=session.appointment, status=A.RECOVERING
        ),
        session,
        "run 34 of its planned 40 minutes",
        field="status",
    )


@pytest.mark.parametrize("minutes", [35, 36])
def test_a_nurse_ends_the_infusion_from_35_of_40_minutes(clock, nina, phil, clinic, minutes):
    session = infusing(clock, nina, phil, clinic)
    clock(later(minutes))

    session = move(nina, session, S.RECOVERING)
    day_agrees()

    session.appointment.refresh_from_db()
    assert (session.state, session.appointment.status) == (S.RECOVERING, A.RECOVERING)


def test_a_physician_ends_it_early_with_a_reason(clock, nina, phil, clinic):
    session = infusing(clock, nina, phil, clinic)
    clock(later(34))

    assert_refused(
        lambda: move(phil, session, S.RECOVERING),
        session,
        "The infusion has run 34 of its planned 40 minutes. Say why it ends early",
        field="reason",
    )
    session = move(phil, session, S.RECOVERING, reason="Full dose given; pump ran fast.")

    assert session.state == S.RECOVERING
    last = session.state_changes.last()
    assert (last.by, last.reason) == (phil, "Full dose given; pump ran fast.")


@pytest.mark.parametrize("minutes", [1, 34, 35])
def test_stopped_early_with_a_reason_is_always_allowed(clock, nina, phil, clinic, minutes):
    session = infusing(clock, nina, phil, clinic)
    clock(later(minutes))

    assert_refused(lambda: move(nina, session, S.STOPPED_EARLY), session, "Say why", field="reason")
    session = move(nina, session, S.STOPPED_EARLY, reason=STOP_REASON)

    session.appointment.refresh_from_db()
    assert (session.state, session.stop_reason) == (S.STOPPED_EARLY, STOP_REASON)
    assert session.appointment.status == A.RECOVERING


def test_pauses_do_not_count_as_running_time(clock, nina, phil, clinic):
    session = infusing(clock, nina, phil, clinic)
    started = timezone.now()
    clock(later(20))
    session = move(nina, session, S.PAUSED)
    clock(later(10))
    session = move(nina, session, S.INFUSING)
    assert infusion_minutes_run(session) == 20

    clock(started + timedelta(minutes=44))
    assert infusion_minutes_run(session) == 34
    assert_refused(lambda: move(nina, session, S.RECOVERING), session, "run 34 of its planned 40")
    clock(started + timedelta(minutes=45))
    assert infusion_minutes_run(session) == 35
    assert move(nina, session, S.RECOVERING).state == S.RECOVERING


def test_the_end_and_recovery_guards_count_real_minutes_on_the_spring_forward_day(
    clock, nina, phil, clinic
):
    """Infusing from 01:50 (ten minutes before a 03:00 appointment, over the gap): 35 minutes
    later is 03:25 on the wall, and 30 minutes of recovery after that is 03:55."""
    session = infusing(clock, nina, phil, clinic, day=SPRING_FORWARD, hour=3)
    assert timezone.now() == local(clinic, SPRING_FORWARD, 1, 50)

    clock(local(clinic, SPRING_FORWARD, 3, 24))
    assert_refused(lambda: move(nina, session, S.RECOVERING), session, "run 34 of its planned 40")
    clock(local(clinic, SPRING_FORWARD, 3, 25))
    session = move(nina, session, S.RECOVERING)
    give(session, nina)

    clock(local(clinic, SPRING_FORWARD, 3, 54))
    assert_refused(
        lambda: sign(nina, session),
        session,
        "29 of the 30 minutes the clinic asks for (until 03:55)",
        field="physician",
    )
    clock(local(clinic, SPRING_FORWARD, 3, 55))
    sign(nina, session)
    assert Appointment.objects.get(pk=session.appointment_id).status == A.DISCHARGED


# --- Recovery before discharge: 30 minutes -----------------------------------------------------


def recovering(clock, nurse, physician, location, **when) -> InfusionSession:
    """Infused for its 40 minutes and recovering since; the clock at the start of recovery."""
    session = infusing(clock, nurse, physician, location, **when)
    clock(later(40))
    session = move(nurse, session, S.RECOVERING)
    give(session, nurse)
    return session


def sign(actor: User, session: InfusionSession, **changes):
    return discharge_sign(actor=actor, session=session, **(CHECKLIST | changes))


def test_a_nurse_alone_may_not_discharge_after_29_minutes_of_recovery(clock, nina, phil, clinic):
    session = recovering(clock, nina, phil, clinic)
    ready_at = timezone.now() + timedelta(minutes=30)
    clock(later(29))
    until = ready_at.astimezone(clinic.tz).strftime("%H:%M")

    assert_refused(
        lambda: sign(nina, session),
        session,
        f"The patient has been in recovery for 29 of the 30 minutes the clinic asks for (until "
        f"{until}). A physician must review it and write a note before the patient goes home.",
        field="physician",
    )
    assert_refused(lambda: sign(nina, session), session, "29 of the 30", field="physician")


@pytest.mark.parametrize("minutes", [30, 31])
def test_a_nurse_alone_discharges_from_30_minutes_of_recovery(clock, nina, phil, clinic, minutes):
    session = recovering(clock, nina, phil, clinic)
    clock(later(minutes))
    assert recovery_shortfall(session) == ""

    discharge = sign(nina, session)
    day_agrees()

    session.refresh_from_db()
    assert session.state == S.DISCHARGED
    assert (discharge.physician, discharge.physician_note) == (None, "")
    assert Appointment.objects.get(pk=session.appointment_id).status == A.DISCHARGED


def test_a_physician_with_password_and_note_allows_discharge_at_29_minutes(
    clock, nina, phil, clinic
):
    session = recovering(clock, nina, phil, clinic)
    clock(later(29))
    note = "Alert, steady, escort present: may go home early."

    assert_refused(
        lambda: sign(
            nina, session, physician=phil, physician_password="guess", physician_note=note
        ),
        session,
        "not Phil Physician's password",
        field="physician_password",
    )
    assert_refused(
        lambda: sign(nina, session, physician=phil, physician_password=PASSWORD),
        session,
        "Write the physician's note",
        field="physician_note",
    )
    discharge = sign(
        nina, session, physician=phil, physician_password=PASSWORD, physician_note=note
    )

    assert (discharge.physician, discharge.physician_note) == (phil, note)
    session.refresh_from_db()
    assert session.state == S.DISCHARGED


def test_a_physician_signing_at_29_minutes_writes_the_note_without_a_password(
    clock, nina, phil, clinic
):
    session = recovering(clock, nina, phil, clinic)
    clock(later(29))

    discharge = sign(phil, session, physician=phil, physician_note="Reviewed: may go home.")

    assert discharge.signed_by == discharge.physician == phil


def test_recovery_after_stopping_early_counts_from_the_stop(clock, nina, phil, clinic):
    session = infusing(clock, nina, phil, clinic)
    clock(later(10))
    give(session, nina)
    session = move(nina, session, S.STOPPED_EARLY, reason=STOP_REASON)
    correct_dose(session, nina, phil)
    clock(later(29))

    assert_refused(lambda: sign(nina, session), session, "29 of the 30", field="physician")
    clock(later(1))
    sign(nina, session)
    assert Appointment.objects.get(pk=session.appointment_id).status == A.DISCHARGED


# --- Questionnaires before the infusion: 72 hours -----------------------------------------------


@pytest.mark.parametrize(
    ("before", "counts"),
    [
        (timedelta(hours=72, minutes=1), False),
        (timedelta(hours=72), True),
        (timedelta(hours=71, minutes=59), True),
    ],
    ids=["72h01", "72h00", "71h59"],
)
def test_a_questionnaire_counts_when_taken_within_72_hours_before(
    clock, nina, phil, clinic, before, counts
):
    session = booked(clock, nina, phil, clinic)
    starts_at = session.appointment.starts_at
    response = QuestionnaireResponseFactory(
        patient=session.appointment.patient, completed_at=starts_at - before
    )
    clock(starts_at - timedelta(minutes=10))

    counted = questionnaires_before_infusion(session)

    assert (response in counted) is counts
    [phq9] = [q for q in pre_session_questionnaires(session) if q.instrument == "phq9"]
    assert (phq9.response == response) is counts


def test_72_hours_are_real_hours_across_the_spring_forward_change(clock, nina, phil, clinic):
    """09:00 on Monday 15 March is 72 hours after 08:00 (not 09:00) on Friday 12 March."""
    session = booked(clock, nina, phil, clinic, day=SPRING_FORWARD + timedelta(days=1))
    friday = SPRING_FORWARD - timedelta(days=2)
    assert session.appointment.starts_at - local(clinic, friday, 8) == timedelta(hours=72)
    patient = session.appointment.patient
    too_early = QuestionnaireResponseFactory(
        patient=patient, completed_at=local(clinic, friday, 7, 59)
    )
    just_in = QuestionnaireResponseFactory(
        patient=patient, instrument="gad7", completed_at=local(clinic, friday, 8)
    )
    clock(session.appointment.starts_at - timedelta(minutes=10))

    assert questionnaires_before_infusion(session) == [just_in]
    assert too_early not in questionnaires_before_infusion(session)


def test_a_questionnaire_taken_after_now_does_not_count_yet(clock, nina, phil, clinic):
    session = booked(clock, nina, phil, clinic)
    starts_at = session.appointment.starts_at
    QuestionnaireResponseFactory(patient=session.appointment.patient, completed_at=starts_at)
    clock(starts_at - timedelta(minutes=10))

    assert questionnaires_before_infusion(session) == []
