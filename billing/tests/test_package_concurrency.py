"""Visits ending at once against the real PostgreSQL, each in its own thread, connection and
transaction: a package's last visit is used once, and the other visits are charged."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import transaction

from billing.models import Invoice, PackageUse
from billing.packages import package_cover_visit, package_sell
from billing.services import invoice_draft_for_visit
from billing.tests.factories import price
from billing.tests.package_factories import offer, visits_of
from billing.tests.test_concurrency import THREADS, race
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory

pytestmark = pytest.mark.django_db(transaction=True)


def visit_ends(appointment, actor):
    with transaction.atomic():
        invoice = invoice_draft_for_visit(appointment=appointment, actor=actor)
        return package_cover_visit(invoice=invoice, appointment=appointment, actor=actor)


def test_visits_ending_at_once_use_no_more_visits_than_were_bought(fran):
    location, patient = LocationFactory(), PatientFactory()
    price("consultation", location, "250.00")
    package = package_sell(actor=fran, patient=patient, offer=offer(visits=2), location=location)
    visits = visits_of(patient, location, THREADS)

    done, refused = race([lambda v=v: visit_ends(v, fran) for v in visits])

    assert refused == [] and len(done) == THREADS
    assert PackageUse.objects.filter(package=package).count() == 2
    amounts = sorted(
        line.amount
        for invoice in Invoice.objects.filter(appointment__in=visits)
        for line in invoice.lines.all()
    )
    assert amounts == [Decimal("0.00")] * 2 + [Decimal("250.00")] * (THREADS - 2)
