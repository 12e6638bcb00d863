"""Personas only the clinic tests need, beside those of the root conftest.py."""

from __future__ import annotations

import pytest

from clinic.models import User
from clinic.roles import Role
from conftest import make_staff


@pytest.fixture
def mara(db) -> User:
    """Mara, the medical director: a physician and a clinic admin (a "physician-admin"),
    the only kind of admin who may grant the physician and nurse roles."""
    return make_staff("mara@clinic.test", "Mara Director", Role.PHYSICIAN, Role.CLINIC_ADMIN)
