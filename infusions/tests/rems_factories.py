"""Test data for Spravato (esketamine) sessions, through the services: a session ready for its
dose (checked in, pre-infusion checks passed), the patient enrolled in the REMS, the location
certified and holding esketamine devices."""

from __future__ import annotations

from datetime import date, timedelta

from clinic.models import Location, User
from infusions.esketamine import (
    esketamine_dose_give,
    esketamine_lot_receive,
    rems_certify,
    rems_enrol,
)
from infusions.models import EsketamineDose, InfusionSession, Lot, RemsSettingCertification
from infusions.models.sessions import InfusionSessionState
from infusions.sessions import session_transition
from infusions.tests.factories import (
    SUPPLIER,
    complete_pre_assessment,
    dea_registered,
    infusion_session,
)
from patients.models import Patient

S = InfusionSessionState


def esketamine_stock(
    location: Location, nurse: User, *, devices: int = 12, lot_number: str = "SPR-2607"
) -> Lot:
    """``devices`` Spravato devices received at ``location`` (registered with the DEA)."""
    dea_registered(location)
    return esketamine_lot_receive(
        actor=nurse,
        location=location,
        devices=devices,
        product_name="Spravato (esketamine) nasal spray 28 mg device",
        lot_number=lot_number,
        expiry_date=location.local_now().date() + timedelta(days=365),
        supplier="Acme Pharma",
        invoice_number="INV-ESK-1",
        **SUPPLIER,
    )


def enrolled(patient: Patient, nurse: User) -> None:
    rems_enrol(
        actor=nurse,
        patient=patient,
        rems_patient_id="REMS-PT-0042",
        enrolled_on=date.today() - timedelta(days=14),
    )


def certified(location: Location, physician: User) -> None:
    rems_certify(
        actor=physician,
        location=location,
        certification_id="REMS-HCS-7781",
        certified_on=date.today() - timedelta(days=90),
    )


def esketamine_ready(
    nurse: User,
    physician: User,
    *,
    enrol: bool = True,
    certify: bool = True,
    location: Location | None = None,
    hour: int = 9,
) -> tuple[InfusionSession, Lot]:
    """An esketamine session (a Spravato session appointment) past its pre-infusion checks
    (BP 120/80), with stock, and (unless told) the patient enrolled and the location
    certified (a new Riverside unless given)."""
    session = infusion_session(nurse, physician, location=location, hour=hour, kind="spravato")
    location = session.appointment.location
    lot = esketamine_stock(location, nurse, lot_number="SPR-2607" if hour == 9 else f"SPR-{hour}")
    if enrol:
        enrolled(session.appointment.patient, nurse)
    if certify and not RemsSettingCertification.objects.filter(location=location).exists():
        certified(location, physician)
    session = session_transition(actor=nurse, session=session, to_state=S.CHECKED_IN)
    complete_pre_assessment(session, nurse)
    session = session_transition(actor=nurse, session=session, to_state=S.PRE_ASSESSMENT_PASSED)
    return session, lot


def dosed(
    nurse: User, physician: User, devices: int = 2, **where: object
) -> tuple[InfusionSession, EsketamineDose]:
    session, lot = esketamine_ready(nurse, physician, **where)
    dose = esketamine_dose_give(actor=nurse, session=session, devices=devices, lots=[lot] * devices)
    return session, dose
