"""A payment queues the patient's receipt by email in its own transaction, once; the worker
sends it on the patient's email consent; it says what was paid and what is still owed, and
nothing about the visit (no diagnosis, no drug, no kind of visit)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from billing.services import invoice_issue, payment_take
from billing.tests.factories import draft
from clinic.messaging.outbox import outbox_claim_due, outbox_send
from clinic.models import OutboxMessage
from patients.models import Channel
from patients.tests.factories import CommunicationConsentFactory, PatientFactory

pytestmark = pytest.mark.django_db


def paid_invoice(fran, patient):
    invoice = draft(patient=patient, lines=[])
    invoice.lines.create(
        description="Ketamine infusion for treatment-resistant depression",
        unit_amount=500,
        amount=500,
    )
    invoice_issue(actor=fran, invoice=invoice)
    payment_take(actor=fran, invoice=invoice, method="terminal", amount="350")
    return invoice


def send_due() -> set[str]:
    claims = outbox_claim_due(limit=10, lease=timedelta(minutes=5), now=timezone.now())
    return {outbox_send(message_id, token, now=timezone.now()) for message_id, token in claims}


def test_the_patient_gets_a_receipt_that_names_no_treatment(fran, mailoutbox):
    patient = PatientFactory()
    CommunicationConsentFactory(patient=patient, channel=Channel.EMAIL, granted=True)
    paid_invoice(fran, patient)

    [queued] = OutboxMessage.objects.filter(kind="payment_receipt")
    assert (queued.channel, queued.patient) == ("email", patient)
    assert send_due() == {"sent"}

    [email] = mailoutbox
    assert email.to == [patient.email]
    assert "350.00 USD" in email.subject
    assert "350.00 USD by card (clinic's card terminal)" in email.body
    assert "Invoice number: 1" in email.body
    assert "Still to pay on this invoice: 150.00 USD" in email.body
    everything = email.subject + email.body + email.alternatives[0][0]
    everything = everything.replace(settings.CLINIC_NAME, "").lower()  # "… Infusion Clinic"
    for word in ("ketamine", "infusion", "depression", patient.legal_last_name.lower()):
        assert word not in everything


def test_no_receipt_without_email_consent(fran, mailoutbox):
    patient = PatientFactory()
    CommunicationConsentFactory(patient=patient, channel=Channel.EMAIL, granted=False)
    paid_invoice(fran, patient)

    assert send_due() == {"skipped"}
    assert OutboxMessage.objects.get(kind="payment_receipt").skip_reason == "no_consent"
    assert mailoutbox == []


def test_a_refused_payment_queues_no_receipt(fran):
    invoice = draft(lines=["100"])
    invoice_issue(actor=fran, invoice=invoice)

    with pytest.raises(ValidationError):
        payment_take(actor=fran, invoice=invoice, method="cash", amount="101")

    assert not OutboxMessage.objects.filter(kind="payment_receipt").exists()
