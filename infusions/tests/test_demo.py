"""The demo clinic's ketamine stock and walk-through infusion (``seed_demo`` with DEBUG on)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from infusions.ledger_reports import lot_balance_from_entries
from infusions.models import (
    InfusionSession,
    LedgerEntry,
    Lot,
    RemsPatientEnrolment,
    RemsSettingCertification,
)
from patients.models import Patient
from patients.services.consent import infusion_start_allowed
from scheduling.models import AppointmentKind

pytestmark = pytest.mark.django_db


def test_each_demo_location_gets_a_lot_that_balances(settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)

    lots = Lot.objects.filter(product="ketamine").select_related("location")
    lots = lots.order_by("location__name")
    assert [lot.location.name for lot in lots] == ["Mesa", "Riverside"]
    for lot in lots:
        assert lot.balance_mg == Decimal("2500.000")
        assert lot_balance_from_entries(lot) == lot.balance_mg
        assert lot.received_by.email.startswith("nurse@")


def test_the_approved_demo_patient_is_consented_and_booked_for_an_infusion(settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)

    samuel = Patient.objects.get(email="samuel.okonkwo@example.com")
    assert infusion_start_allowed(samuel)[0]
    infusions = samuel.appointments.filter(appointment_type__kind=AppointmentKind.INFUSION)
    # His IV infusion at Riverside, and his Spravato session at Mesa.
    assert infusions.count() == 1
    assert infusions.filter(location__name="Riverside").count() == 1


def test_the_demo_patient_is_enrolled_in_the_rems_with_a_spravato_session(settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)

    samuel = Patient.objects.get(email="samuel.okonkwo@example.com")
    assert RemsPatientEnrolment.objects.get(patient=samuel).rems_patient_id == "DEMO-REMS-0001"
    session = InfusionSession.objects.get(appointment__patient=samuel, kind="esketamine")
    assert session.appointment.location.name == "Mesa"
    # Booked as a Spravato session: the chair stays taken for the dose and 2 h of monitoring.
    appointment = session.appointment
    assert appointment.appointment_type.kind == AppointmentKind.SPRAVATO
    assert appointment.blocks_until - appointment.starts_at >= timedelta(minutes=135)
    assert RemsSettingCertification.objects.count() == 2
    for lot in Lot.objects.filter(product="esketamine"):
        assert lot.devices_left == 24
        assert lot_balance_from_entries(lot) == lot.balance_mg


def test_running_it_again_adds_no_stock_and_no_second_infusion(settings):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    before = (Lot.objects.count(), LedgerEntry.objects.count())

    call_command("seed_demo", verbosity=0)

    assert (Lot.objects.count(), LedgerEntry.objects.count()) == before
    samuel = Patient.objects.get(email="samuel.okonkwo@example.com")
    assert samuel.appointments.filter(appointment_type__kind=AppointmentKind.INFUSION).count() == 1
    assert samuel.appointments.filter(appointment_type__kind=AppointmentKind.SPRAVATO).count() == 1


def test_there_is_no_demo_stock_without_debug(settings):
    settings.DEBUG = False
    call_command("seed_demo", verbosity=0)

    assert not Lot.objects.exists()
