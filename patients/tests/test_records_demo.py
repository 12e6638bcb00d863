"""The demo patients that ``seed_demo`` adds."""

from __future__ import annotations

from clinic.models import AuditEvent
from patients.demo import DEMO_PATIENTS, seed_demo_patients
from patients.models import Patient, PatientStatus, ScreeningDecision


def test_it_creates_the_demo_patients_once(db):
    assert seed_demo_patients() == len(DEMO_PATIENTS)
    events = AuditEvent.objects.count()

    assert seed_demo_patients() == 0

    assert Patient.objects.count() == len(DEMO_PATIENTS)
    assert AuditEvent.objects.count() == events
    assert all(patient.email.endswith("@example.com") for patient in Patient.objects.all())


def test_the_demo_has_patients_at_several_stages(db):
    seed_demo_patients()

    statuses = set(Patient.objects.values_list("status", flat=True))
    assert {
        PatientStatus.CONSULTATION_REQUESTED,
        PatientStatus.INTAKE_IN_PROGRESS,
        PatientStatus.AWAITING_DECISION,
    } <= statuses
    rivera = Patient.objects.get(email="jordan.rivera@example.com")
    assert rivera.contact_consents.count() == 2
    okonkwo = Patient.objects.get(email="samuel.okonkwo@example.com")
    assert okonkwo.measurements.count() == 1
    assert okonkwo.questionnaires.get().item9_positive
    assert okonkwo.screenings.exists()


def test_with_a_physician_the_demo_has_decisions_too(db, phil):
    seed_demo_patients()
    seed_demo_patients(physician=phil)
    seed_demo_patients(physician=phil)

    decisions = dict(ScreeningDecision.objects.values_list("patient__legal_last_name", "decision"))
    assert decisions == {"Okonkwo": "approve", "Kowalski": "defer"}
    statuses = dict(Patient.objects.values_list("legal_last_name", "status"))
    assert (statuses["Okonkwo"], statuses["Kowalski"]) == ("approved", "deferred")
