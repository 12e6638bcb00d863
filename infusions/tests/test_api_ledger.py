"""The ketamine ledger API: /api/v1/ledger/.

Read by nurses, physicians and clinic admins, written by nurses and physicians; lots and
their balances, entries as a running balance, receipts,
witnessed waste, adjustments and counts through the same services as the pages (bad input:
400 keyed by field, nothing saved), the audited CSV export, no way to delete, and every
path in the OpenAPI schema.
"""

from __future__ import annotations

import csv
import io
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from clinic.models import AuditEvent
from conftest import PASSWORD
from infusions.ledger import ledger_adjust, ledger_administer
from infusions.models import Lot
from infusions.models.ledger import LedgerEntryKind
from infusions.tests.factories import SUPPLIER, dea_registered
from infusions.tests.test_ledger import receive
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory

Kind = LedgerEntryKind
LOTS = "/api/v1/ledger/lots/"
EXPORT = "/api/v1/ledger/export.csv"
# The session and the user; the paginator's count; the page of lots with their location
# and receiver joined in. The same however many lots. (Measured after a first request,
# which also records the session's last activity.)
LIST_QUERIES = 4


@pytest.fixture
def location(db):
    return dea_registered(LocationFactory(name="Lakeview", time_zone="America/Chicago"))


@pytest.fixture
def lot(nina, location) -> Lot:
    return receive(nina, location)  # 500 mg


def lot_url(lot: Lot, action: str = "") -> str:
    return f"{LOTS}{lot.public_id}/{action + '/' if action else ''}"


def post(client, url: str, data: dict):
    return client.post(url, data, content_type="application/json")


def state(lot: Lot) -> tuple[Decimal, int]:
    lot.refresh_from_db()
    return lot.balance_mg, lot.entries.count()


def delivery(location, **fields) -> dict:
    return {
        "location": str(location.public_id),
        "product_name": "Ketamine HCl 100 mg/mL",
        "concentration_mg_per_ml": "100",
        "container_volume_ml": 5,
        "containers_received": 1,
        **SUPPLIER,
        "lot_number": "API-1",
        "expiry_date": (location.local_now().date() + timedelta(days=300)).isoformat(),
        "supplier": "Midwest Pharma Supply",
        "invoice_number": "INV-5",
    } | fields


# --- Who may --------------------------------------------------------------------------------


def refused_every_write(client, lot, location, phil) -> None:
    before = state(lot)
    assert post(client, LOTS, delivery(location)).status_code == 403
    waste = {"amount_mg": "1", "witness": str(phil.public_id), "witness_password": PASSWORD}
    assert post(client, lot_url(lot, "waste"), waste).status_code == 403
    adjust = {"amount_mg": "-1", "reason": "spill"}
    assert post(client, lot_url(lot, "adjustments"), adjust).status_code == 403
    assert post(client, lot_url(lot, "counts"), {"counted_mg": "500"}).status_code == 403
    assert state(lot) == before
    assert Lot.objects.count() == 1


@pytest.mark.parametrize("persona", ["fran", "edie"])
def test_other_roles_are_refused_everything(client, persona, lot, location, phil, request):
    client.force_login(request.getfixturevalue(persona))

    for url in [LOTS, lot_url(lot), lot_url(lot, "entries"), EXPORT]:
        assert client.get(url).status_code == 403, url
    refused_every_write(client, lot, location, phil)


def test_a_clinic_admin_reads_and_exports_the_ledger_but_writes_nothing(
    client, alice, lot, location, phil
):
    client.force_login(alice)

    for url in [LOTS, lot_url(lot), lot_url(lot, "entries"), EXPORT]:
        assert client.get(url).status_code == 200, url
    refused_every_write(client, lot, location, phil)


def test_signed_out_callers_are_refused(client, lot):
    assert client.get(LOTS).status_code in {401, 403}


@pytest.mark.parametrize("persona", ["nina", "phil"])
def test_nurses_and_physicians_read_the_ledger(client, persona, lot, request):
    client.force_login(request.getfixturevalue(persona))

    for url in [LOTS, lot_url(lot), lot_url(lot, "entries"), EXPORT]:
        assert client.get(url).status_code == 200, url


def test_unknown_lots_are_not_found(client, nina, db):
    client.force_login(nina)
    missing = f"{LOTS}{uuid.uuid4()}/"

    assert client.get(missing).status_code == 404
    assert client.get(f"{missing}entries/").status_code == 404
    assert post(client, f"{missing}counts/", {"counted_mg": "1"}).status_code == 404


# --- Lots -----------------------------------------------------------------------------------


def test_it_lists_the_lots_in_stock_with_their_balances(client, nina, lot, location):
    elsewhere = receive(nina, LocationFactory(name="Hillside"), lot_number="HILL-1")
    empty = receive(nina, location, lot_number="EMPTY-1")
    ledger_adjust(actor=nina, lot=empty, amount_mg="-500", reason="vial broken")
    client.force_login(nina)

    in_stock = client.get(LOTS).json()["results"]
    here = client.get(LOTS, {"location": str(location.public_id)}).json()["results"]
    everything = client.get(LOTS, {"include_empty": "true"}).json()["results"]

    assert {row["lot_number"] for row in in_stock} == {"KX-1001", "HILL-1"}
    assert [row["lot_number"] for row in here] == ["KX-1001"]
    assert {row["id"] for row in everything} == {
        str(lot.public_id),
        str(elsewhere.public_id),
        str(empty.public_id),
    }
    row = next(row for row in in_stock if row["lot_number"] == "KX-1001")
    assert row["balance_mg"] == "500.000"
    assert row["balance_ml"] == "10.00"
    assert row["expired"] is False
    assert row["location"]["name"] == "Lakeview"
    assert row["received_by"]["full_name"] == "Nina Nurse"


def test_a_bad_filter_is_a_400(client, nina, db):
    client.force_login(nina)

    response = client.get(LOTS, {"location": "not-an-id"})

    assert response.status_code == 400
    assert "location" in response.json()


def test_the_lot_list_takes_the_same_queries_however_many_lots(
    client, nina, location, django_assert_num_queries
):
    client.force_login(nina)
    client.get("/api/v1/me/")
    receive(nina, location)
    with django_assert_num_queries(LIST_QUERIES):
        client.get(LOTS)
    for number in range(6):
        receive(nina, LocationFactory(), lot_number=f"N-{number}")
    with django_assert_num_queries(LIST_QUERIES):
        assert len(client.get(LOTS).json()["results"]) == 7


def test_receiving_a_delivery(client, nina, location):
    client.force_login(nina)

    response = post(client, LOTS, delivery(location))

    assert response.status_code == 201
    body = response.json()
    lot = Lot.objects.get(public_id=body["id"])
    assert body["balance_mg"] == "500.000"
    assert lot.received_by == nina
    assert lot.entries.get().kind == Kind.RECEIPT


def test_a_bad_delivery_is_refused_by_field_and_saves_nothing(client, nina, location):
    client.force_login(nina)
    # Yesterday at the location (not in UTC, which is a day ahead of Chicago each evening).
    expired = (location.local_now().date() - timedelta(days=1)).isoformat()

    response = post(
        client,
        LOTS,
        delivery(
            location,
            concentration_mg_per_ml="12.3456",
            container_volume_ml="-1",
            expiry_date=expired,
        ),
    )

    assert response.status_code == 400
    errors = response.json()
    assert "at most 3 decimals" in errors["concentration_mg_per_ml"][0]
    assert "cannot be negative" in errors["container_volume_ml"][0]
    assert "return it to the supplier" in errors["expiry_date"][0]
    assert not Lot.objects.exists()


def test_a_delivery_to_an_unknown_location_is_refused(client, nina, db):
    client.force_login(nina)

    response = post(client, LOTS, delivery(LocationFactory.build()))

    assert response.status_code == 400
    assert "There is no location with that id" in response.json()["location"][0]
    assert not Lot.objects.exists()


def test_one_lot_with_its_balance(client, phil, lot):
    client.force_login(phil)

    body = client.get(lot_url(lot)).json()

    assert body["id"] == str(lot.public_id)
    assert body["balance_mg"] == "500.000"
    assert body["supplier"] == "Midwest Pharma Supply"
    assert body["invoice_number"] == "INV-77"


def test_the_entries_read_as_a_running_balance_and_the_read_is_audited(client, nina, phil, lot):
    patient = PatientFactory()
    dose = ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="35")
    ledger_adjust(actor=phil, lot=lot, amount_mg="-5", reason="dose was 40", corrects=dose)
    client.force_login(phil)

    rows = client.get(lot_url(lot, "entries")).json()["results"]

    assert [(row["kind"], row["amount_mg"], row["balance_after_mg"]) for row in rows] == [
        ("receipt", "500.000", "500.000"),
        ("administered", "-35.000", "465.000"),
        ("adjustment", "-5.000", "460.000"),
    ]
    assert rows[1]["patient"]["id"] == str(patient.public_id)
    assert rows[2]["corrects"] == str(dose.public_id)
    event = AuditEvent.objects.get(action=AuditEvent.Action.VIEW)
    assert event.actor == phil
    assert event.object_id == str(lot.public_id)
    assert str(patient.public_id) not in event.summary


# --- Waste, adjustments, counts -------------------------------------------------------------


def test_recording_witnessed_waste(client, nina, phil, lot):
    client.force_login(nina)
    data = {
        "amount_mg": 12.5,
        "witness": str(phil.public_id),
        "witness_password": PASSWORD,
        "reason": "end of vial",
    }

    response = post(client, lot_url(lot, "waste"), data)

    assert response.status_code == 201
    body = response.json()
    assert body["kind"] == "wasted"
    assert body["witness"]["id"] == str(phil.public_id)
    assert body["balance_after_mg"] == "487.500"
    assert "witness_password" not in body
    assert state(lot) == (Decimal("487.500"), 2)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"amount_mg": "-3"}, "amount_mg", "cannot be negative"),
        ({"amount_mg": "501"}, "amount_mg", "below zero"),
        ({"amount_mg": ""}, "amount_mg", "Give the amount wasted"),
        ({"witness": "self"}, "witness", "You cannot be your own second person"),
        ({"witness": str(uuid.UUID(int=7))}, "witness", "There is no member of staff"),
        ({"witness": "fran"}, "witness", "cannot confirm this"),
        ({"witness_password": "wrong"}, "witness_password", "That is not Phil Physician's"),
        ({"witness_password": ""}, "witness_password", "must enter their own password"),
    ],
)
def test_bad_waste_is_refused_by_field_and_changes_nothing(
    client, nina, phil, fran, lot, change, field, message
):
    people = {"self": nina, "fran": fran}
    if change.get("witness") in people:
        change = {"witness": str(people[change["witness"]].public_id)}
    client.force_login(nina)
    before = state(lot)
    data = {
        "amount_mg": "10",
        "witness": str(phil.public_id),
        "witness_password": PASSWORD,
    } | change

    response = post(client, lot_url(lot, "waste"), data)

    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert state(lot) == before


def test_an_adjustment_can_correct_an_entry(client, nina, lot):
    dose = ledger_administer(actor=nina, lot=lot, patient=PatientFactory(), amount_mg="20")
    client.force_login(nina)

    response = post(
        client,
        lot_url(lot, "adjustments"),
        {"amount_mg": "+2", "reason": "dose was 18 mg", "corrects": str(dose.public_id)},
    )

    assert response.status_code == 201
    assert response.json()["corrects"] == str(dose.public_id)
    assert state(lot) == (Decimal("482.000"), 3)


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"reason": ""}, "reason", "Say why the balance changes"),
        ({"amount_mg": "-600"}, "amount_mg", "below zero"),
        ({"amount_mg": "abc"}, "amount_mg", "must be a number"),
        ({"corrects": str(uuid.UUID(int=9))}, "corrects", "There is no ledger entry"),
        ({"occurred_at": "2026-01-01T10:00"}, "occurred_at", "UTC offset"),
    ],
)
def test_a_bad_adjustment_is_refused_and_changes_nothing(client, nina, lot, change, field, message):
    client.force_login(nina)
    before = state(lot)

    response = post(
        client, lot_url(lot, "adjustments"), {"amount_mg": "-1", "reason": "x"} | change
    )

    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert state(lot) == before


def test_an_adjustment_cannot_correct_another_lots_entry(client, nina, lot, location):
    other = receive(nina, location, lot_number="OTHER")
    client.force_login(nina)
    before = state(lot)

    response = post(
        client,
        lot_url(lot, "adjustments"),
        {"amount_mg": "1", "reason": "x", "corrects": str(other.entries.get().public_id)},
    )

    assert response.status_code == 400
    assert "belongs to another lot" in response.json()["corrects"][0]
    assert state(lot) == before


def test_a_count_discrepancy_needs_an_explanation(client, nina, lot):
    client.force_login(nina)
    before = state(lot)

    response = post(client, lot_url(lot, "counts"), {"counted_mg": "495"})

    assert response.status_code == 400
    assert "explain the difference" in response.json()["explanation"][0]
    assert state(lot) == before


def test_an_explained_count_books_the_difference(client, nina, lot):
    client.force_login(nina)

    response = post(
        client, lot_url(lot, "counts"), {"counted_mg": "495", "explanation": "spilled drawing up"}
    )

    assert response.status_code == 201
    assert response.json()["discrepancy_mg"] == "-5.000"
    assert state(lot) == (Decimal("495.000"), 3)


def test_nothing_can_be_changed_or_deleted(client, nina, lot):
    client.force_login(nina)
    entry = lot.entries.get()

    for url in [lot_url(lot), lot_url(lot, "entries"), LOTS]:
        assert client.delete(url).status_code == 405, url
        assert client.put(url, {}, content_type="application/json").status_code == 405, url
        assert client.patch(url, {}, content_type="application/json").status_code == 405, url
    assert client.delete(f"/api/v1/ledger/entries/{entry.public_id}/").status_code == 404
    assert state(lot) == (Decimal("500.000"), 1)


# --- The export -----------------------------------------------------------------------------


def test_the_export_is_csv_and_audited(client, phil, nina, lot):
    ledger_administer(actor=nina, lot=lot, patient=PatientFactory(), amount_mg="35")
    today = timezone.now().astimezone(lot.location.tz).date()
    client.force_login(phil)

    response = client.get(EXPORT, {"start": today.isoformat(), "end": today.isoformat()})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert f'filename="ketamine-ledger-{today}-to-{today}.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["amount_mg"] for row in rows] == ["500.000", "-35.000"]
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.actor == phil
    assert event.summary == f"exported the ketamine ledger from {today} to {today} as CSV"


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"start": "2026-03-10", "end": "2026-03-01"}, "end", "before the start date"),
        ({"start": "yesterday"}, "start", "YYYY-MM-DD"),
        ({"end": "9999-12-31"}, "end", "Enter a date between"),
    ],
)
def test_a_bad_export_range_is_a_400_and_not_audited(client, nina, query, field, message):
    client.force_login(nina)

    # A CSV client's Accept header still gets the errors, as JSON.
    response = client.get(EXPORT, query, HTTP_ACCEPT="text/csv")

    assert response.status_code == 400
    assert message in response.json()[field][0]
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


# --- The schema -----------------------------------------------------------------------------


def test_every_ledger_endpoint_is_in_the_openapi_schema(client, db):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]

    lot = "/api/v1/ledger/lots/{lot_id}/"
    assert set(paths["/api/v1/ledger/lots/"]) == {"get", "post"}
    assert set(paths[lot]) == {"get"}
    assert set(paths[f"{lot}entries/"]) == {"get"}
    for action in ["waste", "adjustments", "counts"]:
        assert set(paths[f"{lot}{action}/"]) == {"post"}, action
        assert {"201", "400", "403", "404"} <= set(paths[f"{lot}{action}/"]["post"]["responses"])
    export = paths["/api/v1/ledger/export.csv"]["get"]
    assert "text/csv" in export["responses"]["200"]["content"]
    assert {"start", "end"} <= {parameter["name"] for parameter in export["parameters"]}
