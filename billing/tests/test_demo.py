"""The demo clinic has a price for each kind of visit at each location, so an ended visit in
`make run` drafts an invoice with its price; seeding again adds nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.management import call_command

from billing.models import Invoice, PackageOffer, PatientPackage, Price
from billing.selectors import invoices_with_sums

pytestmark = pytest.mark.django_db


def test_the_demo_clinic_has_its_prices_once(settings):
    settings.DEBUG = True

    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)

    prices = {
        (price.location.name, price.appointment_type.kind): price.amount
        for price in Price.objects.select_related("location", "appointment_type")
    }
    assert len(prices) == Price.objects.count() == 8
    assert prices["Riverside", "infusion"] == Decimal("495.00")
    assert prices["Mesa", "consultation"] == Decimal("250.00")


def test_no_demo_prices_without_the_demo_logins(settings):
    settings.DEBUG = False

    call_command("seed_demo", verbosity=0)

    assert not Price.objects.exists()


def test_the_demo_riverside_has_an_online_booking_policy_once(settings):
    from billing.models import BookingPolicy

    settings.DEBUG = True

    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)

    policy = BookingPolicy.objects.get()
    assert policy.location.name == "Riverside" and policy.requirement == "card"
    assert policy.no_show_fee == Decimal("75.00") and "24 hours" in policy.wording


def test_the_demo_clinic_offers_the_induction_series_and_the_demo_patient_bought_it(settings):
    settings.DEBUG = True

    call_command("seed_demo", verbosity=0)
    call_command("seed_demo", verbosity=0)

    offer = PackageOffer.objects.get()
    assert (offer.name, offer.visits) == ("Induction series of six infusions", 6)
    package = PatientPackage.objects.get()
    assert package.patient.email == "samuel.okonkwo@example.com"
    assert invoices_with_sums(Invoice.objects.filter(pk=package.invoice_id)).get().due == 0
