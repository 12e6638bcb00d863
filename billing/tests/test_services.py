"""Issuing, taking payments, refunds, credit notes and voids: what each does, what each
refuses (with what to fix) and that a refusal changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from billing.models import CreditNote, Invoice, Payment, Refund
from billing.selectors import balance_of, invoice_for, settlement
from billing.services import (
    credit_note_create,
    invoice_add_line,
    invoice_issue,
    invoice_void,
    payment_take,
    refund_make,
)
from billing.tests.factories import draft, issued
from clinic.models import AuditEvent

pytestmark = pytest.mark.django_db


def reread(user, invoice: Invoice) -> Invoice:
    return invoice_for(user, invoice.public_id)


def test_issuing_numbers_invoices_one_after_another(fran):
    first, second = draft(), draft()

    invoice_issue(actor=fran, invoice=second)
    invoice_issue(actor=fran, invoice=first)

    second.refresh_from_db()
    first.refresh_from_db()
    assert (second.number, first.number) == (1, 2)
    assert first.status == "issued" and first.issued_by == fran


def test_a_draft_with_no_lines_is_not_issued(fran):
    invoice = draft(lines=[])

    with pytest.raises(ValidationError, match="no lines"):
        invoice_issue(actor=fran, invoice=invoice)
    invoice.refresh_from_db()
    assert invoice.status == "draft" and invoice.number is None


def test_the_front_desk_takes_a_payment_and_the_invoice_shows_it(fran):
    invoice = draft(lines=["150.00", "50.00"])
    invoice_issue(actor=fran, invoice=invoice)

    payment_take(actor=fran, invoice=invoice, method="cash", amount="120")
    assert settlement(reread(fran, invoice)) == "Partly paid"
    assert reread(fran, invoice).due == Decimal("80.00")

    payment_take(actor=fran, invoice=invoice, method="terminal", amount="80.00", reference="T-77")
    assert settlement(reread(fran, invoice)) == "Paid"
    assert balance_of(invoice.patient).amount == 0
    event = AuditEvent.objects.filter(object_type="billing.payment").last()
    assert event.actor == fran and str(invoice.patient.public_id) in event.summary
    assert invoice.patient.legal_last_name not in event.summary


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"amount": "250"}, "amount", "owes 200.00 USD: take that much at most"),
        ({"amount": "0"}, "amount", "more than 0"),
        ({"amount": "12.345"}, "amount", "2 decimal places"),
        ({"amount": "lots"}, "amount", "as a number"),
        ({"method": "card"}, "method", "card terminal, cash or cheque"),
        ({"method": "bitcoin"}, "method", "card terminal, cash or cheque"),
    ],
)
def test_a_payment_with_bad_input_is_refused_and_nothing_is_taken(fran, fields, field, message):
    invoice = issued(lines=["200"])

    with pytest.raises(ValidationError) as caught:
        payment_take(actor=fran, invoice=invoice, **({"method": "cash", "amount": "50"} | fields))

    assert message in " ".join(caught.value.message_dict[field])
    assert not Payment.objects.exists()


def test_no_payment_on_a_draft_or_a_void_invoice(fran, alice):
    invoice = draft()
    with pytest.raises(ValidationError, match="Issue it first"):
        payment_take(actor=fran, invoice=invoice, method="cash", amount="10")
    invoice_void(actor=alice, invoice=invoice, reason="Visit was free")
    with pytest.raises(ValidationError, match="void"):
        payment_take(actor=fran, invoice=invoice, method="cash", amount="10")
    assert not Payment.objects.exists()


def test_clinicians_take_no_payments_and_the_front_desk_corrects_nothing(nina, fran):
    invoice = issued(lines=["100"])
    payment = payment_take(actor=fran, invoice=invoice, method="cash", amount="100")

    with pytest.raises(PermissionDenied):
        payment_take(actor=nina, invoice=invoice, method="cash", amount="1")
    with pytest.raises(PermissionDenied):
        refund_make(actor=fran, payment=payment, amount="10", reason="Asked")
    with pytest.raises(PermissionDenied):
        invoice_void(actor=fran, invoice=invoice, reason="Mistake")
    assert not Refund.objects.exists()


def test_a_refund_gives_back_at_most_what_is_left_of_a_payment(fran, alice):
    invoice = issued(lines=["100"])
    payment = payment_take(actor=fran, invoice=invoice, method="cheque", amount="100")

    refund_make(actor=alice, payment=payment, amount="30", reason="Shorter visit")
    with pytest.raises(ValidationError, match=r"70\.00 USD is left"):
        refund_make(actor=alice, payment=payment, amount="70.01", reason="Again")
    with pytest.raises(ValidationError, match="Write why"):
        refund_make(actor=alice, payment=payment, amount="5", reason="  ")

    assert Refund.objects.get().amount == Decimal("30.00")
    assert reread(alice, invoice).due == Decimal("30.00")
    assert balance_of(invoice.patient).amount == Decimal("30.00")


def test_a_credit_note_takes_off_at_most_what_is_owed(alice, fran):
    invoice = issued(lines=["100"])
    payment_take(actor=fran, invoice=invoice, method="cash", amount="60")

    with pytest.raises(ValidationError, match=r"owes 40\.00 USD"):
        credit_note_create(actor=alice, invoice=invoice, amount="41", reason="Discount")
    credit_note_create(actor=alice, invoice=invoice, amount="40", reason="Loyalty discount")

    assert settlement(reread(alice, invoice)) == "Paid"
    assert balance_of(invoice.patient).amount == 0


def test_voiding_an_issued_invoice_credits_what_it_charged(alice, fran):
    invoice = issued(lines=["100"])
    payment = payment_take(actor=fran, invoice=invoice, method="cash", amount="25")

    with pytest.raises(ValidationError, match="refund it first"):
        invoice_void(actor=alice, invoice=invoice, reason="Wrong patient")
    refund_make(actor=alice, payment=payment, amount="25", reason="Wrong patient")
    invoice_void(actor=alice, invoice=invoice, reason="Wrong patient")

    invoice.refresh_from_db()
    assert invoice.status == "void" and invoice.void_reason == "Wrong patient"
    assert CreditNote.objects.get(invoice=invoice).amount == Decimal("100.00")
    assert balance_of(invoice.patient).amount == 0
    with pytest.raises(ValidationError, match="void already"):
        invoice_void(actor=alice, invoice=invoice, reason="Again")


def test_a_line_is_added_to_a_draft_only(fran):
    invoice = draft(lines=[])
    invoice_add_line(
        actor=fran, invoice=invoice, description="Booster", quantity=2, unit_amount="75.50"
    )
    assert invoice.lines.get().amount == Decimal("151.00")

    with pytest.raises(ValidationError) as caught:
        invoice_add_line(actor=fran, invoice=invoice, description="", quantity=0, unit_amount="-1")
    assert set(caught.value.message_dict) == {"description", "quantity", "unit_amount"}

    invoice_issue(actor=fran, invoice=invoice)
    with pytest.raises(ValidationError, match="credit note"):
        invoice_add_line(actor=fran, invoice=invoice, description="X", quantity=1, unit_amount="1")
    assert invoice.lines.count() == 1
