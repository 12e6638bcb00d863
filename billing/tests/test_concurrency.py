"""The front desk at two screens at once, against the real PostgreSQL: each attempt in its own
thread, connection and transaction, released together by a barrier. Two people taking the
last of an invoice's balance take it once; issuing many drafts at once numbers them 1 to n
with no gap and no repeat; two refunds of the same payment never give back more than it."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from billing.models import Invoice, Payment, Refund
from billing.services import invoice_issue, payment_take, refund_make
from billing.tests.factories import draft, issued

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 6


def race(attempts: list[Callable[[], Any]]) -> tuple[list[Any], list[ValidationError]]:
    """Run each attempt in its own thread, all at once: what succeeded, what was refused
    (anything else fails the test: it would be a 500)."""
    barrier = threading.Barrier(len(attempts))

    def run(attempt: Callable[[], Any]) -> Any:
        try:
            barrier.wait(timeout=30)
            return attempt()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
        futures = [pool.submit(run, attempt) for attempt in attempts]
    done, refused = [], []
    for future in futures:
        error = future.exception(timeout=120)
        if error is None:
            done.append(future.result())
        elif isinstance(error, ValidationError):
            refused.append(error)
        else:
            raise error
    return done, refused


def test_the_balance_is_taken_once_however_many_take_it_at_once(fran):
    invoice = issued(lines=["200"])

    done, refused = race(
        [
            lambda: payment_take(actor=fran, invoice=invoice, method="cash", amount="200")
            for _ in range(THREADS)
        ]
    )

    assert len(done) == 1 and len(refused) == THREADS - 1
    assert all("paid in full" in " ".join(error.messages) for error in refused)
    assert Payment.objects.get().amount == Decimal("200.00")


def test_drafts_issued_at_once_are_numbered_without_gaps(fran):
    drafts = [draft() for _ in range(THREADS)]

    done, refused = race(
        [lambda invoice=invoice: invoice_issue(actor=fran, invoice=invoice) for invoice in drafts]
    )

    assert (len(done), refused) == (THREADS, [])
    numbers = sorted(Invoice.objects.values_list("number", flat=True))
    assert numbers == list(range(1, THREADS + 1))


def test_two_refunds_at_once_never_give_back_more_than_was_paid(fran, alice):
    invoice = issued(lines=["100"])
    payment = payment_take(actor=fran, invoice=invoice, method="cash", amount="100")

    done, refused = race(
        [
            lambda: refund_make(actor=alice, payment=payment, amount="60", reason="Asked")
            for _ in range(2)
        ]
    )

    assert (len(done), len(refused)) == (1, 1)
    assert sum(Refund.objects.values_list("amount", flat=True)) == Decimal("60.00")


def test_the_same_payment_sent_at_once_with_one_id_is_taken_once(fran):
    # An integration that times out and sends again while the first is still running.
    invoice = issued(lines=["200"])
    same = uuid.uuid4()

    done, refused = race(
        [
            lambda: payment_take(
                actor=fran, invoice=invoice, method="cash", amount="50", public_id=same
            )
            for _ in range(THREADS)
        ]
    )

    assert (len(done), refused) == (THREADS, [])
    assert {payment.pk for payment in done} == {Payment.objects.get().pk}
    assert Payment.objects.get().public_id == same


def test_the_same_refund_sent_at_once_with_one_id_is_made_once(fran, alice):
    invoice = issued(lines=["100"])
    payment = payment_take(actor=fran, invoice=invoice, method="cash", amount="100")
    same = uuid.uuid4()

    done, refused = race(
        [
            lambda: refund_make(
                actor=alice, payment=payment, amount="30", reason="Asked", public_id=same
            )
            for _ in range(3)
        ]
    )

    assert (len(done), refused) == (3, [])
    assert Refund.objects.get().public_id == same
