"""Moving the clock in a test: to the time of an appointment, or on by some minutes.

Clinical steps check the clock (check-in on the appointment's day, an infusion not ended
before its planned duration, a minimum recovery before discharge), so a test that walks a
session travels to the times a real day would have. ``travel_to`` starts a ticking
time-machine travel; every travel started in a test is undone when the test ends (the
autouse fixture below, loaded for the whole suite by the root conftest).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

_travels: list[time_machine.travel] = []


def travel_to(moment: datetime) -> None:
    """From now on in this test, the clock reads ``moment`` and ticks on."""
    travel = time_machine.travel(moment, tick=True)
    travel.start()
    _travels.append(travel)


def advance(minutes: float) -> None:
    """Move the clock ``minutes`` on."""
    travel_to(timezone.now() + timedelta(minutes=minutes))


@pytest.fixture(autouse=True)
def _clock_back_after_each_test() -> Iterator[None]:
    yield
    while _travels:
        _travels.pop().stop()
