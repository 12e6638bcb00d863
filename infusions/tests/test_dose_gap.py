"""No second dose within the minimum gap between infusions, at the chair: a second infusion
appointment the same day (booked before booking refused it, or written straight to the
database) can neither have its dose ordered nor start, on the service, the session screen or
the API. Nobody overrides it (DOMAIN.md names no override for the gap)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse

from infusions.models import DoseOrder, InfusionSession
from infusions.models.sessions import InfusionSessionState
from infusions.orders import dose_order_sign, start_problems
from infusions.sessions import session_for_appointment, session_transition
from infusions.tests.factories import complete_pre_assessment, infusion_session, signed_order
from scheduling.tests.factories import AppointmentFactory, appointment_type
from tests.clock import travel_to

S = InfusionSessionState
TOO_SOON = "infusions must be at least 24 hours apart"
ORDER = {
    "route": "iv_infusion",
    "dose_mg_per_kg": "0.5",
    "duration_minutes": 40,
    "concentration_mg_per_ml": "0.4",
}


def to(nina, session, state):
    return session_transition(actor=nina, session=session, to_state=state)


@pytest.fixture
def morning(nina, phil) -> InfusionSession:
    """The 09:00 infusion, started and discharged."""
    session = to(nina, infusion_session(nina, phil, hour=9), S.CHECKED_IN)
    complete_pre_assessment(session, nina)
    signed_order(session, phil)
    session = to(nina, session, S.PRE_ASSESSMENT_PASSED)
    return to(nina, session, S.INFUSING)


def second_session(nina, morning: InfusionSession, *, hours_later: int = 3) -> InfusionSession:
    """A booster for the same patient ``hours_later`` after the morning's start, checked in,
    every check done; written past the booking service (which now refuses it)."""
    first = morning.appointment
    booster = AppointmentFactory(
        patient=first.patient,
        location=first.location,
        appointment_type=appointment_type("booster"),
        starts_at=first.starts_at + timedelta(hours=hours_later),
        chair=first.location.chairs.first(),
        clinician=nina,
    )
    travel_to(booster.starts_at - timedelta(minutes=5))
    session = session_for_appointment(appointment=booster, actor=nina)
    session = to(nina, session, S.CHECKED_IN)
    complete_pre_assessment(session, nina)
    return session


def test_a_physician_cannot_sign_a_second_dose_the_same_day(nina, phil, morning):
    booster = second_session(nina, morning)

    with pytest.raises(ValidationError) as refused:
        dose_order_sign(actor=phil, session=booster, **ORDER)

    said = " ".join(refused.value.message_dict["session"])
    assert "The patient had an infusion started at" in said
    assert TOO_SOON in said
    assert "Mark this session not started" in said
    assert not DoseOrder.objects.filter(session=booster).exists()


def test_a_second_infusion_the_same_day_cannot_start(nina, phil, morning):
    booster = second_session(nina, morning)
    signed_order(booster, phil)  # signed before the rule, straight to the database
    booster = to(nina, booster, S.PRE_ASSESSMENT_PASSED)

    assert any(TOO_SOON in problem for problem in start_problems(booster))
    for actor in (nina, phil):
        with pytest.raises(ValidationError) as refused:
            session_transition(
                actor=actor, session=booster, to_state=S.INFUSING, reason="Patient asked for it"
            )
        assert TOO_SOON in " ".join(refused.value.message_dict["state"])
    booster.refresh_from_db()
    assert booster.state == S.PRE_ASSESSMENT_PASSED
    assert booster.started_at is None


def test_the_way_out_is_not_started(nina, morning):
    booster = second_session(nina, morning)

    booster = session_transition(
        actor=nina, session=booster, to_state=S.NOT_STARTED, reason="Infused this morning."
    )

    assert booster.state == S.NOT_STARTED


@override_settings(COURSE_MIN_GAP_HOURS=24)
def test_a_dose_once_the_gap_has_passed_is_allowed(nina, phil, morning):
    booster = second_session(nina, morning, hours_later=25)

    order = dose_order_sign(actor=phil, session=booster, **ORDER)

    assert order.session == booster


def test_a_morning_session_that_never_started_counts_for_nothing(nina, phil):
    session = to(nina, infusion_session(nina, phil, hour=9), S.CHECKED_IN)
    session = session_transition(
        actor=nina, session=session, to_state=S.NOT_STARTED, reason="Blood pressure too high."
    )
    booster = second_session(nina, session)

    order = dose_order_sign(actor=phil, session=booster, **ORDER)

    assert order.session == booster


def test_the_session_screen_refuses_the_order_and_says_why(client, nina, phil, morning):
    booster = second_session(nina, morning)
    client.force_login(phil)

    response = client.post(
        reverse("infusions:dose-order", args=[booster.public_id]), ORDER | {"note": ""}
    )

    assert TOO_SOON in response.content.decode()
    assert not DoseOrder.objects.filter(session=booster).exists()


def test_the_api_refuses_the_order_and_the_start(client, nina, phil, morning):
    booster = second_session(nina, morning)
    client.force_login(phil)
    base = f"/api/v1/sessions/{booster.public_id}/"

    ordered = client.post(f"{base}dose-orders/", ORDER, content_type="application/json")
    signed_order(booster, phil)
    to(nina, booster, S.PRE_ASSESSMENT_PASSED)
    started = client.post(
        f"{base}transition/", {"to_state": "infusing"}, content_type="application/json"
    )

    assert ordered.status_code == 400, ordered.json()
    assert TOO_SOON in str(ordered.json())
    assert started.status_code == 400, started.json()
    assert TOO_SOON in str(started.json())
    booster.refresh_from_db()
    assert booster.state == S.PRE_ASSESSMENT_PASSED
