"""The books are append-only in the database itself: whatever a service, the admin or a
stray script tries, an invoice is never deleted, an issued one's lines never change, and
payments, refunds and credit notes are never edited or removed, nor more than is owed."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import IntegrityError, InternalError, ProgrammingError, connection, transaction
from django.utils import timezone

from billing.models import CreditNote, Invoice, InvoiceLine, Payment, Refund
from billing.tests.factories import draft, issued

pytestmark = pytest.mark.django_db
REFUSED = (IntegrityError, InternalError, ProgrammingError)


def refused(action) -> str:
    with pytest.raises(REFUSED) as caught, transaction.atomic():
        action()
    return str(caught.value)


def delete(model, pk: int) -> None:
    """DELETE straight in SQL, as a script would (Django's own PROTECT would stop it first)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE id = %s", [pk])  # noqa: S608


def test_an_invoice_is_never_deleted():
    invoice = draft()

    assert "never deleted" in refused(lambda: delete(Invoice, invoice.pk))
    assert Invoice.objects.filter(pk=invoice.pk).exists()


def test_the_lines_of_an_issued_invoice_never_change():
    invoice = issued(lines=["250.00"])
    line = invoice.lines.get()

    assert "cannot change" in refused(
        lambda: InvoiceLine.objects.filter(pk=line.pk).update(amount=1, unit_amount=1)
    )
    assert "cannot change" in refused(lambda: InvoiceLine.objects.filter(pk=line.pk).delete())
    assert "cannot change" in refused(
        lambda: InvoiceLine.objects.create(
            invoice=invoice, description="Extra", unit_amount=5, amount=5
        )
    )
    assert invoice.lines.get().amount == Decimal("250.00")


def test_a_draft_s_lines_may_change_but_it_is_issued_only_with_one():
    invoice = draft(lines=["80"])
    invoice.lines.all().delete()
    invoice.status, invoice.number, invoice.issued_at = "issued", 1, timezone.now()

    assert "no lines" in refused(invoice.save)


def test_an_issued_invoice_may_only_be_voided():
    invoice = issued()

    assert "cannot be changed" in refused(
        lambda: Invoice.objects.filter(pk=invoice.pk).update(number=999_999)
    )
    assert "cannot be changed" in refused(
        lambda: Invoice.objects.filter(pk=invoice.pk).update(status="draft")
    )
    Invoice.objects.filter(pk=invoice.pk).update(
        status="void", voided_at=timezone.now(), void_reason="Booked twice"
    )
    assert "cannot be changed" in refused(
        lambda: Invoice.objects.filter(pk=invoice.pk).update(void_reason="")
    )


def test_a_line_s_amount_is_its_quantity_times_its_unit_amount():
    invoice = draft(lines=[])

    assert "line_amount_is_product" in refused(
        lambda: InvoiceLine.objects.create(
            invoice=invoice, description="Two", quantity=2, unit_amount=10, amount=10
        )
    )


def test_payments_refunds_and_credits_are_append_only(fran, alice):
    invoice = issued(lines=["300"])
    payment = Payment.objects.create(invoice=invoice, method="cash", amount=100, taken_by=fran)
    refund = Refund.objects.create(
        payment=payment, amount=20, reason="Overcharged", refunded_by=alice
    )
    credit = CreditNote.objects.create(
        invoice=invoice, amount=50, reason="Discount", created_by=alice
    )

    for model, row in [(Payment, payment), (Refund, refund), (CreditNote, credit)]:
        assert "append-only" in refused(
            lambda model=model, row=row: model.objects.filter(pk=row.pk).update(amount=1)
        )
        assert "append-only" in refused(lambda model=model, row=row: delete(model, row.pk))
    assert Payment.objects.get().amount == Decimal("100.00")


def test_the_database_refuses_more_than_is_owed(fran, alice):
    invoice = issued(lines=["100"])
    Payment.objects.create(invoice=invoice, method="cash", amount=60, taken_by=fran)

    assert "more than the invoice still owes" in refused(
        lambda: Payment.objects.create(invoice=invoice, method="cash", amount=41, taken_by=fran)
    )
    assert "more than the invoice still owes" in refused(
        lambda: CreditNote.objects.create(invoice=invoice, amount=41, reason="x", created_by=alice)
    )
    payment = Payment.objects.create(invoice=invoice, method="cheque", amount=40, taken_by=fran)
    Refund.objects.create(payment=payment, amount=30, reason="x", refunded_by=alice)
    assert "more than is left of its payment" in refused(
        lambda: Refund.objects.create(payment=payment, amount=11, reason="x", refunded_by=alice)
    )


def test_no_payment_on_a_draft_and_no_credit_before_issue(fran, alice):
    invoice = draft(lines=["100"])

    assert "issued invoice" in refused(
        lambda: Payment.objects.create(invoice=invoice, method="cash", amount=10, taken_by=fran)
    )
    assert "issued invoice" in refused(
        lambda: CreditNote.objects.create(invoice=invoice, amount=10, reason="x", created_by=alice)
    )
