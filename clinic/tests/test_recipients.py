"""The outbox's patient directory: the patients app registers it; without one, a clear error."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from clinic.messaging import recipients
from patients.messaging_hooks import PATIENT_DIRECTORY


def test_the_patients_app_registers_the_directory():
    assert recipients.patient_directory() is PATIENT_DIRECTORY


def test_without_a_directory_it_says_how_to_register_one(monkeypatch):
    monkeypatch.setattr(recipients, "_directory", None)
    with pytest.raises(ImproperlyConfigured, match="register_patient_directory"):
        recipients.patient_directory()


def test_a_second_different_directory_is_refused():
    other = recipients.PatientDirectory(
        patients_with_mobile=lambda number: [],
        patient_with_public_id=lambda public_id: None,
        consent_granted=lambda patient_id, channel: False,
        consent_withdrawn=lambda patient, channel, method, request: False,
    )
    with pytest.raises(ValueError, match="only one"):
        recipients.register_patient_directory(other)
