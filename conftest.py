"""What every test shares: the named staff personas, checks for outside services, and
the clock.

alice is the clinic admin, fran on the front desk, nina a nurse, phil a physician,
edie a content editor, and olga an ex-employee whose account is deactivated.

With ``CHAIRSIDE_TEST_NOW`` set to an ISO 8601 moment with its UTC offset (for example
``2026-12-07T00:30:00+00:00``), the whole run starts at that moment and the clock ticks on
from there, in every pytest-xdist worker: run the suite at the hours when "today" differs
between UTC and a location's time zone, and on DST days, whenever you like.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import pytest

from clinic.env import Env
from clinic.models import User
from clinic.roles import Role
from tests.services import SERVICE_CHECKS

PASSWORD = "correct horse battery staple"
# Moving the clock inside a test (tests/clock.py): every travel is undone when it ends.
pytest_plugins = ["tests.clock"]
TEST_NOW = "CHAIRSIDE_TEST_NOW"
# Tests that start other processes (Celery workers) or drive a real browser: time-machine
# moves only this process's clock, so those would see two different "nows".
OTHER_CLOCKS = ("worker", "browser")
_travel = pytest.StashKey[Any]()


def frozen_now() -> datetime | None:
    """The moment CHAIRSIDE_TEST_NOW asks the run to start at, or None to use the real clock."""
    value = os.environ.get(TEST_NOW, "").strip()
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise pytest.UsageError(
            f"{TEST_NOW}={value!r} is not an ISO 8601 moment with a UTC offset; "
            "write it like 2026-12-07T23:30:00-07:00"
        )
    return moment


def pytest_configure(config: pytest.Config) -> None:
    moment = frozen_now()
    if moment is None:
        return
    # time-machine patches the clock at the C level (time.time, datetime.now, date.today,
    # and so Django's timezone.now), for the whole process. PostgreSQL's now() is not moved:
    # the application takes every "now" from Python, so that does not matter.
    import time_machine

    travel = time_machine.travel(moment, tick=True)
    travel.start()
    config.stash[_travel] = travel


def pytest_unconfigure(config: pytest.Config) -> None:
    travel = config.stash.get(_travel, None)
    if travel is not None:
        travel.stop()


def pytest_report_header(config: pytest.Config) -> str | None:
    moment = frozen_now()
    if moment is None:
        return None
    return (
        f"clock: {TEST_NOW}={moment.isoformat()} (ticking from there); "
        f"tests marked {' or '.join(OTHER_CLOCKS)} are deselected"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if frozen_now() is None:
        return
    keep, leave_out = [], []
    for item in items:
        other_clock = any(item.get_closest_marker(marker) for marker in OTHER_CLOCKS)
        (leave_out if other_clock else keep).append(item)
    if leave_out:
        config.hook.pytest_deselected(items=leave_out)
        items[:] = keep


def make_staff(email: str, full_name: str, *roles: Role, is_active: bool = True) -> User:
    return User.objects.create_user(
        email, PASSWORD, full_name=full_name, roles=list(roles), is_active=is_active
    )


@pytest.fixture
def alice(db) -> User:
    return make_staff("alice@clinic.test", "Alice Admin", Role.CLINIC_ADMIN)


@pytest.fixture
def fran(db) -> User:
    return make_staff("fran@clinic.test", "Fran Frontdesk", Role.FRONT_DESK)


@pytest.fixture
def nina(db) -> User:
    return make_staff("nina@clinic.test", "Nina Nurse", Role.NURSE)


@pytest.fixture
def phil(db) -> User:
    return make_staff("phil@clinic.test", "Phil Physician", Role.PHYSICIAN)


@pytest.fixture
def edie(db) -> User:
    return make_staff("edie@clinic.test", "Edie Editor", Role.CONTENT_EDITOR)


@pytest.fixture
def olga(db) -> User:
    return make_staff("olga@clinic.test", "Olga Former", Role.NURSE, is_active=False)


@pytest.fixture(autouse=True)
def _force_login_passes_the_second_factor(monkeypatch: pytest.MonkeyPatch) -> None:
    """``client.force_login(user)`` gives a session that has passed the second factor.

    Without it every page would send the personas whose role needs a second factor to set
    one up. Enforcement stays on: signing in through the login page asks for the code
    (tests/second_factor.py has the helpers), and so do the browser tests.
    """
    from django.test import Client

    from tests.second_factor import pass_second_factor

    force_login = Client.force_login

    def force_login_with_second_factor(self: Client, user: Any, backend: str | None = None):
        force_login(self, user, backend)
        pass_second_factor(self, user)

    monkeypatch.setattr(Client, "force_login", force_login_with_second_factor)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip (or with REQUIRE_SERVICES=1, fail) a test whose outside service is missing.

    Runs before the test's fixtures, so no browser is launched for a test that will skip.
    """
    require = Env().bool("REQUIRE_SERVICES", False)
    for marker, check in SERVICE_CHECKS.items():
        if item.get_closest_marker(marker) is None:
            continue
        reason = check()
        if reason is None:
            continue
        if require:
            pytest.fail(f"{reason} (REQUIRE_SERVICES=1 makes this a failure)", pytrace=False)
        pytest.skip(reason)


@pytest.fixture(autouse=True)
def _rows_seeded_by_data_migrations(request: pytest.FixtureRequest) -> None:
    """Put back the rows data migrations seed, for transactional tests.

    A transactional test (django_db(transaction=True), transactional_db, live_server) empties
    every table when it ends, so the next one would find no appointment types at all.
    """
    marker = request.node.get_closest_marker("django_db")
    transactional = (marker is not None and marker.kwargs.get("transaction")) or (
        {"transactional_db", "live_server"} & set(request.fixturenames)
    )
    if not transactional:
        return
    request.getfixturevalue("transactional_db")
    from importlib import import_module

    from django.apps import apps

    import_module("scheduling.migrations.0002_default_appointment_types").add_defaults(apps, None)
    import_module("scheduling.migrations.0007_spravato_session_type").add_spravato(apps, None)
    import_module("content.migrations.0002_initial_content").load_initial_content(apps, None)
    import_module("billing.migrations.0006_superbill_defaults").add_defaults(apps, None)
