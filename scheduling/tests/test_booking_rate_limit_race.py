"""The online booking rate limits hold when many bookings arrive at the same instant.

Each attempt posts the real booking form in its own thread, with its own database
connection, released together by a barrier, against the cache the site runs with: the
file cache (no REDIS_URL) and Redis. Exactly the limit's worth of bookings is made and
every other attempt is refused with the usual message; none is a 500.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client

from clinic.models import Location
from scheduling.models import Appointment
from scheduling.tests.factories import clinic_location
from scheduling.tests.test_booking import at, next_week
from scheduling.tests.test_public_booking import details_url, form_data

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20


@pytest.fixture(
    params=[
        "file",
        pytest.param("redis", marks=pytest.mark.redis),
    ]
)
def shared_cache(request, settings, tmp_path):
    """A cache of this test's own, of the kind the site is configured with."""
    if request.param == "file":
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(tmp_path / "cache"),
            }
        }
    else:  # the root conftest skips this without REDIS_URL
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": os.environ["REDIS_URL"],
                "KEY_PREFIX": f"race-{uuid.uuid4().hex}",
            }
        }
    return request.param


@pytest.fixture
def riverside(phil) -> Location:
    return clinic_location(name="Riverside", staff=[phil], chairs=1, phone="+13125550100")


def race(location: Location, attempts: list[dict]) -> list:
    """Post one booking form per attempt, each in its own thread, all at the same instant."""
    barrier = threading.Barrier(len(attempts))
    responses = [None] * len(attempts)

    def submit(index: int, data: dict, remote_addr: str) -> None:
        try:
            client = Client(raise_request_exception=False)
            barrier.wait(timeout=30)
            responses[index] = client.post(details_url(location), data, REMOTE_ADDR=remote_addr)
        finally:
            connection.close()

    threads = [
        threading.Thread(target=submit, args=(index, attempt["data"], attempt["remote_addr"]))
        for index, attempt in enumerate(attempts)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return responses


def own_time(location: Location, number: int):
    """A free time of its own for attempt ``number``, so none is refused as taken."""
    return at(location, next_week(location) + timedelta(days=number // 8), 9 + number % 8)


def test_bookings_from_one_address_at_once_stop_at_the_hourly_limit(
    shared_cache, riverside, settings
):
    limit = settings.BOOKING_LIMIT_PER_IP_PER_HOUR
    attempts = [
        {
            "remote_addr": "198.51.100.7",
            "data": form_data(
                own_time(riverside, number),
                email=f"visitor{number}@example.com",
                mobile=f"+131255501{number:02d}",
            ),
        }
        for number in range(THREADS)
    ]

    responses = race(riverside, attempts)

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {302: limit, 429: THREADS - limit}, statuses
    assert Appointment.objects.count() == limit
    refused = next(response for response in responses if response.status_code == 429)
    assert (
        f"There have been {limit} booking attempts from your internet connection in the last "
        "hour" in refused.content.decode()
    )


def test_bookings_for_one_email_at_once_stop_at_the_daily_limit(shared_cache, riverside, settings):
    limit = settings.BOOKING_LIMIT_PER_CONTACT_PER_DAY
    attempts = [
        {
            "remote_addr": f"203.0.113.{number + 1}",
            "data": form_data(
                own_time(riverside, number),
                email="same.person@example.com",
                mobile=f"+131255502{number:02d}",
            ),
        }
        for number in range(THREADS)
    ]

    responses = race(riverside, attempts)

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {302: limit, 429: THREADS - limit}, statuses
    assert Appointment.objects.count() == limit
    refused = next(response for response in responses if response.status_code == 429)
    assert (
        f"This email address or mobile number has been used for {limit} booking attempts in "
        "the last 24 hours" in refused.content.decode()
    )
