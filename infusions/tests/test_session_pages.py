"""The session screen's frame: opening a session from its appointment, who may see it, and
the state buttons, which show the lifecycle's refusals instead of failing."""

from __future__ import annotations

import uuid

import pytest
from django.urls import reverse

from clinic.models import AuditEvent
from infusions.models import InfusionSession, SessionStateChange
from infusions.models.readings import VitalsPhase
from infusions.models.sessions import SESSION_STATE_SENTENCES, InfusionSessionState
from infusions.sessions import session_transition
from infusions.tests.factories import (
    complete_pre_assessment,
    infusion_session,
    signed_order,
    vitals_reading,
)
from infusions.tests.test_summary import discharged  # noqa: F401 (a fixture)
from scheduling.tests.test_booking import book, cleared_for_infusions, riverside_for

S = InfusionSessionState


@pytest.fixture
def session(nina, phil):
    return infusion_session(nina, phil)


def session_page(session):
    return reverse("infusions:session", args=[session.public_id])


def move(client, session, to_state, reason=""):
    return client.post(
        reverse("infusions:session-move", args=[session.public_id]),
        {"to_state": to_state, "reason": reason},
        follow=True,
    )


# --- Opening -----------------------------------------------------------------------------


def test_the_appointment_page_opens_the_session_of_an_infusion(client, nina, phil):
    location = riverside_for(nina, phil)
    appointment = book(nina, cleared_for_infusions(phil), location, "infusion", hour=9)
    client.force_login(nina)
    detail = reverse("scheduling:appointment-detail", args=[appointment.public_id])

    assert 'data-testid="open-session"' in client.get(detail).content.decode()
    response = client.post(reverse("infusions:session-open", args=[appointment.public_id]))

    session = InfusionSession.objects.get(appointment=appointment)
    assert response.status_code == 302
    assert response["Location"] == session_page(session)
    # Opening twice is the same session.
    client.post(reverse("infusions:session-open", args=[appointment.public_id]))
    assert InfusionSession.objects.filter(appointment=appointment).count() == 1


def test_a_consultation_has_no_session_to_open(client, nina, phil):
    location = riverside_for(nina, phil)
    appointment = book(nina, cleared_for_infusions(phil), location, "consultation", hour=9)
    client.force_login(nina)

    detail = reverse("scheduling:appointment-detail", args=[appointment.public_id])
    assert 'data-testid="open-session"' not in client.get(detail).content.decode()
    response = client.post(
        reverse("infusions:session-open", args=[appointment.public_id]), follow=True
    )

    assert "has no infusion session" in response.content.decode()
    assert not InfusionSession.objects.exists()


def test_the_front_desk_opens_the_session_but_does_not_see_its_clinical_screen(
    client, fran, nina, phil
):
    location = riverside_for(nina, phil)
    appointment = book(nina, cleared_for_infusions(phil), location, "infusion", hour=9)
    client.force_login(fran)

    response = client.post(
        reverse("infusions:session-open", args=[appointment.public_id]), follow=True
    )

    session = InfusionSession.objects.get(appointment=appointment)
    assert "a nurse takes it from here" in response.content.decode()
    assert client.get(session_page(session)).status_code == 403


# --- The screen --------------------------------------------------------------------------


def test_the_screen_shows_the_session_and_logs_who_saw_it(client, nina, session):
    client.force_login(nina)

    response = client.get(session_page(session))

    page = response.content.decode()
    assert response.status_code == 200
    assert session.appointment.patient.display_name in page
    assert 'data-testid="session-state">Scheduled<' in page
    assert 'data-testid="move-checked_in"' in page
    assert AuditEvent.objects.filter(
        actor=nina,
        action=AuditEvent.Action.VIEW,
        object_id=str(session.appointment.patient.public_id),
    ).exists()


@pytest.mark.parametrize("persona", ["fran", "alice", "edie"])
def test_only_clinical_staff_see_the_screen(client, request, session, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(session_page(session)).status_code == 403


def test_an_unknown_session_is_not_found(client, nina):
    client.force_login(nina)

    url = reverse("infusions:session", args=[uuid.uuid4()])
    assert client.get(url).status_code == 404


def test_signed_out_visitors_are_sent_to_sign_in(client, session):
    response = client.get(session_page(session))

    assert response.status_code == 302
    assert "/login" in response["Location"]


# --- Moves ---------------------------------------------------------------------------------


def test_a_move_goes_through_and_is_recorded(client, nina, session):
    client.force_login(nina)

    response = move(client, session, S.CHECKED_IN)

    session.refresh_from_db()
    assert session.state == S.CHECKED_IN
    assert "Checked in: the pre-infusion checks come next." in response.content.decode()
    assert SessionStateChange.objects.filter(session=session, to_state=S.CHECKED_IN).exists()


def test_every_state_has_a_sentence_that_reads_naturally(nina, session):
    assert set(SESSION_STATE_SENTENCES) == set(S.values)
    session.state = S.PRE_ASSESSMENT_PASSED
    assert session.state_sentence == (
        "Pre-assessment passed: the infusion starts once the dose order is signed."
    )
    assert all("The session is" not in sentence for sentence in SESSION_STATE_SENTENCES.values())


def test_a_refused_move_shows_what_is_missing_and_changes_nothing(client, nina, session):
    session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)
    client.force_login(nina)

    response = move(client, session, S.PRE_ASSESSMENT_PASSED)

    session.refresh_from_db()
    assert session.state == S.CHECKED_IN
    assert "Record the pre-infusion checks first." in response.content.decode()


def test_not_started_needs_a_reason(client, nina, session):
    client.force_login(nina)

    response = move(client, session, S.NOT_STARTED)

    session.refresh_from_db()
    assert session.state == S.SCHEDULED
    assert "Say why the session is not started" in response.content.decode()

    move(client, session, S.NOT_STARTED, reason="Blood pressure too high today.")
    session.refresh_from_db()
    assert session.state == S.NOT_STARTED
    assert session.stop_reason == "Blood pressure too high today."


def test_an_unknown_state_is_refused_with_the_choices(client, nina, session):
    client.force_login(nina)

    response = move(client, session, "teleported")

    assert response.status_code == 200
    assert "is not a session state" in response.content.decode()
    session.refresh_from_db()
    assert session.state == S.SCHEDULED


def test_the_front_desk_cannot_post_clinical_moves(client, fran, session):
    client.force_login(fran)

    response = move(client, session, S.CHECKED_IN)

    assert response.status_code == 403
    session.refresh_from_db()
    assert session.state == S.SCHEDULED


def running(session, nina, phil):
    """The session infusing under the factory's 40-minute order."""
    session = session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)
    complete_pre_assessment(session, nina)
    session = session_transition(actor=nina, session=session, to_state=S.PRE_ASSESSMENT_PASSED)
    signed_order(session, phil)
    return session_transition(actor=nina, session=session, to_state=S.INFUSING)


def test_start_is_offered_only_once_the_order_is_signed(client, nina, phil, session):
    session = session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)
    complete_pre_assessment(session, nina)
    session_transition(actor=nina, session=session, to_state=S.PRE_ASSESSMENT_PASSED)
    client.force_login(nina)

    waiting = client.get(session_page(session)).content.decode()
    signed_order(session, phil)
    ready = client.get(session_page(session)).content.decode()

    assert 'data-testid="move-infusing"' not in waiting
    assert "A physician must sign the dose order first." in waiting
    assert 'data-testid="move-infusing"' in ready


def test_a_physician_ends_an_infusion_early_with_a_reason_typed_on_the_screen(
    client, nina, phil, session
):
    session = running(session, nina, phil)
    client.force_login(phil)

    html = client.get(session_page(session)).content.decode()
    move(client, session, S.RECOVERING, reason="Severe nausea; ended after discussion")

    assert "Why does it end before its planned time?" in html
    session.refresh_from_db()
    assert session.state == S.RECOVERING
    assert session.state_changes.last().reason == "Severe nausea; ended after discussion"


def test_a_nurse_is_told_to_stop_early_or_ask_a_physician(client, nina, phil, session):
    session = running(session, nina, phil)
    client.force_login(nina)

    response = move(client, session, S.RECOVERING)

    session.refresh_from_db()
    assert session.state == S.INFUSING
    assert "stop it early with a reason, or ask a physician" in response.content.decode()


def test_an_open_safety_alert_shows_on_the_session_screen(client, nina, session):
    from patients.models import SafetyAlert
    from patients.services.safety import safety_alert_raise

    safety_alert_raise(
        patient=session.appointment.patient,
        source=SafetyAlert.Source.BOOKING_REASON,
        appointment=session.appointment,
        reported_text="Having dark thoughts lately",
    )
    client.force_login(nina)

    html = client.get(session_page(session)).content.decode()

    assert 'data-testid="safety-alert-open"' in html
    assert "A clinician must contact the patient today." in html


# --- Cost ---------------------------------------------------------------------------------

# A discharged session's screen, its record kept rendered (infusions.views.sections.record):
# the session and the user, the session with its appointment, patient, place and chair, the
# audit event, the version of every row the screen draws, and what the pre-infusion checks
# compare with the clock.
SCREEN_QUERIES = 6
# Drawn again when a row it shows changed: the pre-infusion checks, the questionnaires before
# the infusion, the dose history, the session's current order with the people and lot it
# names, the session's moves (whether an infusion that ended early still needs what was
# really given), the readings and their alerts (flowsheet), the readings and the moves
# (chart), the events, the discharge, the safety alerts.
SCREEN_QUERIES_DRAWN = 19


def test_the_screen_costs_the_same_number_of_queries_however_many_readings(
    client,
    nina,
    discharged,  # noqa: F811 (the fixture imported above)
    django_assert_num_queries,
):
    client.force_login(nina)
    client.get(session_page(discharged))  # the session's first-request writes
    with django_assert_num_queries(SCREEN_QUERIES):
        before = client.get(session_page(discharged)).content.decode()
    for minutes in range(6):
        vitals_reading(discharged, nina, phase=VitalsPhase.RECOVERING, minutes_ago=minutes)
    with django_assert_num_queries(SCREEN_QUERIES_DRAWN):
        response = client.get(session_page(discharged))
    with django_assert_num_queries(SCREEN_QUERIES):
        again = client.get(session_page(discharged)).content.decode()
    rows = 'data-testid="reading"'
    assert response.content.decode().count(rows) == before.count(rows) + 6
    assert again.count(rows) == before.count(rows) + 6
