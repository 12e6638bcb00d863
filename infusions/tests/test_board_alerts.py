"""Open vitals alerts on the day board: clinicians see how many and go straight to the
session, the front desk sees only that a nurse is needed, and the board's cost in queries
does not grow with the appointments."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from infusions.models.readings import AlertAction
from infusions.models.sessions import InfusionSessionState
from infusions.session_alerts import alert_acknowledge, open_alert_counts
from infusions.sessions import session_for_appointment
from infusions.tests.factories import infusion_session
from infusions.tests.test_flowsheet import STEPS, record, session_in, walk_to
from scheduling.tests.test_board import DAY_QUERIES
from scheduling.tests.test_booking import book, cleared_for_infusions, riverside_for
from tests.clock import travel_to

S = InfusionSessionState


@pytest.fixture
def riverside(nina, phil):
    return riverside_for(nina, phil, chairs=2)


def local_day(session) -> date:
    """The local day ``session`` is booked for."""
    appointment = session.appointment
    return appointment.starts_at.astimezone(appointment.location.tz).date()


def board(client, user, location, day: date):
    if user is not None:
        client.force_login(user)
    return client.get("/staff/schedule/", {"location": location.public_id, "date": day})


def same_day_session(nurse, physician, state: S, *, location, day: date, hour: int):
    """Like ``session_in``, for another patient booked on ``day`` (``session_in`` books a week
    from the clock, which its own first session has moved on): the clock moves to ten minutes
    before it."""
    appointment = book(
        nurse, cleared_for_infusions(physician), location, "infusion", hour=hour, day=day
    )
    travel_to(appointment.starts_at - timedelta(minutes=10))
    session = session_for_appointment(appointment=appointment, actor=nurse)
    return walk_to(session, nurse, STEPS[state])


def card(html: str, appointment) -> str:
    match = re.search(
        rf'<div class="appointment-card[^"]*" id="appointment-{appointment.public_id}".*?'
        r"(?=<div class=\"appointment-card|</table>|</ul>)",
        html,
        re.S,
    )
    assert match, "no card for the appointment"
    return match.group(0)


def test_a_nurse_sees_the_open_alert_count_linking_to_the_session(client, nina, phil, riverside):
    session = session_in(nina, phil, S.INFUSING, location=riverside, hour=9)
    record(nina, session, systolic=190, diastolic=112)  # one alert, two values

    html = card(
        board(client, nina, riverside, local_day(session)).content.decode(), session.appointment
    )

    badge = re.search(r'<a [^>]*data-testid="open-alerts"[^>]*>.*?</a>', html, re.S).group(0)
    assert f'href="/staff/sessions/{session.public_id}/#flowsheet"' in badge
    assert "1 open alert" in badge


def test_the_front_desk_sees_only_that_a_nurse_is_needed(client, fran, nina, phil, riverside):
    session = session_in(nina, phil, S.INFUSING, location=riverside, hour=9)
    record(nina, session, spo2=88)

    html = card(
        board(client, fran, riverside, local_day(session)).content.decode(), session.appointment
    )

    assert "Needs a nurse's attention" in html
    assert "open alert" not in html
    assert f"/staff/sessions/{session.public_id}/" not in html


def test_no_badge_once_every_alert_is_acknowledged(client, nina, phil, riverside):
    session = session_in(nina, phil, S.INFUSING, location=riverside, hour=9)
    alert = record(nina, session, spo2=88).alerts.get()
    alert_acknowledge(actor=nina, alert=alert, action=AlertAction.CONTINUE)

    html = card(
        board(client, nina, riverside, local_day(session)).content.decode(), session.appointment
    )

    assert 'data-testid="open-alerts"' not in html


def test_open_alert_counts_are_fetched_in_one_query(
    django_assert_num_queries, nina, phil, riverside
):
    first = session_in(nina, phil, S.INFUSING, location=riverside, hour=9)
    second = session_in(nina, phil, S.RECOVERING, location=riverside, hour=11)
    quiet = session_in(nina, phil, S.INFUSING, location=riverside, hour=13)
    record(nina, first, heart_rate=130)
    record(nina, second, spo2=85, respiratory_rate=8)
    record(nina, second, spo2=86)
    ids = [first.appointment_id, second.appointment_id, quiet.appointment_id]

    with django_assert_num_queries(1):
        counts = open_alert_counts(ids)

    assert counts == {first.appointment_id: 1, second.appointment_id: 2}


@pytest.mark.parametrize("user", ["fran", "nina"])
def test_the_board_costs_the_same_queries_however_many_sessions_have_alerts(
    client, request, nina, phil, riverside, user
):
    viewer = request.getfixturevalue(user)
    session = session_in(nina, phil, S.INFUSING, location=riverside, hour=8)
    day = local_day(session)
    record(nina, session, spo2=88)
    board(client, viewer, riverside, day)  # sign in, warm the session
    with CaptureQueriesContext(connection) as with_one:
        board(client, None, riverside, day)
    for hour in (10, 12, 14, 16):
        more = same_day_session(nina, phil, S.INFUSING, location=riverside, day=day, hour=hour)
        record(nina, more, heart_rate=45)
    # Hours on, the viewer was signed out for being idle: sign in and warm again.
    client.logout()
    board(client, viewer, riverside, day)

    with CaptureQueriesContext(connection) as with_five:
        response = board(client, None, riverside, day)

    assert len(with_five) == len(with_one)
    assert response.content.decode().count('data-testid="open-alerts"') == 5


def test_open_alerts_add_one_query_to_the_board_however_many(
    client, django_assert_num_queries, fran, nina, phil, riverside
):
    first = session_in(nina, phil, S.INFUSING, location=riverside, hour=8)
    day = local_day(first)
    record(nina, first, spo2=88)
    for hour in (10, 12):
        session = same_day_session(nina, phil, S.INFUSING, location=riverside, day=day, hour=hour)
        record(nina, session, spo2=88)
    client.force_login(fran)

    # As many as the board costs without any session (scheduling/tests/test_board.py), and
    # the open alerts with their sessions, read only when there are some (infusions.alerts).
    with django_assert_num_queries(DAY_QUERIES + 1):
        response = board(client, None, riverside, day)

    assert response.content.decode().count("Needs a nurse's attention") == 3


def test_the_boards_query_reads_no_patient_or_session_table_whole(client, nina, phil, riverside):
    session = session_in(nina, phil, S.INFUSING, location=riverside, hour=8)
    client.force_login(nina)

    with CaptureQueriesContext(connection) as queries:
        board(client, None, riverside, local_day(session))

    # At chain scale a join let PostgreSQL hash every patient and session for one
    # location's day: the patients come by id, the session's state through per-row
    # subqueries on its unique appointment index.
    (listing,) = [q["sql"] for q in queries if q["sql"].startswith('SELECT "scheduling_appoint')]
    assert 'JOIN "patients_patient"' not in listing
    assert 'JOIN "infusions_infusionsession" ON' not in listing
    assert "EXISTS" not in listing


def test_clinical_staff_reach_the_session_from_the_card(client, nina, phil, fran, riverside):
    with_session = infusion_session(nina, phil, location=riverside, hour=9)
    day = local_day(with_session)
    without = book(nina, cleared_for_infusions(phil), riverside, "infusion", hour=14, day=day)

    html = board(client, nina, riverside, day).content.decode()
    opened = card(html, with_session.appointment)
    assert f'href="/staff/sessions/{with_session.public_id}/" data-testid="session-link"' in opened
    not_yet = card(html, without)
    assert f'action="/staff/sessions/appointment/{without.public_id}/"' in not_yet

    assert 'data-testid="session-link"' not in board(client, fran, riverside, day).content.decode()
