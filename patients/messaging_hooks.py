"""What the patients app tells the outbox about patients (``clinic.messaging.recipients``).

The outbox lives in the base, which imports no domain app; it asks these functions instead,
through the ``PATIENT_DIRECTORY`` that ``PatientsConfig.ready`` registers: who a number
belongs to (STOP texts), whose unsubscribe link was opened, whether a patient consents to a
channel, and recording a patient's own withdrawal of consent.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection

from django.http import HttpRequest

from clinic.messaging.recipients import PatientDirectory
from patients.models import CommunicationConsent, Patient
from patients.services.contact_consent import contact_consent_record


def patients_with_mobile(number: str) -> list[Patient]:
    return list(
        Patient.objects.filter(mobile=number).select_related("preferred_location").order_by("id")
    )


def patient_with_public_id(public_id: uuid.UUID) -> Patient | None:
    return Patient.objects.filter(public_id=public_id).first()


def consent_granted(patient_id: int, channel: str) -> bool:
    """The patient's latest consent choice on ``channel`` is "granted" (one query; no
    choice on record is no consent)."""
    latest = (
        CommunicationConsent.objects.filter(patient_id=patient_id, channel=channel)
        .order_by("-recorded_at", "-id")
        .values_list("granted", flat=True)
        .first()
    )
    return bool(latest)


def patients_consenting(patient_ids: Collection[int], channel: str) -> set[int]:
    """The patients among ``patient_ids`` whose latest consent choice on ``channel`` is
    "granted" (one query, the latest choice of each: ``consent_granted`` for many)."""
    latest = (
        CommunicationConsent.objects.filter(patient_id__in=patient_ids, channel=channel)
        .order_by("patient_id", "-recorded_at", "-id")
        .distinct("patient_id")
        .values_list("patient_id", "granted")
    )
    return {patient_id for patient_id, granted in latest if granted}


def consent_withdrawn(
    patient: Patient, channel: str, method: str, request: HttpRequest | None
) -> bool:
    """Record that the patient withdrew consent to ``channel`` themselves (no staff actor),
    unless it is withdrawn already; returns whether it was withdrawn now. Call it in a
    transaction: the patient's row stays locked until it ends."""
    locked = Patient.objects.select_for_update().get(pk=patient.pk)
    current = (
        locked.contact_consents.filter(channel=channel).order_by("-recorded_at", "-id").first()
    )
    # Checked under the patient's lock, so two clicks at once record one withdrawal (the
    # consent service refuses to record the state the channel is already in).
    withdrawn_now = current is None or current.granted
    if withdrawn_now:
        contact_consent_record(
            actor=None,
            patient=locked,
            channel=channel,
            granted=False,
            method=method,
            request=request,
        )
    return withdrawn_now


PATIENT_DIRECTORY = PatientDirectory(
    patients_with_mobile=patients_with_mobile,
    patient_with_public_id=patient_with_public_id,
    consent_granted=consent_granted,
    consent_withdrawn=consent_withdrawn,
    patients_consenting=patients_consenting,
)
