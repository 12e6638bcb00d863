"""A patient with something of every kind the FHIR export writes, and the check that every
resource the tests produce is valid FHIR (``fhir.resources``' R4B models, the R4-compatible
release of the FHIR models; R4B changed none of the resources exported here)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from fhir.resources.R4B import get_fhir_model_class

from clinic.models import Location, User
from infusions.ledger import lot_receive
from infusions.models import DoseAdministration, InfusionSession, Lot
from infusions.sessions import session_for_appointment
from infusions.tests.factories import (
    SUPPLIER,
    appointment_follows,
    dea_registered,
    signed_order,
    vitals_reading,
)
from patients.models import Channel, Patient, ScreeningResult
from patients.questionnaires import definition_for
from patients.tests.factories import (
    CommunicationConsentFactory,
    MeasurementFactory,
    PatientFactory,
    QuestionnaireResponseFactory,
)
from scheduling.tests.test_booking import book, cleared_for_infusions, next_week, riverside_for


def valid(resource: dict[str, Any]) -> Any:
    """``resource`` read by its FHIR model: raises (and the test fails) when it is not
    valid FHIR, and gives the model for a test to look into."""
    model = get_fhir_model_class(resource["resourceType"])
    return model.model_validate(resource)


def all_valid(resources: list[dict[str, Any]]) -> list[Any]:
    return [valid(resource) for resource in resources]


@pytest.fixture
def riverside(nina, phil) -> Location:
    return riverside_for(nina, phil)


@pytest.fixture
def lot(nina, riverside) -> Lot:
    return lot_receive(
        actor=nina,
        location=dea_registered(riverside),
        product_name="Ketamine HCl injection 50 mg/mL",
        concentration_mg_per_ml="50",
        container_volume_ml="10",
        containers_received=1,
        lot_number="K-001",
        expiry_date=riverside.local_now().date() + timedelta(days=365),
        supplier="Hospira",
        **SUPPLIER,
        invoice_number="INV-1",
    )


def given_infusion(
    nina: User, phil: User, patient: Patient, location: Location, lot: Lot, *, days: int = 0
) -> InfusionSession:
    """An infusion ``days`` after next week's, running, with a reading and 40 mg given (the
    rows written straight, as ``infusions.tests.factories`` does)."""
    appointment = book(
        nina, patient, location, "infusion", hour=9, day=next_week(location) + timedelta(days=days)
    )
    session = session_for_appointment(appointment=appointment, actor=nina)
    session.state = InfusionSession.State.INFUSING
    session.started_at = appointment.starts_at
    session.save(update_fields=["state", "started_at"])
    appointment_follows(session)
    vitals_reading(session, nina, phase="infusing")
    order = signed_order(session, phil)
    DoseAdministration.objects.create(
        order=order,
        lot=lot,
        drawn_mg=Decimal(40),
        administered_mg=Decimal(40),
        wasted_mg=Decimal(0),
        given_by=nina,
        recorded_at=timezone.now(),
    )
    return session


@pytest.fixture
def amara(phil) -> Patient:
    """A patient with a full record before any infusion: conditions (coded and not),
    contact details, a consultation's measurements, three questionnaires and the pain
    rating, consent to email and a withdrawn consent to texts, and the treatment consent."""
    patient = PatientFactory(
        legal_first_name="Amara",
        legal_last_name="Osei",
        preferred_name="Mara",
        conditions=["trd", "ptsd", "sud"],
        address_line1="12 Elm Street",
        city="Chicago",
        region="IL",
        postal_code="60601",
        emergency_contact_name="Kofi Osei",
        emergency_contact_relationship="Brother",
        emergency_contact_phone="+13125550199",
        height_cm=Decimal("168.0"),
        weight_kg=Decimal("72.5"),
    )
    measurement = MeasurementFactory(patient=patient)
    for instrument, answer in (("phq9", 2), ("gad7", 1), ("pcl5", 2)):
        QuestionnaireResponseFactory(
            patient=patient,
            instrument=instrument,
            answers=dict.fromkeys(definition_for(instrument).item_keys, answer),
        )
    QuestionnaireResponseFactory(patient=patient, instrument="pain_nrs")
    earlier = timezone.now() - timedelta(days=3)
    CommunicationConsentFactory(patient=patient, channel=Channel.SMS, recorded_at=earlier)
    CommunicationConsentFactory(patient=patient, channel=Channel.SMS, granted=False)
    CommunicationConsentFactory(patient=patient, channel=Channel.EMAIL)
    cleared_for_infusions(phil, patient)
    # The approval stands on this measurement and PHQ-9 (else it would be stale).
    ScreeningResult.objects.filter(patient=patient).update(
        measurement=measurement, phq9=patient.questionnaires.get(instrument="phq9")
    )
    return patient
