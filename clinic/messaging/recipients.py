"""What the outbox needs to know about patients, provided by the app that keeps them.

The patient record and its consent history live in the ``patients`` app, a layer above the
base (the layer picture in pyproject.toml), so ``clinic.messaging`` never imports it. The
patients app registers one ``PatientDirectory`` instead, from its ``AppConfig.ready``
(``patients.messaging_hooks``), and the outbox asks it:

- who a number belongs to, when a STOP text comes in (``clinic.messaging.inbound``);
- whose unsubscribe link was opened (``clinic.messaging.unsubscribe``);
- whether the patient currently consents to a channel, right before sending
  (``clinic.messaging.rules``), or which of a batch's patients do (``clinic.messaging.outbox``);
- to record that the patient withdrew consent themselves (``clinic.messaging.opt_out``).

``patient_directory()`` raises ``ImproperlyConfigured`` while nothing is registered.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Protocol

from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest

from clinic.models import Location


class PatientRecord(Protocol):
    """What the outbox reads of a patient (a ``patients.models.Patient``)."""

    pk: Any
    public_id: uuid.UUID
    preferred_location: Location | None


@dataclass(frozen=True)
class PatientDirectory:
    """The patients app's answers to the outbox's questions (see the module docstring)."""

    # The patients whose mobile number is exactly ``number`` (E.164), oldest record first,
    # each with its preferred location selected. One query.
    patients_with_mobile: Callable[[str], list[PatientRecord]]
    # The patient with this public id, or None. One query.
    patient_with_public_id: Callable[[uuid.UUID], PatientRecord | None]
    # Whether the patient's latest consent choice on ``channel`` is "granted" (no choice on
    # record is no consent). Called as ``consent_granted(patient_id, channel)``. One query.
    consent_granted: Callable[[int, str], bool]
    # Record that the patient withdrew consent to ``channel`` themselves (no staff actor),
    # under a lock on the patient, unless it is withdrawn already; returns whether it was
    # withdrawn now. Called as ``consent_withdrawn(patient, channel, method, request)``
    # inside the caller's transaction.
    consent_withdrawn: Callable[[PatientRecord, str, str, HttpRequest | None], bool]
    # Which of the patients (ids) currently consent to ``channel``, as ``consent_granted``
    # would say of each. Called as ``patients_consenting(patient_ids, channel)``. One query.
    # Without it, ``consenting`` asks ``consent_granted`` once per patient.
    patients_consenting: Callable[[Collection[int], str], set[int]] | None = None

    def consenting(self, patient_ids: Collection[int], channel: str) -> set[int]:
        """The patients among ``patient_ids`` whose latest choice on ``channel`` is
        "granted"."""
        if not patient_ids:
            return set()
        if self.patients_consenting is not None:
            return self.patients_consenting(patient_ids, channel)
        granted = self.consent_granted
        return {patient_id for patient_id in patient_ids if granted(patient_id, channel)}


_directory: PatientDirectory | None = None


def register_patient_directory(directory: PatientDirectory) -> None:
    """Make ``directory`` the one the outbox asks (the patients app, once, at start-up)."""
    global _directory
    if _directory is not None and _directory != directory:
        raise ValueError("A patient directory is registered already: there can be only one.")
    _directory = directory


def patient_directory() -> PatientDirectory:
    """The registered directory, or ImproperlyConfigured saying how to register one."""
    if _directory is None:
        raise ImproperlyConfigured(
            "No patient directory is registered with the outbox: add the patients app to "
            "INSTALLED_APPS (its AppConfig.ready calls "
            "clinic.messaging.recipients.register_patient_directory)."
        )
    return _directory
