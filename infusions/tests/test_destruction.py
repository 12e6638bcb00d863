"""Destroying expired or unusable stock: the fields DEA Form 41 asks, two witnesses besides
the person recording, the amount out of the lot as a ``destroyed`` entry."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction

from clinic.roles import Role
from conftest import PASSWORD, make_staff
from infusions.destruction import lot_destroy
from infusions.ledger_reports import ledger_csv, lot_balance_from_entries
from infusions.models import Destruction, LedgerEntry
from infusions.models.ledger import LedgerEntryKind
from infusions.tests.factories import dea_registered
from infusions.tests.test_ledger import receive
from scheduling.tests.factories import LocationFactory


@pytest.fixture
def location(db):
    return dea_registered(LocationFactory(name="Lakeview", time_zone="America/Chicago"))


@pytest.fixture
def lot(nina, location):
    return receive(nina, location)  # 500 mg


@pytest.fixture
def nora(db):
    return make_staff("nora@clinic.test", "Nora Nurse", Role.NURSE)


RD_NUMBER = "reverse_distributor_dea_number"


def destroy(nina, lot, witness, second, **fields):
    values = {
        "amount_mg": "500",
        "containers": "1",
        "reason": "Expired",
        "method": "reverse_distributor",
        "reverse_distributor": "Safe Returns Inc.",
        "reverse_distributor_address": "9 Dock Street, Memphis, TN 38118",
        "reverse_distributor_dea_number": "RS1234563",
        "witness_password": PASSWORD,
        "second_witness_password": PASSWORD,
    } | fields
    return lot_destroy(actor=nina, lot=lot, witness=witness, second_witness=second, **values)


def refusal(caught: pytest.ExceptionInfo, field: str) -> str:
    return " ".join(caught.value.message_dict[field])


def test_stock_goes_to_a_reverse_distributor_with_two_witnesses(nina, phil, nora, lot):
    destruction = destroy(nina, lot, phil, nora)

    entry = destruction.entry
    assert (entry.kind, entry.amount_mg, entry.witness) == (
        LedgerEntryKind.DESTROYED,
        Decimal("-500.000"),
        phil,
    )
    assert destruction.second_witness == nora
    assert destruction.reverse_distributor_dea_number == "RS1234563"
    lot.refresh_from_db()
    assert lot.balance_mg == 0 == lot_balance_from_entries(lot)
    today = lot.location.local_now().date()
    rows = list(csv.DictReader(io.StringIO(ledger_csv(start=today, end=today))))
    assert [row["kind"] for row in rows] == ["receipt", "destroyed"]


def test_on_site_destruction_says_how(nina, phil, nora, lot):
    with pytest.raises(ValidationError) as caught:
        destroy(nina, lot, phil, nora, method="on_site", amount_mg="100")
    assert "non-retrievable" in refusal(caught, "on_site_method")

    destruction = destroy(
        nina, lot, phil, nora, method="on_site", amount_mg="100", on_site_method="Rx Destroyer"
    )
    assert destruction.entry.balance_after_mg == Decimal("400.000")


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"reverse_distributor_dea_number": "RS1234567"}, RD_NUMBER, "check digit"),
        ({"reverse_distributor": ""}, "reverse_distributor", "name"),
        ({"reason": ""}, "reason", "Say why"),
        ({"containers": "0"}, "containers", "whole number"),
        ({"amount_mg": "600"}, "amount_mg", "below zero"),
        ({"method": "burn"}, "method", "Choose how"),
        ({"second_witness_password": "nope"}, "second_witness_password", "not Nora Nurse"),
    ],
)  # fmt: skip
def test_a_bad_record_says_what_to_fix_and_changes_nothing(
    nina, phil, nora, lot, fields, field, says
):
    with pytest.raises(ValidationError) as caught:
        destroy(nina, lot, phil, nora, **fields)

    assert says in refusal(caught, field)
    lot.refresh_from_db()
    assert lot.balance_mg == Decimal("500.000")
    assert not Destruction.objects.exists()


def test_the_two_witnesses_are_two_other_people(nina, phil, lot):
    with pytest.raises(ValidationError) as caught:
        destroy(nina, lot, phil, phil)
    assert "two different witnesses" in refusal(caught, "second_witness")

    with pytest.raises(ValidationError) as caught:
        destroy(nina, lot, phil, nina)
    assert "your own second person" in refusal(caught, "second_witness")


def test_the_database_holds_the_witnesses_and_the_record(nina, phil, nora, lot):
    destruction = destroy(nina, lot, phil, nora, amount_mg="100")

    with pytest.raises(DatabaseError), transaction.atomic():
        Destruction.objects.filter(pk=destruction.pk).update(reason="x")
    waste = LedgerEntry.objects.create(
        lot=lot,
        kind=LedgerEntryKind.DESTROYED,
        amount_mg=Decimal("-1"),
        balance_after_mg=Decimal("399"),
        recorded_by=nina,
        witness=phil,
        occurred_at=destruction.entry.occurred_at,
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        Destruction.objects.create(
            entry=waste, method="on_site", reason="x", containers=1, on_site_method="y",
            second_witness=phil,
        )  # fmt: skip


def test_the_page_records_it(client, nina, phil, nora, lot):
    client.force_login(nina)
    url = f"/staff/ledger/lots/{lot.public_id}/destroy/"
    assert (
        'data-testid="destroy-link"'
        in client.get(f"/staff/ledger/lots/{lot.public_id}/").content.decode()
    )
    data = {
        "amount_mg": "500",
        "containers": "1",
        "reason": "Expired",
        "method": "on_site",
        "on_site_method": "",
        "witness": str(phil.public_id),
        "witness_password": PASSWORD,
        "second_witness": str(nora.public_id),
        "second_witness_password": PASSWORD,
        "confirm": "on",
    }

    response = client.post(url, data)
    assert response.status_code == 400
    assert "non-retrievable" in response.content.decode()

    response = client.post(url, data | {"on_site_method": "Drug disposal pouch"}, follow=True)
    assert "with two witnesses. The balance is 0.000 mg" in response.content.decode()
    assert Destruction.objects.get().entry.lot == lot
