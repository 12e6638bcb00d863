"""Every money move is in the audit log, named by its own row and the patient's opaque id
(never a name): a payment taken at the desk or by card, a refund, a credit note (written by
hand or by a void), an invoice issued or voided, a card charge sent and one that failed."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from billing.cards import card_charge
from billing.models import CardCharge, CreditNote
from billing.services import (
    credit_note_create,
    invoice_issue,
    invoice_void,
    payment_take,
    refund_make,
)
from billing.tests.factories import draft, issued
from billing.tests.test_card_pages import save_card
from clinic.models import AuditEvent

pytestmark = pytest.mark.django_db


def event_for(row, action: str = "create") -> AuditEvent:
    event = AuditEvent.objects.get(
        object_type=row._meta.label_lower, object_id=str(row.public_id), action=action
    )
    return event


def test_the_desk_s_money_moves_are_each_audited(alice, fran):
    invoice = draft(lines=["300"])
    invoice_issue(actor=fran, invoice=invoice)
    payment = payment_take(actor=fran, invoice=invoice, method="cash", amount="100")
    refund = refund_make(actor=alice, payment=payment, amount="40", reason="Asked")
    credit = credit_note_create(actor=alice, invoice=invoice, amount="50", reason="Goodwill")
    patient_id = str(invoice.patient.public_id)

    issued_event = AuditEvent.objects.get(
        object_id=str(invoice.public_id), summary__startswith="issued it for 300.00 USD"
    )
    assert issued_event.actor == fran
    for row, actor, says in [
        (payment, fran, "took 100.00 USD (Cash)"),
        (refund, alice, "refunded 40.00 USD"),
        (credit, alice, "credited 50.00 USD on invoice"),
    ]:
        event = event_for(row)
        assert event.actor == actor and says in event.summary and patient_id in event.summary
        assert invoice.patient.legal_last_name not in event.summary + event.object_label


def test_a_void_audits_the_credit_it_writes(alice):
    invoice = issued(lines=["80"])

    invoice_void(actor=alice, invoice=invoice, reason="Booked twice")

    credit = CreditNote.objects.get(invoice=invoice)
    assert "credited 80.00 USD on invoice" in event_for(credit).summary
    assert "voiding the invoice" in event_for(credit).summary
    assert AuditEvent.objects.filter(
        object_id=str(invoice.public_id), summary__startswith="voided it"
    ).exists()


def test_a_card_charge_sent_and_declined_is_audited(client, fake_stripe, fran):
    invoice = issued(lines=["250"])
    client.force_login(fran)
    save_card(client, fake_stripe, invoice.patient, "pm_card_chargeDeclinedInsufficientFunds")

    with pytest.raises(ValidationError):
        card_charge(actor=fran, invoice=invoice, amount="250")

    charge = CardCharge.objects.get()
    assert "asked Stripe to charge 250.00 USD" in event_for(charge).summary
    assert "failed: nothing was taken" in event_for(charge, "update").summary


def test_a_card_payment_is_audited(client, fake_stripe, fran):
    invoice = issued(lines=["250"])
    client.force_login(fran)
    save_card(client, fake_stripe, invoice.patient)

    payment = card_charge(actor=fran, invoice=invoice, amount="250")

    assert "took 250.00 USD by card (Stripe)" in event_for(payment).summary
