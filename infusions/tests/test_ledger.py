"""The ketamine ledger: receiving, doses, witnessed waste, adjustments, counts, the export.

Every refusal says what was wrong and changes nothing; the database itself keeps balances
at or above zero and the entries append-only.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from clinic.models import AuditEvent
from conftest import PASSWORD
from infusions import ledger
from infusions.ledger import (
    ledger_adjust,
    ledger_administer,
    ledger_count,
    ledger_waste,
    lot_receive,
)
from infusions.ledger_reports import ledger_csv, lot_balance_from_entries
from infusions.models import LedgerEntry, Lot
from infusions.models.ledger import LedgerEntryKind
from infusions.tests.factories import SUPPLIER, dea_registered
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory

Kind = LedgerEntryKind


@pytest.fixture
def location(db):
    return dea_registered(LocationFactory(name="Lakeview", time_zone="America/Chicago"))


@pytest.fixture
def patient(db):
    return PatientFactory(legal_first_name="Robin", legal_last_name="Quinn")


def receive(actor, location, **fields) -> Lot:
    values = {
        "product_name": "Ketamine HCl 50 mg/mL",
        "concentration_mg_per_ml": Decimal("50"),
        "container_volume_ml": Decimal("10"),
        "containers_received": 1,
        **SUPPLIER,
        "lot_number": "KX-1001",
        "expiry_date": location.local_now().date() + timedelta(days=365),
        "supplier": "Midwest Pharma Supply",
        "invoice_number": "INV-77",
    }
    values.update(fields)
    return lot_receive(actor=actor, location=dea_registered(location), **values)


@pytest.fixture
def lot(nina, location) -> Lot:
    return receive(nina, location)


def refusal(caught: pytest.ExceptionInfo, field: str) -> str:
    return " ".join(caught.value.message_dict[field])


def snapshot(lot: Lot) -> tuple[Decimal, int, int]:
    """What a refused write must leave as it was: the balance, the entries, the audit log."""
    lot.refresh_from_db()
    return lot.balance_mg, lot.entries.count(), AuditEvent.objects.count()


# --- Receiving ---------------------------------------------------------------------------


def test_it_receives_a_lot_with_its_receipt(nina, location):
    lot = receive(
        nina,
        location,
        container_volume_ml=Decimal("5.25"),
        containers_received="2",
        concentration_mg_per_ml="100",
    )

    lot.refresh_from_db()
    assert lot.balance_mg == Decimal("1050.000")
    assert lot.received_by == nina
    (receipt,) = lot.entries.all()
    assert receipt.kind == Kind.RECEIPT
    assert receipt.amount_mg == receipt.balance_after_mg == Decimal("1050.000")
    event = AuditEvent.objects.get(object_id=str(lot.public_id))
    assert event.actor == nina
    assert event.object_label == ""


def test_it_refuses_an_incomplete_or_expired_delivery_and_saves_nothing(nina, location):
    with pytest.raises(ValidationError) as caught:
        receive(
            nina,
            location,
            lot_number=" ",
            invoice_number="",
            container_volume_ml="0",
            concentration_mg_per_ml="50.0001",
            expiry_date=location.local_now().date() - timedelta(days=1),  # the location's day
        )

    errors = caught.value.message_dict
    assert set(errors) == {
        "lot_number",
        "invoice_number",
        "container_volume_ml",
        "concentration_mg_per_ml",
        "expiry_date",
    }
    assert "Enter the lot number." in errors["lot_number"]
    assert "at most 3 decimals" in refusal(caught, "concentration_mg_per_ml")
    assert "return it to the supplier" in refusal(caught, "expiry_date")
    assert not Lot.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_it_refuses_a_concentration_that_is_not_a_number(nina, location):
    with pytest.raises(ValidationError) as caught:
        receive(nina, location, concentration_mg_per_ml="fifty")

    assert "must be a number of mg/mL" in refusal(caught, "concentration_mg_per_ml")
    assert not Lot.objects.exists()


def test_the_front_desk_cannot_receive_or_record(fran, location, lot, patient):
    with pytest.raises(PermissionDenied):
        receive(fran, location)
    with pytest.raises(PermissionDenied):
        ledger_administer(actor=fran, lot=lot, patient=patient, amount_mg="10")


# --- Doses -------------------------------------------------------------------------------


def test_it_records_a_dose_and_lowers_the_balance(nina, lot, patient):
    entry = ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="35.5")

    assert entry.kind == Kind.ADMINISTERED
    assert entry.amount_mg == Decimal("-35.5")
    assert entry.balance_after_mg == Decimal("464.5")
    assert entry.patient == patient
    assert entry.recorded_by == nina
    assert lot.balance_mg == Decimal("464.5")
    lot.refresh_from_db()
    assert lot.balance_mg == Decimal("464.500") == lot_balance_from_entries(lot)
    assert AuditEvent.objects.filter(object_id=str(entry.public_id), actor=nina).exists()


def test_it_refuses_a_dose_that_would_take_the_lot_below_zero(nina, lot, patient):
    before = snapshot(lot)

    with pytest.raises(ValidationError) as caught:
        ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="500.001")

    assert refusal(caught, "amount_mg").startswith(
        "That would take lot KX-1001 below zero: it holds 500.000 mg."
    )
    assert snapshot(lot) == before


def test_a_dose_may_use_up_the_lot_exactly(nina, lot, patient):
    ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="500")

    lot.refresh_from_db()
    assert lot.balance_mg == 0


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        ("0", "cannot be zero"),
        ("-5", "cannot be negative"),
        ("abc", "must be a number of mg"),
        ("NaN", "must be a number of mg"),
        ("1.0005", "at most 3 decimals"),
        ("1e12", "too large"),
    ],
)
def test_it_refuses_a_dose_that_is_not_a_sensible_amount(nina, lot, patient, amount, message):
    before = snapshot(lot)

    with pytest.raises(ValidationError) as caught:
        ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg=amount)

    assert message in refusal(caught, "amount_mg")
    assert snapshot(lot) == before


def test_it_refuses_a_dose_without_a_patient_or_at_a_future_time(nina, lot):
    before = snapshot(lot)

    with pytest.raises(ValidationError) as caught:
        ledger_administer(
            actor=nina,
            lot=lot,
            patient=None,
            amount_mg="10",
            occurred_at=timezone.now() + timedelta(hours=1),
        )

    assert set(caught.value.message_dict) == {"patient", "occurred_at"}
    assert snapshot(lot) == before


def test_it_refuses_a_dose_from_an_expired_lot(nina, location, patient):
    old = receive(
        nina,
        location,
        received_at=timezone.now() - timedelta(days=90),
        expiry_date=location.local_now().date() - timedelta(days=2),
    )
    before = snapshot(old)

    with pytest.raises(ValidationError) as caught:
        ledger_administer(actor=nina, lot=old, patient=patient, amount_mg="10")

    assert "record the expired stock as waste" in refusal(caught, "lot")
    assert snapshot(old) == before


def test_the_database_check_is_the_last_line_of_defence(nina, lot, patient, monkeypatch):
    # Were the service's own check ever skipped, the CHECK constraint still refuses, and the
    # person sees the same message rather than an error page.
    monkeypatch.setattr(ledger, "_refuse_below_zero", lambda *args: None)
    before = snapshot(lot)

    with pytest.raises(ValidationError) as caught:
        ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="600")

    assert refusal(caught, "amount_mg").startswith(
        "That would take lot KX-1001 below zero: it holds 500.000 mg."
    )
    assert snapshot(lot) == before


# --- Waste -------------------------------------------------------------------------------


def test_it_records_waste_witnessed_by_a_second_clinician(nina, phil, lot, patient):
    entry = ledger_waste(
        actor=nina,
        lot=lot,
        amount_mg="4.5",
        witness=phil,
        witness_password=PASSWORD,
        reason="Left in the syringe",
        patient=patient,
    )

    assert entry.kind == Kind.WASTED
    assert entry.amount_mg == Decimal("-4.5")
    assert entry.witness == phil
    assert entry.recorded_by == nina
    lot.refresh_from_db()
    assert lot.balance_mg == Decimal("495.500")


def test_waste_needs_a_witness(nina, lot):
    before = snapshot(lot)

    with pytest.raises(ValidationError) as caught:
        ledger_waste(actor=nina, lot=lot, amount_mg="1", witness=None, witness_password="")

    assert "second member of staff" in refusal(caught, "witness")
    assert snapshot(lot) == before


def test_nobody_witnesses_their_own_waste(nina, lot):
    before = snapshot(lot)

    with pytest.raises(ValidationError) as caught:
        ledger_waste(actor=nina, lot=lot, amount_mg="1", witness=nina, witness_password=PASSWORD)

    assert "You cannot be your own second person" in refusal(caught, "witness")
    assert snapshot(lot) == before


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("wrong password", "That is not Phil Physician's password"),
        ("", "must enter their own password"),
    ],
)
def test_the_witness_must_confirm_with_their_own_password(nina, phil, lot, password, message):
    before = snapshot(lot)

    with pytest.raises(ValidationError) as caught:
        ledger_waste(actor=nina, lot=lot, amount_mg="1", witness=phil, witness_password=password)

    assert message in refusal(caught, "witness_password")
    assert snapshot(lot) == before


def test_the_actors_own_password_does_not_confirm_for_the_witness(nina, phil, lot):
    phil.set_password("phils own secret")
    phil.save(update_fields=["password"])

    with pytest.raises(ValidationError) as caught:
        ledger_waste(actor=nina, lot=lot, amount_mg="1", witness=phil, witness_password=PASSWORD)

    assert "witness_password" in caught.value.message_dict


@pytest.mark.parametrize("witness_name", ["fran", "olga"])
def test_only_an_active_clinician_may_witness(nina, lot, witness_name, request):
    witness = request.getfixturevalue(witness_name)
    before = snapshot(lot)

    with pytest.raises(ValidationError) as caught:
        ledger_waste(actor=nina, lot=lot, amount_mg="1", witness=witness, witness_password=PASSWORD)

    assert "cannot confirm this" in refusal(caught, "witness")
    assert snapshot(lot) == before


def test_waste_cannot_take_the_lot_below_zero(nina, phil, lot):
    before = snapshot(lot)

    with pytest.raises(ValidationError) as caught:
        ledger_waste(actor=nina, lot=lot, amount_mg="501", witness=phil, witness_password=PASSWORD)

    assert "below zero: it holds 500.000 mg" in refusal(caught, "amount_mg")
    assert snapshot(lot) == before


# --- Adjustments and corrections ---------------------------------------------------------


def test_a_mistaken_dose_is_corrected_by_a_new_entry(nina, lot, patient):
    dose = ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="50")

    fix = ledger_adjust(
        actor=nina, lot=lot, amount_mg="15", reason="Dose was 35 mg, entered as 50", corrects=dose
    )

    assert fix.kind == Kind.ADJUSTMENT
    assert fix.corrects == dose
    assert list(dose.corrections.all()) == [fix]
    dose.refresh_from_db()
    assert dose.amount_mg == Decimal("-50.000")
    lot.refresh_from_db()
    assert lot.balance_mg == Decimal("465.000") == lot_balance_from_entries(lot)


def test_an_adjustment_needs_a_reason(nina, lot):
    before = snapshot(lot)

    with pytest.raises(ValidationError) as caught:
        ledger_adjust(actor=nina, lot=lot, amount_mg="-5", reason="  ")

    assert "needs a reason" in refusal(caught, "reason")
    assert snapshot(lot) == before


def test_an_adjustment_cannot_take_the_lot_below_zero(nina, lot):
    before = snapshot(lot)

    with pytest.raises(ValidationError) as caught:
        ledger_adjust(actor=nina, lot=lot, amount_mg="-500.5", reason="Broken vial")

    assert "That would take lot KX-1001 below zero" in refusal(caught, "amount_mg")
    assert snapshot(lot) == before


def test_an_entry_is_corrected_on_its_own_lot(nina, location, lot, patient):
    other = receive(nina, location, lot_number="KX-2002")
    dose = ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="10")
    before = snapshot(other)

    with pytest.raises(ValidationError) as caught:
        ledger_adjust(actor=nina, lot=other, amount_mg="10", reason="Wrong lot", corrects=dose)

    assert "belongs to another lot" in refusal(caught, "corrects")
    assert snapshot(other) == before


# --- Counts ------------------------------------------------------------------------------


def test_a_count_that_matches_moves_nothing(nina, lot):
    count = ledger_count(actor=nina, lot=lot, counted_mg="500")

    assert count.kind == Kind.COUNT
    assert count.amount_mg == 0
    assert count.counted_mg == Decimal("500")
    assert count.discrepancy_mg == 0
    assert not count.corrections.exists()
    lot.refresh_from_db()
    assert lot.balance_mg == Decimal("500.000")


def test_a_count_that_differs_needs_an_explanation(nina, lot):
    before = snapshot(lot)

    with pytest.raises(ValidationError) as caught:
        ledger_count(actor=nina, lot=lot, counted_mg="490")

    assert refusal(caught, "explanation").startswith(
        "You counted 10.000 mg less than the book's 500.000 mg: explain the difference"
    )
    assert snapshot(lot) == before


def test_an_explained_discrepancy_is_booked_so_the_balance_is_what_is_there(nina, lot):
    count = ledger_count(
        actor=nina, lot=lot, counted_mg="490", explanation="Vial cracked in the safe"
    )

    assert count.discrepancy_mg == Decimal("-10.000")
    assert count.balance_after_mg == Decimal("500.000")
    assert count.reason == "Vial cracked in the safe"
    (adjustment,) = count.corrections.all()
    assert adjustment.kind == Kind.ADJUSTMENT
    assert adjustment.amount_mg == Decimal("-10.000")
    assert adjustment.balance_after_mg == Decimal("490.000")
    lot.refresh_from_db()
    assert lot.balance_mg == Decimal("490.000") == lot_balance_from_entries(lot)


def test_a_count_finds_more_than_the_book(nina, lot):
    ledger_count(actor=nina, lot=lot, counted_mg="505", explanation="Overfill in the vials")

    lot.refresh_from_db()
    assert lot.balance_mg == Decimal("505.000")


def test_an_empty_lot_may_be_counted_at_zero(nina, lot, patient):
    ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="500")

    count = ledger_count(actor=nina, lot=lot, counted_mg="0")

    assert count.discrepancy_mg == 0


# --- The database holds the line ---------------------------------------------------------


def _refused_by_trigger(caught: pytest.ExceptionInfo) -> bool:
    return isinstance(caught.value.__cause__, psycopg.errors.InsufficientPrivilege)


def test_the_database_refuses_a_negative_lot_balance(lot):
    with pytest.raises(IntegrityError, match="lot_balance_not_negative"), transaction.atomic():
        Lot.objects.filter(pk=lot.pk).update(balance_mg=Decimal("-0.001"))


def test_the_database_refuses_an_entry_leaving_a_negative_balance(nina, lot):
    with pytest.raises(IntegrityError, match="entry_balance_not_negative"), transaction.atomic():
        LedgerEntry.objects.create(
            lot=lot,
            kind=Kind.ADJUSTMENT,
            amount_mg=Decimal("-501"),
            balance_after_mg=Decimal("-1"),
            recorded_by=nina,
            reason="test",
            occurred_at=timezone.now(),
        )


def test_the_database_refuses_unwitnessed_or_self_witnessed_waste(nina, lot):
    fields = {
        "lot": lot,
        "kind": Kind.WASTED,
        "amount_mg": Decimal("-1"),
        "balance_after_mg": Decimal("499"),
        "recorded_by": nina,
        "occurred_at": timezone.now(),
    }
    with pytest.raises(IntegrityError, match="entry_waste_witnessed"), transaction.atomic():
        LedgerEntry.objects.create(**fields)
    with pytest.raises(IntegrityError, match="entry_witness_not_recorder"), transaction.atomic():
        LedgerEntry.objects.create(witness=nina, **fields)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE infusions_ledgerentry SET amount_mg = 1000 WHERE lot_id = %s",
        "DELETE FROM infusions_ledgerentry WHERE lot_id = %s",
    ],
)
def test_the_database_keeps_entries_append_only(lot, sql):
    with (
        pytest.raises(DatabaseError) as caught,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [lot.pk])

    assert _refused_by_trigger(caught)
    assert lot.entries.get().amount_mg == Decimal("500.000")


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE infusions_lot SET lot_number = 'OTHER' WHERE id = %s",
        "UPDATE infusions_lot SET balance_mg = 1, supplier = 'X' WHERE id = %s",
        "DELETE FROM infusions_lot WHERE id = %s",
    ],
)
def test_a_lot_changes_nothing_but_its_balance(lot, sql):
    with (
        pytest.raises(DatabaseError) as caught,
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute(sql, [lot.pk])

    assert _refused_by_trigger(caught)
    lot.refresh_from_db()
    assert (lot.lot_number, lot.balance_mg) == ("KX-1001", Decimal("500.000"))


def test_a_lot_with_entries_cannot_be_deleted_through_the_orm(lot):
    with pytest.raises(DatabaseError), transaction.atomic():
        lot.delete()

    assert Lot.objects.filter(pk=lot.pk).exists()


# --- The export --------------------------------------------------------------------------


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_the_export_lists_every_entry_with_who_what_and_when(nina, phil, lot, patient):
    dose = ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="35")
    ledger_waste(
        actor=nina,
        lot=lot,
        amount_mg="5",
        witness=phil,
        witness_password=PASSWORD,
        reason="=HYPERLINK(evil)",
        patient=patient,
    )
    today = timezone.now().astimezone(lot.location.tz).date()

    exported = rows(ledger_csv(start=today, end=today))

    assert [row["kind"] for row in exported] == ["receipt", "administered", "wasted"]
    assert [row["balance_after_mg"] for row in exported] == ["500.000", "465.000", "460.000"]
    receipt, given, wasted = exported
    assert receipt["supplier"] == "Midwest Pharma Supply"
    assert receipt["invoice_number"] == "INV-77"
    assert receipt["lot_number"] == "KX-1001"
    assert receipt["concentration_mg_per_ml"] == "50.000"
    assert given["entry_id"] == str(dose.public_id)
    assert given["amount_mg"] == "-35.000"
    assert given["patient_id"] == str(patient.public_id)
    assert given["patient_name"] == "Robin Quinn"
    assert given["recorded_by"] == "Nina Nurse <nina@clinic.test>"
    assert given["location"] == "Lakeview"
    assert wasted["witness"] == "Phil Physician <phil@clinic.test>"
    assert wasted["reason"] == "'=HYPERLINK(evil)"
    assert given["occurred_at"].endswith(("-05:00", "-06:00"))


def test_the_export_takes_the_dates_at_the_location(nina, location, patient):
    # 03:30 UTC on 2 March is still 1 March in Chicago.
    received = datetime(2024, 3, 1, 15, 0, tzinfo=UTC)
    lot = receive(nina, location, received_at=received, expiry_date=date(2030, 1, 1))
    ledger_administer(
        actor=nina,
        lot=lot,
        patient=patient,
        amount_mg="10",
        occurred_at=datetime(2024, 3, 2, 3, 30, tzinfo=UTC),
    )
    ledger_administer(
        actor=nina,
        lot=lot,
        patient=patient,
        amount_mg="10",
        occurred_at=datetime(2024, 3, 2, 18, 0, tzinfo=UTC),
    )

    first = rows(ledger_csv(start=date(2024, 3, 1), end=date(2024, 3, 1)))
    second = rows(ledger_csv(start=date(2024, 3, 2), end=date(2024, 3, 2)))

    assert [row["kind"] for row in first] == ["receipt", "administered"]
    assert first[1]["occurred_at"] == "2024-03-01T21:30:00-06:00"
    assert [row["kind"] for row in second] == ["administered"]
    assert rows(ledger_csv(start=date(2024, 3, 3), end=date(2024, 12, 31))) == []


def test_the_export_refuses_a_range_that_ends_before_it_starts(db):
    with pytest.raises(ValidationError) as caught:
        ledger_csv(start=date(2024, 3, 2), end=date(2024, 3, 1))

    assert "before the start date" in refusal(caught, "end")


def test_the_export_runs_one_query(nina, lot, patient, django_assert_num_queries):
    for _ in range(3):
        ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="1")
    today = timezone.now().astimezone(lot.location.tz).date()

    with django_assert_num_queries(1):
        exported = rows(ledger_csv(start=today, end=today))

    assert len(exported) == 4
