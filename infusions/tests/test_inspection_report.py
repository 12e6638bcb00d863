"""The DEA inspection report: /staff/ledger/inspection/.

Phil (a physician, who may be the registrant) and Alice (a clinic admin) open one
location's records over a period: receipts, doses with the patient's name and address,
waste, destruction, adjustments, inventories and each lot's running balance, printable and
as CSV. Every showing and download is an EXPORT in the audit log; nothing is left out for
its age, and the database refuses to delete any of it.
"""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from clinic.models import AuditEvent
from clinic.roles import Role
from conftest import PASSWORD, make_staff
from infusions.destruction import lot_destroy
from infusions.inventories import inventory_take
from infusions.ledger import ledger_adjust, ledger_administer, ledger_waste
from infusions.ledger_reports import inspection_report
from infusions.losses import loss_incident_report, loss_incident_step
from infusions.models import (
    DeaRegistration,
    Destruction,
    Inventory,
    LedgerEntry,
    LossIncident,
    LossIncidentStep,
    Lot,
)
from infusions.tests.factories import dea_registered
from infusions.tests.test_ledger import receive
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory
from tests.clock import advance

URL = "/staff/ledger/inspection/"
D = Decimal


@pytest.fixture
def location(db):
    return dea_registered(LocationFactory(name="Lakeview", time_zone="America/Chicago"))


@pytest.fixture
def nora(db):
    return make_staff("nora@clinic.test", "Nora Nurse", Role.NURSE)


@pytest.fixture
def patient(db):
    return PatientFactory(
        legal_first_name="Dana",
        legal_last_name="Quill",
        address_line1="12 Orchard Lane",
        city="Evanston",
        region="IL",
        postal_code="60201",
    )


def query(location, start=None, end=None, **extra) -> dict[str, str]:
    today = location.local_now().date()
    return {
        "location": str(location.public_id),
        "start": (start or today - timedelta(days=1)).isoformat(),
        "end": (end or today).isoformat(),
        **extra,
    }


def a_day_of_records(nina, phil, nora, location, patient) -> Lot:
    """A delivery, a dose, witnessed waste, a destruction, an adjustment and an inventory."""
    lot = receive(nina, location, lot_number="KX-1")  # 500 mg
    ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="35")
    ledger_waste(
        actor=nina, lot=lot, amount_mg="5", witness=phil, witness_password=PASSWORD, reason="Left"
    )
    lot_destroy(
        actor=nina,
        lot=lot,
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
    ledger_adjust(actor=nina, lot=lot, amount_mg="-2", reason="Mis-measured receipt")
    advance(5)
    inventory_take(
        actor=nina,
        location=location,
        time_of_day="close_of_business",
        counts={lot: "358"},
        witness=phil,
        witness_password=PASSWORD,
    )
    return lot


# --- Who may --------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["phil", "alice"])
def test_the_registrant_physician_and_clinic_admins_open_it(client, persona, location, request):
    client.force_login(request.getfixturevalue(persona))
    response = client.get(URL)
    assert response.status_code == 200
    assert "DEA inspection report" in response.content.decode()


@pytest.mark.parametrize("persona", ["nina", "fran"])
def test_nurses_and_the_front_desk_may_not(client, persona, location, request):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(URL).status_code == 403
    assert client.get(URL, query(location)).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


# --- What it shows ----------------------------------------------------------------------------


def test_it_shows_every_kind_of_record_with_the_running_balance(
    client, nina, phil, nora, location, patient
):
    lot = a_day_of_records(nina, phil, nora, location, patient)
    client.force_login(phil)
    response = client.get(URL, query(location))
    assert response.status_code == 200
    page = response.content.decode()
    registration = DeaRegistration.objects.get(location=location)
    assert registration.number in page
    # Printable: its own print layout, and a Print button that the print hides.
    assert 'media="print" href="/static/css/print/inspection-report.css"' in page
    assert "data-print-page" in page
    # The dose: who received it and where they live, how much, who gave it.
    assert "Dana Quill" in page
    assert "12 Orchard Lane, Evanston, IL 60201" in page
    assert "Nina Nurse" in page
    for heading in ("Receipts", "Administrations", "Waste", "Destruction (DEA Form 41)"):
        assert heading in page
    assert "Drug disposal pouch" in page and "Nora Nurse" in page
    assert "Mis-measured receipt" in page
    assert "counted by Nina Nurse, witnessed by Phil Physician" in page
    report = response.context["report"]
    (section,) = report.lots
    assert section.lot == lot
    assert (section.opening_mg, section.received_mg, section.administered_mg) == (0, 500, 35)
    assert (section.wasted_mg, section.destroyed_mg, section.adjusted_mg) == (5, 100, -2)
    assert section.closing_mg == D("358.000")
    assert [line.balance_mg for line in section.lines] == [500, 465, 460, 360, 358, 358]


def test_it_shows_a_helpful_message_when_nothing_happened(client, phil, location):
    client.force_login(phil)
    response = client.get(URL, query(location))
    assert response.status_code == 200
    assert "No ketamine was held, moved or counted at Lakeview" in response.content.decode()


def test_a_lot_with_stock_but_no_movement_shows_its_balance_throughout(
    client, nina, phil, location
):
    receive(nina, location, lot_number="KX-OLD")
    advance(3 * 24 * 60)
    report = inspection_report(
        location=location,
        start=location.local_now().date(),
        end=location.local_now().date(),
    )
    (section,) = report.lots
    assert section.opening_mg == section.closing_mg == D("500.000")
    assert section.lines == ()


def test_records_older_than_two_years_are_still_shown(client, nina, phil, location, patient):
    three_years_ago = location.local_now() - timedelta(days=3 * 365)
    lot = receive(
        nina,
        location,
        lot_number="KX-2023",
        received_at=three_years_ago,
        expiry_date=location.local_now().date() + timedelta(days=365),
    )
    ledger_administer(
        actor=nina,
        lot=lot,
        patient=patient,
        amount_mg="40",
        occurred_at=three_years_ago + timedelta(hours=2),
    )
    client.force_login(phil)
    day = three_years_ago.date()
    response = client.get(URL, query(location, start=day, end=day))
    page = response.content.decode()
    assert "KX-2023" in page
    assert "Dana Quill" in page


def test_the_report_costs_the_same_queries_for_5_and_50_doses(client, nina, phil, location):
    lot = receive(nina, location, lot_number="BIG", containers_received=20)  # 10,000 mg
    patients = [PatientFactory() for _ in range(50)]
    client.force_login(phil)
    client.get(URL)  # the session's first page records its activity

    def queries_for_the_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(URL, query(location)).status_code == 200
        return len(queries)

    for patient in patients[:5]:
        ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="10")
    five = queries_for_the_page()
    for patient in patients[5:]:
        ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="10")
    fifty = queries_for_the_page()
    assert five == fifty
    # The session and the user; the location chosen; the report's lots, entries,
    # inventories, incidents (and their steps, when there are any) and registration; the
    # audit event; the locations for the form.
    assert fifty == 10


# --- The CSV ----------------------------------------------------------------------------------


def test_the_csv_has_every_record_with_patient_addresses_and_running_balances(
    client, nina, phil, nora, location, patient
):
    a_day_of_records(nina, phil, nora, location, patient)
    client.force_login(phil)
    response = client.get(URL, query(location, format="csv"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]
    lines = list(csv.reader(io.StringIO(response.content.decode())))
    assert lines[0] == ["DEA inspection report", "Lakeview"]
    header = lines.index(next(line for line in lines if line and line[0] == "section"))
    rows = [dict(zip(lines[header], line, strict=True)) for line in lines[header + 1 :]]
    sections = [row["section"] for row in rows]
    assert sections[:8] == [
        "opening balance",
        "receipt",
        "administered",
        "wasted",
        "destroyed",
        "adjustment",
        "count",
        "closing balance",
    ]
    dose = rows[2]
    assert dose["patient_name"] == "Dana Quill"
    assert dose["patient_address"] == "12 Orchard Lane, Evanston, IL 60201"
    assert dose["recorded_by"] == "Nina Nurse <nina@clinic.test>"
    assert dose["amount_mg"] == "-35.000"
    assert dose["lot_balance_mg"] == "465.000"
    assert rows[4]["second_witness"] == "Nora Nurse <nora@clinic.test>"
    assert rows[7]["lot_balance_mg"] == "358.000"
    assert "inventory" in sections


def test_each_showing_and_each_download_is_audited_as_an_export(client, phil, alice, location):
    client.force_login(phil)
    client.get(URL, query(location))
    client.force_login(alice)
    client.get(URL, query(location, format="csv"))
    events = AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).order_by("id")
    assert [(event.actor, event.object_id) for event in events] == [
        (phil, str(location.public_id)),
        (alice, str(location.public_id)),
    ]
    assert events[0].summary.endswith("(page)")
    assert events[1].summary.endswith("(CSV)")


def test_the_form_alone_is_not_audited(client, phil, location):
    client.force_login(phil)
    client.get(URL)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


# --- Bad input ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"start": "2026-03-10", "end": "2026-03-01"}, "The end date is before the start date"),
        ({"start": "yesterday"}, "Enter the first day as YYYY-MM-DD"),
        ({"location": "not-a-location"}, "That location is not in the list"),
        ({"location": ""}, "Choose the location being inspected"),
    ],
)
def test_bad_input_is_refused_with_a_message_and_exports_nothing(
    client, phil, location, change, message
):
    client.force_login(phil)
    response = client.get(URL, {**query(location), **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


# --- Never deleted --------------------------------------------------------------------------------


def test_the_database_refuses_to_delete_any_ledger_or_dea_record(
    nina, phil, nora, location, patient
):
    lot = a_day_of_records(nina, phil, nora, location, patient)
    incident = loss_incident_report(
        actor=nina,
        location=location,
        kind="theft",
        discovered_at=None,
        description="Two vials missing from the safe.",
    )
    loss_incident_step(
        actor=phil, incident=incident, step="field_office_notified", reference="Fax to DEA"
    )
    rows = [
        LedgerEntry.objects.filter(lot=lot).first(),
        lot,
        DeaRegistration.objects.get(location=location),
        Inventory.objects.get(location=location),
        LossIncident.objects.get(pk=incident.pk),
        LossIncidentStep.objects.get(incident=incident),
        Destruction.objects.get(entry__lot=lot),
    ]
    for row in rows:
        table = row._meta.db_table
        with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {table} WHERE id = %s", [row.pk])  # noqa: S608
        assert type(row).objects.filter(pk=row.pk).exists(), table
