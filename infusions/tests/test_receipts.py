"""Receipts record what 21 CFR 1304.22(c) asks: the supplier's name, address and DEA number,
the product, its strength, the container size, the containers received and the date
received. Lots received before these were asked for stay valid; new ones must have them."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction

from infusions.ledger_reports import ledger_csv
from infusions.models import LedgerEntry, Lot
from infusions.tests.factories import SUPPLIER, dea_registered
from infusions.tests.test_ledger import receive, refusal
from scheduling.tests.factories import LocationFactory

RECEIVE = "/staff/ledger/receive/"


@pytest.fixture
def location(db):
    return dea_registered(LocationFactory(name="Lakeview", time_zone="America/Chicago"))


def test_a_receipt_keeps_the_supplier_and_the_containers(nina, location):
    lot = receive(
        nina,
        location,
        container_volume_ml="10",
        containers_received="5",
        supplier_dea_number=" ps 123-4563 ",
        concentration_mg_per_ml="50",
    )

    lot.refresh_from_db()
    assert (lot.container_volume_ml, lot.containers_received) == (Decimal("10.00"), 5)
    assert lot.volume_ml == Decimal("50.00")
    assert lot.balance_mg == Decimal("2500.000") == lot.entries.get().amount_mg
    assert lot.supplier_dea_number == "PS1234563"
    assert lot.supplier_address == SUPPLIER["supplier_address"]


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"supplier_address": " "}, "supplier_address", "Enter the supplier's address"),
        ({"supplier_dea_number": ""}, "supplier_dea_number", "Enter the DEA registration number"),
        ({"supplier_dea_number": "PS1234567"}, "supplier_dea_number", "check digit"),
        ({"supplier_dea_number": "BS1234563"}, "supplier_dea_number", "starts with P or R"),
        ({"containers_received": "0"}, "containers_received", "a whole number"),
        ({"containers_received": "2.5"}, "containers_received", "a whole number"),
        ({"container_volume_ml": ""}, "container_volume_ml", "The container size must be"),
    ],
)
def test_an_incomplete_receipt_says_what_to_fix_and_saves_nothing(
    nina, location, fields, field, says
):
    with pytest.raises(ValidationError) as caught:
        receive(nina, location, **fields)

    assert says in refusal(caught, field)
    assert not Lot.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_the_database_refuses_a_new_lot_without_the_receipt_details(nina, location):
    lot = receive(nina, location)
    bare = {
        "location": location,
        "product_name": "Ketamine",
        "concentration_mg_per_ml": Decimal(50),
        "volume_ml": Decimal(10),
        "lot_number": "RAW-1",
        "expiry_date": lot.expiry_date,
        "supplier": "Someone",
        "invoice_number": "X",
        "received_by": nina,
        "balance_mg": Decimal(500),
    }
    with pytest.raises(DatabaseError, match="supplier's address"), transaction.atomic():
        Lot.objects.create(**bare)
    # All four or none, and they agree: 3 x 10 mL is not 10 mL.
    with pytest.raises(IntegrityError), transaction.atomic():
        Lot.objects.create(**bare, **SUPPLIER, container_volume_ml=10, containers_received=3)
    with pytest.raises(IntegrityError), transaction.atomic():
        Lot.objects.create(
            **bare,
            **(SUPPLIER | {"supplier_dea_number": "PS1234564"}),
            container_volume_ml=10,
            containers_received=1,
        )
    assert list(Lot.objects.all()) == [lot]


def test_a_lot_received_before_the_details_were_asked_for_stays_valid(client, nina, location):
    with connection.cursor() as cursor:
        # As a lot received before migration 0009: its insert did not pass the new trigger.
        cursor.execute("ALTER TABLE infusions_lot DISABLE TRIGGER infusions_lot_receipt_complete")
        old = Lot.objects.create(
            location=location,
            product_name="Ketamine HCl 50 mg/mL",
            concentration_mg_per_ml=Decimal(50),
            volume_ml=Decimal(10),
            lot_number="OLD-1",
            expiry_date=location.local_now().date() + timedelta(days=100),
            supplier="Midwest Pharma Supply",
            invoice_number="INV-1",
            received_by=nina,
            balance_mg=Decimal(500),
        )
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # no pending checks block the ALTER
        cursor.execute("ALTER TABLE infusions_lot ENABLE TRIGGER infusions_lot_receipt_complete")
    client.force_login(nina)

    page = client.get(f"/staff/ledger/lots/{old.public_id}/").content.decode()

    assert "Address and DEA number not recorded" in page
    old.balance_mg = Decimal(400)
    old.save(update_fields=["balance_mg"])  # its balance still moves


def test_the_receive_page_asks_for_and_shows_the_receipt_details(client, nina, location):
    client.force_login(nina)

    page = client.get(RECEIVE).content.decode()
    for field in ("supplier_address", "supplier_dea_number", "container_volume_ml"):
        assert f'name="{field}"' in page
    assert 'name="containers_received"' in page

    response = client.post(
        RECEIVE,
        {
            "location": str(location.public_id),
            "product_name": "Ketamine HCl 50 mg/mL",
            "concentration_mg_per_ml": "50",
            "container_volume_ml": "10",
            "containers_received": "3",
            "lot_number": "NEW-1",
            "expiry_date": (location.local_now().date() + timedelta(days=400)).isoformat(),
            "supplier": "Midwest Pharma Supply",
            "supplier_address": "400 Depot Road, Memphis, TN 38118",
            "supplier_dea_number": "PS1234560",
            "invoice_number": "INV-900",
        },
    )
    assert "fails the DEA check digit" in response.content.decode()
    assert not Lot.objects.exists()


def test_the_lot_page_and_the_export_show_the_receipt(client, nina, location):
    lot = receive(nina, location, container_volume_ml="10", containers_received="3")
    client.force_login(nina)

    page = client.get(f"/staff/ledger/lots/{lot.public_id}/").content.decode()
    today = location.local_now().date()
    rows = list(csv.DictReader(io.StringIO(ledger_csv(start=today, end=today))))

    assert "3 × 10 mL (30 mL)" in page
    assert "DEA PS1234563" in page
    assert rows[0]["supplier_dea_number"] == "PS1234563"
    assert rows[0]["supplier_address"] == SUPPLIER["supplier_address"]
    assert (rows[0]["container_volume_ml"], rows[0]["containers_received"]) == ("10.00", "3")
