"""The payment receipt by email, through the outbox (``clinic.messaging``).

``payment_receipt``: queued by ``billing.services.payment_take`` in the payment's transaction
(one per payment: the key is the payment's id), sent on the patient's email consent like
every patient email, so it never goes twice and is not lost if a worker dies. It is a
transactional message (the patient needs the record of what they paid).

What it says: the clinic's name, the amount, how and when it was paid, the invoice's number,
what is still owed on it, how to reach us. Never a diagnosis, a drug or the visit's kind (an
appointment type's editable name could name the drug): a receipt may be read by anyone who
sees the patient's mailbox.
"""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from django.template.loader import render_to_string
from django.utils import timezone

from billing.models import Invoice, Payment
from billing.money import format_amount
from billing.selectors import invoices_with_sums
from clinic.messaging.registry import MessageKind, NotWanted, Rendered, register
from clinic.models import OutboxMessage

RECEIPT = "payment_receipt"


def receipt_key(payment: Payment) -> str:
    return f"{RECEIPT}:{payment.public_id}"


def _payment(message: OutboxMessage) -> Payment | None:
    public_id = (message.context or {}).get("payment")
    if not public_id:
        return None
    return Payment.objects.select_related("invoice__location").filter(public_id=public_id).first()


def _still_wanted(message: OutboxMessage) -> NotWanted | None:
    if _payment(message) is None:
        return NotWanted("not_wanted", "Its payment no longer exists.")
    return None


def _render_receipt(message: OutboxMessage) -> Rendered:
    payment = _payment(message)
    if payment is None:
        raise ValueError("The payment of this receipt no longer exists.")
    invoice = invoices_with_sums(
        Invoice.objects.select_related("location").filter(pk=payment.invoice_id)
    ).get()
    location = invoice.location
    currency = invoice.currency or settings.BILLING_CURRENCY
    paid_at = timezone.localtime(payment.taken_at, location.tz)
    context: dict[str, Any] = {
        "clinic_name": settings.CLINIC_NAME,
        "amount": format_amount(payment.amount, currency),
        "method": payment.get_method_display().lower(),
        "paid_on": f"{paid_at:%B} {paid_at.day}, {paid_at:%Y}",
        "number": invoice.number,
        "due": format_amount(invoice.due, currency) if invoice.due > 0 else "",
        "location": location.name,
        "phone": location.phone,
    }
    subject = f"Your receipt from {settings.CLINIC_NAME}: {context['amount']}"
    text = render_to_string("messages/receipt_email.txt", context)
    return Rendered(
        subject=subject,
        body=re.sub(r"\n{3,}", "\n\n", text.strip()) + "\n",
        html=render_to_string("messages/receipt_email.html", context),
    )


register(
    MessageKind(
        name=RECEIPT,
        render=_render_receipt,
        still_wanted=_still_wanted,
        transactional=True,
        description="Your receipt (a payment at the clinic)",
    )
)
