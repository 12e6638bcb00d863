"""The board's buttons: check in, no-show (confirmed on its own page), start infusion,
recovery, discharge, undo. Who may press which, what each does, with and without HTMX, and
what bad input gets. An infusion's buttons move its session: the board and the session
never disagree."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clinic.models import Location
from infusions.models import InfusionSession
from infusions.models.sessions import InfusionSessionState
from infusions.sessions import session_for_appointment, session_transition
from infusions.tests.factories import complete_pre_assessment, signed_order
from patients.models import Patient
from patients.tests.factories import PatientFactory
from scheduling.models import Appointment, AppointmentStatus, WaitlistEntry
from scheduling.tests.factories import AppointmentFactory, appointment_type
from scheduling.tests.test_booking import at, cleared_for_infusions, next_week, riverside_for
from tests.clock import advance, travel_to

Status = AppointmentStatus
S = InfusionSessionState
# The session state an appointment status written straight to the database needs.
SESSION_STATE_FOR = {
    Status.CHECKED_IN: S.CHECKED_IN,
    Status.INFUSING: S.INFUSING,
    Status.RECOVERING: S.RECOVERING,
    Status.DISCHARGED: S.DISCHARGED,
}


@pytest.fixture
def riverside(nina, phil) -> Location:
    return riverside_for(nina, phil, chairs=2)


@pytest.fixture
def cleared(phil) -> Patient:
    return cleared_for_infusions(phil)


def infusion(location, patient=None, status=Status.BOOKED, hour=9) -> Appointment:
    """An infusion next week at ``hour``, with its session in the matching state, and the
    clock at ten minutes before it (check-in is open)."""
    appointment = AppointmentFactory(
        patient=patient or PatientFactory(),
        location=location,
        appointment_type=appointment_type("infusion"),
        chair=location.chairs.order_by("name").first(),
        starts_at=at(location, next_week(location), hour),
        status=status,
    )
    travel_to(appointment.starts_at - timedelta(minutes=10))
    return appointment


def consultation(location, status=Status.BOOKED, hour=9) -> Appointment:
    appointment = AppointmentFactory(
        location=location,
        appointment_type=appointment_type("consultation"),
        starts_at=at(location, next_week(location), hour),
        status=status,
    )
    travel_to(appointment.starts_at - timedelta(minutes=10))
    return appointment


def press(client, user, appointment, action, *, htmx=False, **data):
    signed_in(client, user)
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        f"/staff/schedule/appointments/{appointment.public_id}/{action}/", data, headers=headers
    )


def signed_in(client, user) -> None:
    """A fresh sign-in: tests move the clock past the idle sign-out."""
    client.logout()
    client.force_login(user)


def status_of(appointment) -> str:
    appointment.refresh_from_db()
    return appointment.status


def session_state(appointment) -> str | None:
    session = InfusionSession.objects.filter(appointment=appointment).first()
    return session.state if session else None


def board_of(appointment) -> str:
    day = appointment.starts_at.astimezone(appointment.location.tz).date()
    return f"/staff/schedule/?location={appointment.location.public_id}&date={day.isoformat()}"


def shown(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


def ready_to_start(appointment, nina, phil) -> InfusionSession:
    """Checked in, pre-infusion checks passed and the dose order signed (40 minutes)."""
    session = session_for_appointment(appointment=appointment, actor=nina)
    if session.state == S.SCHEDULED:
        session = session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)
    complete_pre_assessment(session, nina)
    session = session_transition(actor=nina, session=session, to_state=S.PRE_ASSESSMENT_PASSED)
    signed_order(session, phil)
    return session


# --- What each button does -----------------------------------------------------------------------


def test_the_front_desk_checks_a_patient_in_and_the_session_too(client, fran, riverside):
    booked = infusion(riverside)

    response = press(client, fran, booked, "check-in")

    assert status_of(booked) == Status.CHECKED_IN
    assert session_state(booked) == S.CHECKED_IN
    assert response.status_code == 302
    assert response["Location"] == board_of(booked)
    assert shown(response) == [f"{booked.patient.display_name}: checked in."]


def test_it_returns_to_the_page_the_button_was_on(client, fran, riverside):
    booked = infusion(riverside)
    page = f"/staff/schedule/?location={riverside.public_id}&view=week"

    response = press(client, fran, booked, "check-in", next=page)

    assert response["Location"] == page


def test_it_never_returns_to_another_site(client, fran, riverside):
    booked = infusion(riverside)

    response = press(client, fran, booked, "check-in", next="https://evil.example/")

    assert response["Location"] == board_of(booked)


def test_a_no_show_is_confirmed_on_its_own_page(client, fran, riverside):
    booked = consultation(riverside)
    waiting = WaitlistEntry.objects.create(
        patient=PatientFactory(),
        location=riverside,
        appointment_type=appointment_type("consultation"),
    )
    page = f"/staff/schedule/appointments/{booked.public_id}/no-show/"
    client.force_login(fran)
    advance(25)  # 15 minutes after the start
    signed_in(client, fran)  # the clock moved past the idle sign-out

    assert press(client, fran, booked, "no-show").status_code == 200  # not a one-click move
    assert status_of(booked) == Status.BOOKED
    assert "did not come" in client.get(page).content.decode()
    unconfirmed = client.post(page, {})
    assert "Tick the box to confirm" in unconfirmed.content.decode()
    assert status_of(booked) == Status.BOOKED
    client.post(page, {"confirm": "on"})

    assert status_of(booked) == Status.NO_SHOW
    waiting.refresh_from_db()
    assert waiting.state == WaitlistEntry.State.WAITING  # a time already begun is not offered


def test_the_board_offers_no_show_only_after_the_grace_period(client, fran, riverside):
    booked = consultation(riverside)
    client.force_login(fran)

    before = client.get(board_of(booked)).content.decode()
    advance(25)
    signed_in(client, fran)  # the clock moved past the idle sign-out
    after = client.get(board_of(booked)).content.decode()

    assert 'data-action="no-show"' not in before
    assert 'data-action="no-show"' in after


def test_a_nurse_runs_an_infusion_from_the_board_and_the_session_follows(
    client, nina, phil, riverside, cleared
):
    booked = infusion(riverside, cleared)

    press(client, nina, booked, "check-in")
    assert (status_of(booked), session_state(booked)) == (Status.CHECKED_IN, S.CHECKED_IN)

    refused = press(client, nina, booked, "start-infusion")
    assert (status_of(booked), session_state(booked)) == (Status.CHECKED_IN, S.CHECKED_IN)
    assert "can't become infusing" in shown(refused)[-1]

    ready_to_start(booked, nina, phil)
    press(client, nina, booked, "start-infusion")
    assert (status_of(booked), session_state(booked)) == (Status.INFUSING, S.INFUSING)

    advance(10)
    early = press(client, nina, booked, "recovery")
    assert (status_of(booked), session_state(booked)) == (Status.INFUSING, S.INFUSING)
    assert "has run 10 of its planned 40 minutes" in shown(early)[-1]

    advance(30)
    response = press(client, nina, booked, "recovery")
    assert (status_of(booked), session_state(booked)) == (Status.RECOVERING, S.RECOVERING), shown(
        response
    )

    discharge = press(client, nina, booked, "discharge")
    assert (status_of(booked), session_state(booked)) == (Status.RECOVERING, S.RECOVERING)
    assert "Discharge is the checklist on the infusion session" in shown(discharge)[-1]


def test_a_physician_may_start_an_infusion_too(client, nina, phil, riverside, cleared):
    booked = infusion(riverside, cleared)
    ready_to_start(booked, nina, phil)

    press(client, phil, booked, "start-infusion")

    assert (status_of(booked), session_state(booked)) == (Status.INFUSING, S.INFUSING)


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (Status.CHECKED_IN, "start-infusion"),
        (Status.INFUSING, "recovery"),
        (Status.RECOVERING, "discharge"),
    ],
)
@pytest.mark.parametrize("user", ["fran", "alice"])
def test_only_clinicians_record_an_infusions_progress(
    client, riverside, cleared, status, action, user, request
):
    appointment = infusion(riverside, cleared, status)

    response = press(client, request.getfixturevalue(user), appointment, action)

    assert response.status_code == 403
    assert status_of(appointment) == status
    assert session_state(appointment) == SESSION_STATE_FOR[status]


def end_visit_url(appointment) -> str:
    return f"/staff/schedule/appointments/{appointment.public_id}/end-visit/"


def test_the_front_desk_ends_a_consultation_after_confirming(client, fran, riverside):
    checked_in = consultation(riverside, Status.CHECKED_IN)
    travel_to(checked_in.starts_at + timedelta(minutes=30))
    signed_in(client, fran)

    assert client.get(end_visit_url(checked_in)).status_code == 200
    unconfirmed = client.post(end_visit_url(checked_in), {})
    assert "Tick the box to confirm" in unconfirmed.content.decode()
    assert status_of(checked_in) == Status.CHECKED_IN

    client.post(end_visit_url(checked_in), {"confirm": "on"})

    assert status_of(checked_in) == Status.DISCHARGED


def test_discharge_is_not_one_click_on_the_board(client, fran, riverside):
    checked_in = consultation(riverside, Status.CHECKED_IN)
    travel_to(checked_in.starts_at + timedelta(minutes=30))

    press(client, fran, checked_in, "discharge")

    assert status_of(checked_in) == Status.CHECKED_IN


def test_a_consultation_is_not_done_before_it_starts(client, fran, riverside):
    checked_in = consultation(riverside, Status.CHECKED_IN)  # ten minutes before its start
    signed_in(client, fran)

    response = client.post(end_visit_url(checked_in), {"confirm": "on"})

    assert status_of(checked_in) == Status.CHECKED_IN
    assert "too early to mark the visit done" in response.content.decode()


def test_a_discharged_consultation_is_undone_within_minutes(client, fran, riverside):
    checked_in = consultation(riverside, Status.CHECKED_IN)
    travel_to(checked_in.starts_at + timedelta(minutes=30))
    signed_in(client, fran)
    client.post(end_visit_url(checked_in), {"confirm": "on"})
    undo = f"/staff/schedule/appointments/{checked_in.public_id}/undo/"

    assert "Undo the discharge" in client.get(undo).content.decode()
    client.post(undo, {"reason": "Pressed by mistake"})

    assert status_of(checked_in) == Status.CHECKED_IN


def test_a_discharge_is_not_undone_after_the_undo_minutes(client, fran, riverside, settings):
    checked_in = consultation(riverside, Status.CHECKED_IN)
    travel_to(checked_in.starts_at + timedelta(minutes=30))
    signed_in(client, fran)
    client.post(end_visit_url(checked_in), {"confirm": "on"})
    advance(settings.UNDO_MINUTES + 1)
    signed_in(client, fran)

    client.post(
        f"/staff/schedule/appointments/{checked_in.public_id}/undo/", {"reason": "Too late"}
    )

    assert status_of(checked_in) == Status.DISCHARGED


def test_a_clinic_admin_checks_patients_in(client, alice, riverside):
    booked = infusion(riverside)

    press(client, alice, booked, "check-in")

    assert status_of(booked) == Status.CHECKED_IN
    assert session_state(booked) == S.CHECKED_IN


def test_a_check_in_can_be_undone_for_a_few_minutes_with_a_reason(client, fran, riverside):
    booked = infusion(riverside)
    press(client, fran, booked, "check-in")
    page = f"/staff/schedule/appointments/{booked.public_id}/undo/"

    board = client.get(board_of(booked)).content.decode()
    without_reason = client.post(page, {"reason": ""})
    client.post(page, {"reason": "Wrong patient pressed"})

    assert 'data-action="undo"' in board
    assert "Say why the change is undone" in without_reason.content.decode()
    assert (status_of(booked), session_state(booked)) == (Status.BOOKED, S.SCHEDULED)
    assert booked.status_changes.last().undo is True


# --- With HTMX ---------------------------------------------------------------------------------


def test_with_htmx_it_answers_with_just_the_appointments_card(client, fran, riverside):
    booked = infusion(riverside)

    response = press(client, fran, booked, "check-in", htmx=True, next=board_of(booked))

    assert response.status_code == 200
    html = response.content.decode()
    assert html.strip().startswith('<div class="appointment-card')
    assert f'id="appointment-{booked.public_id}"' in html
    assert 'data-testid="status">Checked in</span>' in html
    assert f"Done: {booked.patient.display_name}: checked in." in html
    assert "<html" not in html
    # The card's remaining buttons go on working the same way.
    assert 'hx-target="closest .appointment-card"' not in html  # nothing left for fran
    assert ">Cancel…<" not in html  # once checked in, the session decides how the visit ends
    assert 'data-action="undo"' in html


def test_with_htmx_the_card_says_the_sessions_next_step(client, nina, phil, riverside, cleared):
    booked = infusion(riverside, cleared)
    action = f"/staff/schedule/appointments/{booked.public_id}/start-infusion/"

    checked_in = press(client, nina, booked, "check-in", htmx=True).content.decode()
    ready_to_start(booked, nina, phil)
    ready = press(client, nina, booked, "start-infusion", htmx=True, next="/x/")

    assert 'data-testid="session-step">Next: pre-infusion checks<' in checked_in
    assert action not in checked_in  # no "Start infusion" before the checks and the order
    assert (status_of(booked), session_state(booked)) == (Status.INFUSING, S.INFUSING)
    assert 'data-testid="session-step">Infusion running · next: recovery<' in ready.content.decode()


def test_the_card_offers_start_only_when_the_session_may_start(
    client, nina, phil, riverside, cleared
):
    booked = infusion(riverside, cleared)
    ready_to_start(booked, nina, phil)
    client.force_login(nina)

    html = client.get(board_of(booked)).content.decode()

    action = f"/staff/schedule/appointments/{booked.public_id}/start-infusion/"
    assert f'action="{action}"' in html
    assert "Checks passed · ready to start" in html


def test_with_htmx_a_refusal_is_shown_in_the_card(client, nina, riverside):
    booked = infusion(riverside)

    response = press(client, nina, booked, "recovery", htmx=True)

    assert response.status_code == 200
    assert "hasn&#x27;t checked in yet: check them in first" in response.content.decode()
    assert status_of(booked) == Status.BOOKED


# --- Bad input -----------------------------------------------------------------------------------


def test_an_illegal_move_is_explained_and_changes_nothing(client, nina, riverside):
    booked = infusion(riverside)

    response = press(client, nina, booked, "discharge")

    assert response.status_code == 302
    assert status_of(booked) == Status.BOOKED
    assert shown(response) == ["The patient hasn't checked in yet: check them in first."]


def test_a_final_status_stays_final(client, fran, riverside):
    no_show = consultation(riverside, Status.NO_SHOW)

    response = press(client, fran, no_show, "check-in")

    assert status_of(no_show) == Status.NO_SHOW
    assert "which is final" in shown(response)[0]


def test_an_infusion_without_consent_does_not_start(client, nina, riverside):
    checked_in = infusion(riverside, status=Status.CHECKED_IN)

    response = press(client, nina, checked_in, "start-infusion")

    assert status_of(checked_in) == Status.CHECKED_IN
    assert session_state(checked_in) == S.CHECKED_IN
    assert shown(response)[0].startswith("A session that is checked in can't become infusing")


def test_an_unknown_action_is_explained_and_changes_nothing(client, nina, riverside):
    booked = infusion(riverside)

    response = press(client, nina, booked, "explode")

    assert response.status_code == 302
    assert status_of(booked) == Status.BOOKED
    assert shown(response)[0].startswith("“explode” is not something the board can do")
    assert "“check in”" in shown(response)[0]


def test_pressing_a_button_needs_a_post(client, fran, riverside):
    booked = infusion(riverside)
    client.force_login(fran)

    response = client.get(f"/staff/schedule/appointments/{booked.public_id}/check-in/")

    assert response.status_code == 405
    assert status_of(booked) == Status.BOOKED


def test_an_unknown_appointment_is_not_found(client, fran, riverside):
    client.force_login(fran)

    response = client.post(
        "/staff/schedule/appointments/00000000-0000-0000-0000-000000000000/check-in/"
    )

    assert response.status_code == 404


def test_content_editors_and_visitors_press_nothing(client, edie, riverside):
    booked = infusion(riverside)

    assert press(client, edie, booked, "check-in").status_code == 403
    client.logout()
    response = client.post(f"/staff/schedule/appointments/{booked.public_id}/check-in/")
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")
    assert status_of(booked) == Status.BOOKED


def test_a_checked_in_infusions_page_says_the_checks_are_next_on_the_session(
    client, fran, nina, riverside
):
    booked = infusion(riverside)
    press(client, fran, booked, "check-in")
    assert status_of(booked) == Status.CHECKED_IN
    signed_in(client, nina)

    html = client.get(f"/staff/schedule/appointments/{booked.public_id}/").content.decode()

    assert "Nothing more to do" not in html
    assert "Next: pre-infusion checks, on the infusion session." in html
    session = InfusionSession.objects.get(appointment=booked)
    assert f'href="/staff/sessions/{session.public_id}/">Go to the session' in html
