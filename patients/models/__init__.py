"""Patients and what the clinic learns about them before treatment.

Clinical records here are never overwritten: a new intake is a new version, a new
screening run is a new result, a decision is followed by another decision. Identifiers
in URLs are ``public_id`` UUIDs; no name or date of birth ever appears in a URL or log.

Django finds an app's models in ``<app>.models``, so this package imports each of them.
"""

from patients.models.consent import ConsentDocument, ConsentSignature
from patients.models.medications import (
    Medication,
    MedicationReconciliation,
    MedicationStatus,
)
from patients.models.patient import (
    Channel,
    CommunicationConsent,
    Patient,
    PatientLink,
    PatientStatus,
    SexAtBirth,
)
from patients.models.records import (
    CheckIn,
    IntakeSubmission,
    Measurement,
    QuestionnaireResponse,
    SideEffect,
)
from patients.models.safety import ChartSafetyAlerts, SafetyAlert, SafetyAlertQuerySet
from patients.models.screening import ScreeningDecision, ScreeningOutcome, ScreeningResult

__all__ = [
    "Channel",
    "ChartSafetyAlerts",
    "CheckIn",
    "CommunicationConsent",
    "ConsentDocument",
    "ConsentSignature",
    "IntakeSubmission",
    "Measurement",
    "Medication",
    "MedicationReconciliation",
    "MedicationStatus",
    "Patient",
    "PatientLink",
    "PatientStatus",
    "QuestionnaireResponse",
    "SafetyAlert",
    "SafetyAlertQuerySet",
    "ScreeningDecision",
    "ScreeningOutcome",
    "ScreeningResult",
    "SexAtBirth",
    "SideEffect",
]
