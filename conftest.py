"""What every test shares: the named staff personas, and checks for outside services.

alice is the clinic admin, fran on the front desk, nina a nurse, phil a physician,
edie a content editor, and olga an ex-employee whose account is deactivated.
"""

from __future__ import annotations

import pytest

from clinic.env import Env
from clinic.models import User
from clinic.roles import Role
from tests.services import SERVICE_CHECKS

PASSWORD = "correct horse battery staple"


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
    import_module("content.migrations.0002_initial_content").load_initial_content(apps, None)
