"""The board's buttons: check in, no-show, start infusion, recovery, discharge. Who may press
which, what each does, with and without HTMX, and what bad input gets."""

from __future__ import annotations

import pytest

from clinic.models import Location
from patients.models import Patient
from patients.tests.factories import PatientFactory
from scheduling.models import Appointment, AppointmentStatus, WaitlistEntry
from scheduling.tests.factories import AppointmentFactory, appointment_type
from scheduling.tests.test_booking import at, cleared_for_infusions, next_week, riverside_for

Status = AppointmentStatus


@pytest.fixture
def riverside(nina, phil) -> Location:
    return riverside_for(nina, phil, chairs=2)


@pytest.fixture
def cleared(phil) -> Patient:
    return cleared_for_infusions(phil)


def infusion(location, patient=None, status=Status.BOOKED, hour=9) -> Appointment:
    return AppointmentFactory(
        patient=patient or PatientFactory(),
        location=location,
        appointment_type=appointment_type("infusion"),
        chair=location.chairs.order_by("name").first(),
        starts_at=at(location, next_week(location), hour),
        status=status,
    )


def consultation(location, status=Status.BOOKED, hour=9) -> Appointment:
    return AppointmentFactory(
        location=location,
        appointment_type=appointment_type("consultation"),
        starts_at=at(location, next_week(location), hour),
        status=status,
    )


def press(client, user, appointment, action, *, htmx=False, **data):
    client.force_login(user)
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        f"/staff/schedule/appointments/{appointment.public_id}/{action}/", data, headers=headers
    )


def status_of(appointment) -> str:
    appointment.refresh_from_db()
    return appointment.status


def board_of(appointment) -> str:
    day = appointment.starts_at.astimezone(appointment.location.tz).date()
    return f"/staff/schedule/?location={appointment.location.public_id}&date={day.isoformat()}"


def shown(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


# --- What each button does -----------------------------------------------------------------------


def test_the_front_desk_checks_a_patient_in_and_returns_to_the_board(client, fran, riverside):
    booked = infusion(riverside)

    response = press(client, fran, booked, "check-in")

    assert status_of(booked) == Status.CHECKED_IN
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


def test_the_front_desk_marks_a_no_show_and_the_time_goes_to_the_waitlist(client, fran, riverside):
    booked = consultation(riverside)
    waiting = WaitlistEntry.objects.create(
        patient=PatientFactory(),
        location=riverside,
        appointment_type=appointment_type("consultation"),
    )

    press(client, fran, booked, "no-show")

    assert status_of(booked) == Status.NO_SHOW
    waiting.refresh_from_db()
    assert waiting.state == WaitlistEntry.State.OFFERED
    assert waiting.offered_appointment == booked


def test_a_nurse_takes_an_infusion_from_check_in_to_discharge(client, nina, riverside, cleared):
    booked = infusion(riverside, cleared)

    for action, status in [
        ("check-in", Status.CHECKED_IN),
        ("start-infusion", Status.INFUSING),
        ("recovery", Status.RECOVERING),
        ("discharge", Status.DISCHARGED),
    ]:
        response = press(client, nina, booked, action)

        assert response.status_code == 302
        assert status_of(booked) == status


def test_a_physician_may_move_an_infusion_along_too(client, phil, riverside, cleared):
    checked_in = infusion(riverside, cleared, Status.CHECKED_IN)

    press(client, phil, checked_in, "start-infusion")

    assert status_of(checked_in) == Status.INFUSING


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


def test_the_front_desk_ends_a_consultation(client, fran, riverside):
    checked_in = consultation(riverside, Status.CHECKED_IN)

    press(client, fran, checked_in, "discharge")

    assert status_of(checked_in) == Status.DISCHARGED


def test_a_clinic_admin_checks_patients_in(client, alice, riverside):
    booked = infusion(riverside)

    press(client, alice, booked, "check-in")

    assert status_of(booked) == Status.CHECKED_IN


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
    assert ">Cancel…<" in html


def test_with_htmx_the_card_offers_the_next_step(client, nina, riverside, cleared):
    booked = infusion(riverside, cleared)

    html = press(client, nina, booked, "check-in", htmx=True).content.decode()

    action = f"/staff/schedule/appointments/{booked.public_id}/start-infusion/"
    assert f'hx-post="{action}" hx-target="closest .appointment-card" hx-swap="outerHTML"' in html


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
    assert shown(response)[0].startswith("The infusion can't start:")


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
