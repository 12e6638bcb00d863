"""One clinical day, one truth: an infusion appointment and its session never disagree.

Every day-board button and every status the appointment API accepts is tried on an infusion
in every session state. Whatever the answer (a move, a refusal), the appointment's status
is one its session's state allows, and the database's own check agrees; a disagreeing row
written straight to the database is refused.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from infusions.models import InfusionSession
from infusions.models.sessions import InfusionSessionState
from infusions.sessions import session_for_appointment
from infusions.tests.factories import complete_pre_assessment, signed_discharge, signed_order
from infusions.tests.test_sessions import walk
from scheduling.board.cards import ACTIONS
from scheduling.models import Appointment, AppointmentStatus
from scheduling.tests.test_booking import book, cleared_for_infusions, riverside_for
from tests.clock import travel_to

S = InfusionSessionState
A = AppointmentStatus
# The appointment statuses each session state allows (as the database's trigger does).
AGREES: dict[S, set[A]] = {
    S.SCHEDULED: {A.BOOKED, A.CANCELLED, A.NO_SHOW},
    S.CHECKED_IN: {A.CHECKED_IN},
    S.PRE_ASSESSMENT_PASSED: {A.CHECKED_IN},
    S.INFUSING: {A.INFUSING},
    S.PAUSED: {A.INFUSING},
    S.RECOVERING: {A.RECOVERING},
    S.STOPPED_EARLY: {A.RECOVERING, A.DISCHARGED},
    S.DISCHARGED: {A.DISCHARGED},
    S.NOT_STARTED: {A.CANCELLED, A.NO_SHOW},
}
DEFERRED_CHECKS = "infusion_day_agrees_appointment, infusion_day_agrees_session"
API_STATUSES = [status for status in A if status != A.BOOKED]


@pytest.fixture
def session(nina, phil):
    """An infusion whose records let every move through, the clock ten minutes before it."""
    location = riverside_for(nina, phil)
    appointment = book(nina, cleared_for_infusions(phil), location, "infusion", hour=9)
    travel_to(appointment.starts_at - timedelta(minutes=10))
    session = session_for_appointment(appointment=appointment, actor=nina)
    complete_pre_assessment(session, nina)
    signed_order(session, phil)
    signed_discharge(session, nina)
    return session


def assert_they_agree(appointment: Appointment) -> None:
    appointment.refresh_from_db()
    session = InfusionSession.objects.filter(appointment=appointment).first()
    state = S(session.state) if session else S.SCHEDULED
    assert appointment.status in AGREES[state], (appointment.status, state)
    with connection.cursor() as cursor:  # the database's check, now rather than at commit
        cursor.execute(f"SET CONSTRAINTS {DEFERRED_CHECKS} IMMEDIATE")
        cursor.execute(f"SET CONSTRAINTS {DEFERRED_CHECKS} DEFERRED")


def no_show_time(appointment: Appointment) -> None:
    """Past the no-show grace period (the patient is late), still on the appointment's day."""
    travel_to(appointment.starts_at + timedelta(minutes=20))


@pytest.mark.parametrize("slug", list(ACTIONS))
@pytest.mark.parametrize("state", list(S))
def test_no_board_button_makes_the_board_and_the_session_disagree(
    client, nina, session, state, slug
):
    session = walk(nina, session, state)
    appointment = session.appointment
    if slug == "no-show":
        no_show_time(appointment)
    client.force_login(nina)

    url = f"/staff/schedule/appointments/{appointment.public_id}/{slug}/"
    response = client.post(url, {"confirm": "on"} if slug == "no-show" else {})

    assert response.status_code in (200, 302)
    assert_they_agree(appointment)


@pytest.mark.parametrize("status", API_STATUSES)
@pytest.mark.parametrize("state", list(S))
def test_no_api_status_change_makes_them_disagree(client, nina, session, state, status):
    session = walk(nina, session, state)
    appointment = session.appointment
    if status == A.NO_SHOW:
        no_show_time(appointment)
    client.force_login(nina)

    response = client.post(
        f"/api/v1/appointments/{appointment.public_id}/status/",
        {"status": status, "reason": "Asked to leave"},
        content_type="application/json",
    )

    assert response.status_code in (200, 400), response.content
    assert_they_agree(appointment)


def test_the_board_and_the_session_move_together(client, nina, session):
    appointment = session.appointment
    client.force_login(nina)

    client.post(f"/staff/schedule/appointments/{appointment.public_id}/check-in/")

    session.refresh_from_db()
    appointment.refresh_from_db()
    assert (appointment.status, session.state) == (A.CHECKED_IN, S.CHECKED_IN)


@pytest.mark.parametrize(
    ("state", "status"),
    [
        (S.SCHEDULED, A.INFUSING),
        (S.SCHEDULED, A.CHECKED_IN),
        (S.CHECKED_IN, A.INFUSING),
        (S.INFUSING, A.RECOVERING),
        (S.RECOVERING, A.DISCHARGED),
        (S.DISCHARGED, A.BOOKED),
    ],
)
def test_the_database_refuses_an_appointment_that_disagrees_with_its_session(
    nina, session, state, status
):
    session = walk(nina, session, state)

    with (
        pytest.raises(IntegrityError, match="its session is"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        Appointment.objects.filter(pk=session.appointment_id).update(status=status)
        cursor.execute(f"SET CONSTRAINTS {DEFERRED_CHECKS} IMMEDIATE")


def test_the_database_refuses_a_session_that_disagrees_with_its_appointment(nina, session):
    with (
        pytest.raises(IntegrityError, match="infusion appointment"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        InfusionSession.objects.filter(pk=session.pk).update(state=S.INFUSING)
        cursor.execute(f"SET CONSTRAINTS {DEFERRED_CHECKS} IMMEDIATE")


def test_rows_written_in_agreement_pass_the_check(nina, session):
    Appointment.objects.filter(pk=session.appointment_id).update(status=A.INFUSING)
    InfusionSession.objects.filter(pk=session.pk).update(state=S.INFUSING)

    with connection.cursor() as cursor:  # both rows agree: nothing to refuse
        cursor.execute(f"SET CONSTRAINTS {DEFERRED_CHECKS} IMMEDIATE")
        cursor.execute(f"SET CONSTRAINTS {DEFERRED_CHECKS} DEFERRED")


@pytest.mark.django_db(transaction=True)
def test_a_disagreeing_write_is_refused_at_commit(nina, phil):
    location = riverside_for(nina, phil)
    appointment = book(nina, cleared_for_infusions(phil), location, "infusion", hour=9)

    with pytest.raises(IntegrityError, match="its session is not open"), transaction.atomic():
        Appointment.objects.filter(pk=appointment.pk).update(status=A.RECOVERING)

    appointment.refresh_from_db()
    assert appointment.status == A.BOOKED
