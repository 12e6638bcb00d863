"""Package offers and sold packages for tests: written straight to the database to set the
scene (the tests call ``billing.packages`` for what they are about)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from django.utils import timezone

from billing.models import PackageOffer, PackagePrice
from scheduling.models import Appointment
from scheduling.tests.factories import AppointmentFactory, appointment_type


def offer(
    name: str = "Six consultations",
    *,
    kind: str = "consultation",
    visits: int = 6,
    amount: str = "1200.00",
    locations=(),
    effective_from: date = date(2020, 1, 1),
) -> PackageOffer:
    made = PackageOffer.objects.create(
        name=name, appointment_type=appointment_type(kind), visits=visits
    )
    made.locations.set(locations)
    PackagePrice.objects.create(offer=made, effective_from=effective_from, amount=Decimal(amount))
    return made


def visit_of(patient, location, *, kind: str = "consultation", hours_ago: int = 1, **kwargs):
    """A checked-in visit of ``patient`` that started ``hours_ago`` hours ago (each visit of
    one patient at its own hour: the database refuses a patient booked twice at once)."""
    starts_at = (timezone.now() - timedelta(hours=hours_ago)).replace(second=0, microsecond=0)
    kwargs.setdefault("status", "checked_in")
    return AppointmentFactory(
        patient=patient,
        location=location,
        appointment_type=appointment_type(kind),
        starts_at=starts_at,
        **kwargs,
    )


def visits_of(patient, location, count: int, **kwargs) -> list[Appointment]:
    return [visit_of(patient, location, hours_ago=1 + 2 * n, **kwargs) for n in range(count)]
