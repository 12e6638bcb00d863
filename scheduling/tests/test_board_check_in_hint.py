"""The day board's "Next: check in" waits, like its "Check in" button, until the clock
guard (``scheduling.services.status_rules.untimely_refusal``) would let the check-in through."""

from __future__ import annotations

from datetime import timedelta

import pytest

from clinic.models import Location
from scheduling.models import AppointmentStatus
from scheduling.tests.factories import AppointmentFactory, appointment_type
from scheduling.tests.test_booking import at, next_week, riverside_for
from tests.clock import travel_to


@pytest.fixture
def riverside(nina, phil) -> Location:
    return riverside_for(nina, phil, chairs=1)


def card(client, user, location, day):
    client.force_login(user)
    response = client.get(f"/staff/schedule/?location={location.public_id}&date={day.isoformat()}")
    (entry,) = response.context["board"].chair_entries
    return entry


@pytest.mark.parametrize(
    ("when", "step", "actions"),
    [
        (lambda day: (day - timedelta(days=1), 20, 0), "", []),  # the evening before
        (lambda day: (day, 7, 30), "", []),  # before the window (60 minutes, from 8:00)
        (lambda day: (day, 8, 5), "Next: check in", ["check-in"]),
    ],
    ids=["evening-before", "too-early", "window-open"],
)
def test_next_check_in_shows_only_once_check_in_is_open(
    client, nina, riverside, settings, when, step, actions
):
    settings.CHECK_IN_EARLY_MINUTES = 60
    day = next_week(riverside)
    AppointmentFactory(
        location=riverside,
        appointment_type=appointment_type("infusion"),
        chair=riverside.chairs.first(),
        starts_at=at(riverside, day, 9),
        status=AppointmentStatus.BOOKED,
    )
    on, hour, minute = when(day)
    travel_to(at(riverside, on, hour, minute))

    entry = card(client, nina, riverside, day)

    assert entry.session_step == step
    assert [action.slug for action in entry.actions] == actions
