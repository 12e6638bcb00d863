"""The reconciliation holds whatever happens between two inventories, and the inspection
report shows the same numbers.

Hypothesis draws a sequence of deliveries, doses, witnessed waste, destructions with two
witnesses, adjustments and counts that find a difference, all through the real services,
between an opening inventory and a closing one that may find differences of its own. Then,
for every lot: opening count + receipts - administered - wasted - destroyed +/- adjustments
= the closing count, by ``inventories_reconciled``, by the report's own reconciliation
and by a model of what the test did, kept apart from the database.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinic.cosign import cosigner_unlock
from clinic.roles import Role
from conftest import PASSWORD, make_staff
from infusions.destruction import lot_destroy
from infusions.inventories import inventory_take, lots_to_count
from infusions.ledger import ledger_adjust, ledger_administer, ledger_count, ledger_waste
from infusions.ledger_reports import inspection_report, inventories_reconciled
from infusions.models import Lot
from infusions.tests.factories import dea_registered
from infusions.tests.test_ledger import receive
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory
from tests.clock import advance

ZERO = Decimal("0.000")
amounts = st.decimals(min_value="0.001", max_value=400, places=3)
lot_index = st.integers(min_value=0, max_value=5)
operations = st.one_of(
    st.tuples(st.just("receive"), st.integers(min_value=1, max_value=3)),
    st.tuples(st.just("administer"), lot_index, amounts),
    st.tuples(st.just("waste"), lot_index, amounts),
    st.tuples(st.just("destroy"), lot_index, amounts),
    st.tuples(st.just("adjust"), lot_index, st.decimals(-50, 50, places=3)),
    st.tuples(st.just("count"), lot_index, st.decimals(0, 20, places=3)),
)
# What each count of the two inventories finds missing (mg, taken off the book; 0: none).
shortfalls = st.lists(st.decimals(0, 15, places=3), min_size=8, max_size=8)


@pytest.fixture
def location(db):
    return dea_registered(LocationFactory(name="Lakeview", time_zone="America/Chicago"))


@pytest.fixture
def nora(db):
    return make_staff("nora@clinic.test", "Nora Nurse", Role.NURSE)


class Book:
    """What the test did, lot by lot: the model the ledger is held to."""

    def __init__(self) -> None:
        self.balance: dict[int, Decimal] = defaultdict(lambda: ZERO)
        self.moved: dict[int, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))

    def move(self, lot: Lot, kind: str, amount: Decimal) -> None:
        """``amount`` as the reconciliation reports it (positive for what was taken out)."""
        self.moved[lot.pk][kind] += amount
        sign = -1 if kind in {"administered", "wasted", "destroyed"} else 1
        self.balance[lot.pk] += sign * amount


def take_inventory(nina, phil, location, book: Book, missing: list[Decimal], record: bool):
    """Count every lot, finding ``missing`` mg less than the book (explained)."""
    lots = list(lots_to_count(location))
    counts, explanations = {}, {}
    for lot, short in zip(lots, missing * len(lots), strict=False):
        counted = max(book.balance[lot.pk] - short, ZERO)
        counts[lot] = counted
        if counted != book.balance[lot.pk]:
            explanations[lot] = "Residue left in the vial"
            if record:
                book.move(lot, "adjustment", counted - book.balance[lot.pk])
            else:
                book.balance[lot.pk] = counted
    cosigner_unlock(phil)
    inventory = inventory_take(
        actor=nina,
        location=location,
        time_of_day="close_of_business",
        counts=counts,
        explanations=explanations,
        witness=phil,
        witness_password=PASSWORD,
    )
    return inventory, counts


@pytest.mark.django_db
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(operations, min_size=1, max_size=20),
    opening_short=shortfalls,
    closing_short=shortfalls,
)
def test_every_lot_reconciles_and_the_report_agrees(
    nina, phil, nora, location, steps, opening_short, closing_short
):
    with transaction.atomic():
        _run(nina, phil, nora, location, steps, opening_short, closing_short)
        transaction.set_rollback(True)


def _run(nina, phil, nora, location, steps, opening_short, closing_short) -> None:
    patient = PatientFactory()
    book = Book()
    lots = []
    for number in range(2):
        lot = receive(nina, location, lot_number=f"OPEN-{number}")
        lots.append(lot)
        book.balance[lot.pk] = lot.balance_mg
    advance(1)
    opening, opened = take_inventory(nina, phil, location, book, opening_short, record=False)
    for step in steps:
        advance(1)
        _apply(step, lots, book, nina, phil, nora, location, patient)
    advance(1)
    closing, closed = take_inventory(nina, phil, location, book, closing_short, record=True)

    rows = {row.lot.pk: row for row in inventories_reconciled(opening=opening, closing=closing)}
    report = inspection_report(
        location=location,
        start=opening.taken_at.astimezone(location.tz).date(),
        end=closing.taken_at.astimezone(location.tz).date(),
    )
    ((report_opening, report_closing, report_rows),) = report.reconciliations()
    assert (report_opening.inventory, report_closing.inventory) == (opening, closing)
    assert {row.lot.pk: row for row in report_rows} == rows
    sections = {section.lot.pk: section for section in report.lots}
    for lot in lots:
        moved = book.moved[lot.pk]
        row = rows[lot.pk]
        assert row.opening_mg == opened.get(lot, ZERO)
        assert row.received_mg == moved["receipt"]
        assert row.administered_mg == moved["administered"]
        assert row.wasted_mg == moved["wasted"]
        assert row.destroyed_mg == moved["destroyed"]
        assert row.adjusted_mg == moved["adjustment"]
        assert row.closing_mg == closed.get(lot, ZERO) == book.balance[lot.pk]
        assert row.balanced, f"lot {lot.lot_number}: {row}"
        # Nothing happened after the closing inventory: the report ends at its counts.
        assert sections[lot.pk].closing_mg == book.balance[lot.pk]
        lot.refresh_from_db()
        assert lot.balance_mg == book.balance[lot.pk]


def _apply(step, lots, book, nina, phil, nora, location, patient) -> None:
    op, *args = step
    if op == "receive":
        lot = receive(nina, location, lot_number=f"NEW-{len(lots)}", containers_received=args[0])
        lots.append(lot)
        book.move(lot, "receipt", lot.balance_mg)
        return
    lot = lots[args[0] % len(lots)]
    balance = book.balance[lot.pk]
    amount = args[1]
    if op == "adjust":
        amount = max(amount, -balance)
        if amount == 0:
            return
        ledger_adjust(actor=nina, lot=lot, amount_mg=amount, reason="Found on review")
        book.move(lot, "adjustment", amount)
        return
    if op == "count":
        counted = max(balance - amount, ZERO)
        ledger_count(actor=nina, lot=lot, counted_mg=counted, explanation="Spot check")
        if counted != balance:
            book.move(lot, "adjustment", counted - balance)
        return
    amount = min(amount, balance)
    if amount == 0:
        return
    cosigner_unlock(phil)
    cosigner_unlock(nora)
    if op == "administer":
        ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg=amount)
        book.move(lot, "administered", amount)
    elif op == "waste":
        ledger_waste(actor=nina, lot=lot, amount_mg=amount, witness=phil, witness_password=PASSWORD)
        book.move(lot, "wasted", amount)
    else:
        lot_destroy(
            actor=nina,
            lot=lot,
            amount_mg=amount,
            containers=1,
            reason="Expired",
            method="on_site",
            on_site_method="Drug disposal pouch",
            witness=phil,
            witness_password=PASSWORD,
            second_witness=nora,
            second_witness_password=PASSWORD,
        )
        book.move(lot, "destroyed", amount)
