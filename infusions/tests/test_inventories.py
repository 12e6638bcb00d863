"""Inventories: every lot at a location counted on one date and time, signed by the person
counting and a witness; differences explained and booked as adjustments; the next one due
two years after the last, shown ahead of time to clinic admins and physicians."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditEvent
from conftest import PASSWORD
from infusions.inventories import (
    count_field,
    explanation_field,
    inventories_due,
    inventory_take,
    two_years_after,
)
from infusions.ledger_reports import lot_balance_from_entries
from infusions.models import Inventory, LedgerEntry
from infusions.models.ledger import LedgerEntryKind
from infusions.tests.factories import dea_registered
from infusions.tests.test_ledger import receive
from scheduling.tests.factories import LocationFactory
from tests.clock import travel_to

Kind = LedgerEntryKind
INVENTORIES = "/staff/ledger/inventories/"


@pytest.fixture
def location(db):
    return dea_registered(LocationFactory(name="Lakeview", time_zone="America/Chicago"))


@pytest.fixture
def lots(nina, location):
    """Two lots of 500 mg each."""
    return [receive(nina, location, lot_number="KX-1"), receive(nina, location, lot_number="KX-2")]


def take(nina, location, counts, *, witness, password=PASSWORD, **fields):
    values = {"time_of_day": "close_of_business", "witness_password": password} | fields
    return inventory_take(actor=nina, location=location, counts=counts, witness=witness, **values)


def refusal(caught: pytest.ExceptionInfo, field: str) -> str:
    return " ".join(caught.value.message_dict[field])


# --- Taking one ----------------------------------------------------------------------------


def test_the_initial_inventory_counts_every_lot_witnessed(nina, phil, location, lots):
    inventory = take(nina, location, dict.fromkeys(lots, "500"), witness=phil)

    assert inventory.is_initial
    assert (inventory.counted_by, inventory.witness) == (nina, phil)
    counts = list(inventory.counts.order_by("lot__lot_number"))
    assert [(c.lot.lot_number, c.kind, c.counted_mg) for c in counts] == [
        ("KX-1", Kind.COUNT, Decimal("500.000")),
        ("KX-2", Kind.COUNT, Decimal("500.000")),
    ]
    assert {c.occurred_at for c in counts} == {inventory.taken_at}
    assert AuditEvent.objects.filter(object_id=str(inventory.public_id)).exists()


def test_a_difference_is_explained_and_booked_as_an_adjustment(nina, phil, location, lots):
    first, second = lots
    with pytest.raises(ValidationError) as caught:
        take(nina, location, {first: "490", second: "500"}, witness=phil)
    assert "explain the difference" in refusal(caught, explanation_field(first))
    assert not Inventory.objects.exists()

    inventory = take(
        nina,
        location,
        {first: "490", second: "500"},
        explanations={first: "A vial cracked in the safe; the spill was not recorded."},
        witness=phil,
    )

    count = inventory.counts.get(lot=first)
    assert count.discrepancy_mg == Decimal("-10.000")
    adjustment = count.corrections.get()
    assert (adjustment.kind, adjustment.amount_mg) == (Kind.ADJUSTMENT, Decimal("-10.000"))
    first.refresh_from_db()
    assert first.balance_mg == Decimal("490.000") == lot_balance_from_entries(first)


def test_every_lot_must_be_counted_and_nothing_is_saved_otherwise(nina, phil, location, lots):
    first, second = lots
    entries = LedgerEntry.objects.count()

    with pytest.raises(ValidationError) as caught:
        take(nina, location, {first: "500"}, witness=phil)

    assert "Enter what you counted in lot KX-2" in refusal(caught, count_field(second))
    assert (Inventory.objects.count(), LedgerEntry.objects.count()) == (0, entries)


@pytest.mark.parametrize(
    ("witness", "password", "field", "says"),
    [
        (None, PASSWORD, "witness", "Choose the second member of staff"),
        ("nina", PASSWORD, "witness", "cannot be your own second person"),
        ("fran", PASSWORD, "witness", "cannot confirm this"),
        ("phil", "wrong", "witness_password", "not Phil Physician's password"),
    ],
)
def test_the_witness_signs_with_their_own_password(
    request, nina, location, lots, witness, password, field, says
):
    person = request.getfixturevalue(witness) if witness else None

    with pytest.raises(ValidationError) as caught:
        take(nina, location, dict.fromkeys(lots, "500"), witness=person, password=password)

    assert says in refusal(caught, field)
    assert not Inventory.objects.exists()


def test_the_time_of_day_must_be_opening_or_close(nina, phil, location, lots):
    with pytest.raises(ValidationError) as caught:
        take(nina, location, dict.fromkeys(lots, "500"), witness=phil, time_of_day="noon")

    assert "opening or the close of business" in refusal(caught, "time_of_day")


def test_a_location_with_no_stock_records_an_empty_initial_inventory(nina, phil, location):
    inventory = take(nina, location, {}, witness=phil, time_of_day="opening")

    assert inventory.is_initial and not inventory.counts.exists()
    later = take(nina, location, {}, witness=phil)
    assert not later.is_initial


def test_the_front_desk_cannot_take_one(fran, phil, location):
    with pytest.raises(PermissionDenied):
        take(fran, location, {}, witness=phil)


def test_inventories_are_append_only_and_witnessed_by_someone_else(nina, phil, location, lots):
    inventory = take(nina, location, dict.fromkeys(lots, "500"), witness=phil)

    for change in (
        lambda: Inventory.objects.filter(pk=inventory.pk).update(time_of_day="opening"),
        lambda: Inventory.objects.filter(pk=inventory.pk).delete(),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            change()
    with pytest.raises(IntegrityError), transaction.atomic():
        Inventory.objects.create(
            location=location, taken_at=inventory.taken_at, time_of_day="opening",
            counted_by=nina, witness=nina,
        )  # fmt: skip
    with pytest.raises(IntegrityError), transaction.atomic():
        Inventory.objects.create(
            location=location, is_initial=True, taken_at=inventory.taken_at,
            time_of_day="opening", counted_by=nina, witness=phil,
        )  # fmt: skip


# --- Spravato devices ---------------------------------------------------------------------


@pytest.fixture
def spravato(nina, location):
    """24 Spravato devices (672 mg) received at Lakeview."""
    from infusions.tests.rems_factories import esketamine_stock

    return esketamine_stock(location, nina, devices=24)


def test_an_esketamine_lot_is_counted_in_devices(nina, phil, location, spravato):
    inventory = take(nina, location, {spravato: "24"}, witness=phil)

    count = inventory.counts.get()
    assert (count.counted_mg, count.discrepancy_mg) == (Decimal("672.000"), Decimal(0))
    spravato.refresh_from_db()
    assert spravato.devices_left == 24


def test_a_missing_device_is_said_in_devices_and_booked_in_mg(nina, phil, location, spravato):
    with pytest.raises(ValidationError) as caught:
        take(nina, location, {spravato: "23"}, witness=phil)
    message = refusal(caught, explanation_field(spravato))
    assert "1 device less than the book's 24 devices" in message
    assert "mg less" not in message

    inventory = take(
        nina,
        location,
        {spravato: "23"},
        explanations={spravato: "A device was dropped and not recorded."},
        witness=phil,
    )
    assert inventory.counts.get().discrepancy_mg == Decimal("-28.000")


@pytest.mark.parametrize("typed", ["23.5", "-1", "two", "672 mg"])
def test_a_device_count_must_be_a_whole_number(nina, phil, location, spravato, typed):
    with pytest.raises(ValidationError) as caught:
        take(nina, location, {spravato: typed}, witness=phil)
    assert "whole number of devices" in refusal(caught, count_field(spravato))
    assert not Inventory.objects.exists()


def test_the_inventory_page_asks_for_devices_for_an_esketamine_lot(
    client, nina, phil, location, spravato
):
    client.force_login(nina)
    html = client.get(f"{INVENTORIES}take/{location.public_id}/").content.decode()
    assert f"Lot {spravato.lot_number}: counted (devices)" in html
    assert "The book says 24 devices" in html


def test_the_inventory_the_lot_and_the_inspection_report_show_devices(
    client, nina, phil, location, spravato
):
    inventory = take(
        nina,
        location,
        {spravato: "23"},
        explanations={spravato: "A device was dropped and not recorded."},
        witness=phil,
    )
    client.force_login(phil)

    html = client.get(f"{INVENTORIES}{inventory.public_id}/").content.decode()
    assert "644.000 mg (23 devices)" in html and "-28.000 mg (-1 device)" in html
    html = client.get(f"/staff/ledger/lots/{spravato.public_id}/").content.decode()
    assert "counted 644.000 mg (23 devices)" in html and "23 devices of 28 mg left" in html
    today = location.local_now().date()
    html = client.get(
        "/staff/ledger/inspection/",
        {"location": str(location.public_id), "start": today.isoformat(), "end": today.isoformat()},
    ).content.decode()
    assert "644.000 (23 devices)" in html and "-28.000 (-1 device)" in html


# --- When the next one is due ---------------------------------------------------------------


def test_a_location_without_an_inventory_is_due_for_its_initial_one(location):
    (due,) = inventories_due(type(location).objects.filter(pk=location.pk))

    assert due.initial and due.soon
    assert "The initial inventory of Lakeview has not been taken" in due.message()


def test_the_next_one_is_due_two_years_after_the_last_and_shown_ahead(
    client, nina, phil, alice, location, lots
):
    inventory = take(nina, location, dict.fromkeys(lots, "500"), witness=phil)
    taken_on = inventory.taken_at.astimezone(location.tz).date()
    due_on = two_years_after(taken_on)
    client.force_login(alice)
    (due,) = inventories_due(type(location).objects.filter(pk=location.pk))
    assert (due.due_on, due.soon) == (due_on, False)
    assert "Ketamine inventories due" not in client.get("/staff/").content.decode()

    travel_to(inventory.taken_at + timedelta(days=2 * 365 - 50))
    client.force_login(alice)  # a new session: the old one expired meanwhile

    home = client.get("/staff/").content.decode()
    assert "Ketamine inventories due" in home
    assert f"is due by {due_on:%b} {due_on.day}, {due_on.year}" in home

    travel_to(inventory.taken_at + timedelta(days=2 * 365 + 5))
    client.force_login(alice)

    assert "was due on" in client.get("/staff/").content.decode()
    assert "was due on" in client.get("/staff/ledger/").content.decode()


@pytest.mark.parametrize(("persona", "shown"), [("alice", True), ("phil", True), ("nina", False)])
def test_the_home_page_shows_it_to_admins_and_physicians(request, client, location, persona, shown):
    client.force_login(request.getfixturevalue(persona))

    home = client.get("/staff/").content.decode()

    assert ("The initial inventory of Lakeview" in home) is shown


def test_the_29th_of_february_falls_due_on_the_28th():
    from datetime import date

    assert two_years_after(date(2028, 2, 29)) == date(2030, 2, 28)


# --- The pages -----------------------------------------------------------------------------


def form_data(location, lots, witness, **fields) -> dict:
    data = {
        "time_of_day": "opening",
        "witness": str(witness.public_id),
        "witness_password": PASSWORD,
        "confirm": "on",
    }
    for lot in lots:
        data[count_field(lot)] = "500"
    return data | fields


def test_a_nurse_takes_the_inventory_on_the_page(client, nina, phil, location, lots):
    client.force_login(nina)
    url = f"{INVENTORIES}take/{location.public_id}/"
    assert "KX-2: counted (mg)" in client.get(url).content.decode()

    response = client.post(url, form_data(location, lots, phil), follow=True)

    page = response.content.decode()
    assert "Recorded the inventory of Lakeview: 2 lots counted" in page
    assert 'data-testid="inventory-counts"' in page
    assert Inventory.objects.get().counts.count() == 2


def test_a_bad_count_is_shown_next_to_the_lot_and_nothing_is_saved(
    client, nina, phil, location, lots
):
    client.force_login(nina)
    url = f"{INVENTORIES}take/{location.public_id}/"
    bad = form_data(location, lots, phil, **{count_field(lots[0]): "lots"})

    response = client.post(url, bad)

    assert response.status_code == 400
    assert "Lot KX-1: The count must be a number of mg" in response.content.decode()
    assert not Inventory.objects.exists()


def test_clinic_admins_read_inventories_but_do_not_take_them(client, alice, location):
    client.force_login(alice)

    page = client.get(INVENTORIES).content.decode()

    assert "The initial inventory of Lakeview has not been taken" in page
    assert "Take the inventory" not in page
    assert client.get(f"{INVENTORIES}take/{location.public_id}/").status_code == 403


def test_the_inventories_page_reads_a_constant_number_of_queries(
    client, nina, phil, location, lots, django_assert_num_queries
):
    take(nina, location, dict.fromkeys(lots, "500"), witness=phil)
    client.force_login(nina)
    client.get(INVENTORIES)
    with CaptureQueriesContext(connection) as one:
        client.get(INVENTORIES)
    for number in range(3):
        other = dea_registered(LocationFactory(name=f"Other {number}"))
        take(nina, other, {}, witness=phil)

    with django_assert_num_queries(len(one.captured_queries)):
        page = client.get(INVENTORIES).content.decode()

    assert page.count('data-testid="inventory-row"') == 4


def test_a_lot_count_of_spravato_is_entered_in_devices_on_the_lot_page(
    client, nina, phil, location, spravato
):
    client.force_login(nina)
    url = f"/staff/ledger/lots/{spravato.public_id}/"
    assert "Counted (devices)" in client.get(url).content.decode()

    response = client.post(
        f"{url}counts/",
        {"count-counted_mg": "23", "count-explanation": "One dropped.", "count-confirm": "on"},
    )

    assert response.status_code == 302
    spravato.refresh_from_db()
    assert spravato.devices_left == 23
    response = client.post(f"{url}counts/", {"count-counted_mg": "22.5", "count-confirm": "on"})
    assert "whole number of devices" in response.content.decode()
    spravato.refresh_from_db()
    assert spravato.devices_left == 23
