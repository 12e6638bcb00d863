"""Each patient's balance is charges - payments + refunds - credits, whatever happens: many
random sequences of issues, payments, refunds, credit notes and voids on a few invoices of two
patients (ARCHITECTURE invariant 9), and with packages sold and visits covered by them. A step
the services refuse changes nothing, and the balance is read in one query however long the
history."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.models import Invoice, PackageUse, PatientPackage, Payment
from billing.package_selectors import with_use_counts
from billing.packages import package_cover_visit, package_sell
from billing.selectors import balance_of, invoices_with_sums
from billing.services import (
    credit_note_create,
    invoice_draft_for_visit,
    invoice_issue,
    invoice_void,
    payment_take,
    refund_make,
)
from billing.tests.factories import draft, price
from billing.tests.package_factories import offer, visit_of
from clinic.roles import Role
from conftest import make_staff
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory

INVOICES = 4
amounts = st.decimals(min_value=Decimal("0.01"), max_value=400, places=2)
which = st.integers(min_value=0, max_value=INVOICES - 1)
operations = st.one_of(
    st.tuples(st.just("issue"), which),
    st.tuples(st.just("pay"), which, amounts, st.sampled_from(["cash", "cheque", "terminal"])),
    st.tuples(st.just("refund"), which, amounts),
    st.tuples(st.just("credit"), which, amounts),
    st.tuples(st.just("void"), which),
)


def expected(patient) -> Decimal:
    """The equation, summed straight from the rows."""
    charges = payments = refunds = credits = Decimal(0)
    for invoice in Invoice.objects.filter(patient=patient, issued_at__isnull=False):
        charges += sum((line.amount for line in invoice.lines.all()), Decimal(0))
        credits += sum((c.amount for c in invoice.credit_notes.all()), Decimal(0))
        for payment in invoice.payments.all():
            payments += payment.amount
            refunds += sum((r.amount for r in payment.refunds.all()), Decimal(0))
    return charges - payments + refunds - credits


_admins = iter(range(1_000_000))


@pytest.mark.django_db
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(operations, max_size=25))
def test_every_balance_is_charges_less_payments_plus_refunds_less_credits(steps):
    # Examples share the test's transaction: each has its own people and invoices.
    admin = make_staff(f"admin{next(_admins)}@clinic.test", "Admin", Role.CLINIC_ADMIN)
    patients = [PatientFactory(), PatientFactory()]
    invoices = [
        draft(patient=patients[n % 2], lines=[f"{100 + 35 * n}.50", "20"]) for n in range(INVOICES)
    ]
    for step in steps:
        kind, invoice = step[0], invoices[step[1]]
        before = {p.pk: balance_of(p).amount for p in patients}
        try:
            with transaction.atomic():
                if kind == "issue":
                    invoice_issue(actor=admin, invoice=invoice)
                elif kind == "pay":
                    payment_take(actor=admin, invoice=invoice, method=step[3], amount=step[2])
                elif kind == "refund":
                    payment = invoice.payments.order_by("id").last()
                    if payment is None:
                        continue
                    refund_make(actor=admin, payment=payment, amount=step[2], reason="Asked")
                elif kind == "credit":
                    credit_note_create(
                        actor=admin, invoice=invoice, amount=step[2], reason="Discount"
                    )
                else:
                    invoice_void(actor=admin, invoice=invoice, reason="Mistake")
        except ValidationError:
            assert {p.pk: balance_of(p).amount for p in patients} == before
        for patient in patients:
            balance = balance_of(patient).amount
            assert balance == expected(patient)
            owed = invoices_with_sums(
                Invoice.objects.filter(patient=patient, issued_at__isnull=False)
            )
            assert balance == sum((i.due for i in owed), Decimal(0))
            assert all(0 <= i.due <= i.total for i in owed)
    with CaptureQueriesContext(connection) as queries:
        balance_of(patients[0])
    assert len(queries) == 1


# --- The same through the API ----------------------------------------------------------------

api_operations = st.one_of(
    st.tuples(st.just("issue"), which),
    st.tuples(st.just("pay"), which, amounts, st.sampled_from(["cash", "cheque", "terminal"])),
    st.tuples(st.just("pay again"), which),
    st.tuples(st.just("refund"), which, amounts),
    st.tuples(st.just("void"), which),
)


@pytest.mark.django_db
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(api_operations, max_size=15))
def test_the_sums_hold_for_writes_through_the_api_too(steps):
    # Every write the API offers, at random, with payments repeated by their id: the balance
    # still follows the equation, a refused request (400) changes nothing, and a repeated
    # payment is taken once.
    admin = make_staff(f"admin{next(_admins)}@clinic.test", "Admin", Role.CLINIC_ADMIN)
    client = Client()
    client.force_login(admin)
    patients = [PatientFactory(), PatientFactory()]
    invoices = [
        draft(patient=patients[n % 2], lines=[f"{100 + 35 * n}.50", "20"]) for n in range(INVOICES)
    ]
    last_payment: dict[int, dict] = {}

    def post(url: str, data: dict | None = None):
        return client.post(url, data or {}, content_type="application/json")

    for step in steps:
        kind, index = step[0], step[1]
        url = f"/api/v1/invoices/{invoices[index].public_id}/"
        before = {p.pk: balance_of(p).amount for p in patients}
        payments_before = Payment.objects.count()
        if kind == "issue":
            response = post(url + "issue/")
        elif kind == "pay":
            payment = {"method": step[3], "amount": f"{step[2]:.2f}", "id": str(uuid.uuid4())}
            response = post(url + "payments/", payment)
            # Only a payment taken is repeated: a refused one (a draft invoice, say) keeps no
            # answer under its id, and sent again once the invoice is issued it is taken.
            if response.status_code == 201:
                last_payment[index] = payment
        elif kind == "pay again":
            if index not in last_payment:
                continue
            response = post(url + "payments/", last_payment[index])
            assert response.status_code in (200, 400)
            assert Payment.objects.count() == payments_before
        elif kind == "refund":
            payment = invoices[index].payments.order_by("id").last()
            if payment is None:
                continue
            response = post(
                f"{url}payments/{payment.public_id}/refunds/",
                {"amount": f"{step[2]:.2f}", "reason": "Asked"},
            )
        else:
            response = post(url + "void/", {"reason": "Mistake"})
        assert response.status_code in (200, 201, 400), response.content
        if response.status_code in (200, 400) and kind != "issue" and kind != "void":
            assert {p.pk: balance_of(p).amount for p in patients} == before
        if response.status_code == 400:
            assert {p.pk: balance_of(p).amount for p in patients} == before
        for patient in patients:
            assert balance_of(patient).amount == expected(patient)
            answered = client.get(f"/api/v1/patients/{patient.public_id}/balance/").json()
            assert Decimal(answered["owed"]) == expected(patient)


# --- With packages sold and used -------------------------------------------------------------

package_operations = st.one_of(
    st.tuples(st.just("sell"), st.integers(min_value=0, max_value=1)),
    st.tuples(st.just("visit"), st.integers(min_value=0, max_value=1)),
    st.tuples(st.just("pay"), st.integers(min_value=0, max_value=20), amounts),
    st.tuples(st.just("refund"), st.integers(min_value=0, max_value=20), amounts),
    st.tuples(st.just("credit"), st.integers(min_value=0, max_value=20), amounts),
    st.tuples(st.just("void"), st.integers(min_value=0, max_value=20)),
)


@pytest.mark.django_db
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(package_operations, max_size=20))
def test_balances_hold_with_packages_sold_and_visits_covered(steps):
    """Packages sold (an issued invoice at the package price) and visits ended (covered by
    the oldest package with visits left, or charged their price), among payments, refunds,
    credits and voids: every balance still adds up, and no package covers more visits than
    were bought."""
    admin = make_staff(f"admin{next(_admins)}@clinic.test", "Admin", Role.CLINIC_ADMIN)
    location = LocationFactory()
    price("consultation", location, "250.00")
    two_visits = offer(f"Two visits {admin.pk}", visits=2, amount="450.00")
    patients = [PatientFactory(), PatientFactory()]
    hours = iter(range(1, 1000, 3))
    for step in steps:
        kind = step[0]
        before = {p.pk: balance_of(p).amount for p in patients}
        invoices = list(Invoice.objects.filter(patient__in=patients).order_by("id"))
        try:
            with transaction.atomic():
                if kind == "sell":
                    package_sell(
                        actor=admin, patient=patients[step[1]], offer=two_visits, location=location
                    )
                elif kind == "visit":
                    appointment = visit_of(patients[step[1]], location, hours_ago=next(hours))
                    invoice = invoice_draft_for_visit(appointment=appointment, actor=admin)
                    package_cover_visit(invoice=invoice, appointment=appointment, actor=admin)
                    invoice_issue(actor=admin, invoice=invoice)
                elif not invoices:
                    continue
                else:
                    invoice = invoices[step[1] % len(invoices)]
                    if kind == "pay":
                        payment_take(actor=admin, invoice=invoice, method="cash", amount=step[2])
                    elif kind == "refund":
                        payment = invoice.payments.order_by("id").last()
                        if payment is None:
                            continue
                        refund_make(actor=admin, payment=payment, amount=step[2], reason="Asked")
                    elif kind == "credit":
                        credit_note_create(
                            actor=admin, invoice=invoice, amount=step[2], reason="Discount"
                        )
                    else:
                        invoice_void(actor=admin, invoice=invoice, reason="Mistake")
        except ValidationError:
            assert {p.pk: balance_of(p).amount for p in patients} == before
        for patient in patients:
            balance = balance_of(patient).amount
            assert balance == expected(patient)
            owed = invoices_with_sums(
                Invoice.objects.filter(patient=patient, issued_at__isnull=False)
            )
            assert balance == sum((i.due for i in owed), Decimal(0))
        for package in with_use_counts(PatientPackage.objects.filter(patient__in=patients)):
            assert 0 <= package.used <= package.visits
        # A visit covered by a package stands on an invoice that charges nothing for it.
        for use in PackageUse.objects.filter(package__patient__in=patients, released_at=None):
            assert use.invoice.status != "void" and use.line.amount == 0
