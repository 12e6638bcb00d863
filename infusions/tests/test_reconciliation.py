"""The DEA reconciliation: for every lot, opening inventory + receipts - administered -
wasted - destroyed +/- adjustments = the next inventory."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from clinic.roles import Role
from conftest import PASSWORD, make_staff
from infusions.destruction import lot_destroy
from infusions.inventories import inventory_take
from infusions.ledger import ledger_adjust, ledger_administer, ledger_waste
from infusions.ledger_reports import inventories_reconciled
from infusions.tests.factories import dea_registered
from infusions.tests.test_ledger import receive
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory
from tests.clock import advance

D = Decimal


@pytest.fixture
def location(db):
    return dea_registered(LocationFactory(name="Lakeview", time_zone="America/Chicago"))


def inventory(nina, phil, location, counts, explanations=None):
    advance(60)
    taken = inventory_take(
        actor=nina,
        location=location,
        time_of_day="close_of_business",
        counts=counts,
        explanations=explanations or {},
        witness=phil,
        witness_password=PASSWORD,
    )
    advance(60)
    return taken


def test_every_lot_reconciles_from_one_inventory_to_the_next(nina, phil, location):
    nora = make_staff("nora@clinic.test", "Nora Nurse", Role.NURSE)
    patient = PatientFactory()
    a = receive(nina, location, lot_number="A")  # 500 mg
    b = receive(nina, location, lot_number="B")  # 500 mg
    # The opening inventory finds 5 mg less in A than the book: explained and adjusted then.
    opening = inventory(
        nina, phil, location, {a: "495", b: "500"}, {a: "Spilled at the last draw."}
    )

    c = receive(nina, location, lot_number="C")  # 500 mg, received in between
    ledger_administer(actor=nina, lot=a, patient=patient, amount_mg="40")
    ledger_waste(actor=nina, lot=a, amount_mg="10", witness=phil, witness_password=PASSWORD)
    lot_destroy(
        actor=nina,
        lot=b,
        amount_mg="100",
        containers=1,
        reason="Vial cracked",
        method="on_site",
        on_site_method="Drug disposal pouch",
        witness=phil,
        witness_password=PASSWORD,
        second_witness=nora,
        second_witness_password=PASSWORD,
    )
    ledger_adjust(actor=nina, lot=b, amount_mg="-2", reason="Mis-measured receipt")
    ledger_administer(actor=nina, lot=c, patient=patient, amount_mg="500")  # C emptied
    # The closing inventory finds 3 mg less in A: explained, booked as an adjustment.
    closing = inventory(nina, phil, location, {a: "442", b: "398"}, {a: "Vial residue."})

    rows = {
        row.lot.lot_number: row for row in inventories_reconciled(opening=opening, closing=closing)
    }

    assert set(rows) == {"A", "B", "C"}
    assert all(row.balanced for row in rows.values())
    a_row, b_row, c_row = rows["A"], rows["B"], rows["C"]
    assert (a_row.opening_mg, a_row.administered_mg, a_row.wasted_mg) == (D(495), D(40), D(10))
    assert (a_row.adjusted_mg, a_row.closing_mg) == (D(-3), D(442))
    assert (b_row.destroyed_mg, b_row.adjusted_mg, b_row.closing_mg) == (D(100), D(-2), D(398))
    assert (c_row.opening_mg, c_row.received_mg, c_row.administered_mg) == (0, D(500), D(500))
    assert c_row.closing_mg == 0


def test_it_needs_a_later_inventory_of_the_same_location(nina, phil, location):
    first = inventory(nina, phil, location, {})
    other = dea_registered(LocationFactory(name="Hillside"))
    elsewhere = inventory(nina, phil, other, {})

    with pytest.raises(ValidationError):
        inventories_reconciled(opening=first, closing=elsewhere)
    with pytest.raises(ValidationError):
        inventories_reconciled(opening=inventory(nina, phil, location, {}), closing=first)
