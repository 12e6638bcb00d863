"""factory_boy factories for patient records, for tests in any app.

They write rows directly, without services, audit events or screening runs: use them to
set the scene, and call the services for what a test is about.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import factory
from django.utils import timezone

from patients.models import (
    Channel,
    CommunicationConsent,
    IntakeSubmission,
    Measurement,
    Patient,
    PatientStatus,
    QuestionnaireResponse,
    ScreeningDecision,
    ScreeningOutcome,
    ScreeningResult,
    SexAtBirth,
)
from patients.questionnaires import definition_for, score


class PatientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Patient

    legal_first_name = factory.Sequence(lambda n: f"Robin{n}")
    legal_last_name = factory.Sequence(lambda n: f"Example{n}")
    date_of_birth = date(1984, 3, 27)
    sex_at_birth = SexAtBirth.FEMALE
    email = factory.LazyAttribute(
        lambda p: f"{p.legal_first_name}.{p.legal_last_name}@example.com".lower()
    )
    mobile = factory.Sequence(lambda n: f"+1212555{n % 10000:04d}")
    city = "New York"
    conditions = factory.LazyFunction(lambda: ["trd"])
    status = PatientStatus.CONSULTATION_REQUESTED


class CommunicationConsentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CommunicationConsent

    patient = factory.SubFactory(PatientFactory)
    channel = Channel.EMAIL
    granted = True
    method = "online booking form"


class MeasurementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Measurement

    patient = factory.SubFactory(PatientFactory)
    systolic = 122
    diastolic = 78
    heart_rate = 70
    spo2 = 98
    weight_kg = Decimal("72.5")


class IntakeSubmissionFactory(factory.django.DjangoModelFactory):
    """An intake version; ``answers`` is a bare schema stamp unless a test gives some."""

    class Meta:
        model = IntakeSubmission

    patient = factory.SubFactory(PatientFactory)
    version = factory.Sequence(lambda n: n + 1)
    answers = factory.LazyFunction(lambda: {"schema_version": 1})


def _answers(instrument: str, value: int) -> dict[str, int]:
    return dict.fromkeys(definition_for(instrument).item_keys, value)


class QuestionnaireResponseFactory(factory.django.DjangoModelFactory):
    """A scored questionnaire; give ``answers`` (or use the default, every item 1) and the
    total, band and item 9 flag follow from them."""

    class Meta:
        model = QuestionnaireResponse
        exclude = ["scored"]

    patient = factory.SubFactory(PatientFactory)
    instrument = "phq9"
    context = QuestionnaireResponse.Context.BASELINE
    answers = factory.LazyAttribute(lambda r: _answers(r.instrument, 1))
    scored = factory.LazyAttribute(lambda r: score(r.instrument, r.answers))
    total = factory.LazyAttribute(lambda r: r.scored.total)
    band = factory.LazyAttribute(lambda r: r.scored.band)
    item9_positive = factory.LazyAttribute(lambda r: r.scored.item9_positive)


class ScreeningResultFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ScreeningResult

    patient = factory.SubFactory(PatientFactory)
    outcome = ScreeningOutcome.ELIGIBLE
    findings = factory.LazyFunction(list)
    ruleset_version = "test"


class ScreeningDecisionFactory(factory.django.DjangoModelFactory):
    """A decision on a screening result; pass ``decided_by`` (a physician persona)."""

    class Meta:
        model = ScreeningDecision

    patient = factory.SubFactory(PatientFactory)
    screening = factory.SubFactory(
        ScreeningResultFactory, patient=factory.SelfAttribute("..patient")
    )
    ruleset_version = factory.SelfAttribute("screening.ruleset_version")
    decision = ScreeningDecision.Decision.APPROVE
    reason = "No contraindications."
    decided_at = factory.LazyFunction(timezone.now)
