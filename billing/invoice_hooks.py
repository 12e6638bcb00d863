"""What happens elsewhere in ``billing`` when an invoice is issued.

``billing.services.invoice_issue`` calls the functions registered here in its transaction.
They live in modules built on the services (``billing.deposits`` takes a deposit paid when
booking online off the visit's invoice), which register here from ``BillingConfig.ready``
rather than being imported by the services: no import cycle inside the app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.http import HttpRequest

    from billing.models import Invoice
    from clinic.models import User

InvoiceIssued = Callable[..., None]
"""Called as ``listener(invoice=..., actor=..., request=...)``; the invoice is locked, just
issued, with its sums."""

_listeners: list[InvoiceIssued] = []


def register(listener: InvoiceIssued) -> InvoiceIssued:
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def invoice_issued(*, invoice: Invoice, actor: User, request: HttpRequest | None) -> None:
    for listener in _listeners:
        listener(invoice=invoice, actor=actor, request=request)
