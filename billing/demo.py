"""The demo clinic's prices and packages, for ``manage.py seed_demo`` (with DEBUG on): each kind
of visit at each demo location gets a price (made-up amounts, from Jan 1, 2020) unless it has
one, so that a visit ended in the demo drafts an invoice the front desk can issue and take
payment for. Set through ``price_set`` by the demo clinic admin, like any price. The induction
series is on offer, and the demo patient with an infusion bought it (``seed_demo_packages``).
Running it again creates nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from billing.models import PackageOffer, PatientPackage, Price
from billing.packages import package_offer_create, package_sell
from billing.services import payment_take, price_set
from clinic.models import Location, User
from patients.models import Patient
from scheduling.models import AppointmentType

DEMO_LOCATIONS = ("Riverside", "Mesa")
DEMO_PRICES = {
    "consultation": Decimal("250.00"),
    "infusion": Decimal("495.00"),
    "booster": Decimal("450.00"),
    "follow_up": Decimal("125.00"),
}
DEMO_PRICES_FROM = date(2020, 1, 1)


@transaction.atomic
def seed_demo_prices() -> int:
    """Add the demo prices that are missing; returns how many were created."""
    admin = User.objects.filter(email=f"admin@{settings.DEMO_EMAIL_DOMAIN}", is_active=True).first()
    if admin is None:
        return 0
    created = 0
    priced = set(Price.objects.values_list("location_id", "appointment_type_id"))
    types = list(AppointmentType.objects.filter(kind__in=list(DEMO_PRICES)))
    for location in Location.objects.filter(name__in=DEMO_LOCATIONS, is_active=True):
        for kind in types:
            if (location.pk, kind.pk) in priced:
                continue
            price_set(
                actor=admin,
                appointment_type=kind,
                location=location,
                amount=DEMO_PRICES[kind.kind],
                effective_from=DEMO_PRICES_FROM,
            )
            created += 1
    return created


# The demo's online booking policy, at Riverside: a card on file to book a consultation online
# (off, so booking works, when no Stripe keys are configured), and the fees it explains.
DEMO_POLICY_LOCATION = "Riverside"
DEMO_POLICY_WORDING = (
    "If you can't come, please tell us at least 24 hours before your visit so that someone "
    "else can have the time. A consultation missed without telling us costs 75.00 USD, and "
    "cancelling less than 24 hours before costs 40.00 USD. The front desk may waive a fee, "
    "for example when something unexpected kept you away."
)


@transaction.atomic
def seed_demo_booking_policy() -> int:
    """Give the demo's Riverside its online booking policy unless it has one: 1 if made."""
    from billing.deposits import booking_policy_set
    from billing.models import BookingPolicy

    admin = User.objects.filter(email=f"admin@{settings.DEMO_EMAIL_DOMAIN}", is_active=True).first()
    location = Location.objects.filter(name=DEMO_POLICY_LOCATION, is_active=True).first()
    if (
        admin is None
        or location is None
        or BookingPolicy.objects.filter(location=location).exists()
    ):
        return 0
    booking_policy_set(
        actor=admin,
        location=location,
        requirement="card",
        deposit_amount="",
        wording=DEMO_POLICY_WORDING,
        no_show_fee="75.00",
        late_cancel_fee="40.00",
        late_cancel_hours="24",
    )
    return 1


# --- Packages --------------------------------------------------------------------------------

DEMO_OFFER = "Induction series of six infusions"
DEMO_OFFER_PRICE = Decimal("2400.00")
# The demo patient approved for treatment, whose infusion the demo walks through
# (``infusions.demo``): he bought the series at Riverside and paid in cash, so the visit's
# discharge is covered by it and the chart shows what is left.
DEMO_PACKAGE_PATIENT = "samuel.okonkwo@example.com"
DEMO_PACKAGE_LOCATION = "Riverside"


@transaction.atomic
def seed_demo_packages() -> int:
    """The demo offer (every location, from Jan 1, 2020) and the demo patient's package, paid,
    through the services like any offer and sale; returns how many records were created.
    Running it again creates nothing."""
    admin = User.objects.filter(email=f"admin@{settings.DEMO_EMAIL_DOMAIN}", is_active=True).first()
    desk = User.objects.filter(
        email=f"frontdesk@{settings.DEMO_EMAIL_DOMAIN}", is_active=True
    ).first()
    infusion = AppointmentType.objects.filter(kind="infusion").first()
    if admin is None or desk is None or infusion is None:
        return 0
    created = 0
    offer = PackageOffer.objects.filter(name=DEMO_OFFER).first()
    if offer is None:
        offer = package_offer_create(
            actor=admin,
            name=DEMO_OFFER,
            appointment_type=infusion,
            visits=6,
            amount=DEMO_OFFER_PRICE,
            effective_from=DEMO_PRICES_FROM,
        )
        created += 1
    patient = Patient.objects.filter(email__iexact=DEMO_PACKAGE_PATIENT).first()
    location = Location.objects.filter(name=DEMO_PACKAGE_LOCATION, is_active=True).first()
    if patient is None or location is None or offer.retired_at is not None:
        return created
    if PatientPackage.objects.filter(patient=patient).exists():
        return created
    package = package_sell(actor=desk, patient=patient, offer=offer, location=location)
    payment_take(
        actor=desk, invoice=package.invoice, method="cash", amount=package.price, reference=""
    )
    return created + 2
