"""Fictional demo patients for ``manage.py seed_demo``.

Every name, date and number here is invented: emails are @example.com and mobiles are in
the +1 555-01xx range kept for fiction. Patients are looked up by email first, so running
it again adds nothing. Everything goes through the services, so the demo records have
the same audit trail and screening results as real ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from django.db import transaction

from clinic.models import Location, User
from patients.models import Patient, PatientStatus, ScreeningDecision
from patients.services.contact_consent import contact_consent_record
from patients.services.details import patient_create, patient_set_status
from patients.services.measurements import measurement_record
from patients.services.questionnaires import questionnaire_record


@dataclass(frozen=True)
class DemoVitals:
    systolic: int
    diastolic: int
    heart_rate: int
    spo2: int
    weight_kg: Decimal


@dataclass(frozen=True)
class DemoPatient:
    first: str
    last: str
    born: date
    sex: str
    conditions: list[str]
    location: str
    status: PatientStatus = PatientStatus.CONSULTATION_REQUESTED
    preferred: str = ""
    sms: bool | None = None  # None: never asked
    email_consent: bool | None = True
    vitals: DemoVitals | None = None
    phq9: list[int] = field(default_factory=list)  # the nine answers, for a baseline
    # With a physician to decide: (decision, reason, what is needed first)
    decision: tuple[str, str, str] | None = None
    # With a physician: the follow-up they record of the patient's open safety alerts
    # (PHQ-9 item 9 above 0 raises one), before the decision that mentions it.
    safety_follow_up: str = ""

    @property
    def email(self) -> str:
        return f"{self.first}.{self.last}@example.com".lower()


DEMO_PATIENTS = [
    DemoPatient(
        "Jordan",
        "Rivera",
        date(1984, 3, 27),
        "female",
        ["trd"],
        "Riverside",
        preferred="Jo",
        sms=True,
    ),
    DemoPatient("Marcus", "Bellamy", date(1971, 8, 14), "male", ["ptsd", "mdd"], "Riverside"),
    DemoPatient(
        "Priya",
        "Natarajan",
        date(1993, 1, 5),
        "female",
        ["anxiety", "ocd"],
        "Mesa",
        status=PatientStatus.INTAKE_IN_PROGRESS,
        sms=False,
    ),
    DemoPatient(
        "Elena",
        "Vasquez",
        date(1966, 6, 30),
        "female",
        ["fibromyalgia"],
        "Mesa",
        status=PatientStatus.INTAKE_IN_PROGRESS,
        email_consent=None,
        sms=True,
    ),
    DemoPatient(
        "Samuel",
        "Okonkwo",
        date(1988, 10, 19),
        "male",
        ["trd", "suicidal_ideation"],
        "Riverside",
        status=PatientStatus.AWAITING_DECISION,
        sms=True,
        vitals=DemoVitals(126, 82, 76, 98, Decimal("81.4")),
        phq9=[2, 3, 2, 2, 1, 3, 2, 1, 1],
        decision=(
            "approve",
            "Eligible; item 9 followed up by phone the same day, safety plan in place.",
            "",
        ),
        safety_follow_up="Item 9 followed up by phone the same day: safety plan in place.",
    ),
    DemoPatient(
        "Hannah",
        "Kowalski",
        date(1979, 2, 11),
        "female",
        ["mdd"],
        "Mesa",
        status=PatientStatus.AWAITING_DECISION,
        vitals=DemoVitals(152, 94, 88, 97, Decimal("68.0")),
        phq9=[2, 2, 1, 2, 1, 2, 1, 0, 0],
        decision=(
            "defer",
            "Blood pressure above the review threshold at consultation.",
            "Two home readings below 140/90, or a letter from her primary care physician.",
        ),
    ),
    DemoPatient(
        "Theo",
        "Lindqvist",
        date(1995, 12, 2),
        "male",
        ["ptsd"],
        "Riverside",
        status=PatientStatus.AWAITING_DECISION,
        sms=True,
        vitals=DemoVitals(118, 76, 64, 99, Decimal("77.2")),
        phq9=[1, 2, 2, 1, 0, 1, 2, 0, 0],
    ),
    DemoPatient(
        "Grace",
        "Adeyemi",
        date(1958, 4, 23),
        "female",
        ["crps", "neuropathic_pain"],
        "Mesa",
        preferred="Gigi",
        email_consent=False,
        sms=True,
    ),
]


@transaction.atomic
def seed_demo_patients(physician: User | None = None) -> int:
    """Create the demo patients that do not exist yet; returns how many were created.

    With a ``physician`` (the demo physician account), patients whose demo data has a
    decision and who have none yet get it, so the demo shows approved and deferred
    patients too; before it, the physician records the follow-up of the safety alert a
    patient's PHQ-9 raised, as the decision's reason says was done. The alert's urgent
    on-call email is queued when the alert is raised (at the patient's creation); when the
    follow-up is recorded in the same run, as ``seed_demo`` does, both commit together and
    the outbox skips the email ("not wanted") instead of sending it.
    """
    locations = {location.name: location for location in Location.objects.all()}
    created = 0
    for demo in DEMO_PATIENTS:
        patient = Patient.objects.filter(email__iexact=demo.email).first()
        if patient is None:
            patient = _create(demo, locations.get(demo.location))
            created += 1
        if physician is not None and demo.vitals is not None and not patient.intakes.exists():
            _intake(patient, physician)
        if physician is not None and demo.safety_follow_up:
            _follow_up_safety_alerts(patient, demo.safety_follow_up, physician)
        if physician is not None and demo.decision is not None:
            _decide(patient, demo, physician)
    return created


# An unremarkable intake, as a clinician would enter it at the consultation.
DEMO_INTAKE: dict[str, Any] = {
    "hypertension": "no",
    "heart_disease": "none",
    "aneurysm_or_avm": "no",
    "intracranial_bleeding": "no",
    "raised_icp_or_iop": "no",
    "liver_disease": "none",
    "seizures": "no",
    "other_medical": "",
    "depression": "yes",
    "bipolar": "no",
    "mania_now": "no",
    "psychosis_history": "no",
    "psychosis_now": "no",
    "suicidal_thoughts": "no",
    "antidepressant_trials": 3,
    "psychotherapy": "yes",
    "ect": "no",
    "tms": "no",
    "alcohol": "past",
    "cannabis": "none",
    "street_stimulants": "none",
    "opioids": "none",
    "ketamine_misuse": "no",
    "substance_use_disorder": "none",
    "remission_since": None,
    "takes_medicines": "no",
    "allergy_ketamine": "no",
    "other_allergies": "",
    "pregnant": "no",
    "breastfeeding": "no",
    "treatment_goals": "Feel well enough to get back to work and family life.",
}


# The demo patients' medicines: an SSRI now, and one antidepressant tried before.
DEMO_MEDICATIONS = [
    {
        "drug_key": "sertraline",
        "strength_mg": "100",
        "units_each_time": "1",
        "frequency": "once_daily",
        "status": "current",
    },
    {"drug_key": "escitalopram", "status": "stopped"},
]


def _intake(patient: Patient, clinician: User) -> None:
    from patients.services.intake import intake_submit

    answers = dict(DEMO_INTAKE) | {"takes_medicines": "yes"}
    if patient.sex_at_birth == "male":
        del answers["pregnant"], answers["breastfeeding"]
    intake_submit(
        patient=patient, answers=answers, medications=DEMO_MEDICATIONS, entered_by=clinician
    )


def _create(demo: DemoPatient, location: Location | None) -> Patient:
    number = DEMO_PATIENTS.index(demo)
    patient = patient_create(
        actor=None,
        legal_first_name=demo.first,
        legal_last_name=demo.last,
        preferred_name=demo.preferred,
        date_of_birth=demo.born,
        sex_at_birth=demo.sex,
        email=demo.email,
        mobile=f"+1212555{150 + number:04d}",
        city=location.city if location else "",
        region=location.region if location else "",
        preferred_location=location,
        conditions=demo.conditions,
        referring_clinician="Dr. Avery Chen, Eastside Family Practice" if number % 3 == 0 else "",
    )
    for channel, granted in (("email", demo.email_consent), ("sms", demo.sms)):
        if granted is not None:
            contact_consent_record(
                actor=None,
                patient=patient,
                channel=channel,
                granted=granted,
                method="online booking form",
                wording="I agree to receive appointment messages from the clinic this way.",
            )
    if demo.vitals is not None:
        vitals = demo.vitals
        measurement_record(
            actor=None,
            patient=patient,
            systolic=vitals.systolic,
            diastolic=vitals.diastolic,
            heart_rate=vitals.heart_rate,
            spo2=vitals.spo2,
            weight_kg=vitals.weight_kg,
        )
    if demo.phq9:
        questionnaire_record(
            actor=None,
            patient=patient,
            instrument="phq9",
            answers={f"q{item}": value for item, value in enumerate(demo.phq9, 1)},
        )
    if demo.status != patient.status:
        patient = patient_set_status(actor=None, patient=patient, status=demo.status)
    return patient


def _follow_up_safety_alerts(patient: Patient, note: str, clinician: User) -> None:
    from patients.services.safety import safety_alert_resolve

    for alert in patient.safety_alerts.open():
        safety_alert_resolve(actor=clinician, alert=alert, follow_up_note=note)


def _decide(patient: Patient, demo: DemoPatient, physician: User) -> None:
    # Imported here, like every caller of the screening services in this package.
    from patients.services.screening import decision_record, screening_latest

    screening = screening_latest(patient)
    if screening is None or patient.decisions.exists():
        return
    decision, reason, needed = demo.decision or ("", "", "")
    if decision == ScreeningDecision.Decision.APPROVE and screening.outcome == "contraindicated":
        return  # the demo does not invent overrides of contraindications
    decision_record(
        patient=patient,
        screening=screening,
        decision=decision,
        reason=reason,
        needed=needed,
        actor=physician,
    )
