"""A patient's whole record as FHIR resources, for ``Patient/<id>/$everything``.

``patient_everything`` reads through the access functions of each app (the patient through
``patients.selectors.patient_for`` with clinical detail, appointments through
``scheduling.selectors.appointments_visible_to``, sessions through
``infusions.selectors.sessions_visible_to``), in a fixed number of queries however much
the patient has: one per kind of record.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from infusions.models import DoseAdministration, EsketamineDevice, VitalsReading
from infusions.selectors import sessions_visible_to
from interop.fhir.care import (
    appointment_resource,
    esketamine_administration_resource,
    medication_administration_resource,
)
from interop.fhir.codes import Code
from interop.fhir.common import JSON, instant
from interop.fhir.observations import (
    body_height_observation,
    measurement_vital_signs,
    reading_vital_signs,
    survey_resources,
    vital_sign_observations,
)
from interop.fhir.patient import (
    condition_resources,
    contact_consent_resources,
    diagnosis_codes,
    patient_resource,
    treatment_consent_resource,
)
from patients.models import (
    CommunicationConsent,
    ConsentSignature,
    Measurement,
    Patient,
    QuestionnaireResponse,
)
from patients.selectors import patient_for
from scheduling.models import Appointment
from scheduling.selectors import appointments_visible_to


@dataclass(frozen=True)
class PatientRecords:
    """Everything exported of one patient, as loaded (each list one query)."""

    patient: Patient
    measurements: list[Measurement]
    questionnaires: list[QuestionnaireResponse]
    appointments: list[Appointment]
    readings: list[VitalsReading]
    administrations: list[DoseAdministration]
    esketamine_devices: list[EsketamineDevice]
    signatures: list[ConsentSignature]
    contact_consents: list[CommunicationConsent]
    icd10: dict[str, Code]  # the clinic's ICD-10-CM code per condition


def patient_records(user: Any, public_id: uuid.UUID | str) -> PatientRecords:
    """The records of the patient ``user`` may see with clinical detail: 403 without it
    (the front desk, clinic admins), 404 for no such patient."""
    patient = patient_for(user, public_id, clinical=True)
    sessions = sessions_visible_to(user).filter(appointment__patient=patient).values("pk")
    return PatientRecords(
        patient=patient,
        measurements=list(patient.measurements.order_by("taken_at", "id")),
        questionnaires=list(patient.questionnaires.order_by("completed_at", "id")),
        appointments=list(
            appointments_visible_to(user)
            .filter(patient=patient)
            .select_related(None)
            .select_related("location", "appointment_type", "clinician")
            .order_by("starts_at", "id")
        ),
        readings=list(
            VitalsReading.objects.filter(session__in=sessions).order_by("taken_at", "id")
        ),
        administrations=list(
            DoseAdministration.objects.filter(order__session__in=sessions)
            .select_related("order", "lot", "given_by", "correction")
            .order_by("recorded_at", "id")
        ),
        esketamine_devices=list(
            EsketamineDevice.objects.filter(dose__session__in=sessions)
            .select_related("dose__given_by", "lot")
            .order_by("dose__given_at", "dose_id", "position")
        ),
        signatures=list(
            patient.consent_signatures.select_related("document").order_by("signed_at", "id")
        ),
        contact_consents=list(contact_consents_in_order(patient.contact_consents.all())),
        icd10=diagnosis_codes(),
    )


def contact_consents_in_order(
    consents: QuerySet[CommunicationConsent],
) -> QuerySet[CommunicationConsent]:
    """The order ``contact_consent_resources`` needs: per patient and channel, oldest first."""
    return consents.order_by("patient_id", "channel", "recorded_at", "id")


def patient_resources(records: PatientRecords) -> Iterator[JSON]:
    """Every resource of the patient, the Patient first."""
    patient = records.patient
    key = patient.public_id
    yield patient_resource(patient)
    yield from condition_resources(patient, records.icd10)
    height = body_height_observation(patient)
    if height is not None:
        yield height
    for measurement in records.measurements:
        yield from vital_sign_observations(measurement_vital_signs(measurement), key)
    for reading in records.readings:
        yield from vital_sign_observations(reading_vital_signs(reading), key)
    for response in records.questionnaires:
        yield from survey_resources(response, key)
    for appointment in records.appointments:
        yield appointment_resource(appointment, key)
    for administration in records.administrations:
        yield medication_administration_resource(administration, key)
    for device in records.esketamine_devices:
        yield esketamine_administration_resource(device, key)
    for signature in records.signatures:
        yield treatment_consent_resource(signature, key)
    yield from contact_consent_resources(records.contact_consents, key)


def everything_bundle(records: PatientRecords, base_url: str) -> JSON:
    """The searchset Bundle ``$everything`` answers with: the Patient as the match, every
    other resource included, each under its full URL on this server (``base_url`` is the
    FHIR base, e.g. "https://clinic.example/fhir/R4")."""
    entries = []
    for resource in patient_resources(records):
        kind = resource["resourceType"]
        entries.append(
            {
                "fullUrl": f"{base_url}/{kind}/{resource['id']}",
                "resource": resource,
                "search": {"mode": "match" if kind == "Patient" else "include"},
            }
        )
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": instant(timezone.now())},
        "type": "searchset",
        "total": 1,
        "link": [
            {
                "relation": "self",
                "url": f"{base_url}/Patient/{records.patient.public_id}/$everything",
            }
        ],
        "entry": entries,
    }
