"""Open vitals alerts reach every clinician of the location, not only the nurse at the chair:
on the staff home page and as a banner on the day board. The front desk sees that a nurse
is needed, nothing clinical; a clinician of another location sees nothing; the banner costs
the same queries however many sessions have alerts."""

from __future__ import annotations

import re

import pytest

from clinic.roles import Role
from conftest import make_staff
from infusions.alerts import open_alerts_for
from infusions.models.readings import AlertAction
from infusions.models.sessions import InfusionSessionState
from infusions.session_alerts import alert_acknowledge
from infusions.tests.test_flowsheet import record, session_in
from scheduling.tests.test_booking import next_week, riverside_for

S = InfusionSessionState


@pytest.fixture
def riverside(nina, phil):
    return riverside_for(nina, phil, chairs=3)


@pytest.fixture
def olga(db):
    """A nurse who works at another location only."""
    nurse = make_staff("olga@clinic.test", "Olga Otherplace", Role.NURSE)
    riverside_for(nurse, name="Lakeside")
    return nurse


@pytest.fixture
def high_bp(nina, phil, riverside):
    session = session_in(nina, phil, S.INFUSING, location=riverside, hour=9)
    record(nina, session, systolic=186, diastolic=112, heart_rate=124)
    return session


def home(client, user) -> str:
    client.force_login(user)
    response = client.get("/staff/")
    assert response.status_code == 200
    return response.content.decode()


def board(client, user, location) -> str:
    client.force_login(user)
    response = client.get(
        "/staff/schedule/", {"location": location.public_id, "date": next_week(location)}
    )
    assert response.status_code == 200
    return response.content.decode()


def banner(html: str) -> str:
    match = re.search(r'<section [^>]*data-testid="open-vitals-alerts".*?</section>', html, re.S)
    assert match, "no open alerts banner"
    return match.group(0)


# --- The home page -------------------------------------------------------------------------------


def test_another_clinician_of_the_location_sees_the_open_alert_on_the_home_page(
    client, phil, high_bp
):
    html = banner(home(client, phil))

    assert high_bp.appointment.patient.display_name in html
    assert f'href="/staff/sessions/{high_bp.public_id}/#flowsheet"' in html
    assert "systolic 186 mmHg high, diastolic 112 mmHg high, heart rate 124/min high" in html
    assert "1 patient needs a clinician now" in html


def test_a_clinician_of_another_location_does_not_see_it(client, olga, high_bp):
    html = home(client, olga)

    assert 'data-testid="open-vitals-alerts"' not in html
    assert high_bp.appointment.patient.display_name not in html
    assert "No open vital-signs alerts at the locations you work at." in html


def test_the_front_desk_home_page_has_no_vitals_alerts(client, fran, high_bp):
    html = home(client, fran)

    assert 'data-testid="home-vitals-alerts"' not in html
    assert "186" not in html


def test_an_acknowledged_alert_leaves_the_home_page(client, nina, phil, high_bp):
    alert_acknowledge(actor=nina, alert=high_bp.alerts.get(), action=AlertAction.CONTINUE)

    html = home(client, phil)

    assert 'data-testid="open-vitals-alerts"' not in html
    assert "No open vital-signs alerts" in html


# --- The day board -------------------------------------------------------------------------------


@pytest.mark.parametrize("viewer", ["nina", "phil"])
def test_clinicians_see_the_banner_on_the_board_with_a_link_to_the_session(
    client, request, riverside, high_bp, viewer
):
    html = banner(board(client, request.getfixturevalue(viewer), riverside))

    assert f'href="/staff/sessions/{high_bp.public_id}/#flowsheet"' in html
    assert "heart rate 124/min high" in html
    assert high_bp.appointment.chair.name in html


def test_the_front_desk_sees_a_neutral_needs_attention_without_clinical_detail(
    client, fran, riverside, high_bp
):
    html = banner(board(client, fran, riverside))

    assert "1 infusion needs a nurse's attention" in html
    assert high_bp.appointment.patient.display_name in html
    for clinical in ("186", "mmHg", "systolic", "heart rate", "/staff/sessions/"):
        assert clinical not in html


def test_the_board_of_another_location_shows_no_banner(client, nina, phil, olga, high_bp):
    lakeside = riverside_for(nina, phil, name="Lakeshore")

    assert 'data-testid="open-vitals-alerts"' not in board(client, nina, lakeside)


def test_the_banner_costs_the_same_queries_however_many_sessions_have_alerts(
    django_assert_num_queries, nina, phil, riverside, high_bp
):
    lakeshore = riverside_for(nina, phil, name="Lakeshore")
    with django_assert_num_queries(1):  # none open there: their ids only
        none = open_alerts_for(nina, location=lakeshore)
    with django_assert_num_queries(2):  # the open alerts' ids, then them with their sessions
        one = open_alerts_for(nina, location=riverside)
    for hour in (11, 13):
        session = session_in(nina, phil, S.RECOVERING, location=riverside, hour=hour)
        record(nina, session, spo2=88)
        record(nina, session, respiratory_rate=8)

    with django_assert_num_queries(2):
        three = open_alerts_for(nina, location=riverside)
    with django_assert_num_queries(3):  # the clinician's shifts, then the alerts
        at_home = open_alerts_for(phil)

    assert not none

    assert len(one.sessions) == 1
    assert [len(item.alerts) for item in three.sessions] == [1, 2, 2]
    assert [item.session for item in at_home.sessions] == [item.session for item in three.sessions]
    assert three.sessions[1].summary == "SpO2 88 % low; respiratory rate 8/min low"
