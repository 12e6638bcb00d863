"""The demo clinic's ketamine stock and an infusion to walk through, for ``manage.py
seed_demo`` (with DEBUG on).

- DEA registrations: each demo location without one is registered to the demo medical
  director by the same (they are also a clinic admin), with a made-up, well-formed number,
  since the ledger refuses to receive ketamine at a location without a current one.
- Stock: each demo location without any lot receives one (50 mg/mL, 50 mL: 2,500 mg),
  received by the demo nurse through ``lot_receive`` like any delivery, expiring in a year.
- An infusion: the demo patient approved for treatment (Samuel Okonkwo) signs the consent
  form on the clinic tablet if he has not, and gets an infusion at Riverside at the first
  free time after his Spravato session (below; infusions are at least
  ``COURSE_MIN_GAP_HOURS`` apart), unless he has one booked already, so a nurse can open the session
  from the schedule and take it from check-in to discharge.

- Spravato (esketamine): each demo location is certified as a REMS setting and receives 28 mg
  devices; Samuel Okonkwo is enrolled in the REMS and gets a Spravato session appointment (the
  chair kept for the dose and 2 hours of monitoring) at Mesa at
  the first free time from now (today when there is one).

Everything is looked up first, so running it again creates nothing; anything missing is
skipped quietly, and seeding never fails because of it.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from clinic.models import Location, User
from infusions.dea import dea_check_digit, dea_registration_record, latest_registration
from infusions.ledger import lot_receive
from infusions.models.sessions import SessionKind
from patients.models import ConsentSignature, Patient
from patients.services.consent import (
    consent_current_signature,
    consent_document_current,
    consent_sign,
)
from patients.services.screening import course_scheduling_allowed
from scheduling.availability import free_slots
from scheduling.models import AppointmentKind, AppointmentStatus, AppointmentType
from scheduling.services.book_and_reschedule import appointment_book
from scheduling.services.free_time import SlotTaken

DEMO_LOTS = {"Riverside": "RV-2611", "Mesa": "MS-2611"}
# Made up: B for a clinic, D for the demo director's last name, six digits, the check digit.
DEMO_DEA_DIGITS = {"Riverside": "261101", "Mesa": "261102"}
DEMO_REGISTRATION_YEARS = 3
DEMO_SUPPLIER_DEA = "PD2611019"  # made up: a distributor, D, 261101, check digit 9
DEMO_PATIENT_EMAIL = "samuel.okonkwo@example.com"
DEMO_INFUSION_LOCATION = "Riverside"
SEARCH_DAYS = 7


@transaction.atomic
def seed_demo_infusions() -> int:
    """Add the demo stock and infusion that are missing; returns how many records were
    created (0 the second time)."""
    nurse = User.objects.filter(email=f"nurse@{settings.DEMO_EMAIL_DOMAIN}", is_active=True).first()
    if nurse is None:
        return 0
    # The Spravato session first, so that it is today when a time is free: his IV infusion
    # then comes at the first free time at least the gap between infusions later.
    return (
        _seed_registrations() + _seed_lots(nurse) + _seed_esketamine(nurse) + _seed_infusion(nurse)
    )


def _seed_registrations() -> int:
    director = User.objects.filter(
        email=f"director@{settings.DEMO_EMAIL_DOMAIN}", is_active=True
    ).first()
    if director is None:
        return 0
    created = 0
    for location in Location.objects.filter(name__in=list(DEMO_DEA_DIGITS), is_active=True):
        if latest_registration(location) is not None:
            continue
        digits = DEMO_DEA_DIGITS[location.name]
        dea_registration_record(
            actor=director,
            location=location,
            number=f"BD{digits}{dea_check_digit(digits)}",
            registrant=director,
            expires_on=location.local_now().date() + timedelta(days=365 * DEMO_REGISTRATION_YEARS),
        )
        created += 1
    return created


def _seed_lots(nurse: User) -> int:
    created = 0
    for location in Location.objects.filter(name__in=list(DEMO_LOTS), is_active=True):
        if location.ketamine_lots.exists() or latest_registration(location) is None:
            continue
        lot_receive(
            actor=nurse,
            location=location,
            product_name="Ketamine HCl injection 50 mg/mL (demo)",
            concentration_mg_per_ml=Decimal(50),
            container_volume_ml=Decimal(10),
            containers_received=5,
            lot_number=DEMO_LOTS[location.name],
            expiry_date=location.local_now().date() + timedelta(days=365),
            supplier="Demo Pharmacy Supply",
            supplier_address="1 Warehouse Way, Memphis, TN 38118",
            supplier_dea_number=DEMO_SUPPLIER_DEA,
            invoice_number=f"DEMO-{DEMO_LOTS[location.name]}",
        )
        created += 1
    return created


def _seed_infusion(nurse: User) -> int:
    patient = Patient.objects.filter(email__iexact=DEMO_PATIENT_EMAIL).first()
    location = Location.objects.filter(name=DEMO_INFUSION_LOCATION, is_active=True).first()
    infusion = AppointmentType.objects.filter(kind=AppointmentKind.INFUSION).first()
    if patient is None or location is None or infusion is None:
        return 0
    if not course_scheduling_allowed(patient)[0]:
        return 0
    created = _sign_consent(patient, nurse)
    booked = patient.appointments.filter(
        appointment_type=infusion,
        starts_at__gte=timezone.now() - timedelta(hours=12),
    ).exclude(status=AppointmentStatus.CANCELLED)
    if booked.exists():
        return created
    today = location.local_now().date()
    slots = free_slots(
        location=location,
        appointment_type=infusion,
        start_date=today,
        end_date=today + timedelta(days=SEARCH_DAYS),
        patient=patient,
        step_minutes=30,
    )
    for slot in slots:
        try:
            appointment_book(
                actor=nurse,
                patient=patient,
                location=location,
                appointment_type=infusion,
                starts_at=slot.starts_at,
            )
        except (ValidationError, SlotTaken):
            continue
        return created + 1
    return created


def _sign_consent(patient: Patient, nurse: User) -> int:
    document = consent_document_current()
    if document is None or consent_current_signature(patient) is not None:
        return 0
    consent_sign(
        patient=patient,
        document=document,
        signed_name=f"{patient.legal_first_name} {patient.legal_last_name}",
        sections_acknowledged=[section["heading"] for section in document.sections],
        method=ConsentSignature.Method.TABLET,
        ip_address=None,
        user_agent="seed_demo",
        witnessed_by=nurse,
    )
    return 1


DEMO_ESKETAMINE_LOTS = {"Riverside": "SPR-RV-2611", "Mesa": "SPR-MS-2611"}
DEMO_CERTIFICATIONS = {"Riverside": "DEMO-HCS-2611", "Mesa": "DEMO-HCS-2612"}
DEMO_REMS_PATIENT_ID = "DEMO-REMS-0001"
DEMO_ESKETAMINE_LOCATION = "Mesa"


def _seed_esketamine(nurse: User) -> int:
    """REMS certifications and esketamine devices per location, Samuel's enrolment and an
    esketamine session for him (today when there is a free time)."""
    from infusions.esketamine import (
        esketamine_lot_receive,
        rems_certify,
        rems_enrol,
    )
    from infusions.models import InfusionSession, RemsPatientEnrolment, RemsSettingCertification
    from infusions.models.ledger import LotProduct
    from infusions.sessions import session_for_appointment

    director = User.objects.filter(
        email=f"director@{settings.DEMO_EMAIL_DOMAIN}", is_active=True
    ).first()
    created = 0
    for location in Location.objects.filter(name__in=list(DEMO_CERTIFICATIONS), is_active=True):
        today = location.local_now().date()
        if (
            director is not None
            and not RemsSettingCertification.objects.filter(location=location).exists()
        ):
            rems_certify(
                actor=director,
                location=location,
                certification_id=DEMO_CERTIFICATIONS[location.name],
                certified_on=today - timedelta(days=180),
            )
            created += 1
        if latest_registration(location) is None:
            continue
        if not location.ketamine_lots.filter(product=LotProduct.ESKETAMINE).exists():
            esketamine_lot_receive(
                actor=nurse,
                location=location,
                devices=24,
                product_name="Spravato (esketamine) nasal spray 28 mg device (demo)",
                lot_number=DEMO_ESKETAMINE_LOTS[location.name],
                expiry_date=today + timedelta(days=365),
                supplier="Demo Pharmacy Supply",
                supplier_address="1 Warehouse Way, Memphis, TN 38118",
                supplier_dea_number=DEMO_SUPPLIER_DEA,
                invoice_number=f"DEMO-{DEMO_ESKETAMINE_LOTS[location.name]}",
            )
            created += 1

    patient = Patient.objects.filter(email__iexact=DEMO_PATIENT_EMAIL).first()
    location = Location.objects.filter(name=DEMO_ESKETAMINE_LOCATION, is_active=True).first()
    spravato = AppointmentType.objects.filter(kind=AppointmentKind.SPRAVATO).first()
    if patient is None or location is None or spravato is None:
        return created
    if not course_scheduling_allowed(patient)[0]:
        return created
    created += _sign_consent(patient, nurse)
    if not RemsPatientEnrolment.objects.filter(patient=patient).exists():
        rems_enrol(
            actor=nurse,
            patient=patient,
            rems_patient_id=DEMO_REMS_PATIENT_ID,
            enrolled_on=location.local_now().date() - timedelta(days=7),
        )
        created += 1
    if InfusionSession.objects.filter(
        appointment__patient=patient,
        kind=SessionKind.ESKETAMINE,
        appointment__starts_at__gte=timezone.now() - timedelta(hours=12),
    ).exists():
        return created
    today = location.local_now().date()
    for slot in free_slots(
        location=location,
        appointment_type=spravato,
        start_date=today,
        end_date=today + timedelta(days=SEARCH_DAYS),
        patient=patient,
        step_minutes=30,
    ):
        try:
            with transaction.atomic():
                # A Spravato session appointment: its session is an esketamine one, and the
                # chair stays booked for the dose and the 2 hours of monitoring.
                appointment = appointment_book(
                    actor=nurse,
                    patient=patient,
                    location=location,
                    appointment_type=spravato,
                    starts_at=slot.starts_at,
                )
                session_for_appointment(appointment=appointment, actor=nurse)
        except (ValidationError, SlotTaken):
            continue
        return created + 1
    return created
