"""Infusion sessions: every move allowed and refused, the gate before starting, who may move a
session, the appointment following along, and the record each move leaves."""

from __future__ import annotations

from datetime import timedelta
from itertools import product

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError

from clinic.models import AuditEvent
from infusions.models import InfusionSession, SessionStateChange
from infusions.models.sessions import InfusionSessionState
from infusions.sessions import SESSION_TRANSITIONS, session_for_appointment, session_transition
from infusions.tests.factories import complete_pre_assessment, signed_discharge, signed_order
from patients.models import ScreeningDecision
from patients.tests.factories import ScreeningDecisionFactory
from scheduling.models import AppointmentStatus
from scheduling.services.status_changes import appointment_cancel, appointment_set_status
from scheduling.tests.test_booking import book, cleared_for_infusions, riverside_for
from tests.clock import advance, travel_to

S = InfusionSessionState
A = AppointmentStatus
REASON = "Patient felt faint and asked to stop."

# How to reach each state from scheduled, one move at a time.
PATHS: dict[S, list[S]] = {
    S.SCHEDULED: [],
    S.CHECKED_IN: [S.CHECKED_IN],
    S.PRE_ASSESSMENT_PASSED: [S.CHECKED_IN, S.PRE_ASSESSMENT_PASSED],
    S.INFUSING: [S.CHECKED_IN, S.PRE_ASSESSMENT_PASSED, S.INFUSING],
    S.PAUSED: [S.CHECKED_IN, S.PRE_ASSESSMENT_PASSED, S.INFUSING, S.PAUSED],
    S.RECOVERING: [S.CHECKED_IN, S.PRE_ASSESSMENT_PASSED, S.INFUSING, S.RECOVERING],
    S.DISCHARGED: [
        S.CHECKED_IN,
        S.PRE_ASSESSMENT_PASSED,
        S.INFUSING,
        S.RECOVERING,
        S.DISCHARGED,
    ],
    S.STOPPED_EARLY: [S.CHECKED_IN, S.PRE_ASSESSMENT_PASSED, S.INFUSING, S.STOPPED_EARLY],
    S.NOT_STARTED: [S.NOT_STARTED],
}
# The appointment's status once the session has walked its path to each state.
APPOINTMENT_AFTER: dict[S, A] = {
    S.SCHEDULED: A.BOOKED,
    S.CHECKED_IN: A.CHECKED_IN,
    S.PRE_ASSESSMENT_PASSED: A.CHECKED_IN,
    S.INFUSING: A.INFUSING,
    S.PAUSED: A.INFUSING,
    S.RECOVERING: A.RECOVERING,
    S.DISCHARGED: A.DISCHARGED,
    S.STOPPED_EARLY: A.RECOVERING,
    S.NOT_STARTED: A.CANCELLED,
}
ALLOWED = {
    (S.SCHEDULED, S.CHECKED_IN),
    (S.CHECKED_IN, S.PRE_ASSESSMENT_PASSED),
    (S.PRE_ASSESSMENT_PASSED, S.INFUSING),
    (S.INFUSING, S.PAUSED),
    (S.PAUSED, S.INFUSING),
    (S.INFUSING, S.RECOVERING),
    (S.RECOVERING, S.DISCHARGED),
    (S.INFUSING, S.STOPPED_EARLY),
    (S.PAUSED, S.STOPPED_EARLY),
    (S.RECOVERING, S.STOPPED_EARLY),
    (S.SCHEDULED, S.NOT_STARTED),
    (S.CHECKED_IN, S.NOT_STARTED),
    (S.PRE_ASSESSMENT_PASSED, S.NOT_STARTED),
}
MATRIX = list(product(S, S))
REFUSED = [move for move in MATRIX if move not in ALLOWED]
NEEDS_REASON = {S.STOPPED_EARLY, S.NOT_STARTED}
CLINICAL_MOVES = sorted((move for move in ALLOWED if move[1] != S.CHECKED_IN), key=str)


def ids(move: tuple[S, S]) -> str:
    return f"{move[0]}->{move[1]}"


@pytest.fixture
def riverside(nina, phil):
    return riverside_for(nina, phil)


@pytest.fixture
def patient(phil):
    return cleared_for_infusions(phil)


@pytest.fixture
def appointment(nina, riverside, patient):
    """An infusion next week at 09:00, and the clock at 08:50 that day (check-in is open)."""
    appointment = book(nina, patient, riverside, "infusion", hour=9)
    travel_to(appointment.starts_at - timedelta(minutes=10))
    return appointment


@pytest.fixture
def session(nina, phil, appointment):
    """A session whose records let every move through: the graph is what is tested here
    (what each step needs is tested with its module)."""
    session = session_for_appointment(appointment=appointment, actor=nina)
    complete_pre_assessment(session, nina)
    signed_order(session, phil)
    signed_discharge(session, nina)
    return session


def move(actor, session, to_state, reason=""):
    if to_state in NEEDS_REASON and not reason:
        reason = REASON
    if to_state == S.RECOVERING and session.state == S.INFUSING:
        advance(40)  # the order's 40 minutes
    return session_transition(actor=actor, session=session, to_state=to_state, reason=reason)


def walk(actor, session, to_state: S) -> InfusionSession:
    return walk_on(actor, session, PATHS[to_state])


def walk_on(actor, session, steps) -> InfusionSession:
    for step in steps:
        session = move(actor, session, step)
    return session


def state_error(error: pytest.ExceptionInfo[ValidationError], field: str = "state") -> str:
    return " ".join(error.value.message_dict[field])


# --- The graph ---------------------------------------------------------------------------------


def test_it_allows_exactly_the_moves_the_clinic_works_by():
    allowed = {(start, end) for start, ends in SESSION_TRANSITIONS.items() for end in ends}
    assert allowed == ALLOWED


@pytest.mark.parametrize(
    "start,end", sorted(ALLOWED, key=str), ids=[ids(m) for m in sorted(ALLOWED, key=str)]
)
def test_it_makes_every_allowed_move_and_the_appointment_follows(nina, session, start, end):
    session = walk(nina, session, start)

    moved = move(nina, session, end)

    moved.refresh_from_db()
    assert moved.state == end
    moved.appointment.refresh_from_db()
    assert moved.appointment.status == APPOINTMENT_AFTER[end]
    last = moved.state_changes.last()
    assert (last.from_state, last.to_state, last.by) == (start, end, nina)


@pytest.mark.parametrize("start,end", REFUSED, ids=[ids(m) for m in REFUSED])
def test_it_refuses_every_other_move_saying_what_is_possible_next(nina, session, start, end):
    session = walk(nina, session, start)
    status_before = session.appointment.status
    changes_before = SessionStateChange.objects.count()

    with pytest.raises(ValidationError) as error:
        move(nina, session, end)

    message = state_error(error)
    if start == end:
        assert "already" in message
    elif SESSION_TRANSITIONS[start]:
        assert "next it can be" in message
        for option in SESSION_TRANSITIONS[start]:
            assert option.label.lower() in message
    else:
        assert "final" in message
    session.refresh_from_db()
    session.appointment.refresh_from_db()
    assert session.state == start
    assert session.appointment.status == status_before
    assert SessionStateChange.objects.count() == changes_before


def test_it_refuses_a_state_that_does_not_exist(nina, session):
    with pytest.raises(ValidationError) as error:
        session_transition(actor=nina, session=session, to_state="asleep")

    assert "“asleep” is not a session state" in state_error(error)


# --- Reasons -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start,end",
    [
        (S.SCHEDULED, S.NOT_STARTED),
        (S.PRE_ASSESSMENT_PASSED, S.NOT_STARTED),
        (S.INFUSING, S.STOPPED_EARLY),
        (S.RECOVERING, S.STOPPED_EARLY),
    ],
)
@pytest.mark.parametrize("reason", ["", "   "])
def test_it_refuses_a_stop_or_not_started_without_a_reason(nina, session, start, end, reason):
    session = walk(nina, session, start)

    with pytest.raises(ValidationError) as error:
        session_transition(actor=nina, session=session, to_state=end, reason=reason)

    assert "Say why" in state_error(error, "reason")
    session.refresh_from_db()
    assert session.state == start
    assert session.stop_reason == ""


def test_it_keeps_the_stop_reason_on_the_session_and_in_the_log(nina, session):
    session = walk(nina, session, S.INFUSING)

    session = session_transition(
        actor=nina, session=session, to_state=S.STOPPED_EARLY, reason=f"  {REASON} "
    )

    session.refresh_from_db()
    assert session.stop_reason == REASON
    assert session.state_changes.last().reason == REASON


@pytest.mark.parametrize("state", [S.STOPPED_EARLY, S.NOT_STARTED])
def test_the_database_refuses_a_stopped_session_without_a_reason(appointment, state):
    with pytest.raises(IntegrityError, match="session_stop_has_reason"):
        InfusionSession.objects.create(appointment=appointment, state=state)


# --- Consent and screening before starting ------------------------------------------------------


@pytest.mark.parametrize(
    "start,end", [(S.CHECKED_IN, S.PRE_ASSESSMENT_PASSED), (S.PRE_ASSESSMENT_PASSED, S.INFUSING)]
)
def test_it_refuses_to_go_on_without_current_consent(nina, session, monkeypatch, start, end):
    session = walk(nina, session, start)
    monkeypatch.setattr(
        "infusions.sessions.infusion_start_allowed",
        lambda patient: (False, "The patient has not signed the consent form (version 2)."),
    )

    with pytest.raises(ValidationError) as error:
        move(nina, session, end)

    message = state_error(error)
    assert "Consent: The patient has not signed the consent form" in message
    assert "Screening" not in message
    session.refresh_from_db()
    assert session.state == start


@pytest.mark.parametrize(
    "start,end", [(S.CHECKED_IN, S.PRE_ASSESSMENT_PASSED), (S.PRE_ASSESSMENT_PASSED, S.INFUSING)]
)
def test_it_refuses_to_go_on_once_screening_is_no_longer_approved(
    nina, phil, patient, session, start, end
):
    session = walk(nina, session, start)
    ScreeningDecisionFactory(
        patient=patient,
        decided_by=phil,
        decision=ScreeningDecision.Decision.DEFER,
        needed="A cardiology letter.",
    )

    with pytest.raises(ValidationError) as error:
        move(nina, session, end)

    message = state_error(error)
    assert "Screening: The latest screening decision is “Deferred”" in message
    assert "Consent" not in message
    session.refresh_from_db()
    session.appointment.refresh_from_db()
    assert session.state == start
    assert session.appointment.status == APPOINTMENT_AFTER[start]


def test_it_names_everything_missing_at_once(nina, phil, patient, session, monkeypatch):
    session = walk(nina, session, S.CHECKED_IN)
    ScreeningDecisionFactory(
        patient=patient, decided_by=phil, decision=ScreeningDecision.Decision.DECLINE
    )
    monkeypatch.setattr(
        "infusions.sessions.infusion_start_allowed", lambda patient: (False, "Not signed.")
    )

    with pytest.raises(ValidationError) as error:
        move(nina, session, S.PRE_ASSESSMENT_PASSED)

    message = state_error(error)
    assert "can't pass the pre-assessment yet" in message
    assert "Consent: Not signed." in message
    assert "Screening:" in message


def test_it_still_lets_a_session_stop_when_consent_has_lapsed(nina, session, monkeypatch):
    session = walk(nina, session, S.INFUSING)
    monkeypatch.setattr("infusions.sessions.infusion_start_allowed", lambda patient: (False, "No."))

    session = move(nina, session, S.STOPPED_EARLY)

    assert session.state == S.STOPPED_EARLY


# --- Who may move a session ----------------------------------------------------------------------


def test_the_front_desk_checks_a_patient_in(fran, appointment):
    session = session_for_appointment(appointment=appointment, actor=fran)

    session = move(fran, session, S.CHECKED_IN)

    appointment.refresh_from_db()
    assert session.state == S.CHECKED_IN
    assert appointment.status == A.CHECKED_IN


@pytest.mark.parametrize("start,end", CLINICAL_MOVES, ids=[ids(m) for m in CLINICAL_MOVES])
def test_the_front_desk_may_not_make_clinical_moves(fran, nina, session, start, end):
    session = walk(nina, session, start)

    with pytest.raises(PermissionDenied, match="Only nurses and physicians"):
        move(fran, session, end)

    session.refresh_from_db()
    assert session.state == start


@pytest.mark.parametrize("persona", ["nina", "phil"])
def test_nurses_and_physicians_run_a_whole_session(request, session, persona):
    clinician = request.getfixturevalue(persona)

    session = walk(clinician, session, S.DISCHARGED)

    assert session.state == S.DISCHARGED
    assert session.appointment.status == A.DISCHARGED


@pytest.mark.parametrize("persona", ["edie", "olga"])
def test_people_without_a_part_in_the_visit_may_not_touch_a_session(
    request, appointment, session, persona
):
    someone = request.getfixturevalue(persona)

    with pytest.raises(PermissionDenied):
        session_for_appointment(appointment=appointment, actor=someone)
    with pytest.raises(PermissionDenied):
        move(someone, session, S.CHECKED_IN)


# --- The session and its appointment ------------------------------------------------------------


def test_it_opens_one_session_per_appointment_and_records_it(nina, appointment, patient):
    first = session_for_appointment(appointment=appointment, actor=nina)
    again = session_for_appointment(appointment=appointment, actor=nina)

    assert first == again
    assert first.state == S.SCHEDULED
    events = AuditEvent.objects.filter(object_id=str(first.public_id))
    assert events.count() == 1
    assert str(patient.public_id) in events.get().summary
    assert patient.legal_last_name not in events.get().summary


def test_it_opens_a_session_for_a_booster_too(nina, riverside, patient):
    booster = book(nina, patient, riverside, "booster", hour=9)

    assert session_for_appointment(appointment=booster, actor=nina).state == S.SCHEDULED


def test_it_refuses_a_session_for_a_consultation(nina, phil, riverside, patient):
    consultation = book(nina, patient, riverside, "consultation", hour=11, clinician=phil)

    with pytest.raises(ValidationError) as error:
        session_for_appointment(appointment=consultation, actor=nina)

    assert "only infusion and booster appointments" in state_error(error, "appointment")
    assert not InfusionSession.objects.exists()


def test_checking_in_on_the_board_checks_the_session_in(fran, nina, session):
    appointment_set_status(actor=fran, appointment=session.appointment, status=A.CHECKED_IN)

    session.refresh_from_db()
    session.appointment.refresh_from_db()
    assert (session.state, session.appointment.status) == (S.CHECKED_IN, A.CHECKED_IN)
    assert session.state_changes.get().by == fran
    with pytest.raises(ValidationError) as error:
        move(nina, session, S.CHECKED_IN)
    assert "checked in already" in state_error(error)


def test_a_session_not_started_frees_the_chair_without_a_message_to_the_patient(nina, session):
    from clinic.models import OutboxMessage

    session = walk(nina, session, S.CHECKED_IN)
    before = OutboxMessage.objects.count()

    move(nina, session, S.NOT_STARTED, reason="Blood pressure at the hold limit")

    session.appointment.refresh_from_db()
    assert session.appointment.status == A.CANCELLED
    assert session.appointment.cancel_reason == (
        "Infusion not started: Blood pressure at the hold limit"
    )
    assert OutboxMessage.objects.count() == before


def test_it_refuses_to_go_on_once_the_appointment_is_cancelled(nina, session):
    appointment_cancel(actor=nina, appointment=session.appointment, reason="Patient is unwell")

    with pytest.raises(ValidationError) as error:
        move(nina, session, S.CHECKED_IN)
    session = move(nina, session, S.NOT_STARTED)

    assert "The appointment is cancelled" in state_error(error)
    assert session.state == S.NOT_STARTED


# --- The record -----------------------------------------------------------------------------------


def test_it_logs_every_move_of_a_session_in_order(nina, phil, session):
    session = walk(nina, session, S.PAUSED)
    session = move(phil, session, S.INFUSING)
    session = move(nina, session, S.STOPPED_EARLY, reason=REASON)

    log = list(session.state_changes.values_list("from_state", "to_state", "by__email", "reason"))
    assert log == [
        (S.SCHEDULED, S.CHECKED_IN, nina.email, ""),
        (S.CHECKED_IN, S.PRE_ASSESSMENT_PASSED, nina.email, ""),
        (S.PRE_ASSESSMENT_PASSED, S.INFUSING, nina.email, ""),
        (S.INFUSING, S.PAUSED, nina.email, ""),
        (S.PAUSED, S.INFUSING, phil.email, ""),
        (S.INFUSING, S.STOPPED_EARLY, nina.email, REASON),
    ]


def test_it_marks_when_the_infusion_started_and_when_the_session_ended(nina, session):
    session = walk(nina, session, S.INFUSING)
    started = session.started_at
    assert started is not None
    assert session.ended_at is None

    session = move(nina, move(nina, session, S.PAUSED), S.INFUSING)
    assert session.started_at == started

    session = walk_on(nina, session, [S.RECOVERING, S.DISCHARGED])
    session.refresh_from_db()
    assert session.started_at == started
    assert session.ended_at >= started


def test_it_audits_each_move_by_the_patients_opaque_id_only(nina, session, patient):
    walk(nina, session, S.DISCHARGED)

    summaries = list(
        AuditEvent.objects.filter(object_id=str(session.public_id))
        .order_by("id")
        .values_list("summary", flat=True)
    )
    assert len(summaries) == 1 + len(PATHS[S.DISCHARGED])
    assert summaries[-1] == (
        f"moved the infusion session from recovering to discharged for patient {patient.public_id}"
    )
    assert all(patient.legal_last_name not in summary for summary in summaries)
