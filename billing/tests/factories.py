"""Billing records for tests: written straight to the database, to set the scene (the tests
call the services for what they are about)."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from billing.models import Invoice, InvoiceLine, InvoiceStatus, Price
from patients.tests.factories import PatientFactory
from scheduling.models import Appointment
from scheduling.tests.factories import AppointmentFactory, LocationFactory, appointment_type


def price(kind: str, location, amount: str, effective_from=None) -> Price:
    return Price.objects.create(
        appointment_type=appointment_type(kind),
        location=location,
        effective_from=effective_from or timezone.localdate().replace(year=2020),
        amount=Decimal(amount),
    )


def draft(*, patient=None, location=None, appointment: Appointment | None = None, lines=("100",)):
    """A draft invoice with a line of each amount in ``lines``."""
    location = location or (appointment.location if appointment else LocationFactory())
    patient = patient or (appointment.patient if appointment else PatientFactory())
    invoice = Invoice.objects.create(
        patient=patient, location=location, appointment=appointment, currency="USD"
    )
    for amount in lines:
        InvoiceLine.objects.create(
            invoice=invoice,
            description="Infusion",
            unit_amount=Decimal(amount),
            amount=Decimal(amount),
        )
    return invoice


_numbers = iter(range(10_000, 1_000_000))


def issued(**kwargs) -> Invoice:
    """An issued invoice (numbered from 10000 up, out of the services' way)."""
    invoice = draft(**kwargs)
    invoice.status = InvoiceStatus.ISSUED
    invoice.number = next(_numbers)
    invoice.issued_at = timezone.now()
    invoice.save()
    return invoice


def visit(kind: str = "consultation", *, status: str = "booked", **kwargs) -> Appointment:
    """An appointment of ``kind`` that started an hour ago."""
    starts_at = (timezone.now() - timezone.timedelta(hours=1)).replace(second=0, microsecond=0)
    return AppointmentFactory(
        appointment_type=appointment_type(kind), starts_at=starts_at, status=status, **kwargs
    )
