"""The demo clinic's prices, for ``manage.py seed_demo`` (with DEBUG on): each kind of visit
at each demo location gets a price (made-up amounts, from Jan 1, 2020) unless it has one, so
that a visit ended in the demo drafts an invoice the front desk can issue and take payment
for. Set through ``price_set`` by the demo clinic admin, like any price; running it again
creates nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from billing.models import Price
from billing.services import price_set
from clinic.models import Location, User
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
