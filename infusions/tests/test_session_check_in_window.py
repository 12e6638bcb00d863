"""The session screen offers "Check in" only when the check-in would be allowed: before the
appointment's day, or before its check-in window opens, the button is disabled and the
clock guard's own reason is shown next to it."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.urls import reverse

from infusions.models.sessions import InfusionSessionState
from infusions.tests.factories import infusion_session
from scheduling.models import AppointmentStatus
from tests.clock import travel_to

S = InfusionSessionState
CHECK_IN_FORM = 'name="to_state" value="checked_in"'


@pytest.fixture
def session(nina, phil):
    return infusion_session(nina, phil, hour=9)


def local(session, day_offset: int, hour: int, minute: int = 0) -> datetime:
    """``hour``:``minute`` on the location's clock, ``day_offset`` days from the appointment."""
    tz = session.appointment.location.tz
    day = session.appointment.starts_at.astimezone(tz).date() + timedelta(days=day_offset)
    return datetime.combine(day, time(hour, minute), tzinfo=tz)


def session_page(client, user, session) -> str:
    client.force_login(user)
    response = client.get(reverse("infusions:session", args=[session.public_id]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_evening_before_check_in_is_disabled_with_the_reason(client, nina, session):
    travel_to(local(session, -1, 20))

    page = session_page(client, nina, session)

    assert CHECK_IN_FORM not in page
    assert 'disabled aria-describedby="move-checked_in-refusal"' in page
    assert 'data-testid="move-checked_in-refusal">The appointment is on ' in page
    assert "patients check in on the day of their appointment" in page


def test_before_the_check_in_window_the_reason_says_when_it_opens(client, nina, session, settings):
    settings.CHECK_IN_EARLY_MINUTES = 60
    travel_to(local(session, 0, 7, 30))

    page = session_page(client, nina, session)

    assert CHECK_IN_FORM not in page
    assert "It&#x27;s too early to check in" in page
    assert "check-in opens 60 minutes before, at 08:00." in page


def test_on_the_day_the_check_in_button_is_offered(client, nina, session, settings):
    settings.CHECK_IN_EARLY_MINUTES = 60
    travel_to(local(session, 0, 8, 5))

    page = session_page(client, nina, session)

    assert CHECK_IN_FORM in page
    assert 'data-testid="move-checked_in">Check in<' in page
    assert 'data-testid="move-checked_in-refusal"' not in page


def test_the_check_in_itself_is_still_refused_the_evening_before(client, nina, session):
    travel_to(local(session, -1, 20))
    client.force_login(nina)

    response = client.post(
        reverse("infusions:session-move", args=[session.public_id]),
        {"to_state": S.CHECKED_IN},
        follow=True,
    )

    session.refresh_from_db()
    session.appointment.refresh_from_db()
    assert session.state == S.SCHEDULED
    assert session.appointment.status == AppointmentStatus.BOOKED
    assert "patients check in on the day of their appointment" in response.content.decode()
