"""Test data for infusion sessions: a session booked for today, and the records each step of
the lifecycle needs, written straight to the database.

These skip the services on purpose, for tests about something else (the lifecycle grid,
the board, the chart). Tests of the services themselves go through the services.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from clinic.models import Location, User
from clinic.roles import Role
from infusions.dea import dea_check_digit, registration_problem
from infusions.models import (
    DeaRegistration,
    Discharge,
    DoseOrder,
    InfusionSession,
    PreAssessment,
    VitalsReading,
)
from infusions.models.orders import DoseRoute
from infusions.models.preassessment import BloodPressureStatus, PregnancyStatus
from infusions.models.readings import ReadingSource, VitalsPhase
from infusions.sessions import session_for_appointment
from patients.models import Patient
from scheduling.models import Appointment, AppointmentStatus
from scheduling.tests.factories import StaffFactory
from scheduling.tests.test_booking import book, cleared_for_infusions, riverside_for
from tests.clock import travel_to

WEIGHT_KG = Decimal("80.0")
# The supplier's address and DEA number a receipt records (21 CFR 1304.22(c)): a
# distributor (P), S for its name, 123456 and the check digit 3.
SUPPLIER = {
    "supplier_address": "400 Depot Road, Memphis, TN 38118",
    "supplier_dea_number": "PS1234563",
}
# The appointment status a session state written straight to the database brings along (the
# database refuses, at commit, an infusion appointment that disagrees with its session).
APPOINTMENT_STATUS_IN = {
    "scheduled": AppointmentStatus.BOOKED,
    "checked_in": AppointmentStatus.CHECKED_IN,
    "pre_assessment_passed": AppointmentStatus.CHECKED_IN,
    "infusing": AppointmentStatus.INFUSING,
    "paused": AppointmentStatus.INFUSING,
    "recovering": AppointmentStatus.RECOVERING,
    "stopped_early": AppointmentStatus.RECOVERING,
    "discharged": AppointmentStatus.DISCHARGED,
    "not_started": AppointmentStatus.CANCELLED,
}


def appointment_follows(session: InfusionSession) -> None:
    """Write the status matching ``session.state`` to its appointment, as the services do."""
    status = APPOINTMENT_STATUS_IN[session.state]
    fields = {"status": status}
    if status == AppointmentStatus.CANCELLED:
        fields["cancel_reason"] = "Infusion not started: test"
    Appointment.objects.filter(pk=session.appointment_id).update(**fields)
    session.appointment.status = status


def infusion_session(
    nurse: User,
    physician: User,
    *,
    patient: Patient | None = None,
    location: Location | None = None,
    hour: int = 9,
    kind: str = "infusion",
) -> InfusionSession:
    """A scheduled session for a cleared patient's infusion (or ``kind`` of appointment) at
    ``location`` (a new Riverside with ``nurse`` and ``physician`` on shift unless given),
    booked for next week; the
    clock then moves to ten minutes before it (``tests.clock``), when the patient may
    check in."""
    location = location or riverside_for(nurse, physician)
    patient = cleared_for_infusions(physician, patient)
    appointment = book(nurse, patient, location, kind, hour=hour)
    travel_to(appointment.starts_at - timedelta(minutes=10))
    return session_for_appointment(appointment=appointment, actor=nurse)


def vitals_reading(
    session: InfusionSession,
    by: User,
    *,
    phase: str = VitalsPhase.PRE,
    minutes_ago: int = 0,
    **values: int,
) -> VitalsReading:
    """A normal reading (120/80, HR 72, SpO2 98, RR 14, alert) unless ``values`` say else."""
    fields = {
        "systolic": 120,
        "diastolic": 80,
        "heart_rate": 72,
        "spo2": 98,
        "respiratory_rate": 14,
        "consciousness": 1,
    } | values
    return VitalsReading.objects.create(
        session=session,
        phase=phase,
        taken_at=timezone.now() - timedelta(minutes=minutes_ago),
        source=ReadingSource.MANUAL,
        recorded_by=by,
        **fields,
    )


def complete_pre_assessment(session: InfusionSession, nurse: User, **fields) -> PreAssessment:
    """Every pre-infusion check done and fine: the session may pass the pre-assessment."""
    now = timezone.now()
    defaults = {
        "identity_confirmed": True,
        "weight_kg": WEIGHT_KG,
        "weighed_at": now,
        "pregnancy_status": PregnancyStatus.NOT_APPLICABLE,
        "escort_confirmed": True,
        "escort_name": "Sam Escort",
        "escort_phone": "+13125550100",
        "last_ate_at": now - timedelta(hours=8),
        "vitals": vitals_reading(session, nurse),
        "bp_status": BloodPressureStatus.OK,
        "recorded_by": nurse,
    }
    return PreAssessment.objects.create(session=session, **(defaults | fields))


def signed_order(
    session: InfusionSession, physician: User, *, dose: str = "0.5", **fields
) -> DoseOrder:
    """A signed 0.5 mg/kg IV order over 40 minutes for an 80 kg patient (40 mg, 60 mg/h)."""
    defaults = {
        "route": DoseRoute.IV_INFUSION,
        "dose_mg_per_kg": Decimal(dose),
        "weight_kg": WEIGHT_KG,
        "duration_minutes": 40,
        "concentration_mg_per_ml": Decimal("0.4"),
        "total_mg": (Decimal(dose) * WEIGHT_KG).quantize(Decimal("0.1")),
        "rate_mg_per_h": (Decimal(dose) * WEIGHT_KG * 60 / 40).quantize(Decimal("0.1")),
        "rate_ml_per_h": (Decimal(dose) * WEIGHT_KG * 60 / 40 / Decimal("0.4")).quantize(
            Decimal("0.1")
        ),
        "volume_ml": (Decimal(dose) * WEIGHT_KG / Decimal("0.4")).quantize(Decimal("0.01")),
        "ordered_by": physician,
    }
    return DoseOrder.objects.create(session=session, **(defaults | fields))


def signed_discharge(session: InfusionSession, nurse: User, **fields) -> Discharge:
    """A complete discharge checklist signed by ``nurse``."""
    defaults = {
        "vitals_near_baseline": True,
        "alert_and_oriented": True,
        "aldrete_score": 10,
        "escort_present": True,
        "escort_name": "Sam Escort",
        "instructions_given": True,
        "signed_by": nurse,
    }
    return Discharge.objects.create(session=session, **(defaults | fields))


def dea_number(six_digits: str, prefix: str = "BR") -> str:
    """A well-formed DEA number: ``prefix``, the six digits and their check digit."""
    return f"{prefix}{six_digits}{dea_check_digit(six_digits)}"


def dea_registered(location: Location, registrant: User | None = None) -> Location:
    """``location`` with a current DEA registration (a new one, expiring in three years, to
    ``registrant`` or Rhea Registrant, a physician, unless it has one): the ledger refuses
    to receive or give ketamine at a location without one."""
    if registration_problem(location, location.local_now().date()):
        DeaRegistration.objects.create(
            location=location,
            number=dea_number(f"{location.pk % 1_000_000:06d}"),
            registrant=registrant
            or StaffFactory(
                email="rhea@clinic.test", full_name="Rhea Registrant", roles=[Role.PHYSICIAN]
            ),
            expires_on=location.local_now().date() + timedelta(days=3 * 365),
            recorded_by=registrant or User.objects.get(email="rhea@clinic.test"),
        )
    return location
