"""The DEA records' API: /api/v1/dea/.

Nina (a nurse) and Phil (a physician) read and write through the same services as the
pages; Alice (a clinic admin) reads; Fran (the front desk) may not. Bad input answers 400
keyed by field and saves nothing; nothing is edited or deleted; every path is in the schema.
"""

from __future__ import annotations

import csv
import io
import uuid

import pytest

from clinic.models import AuditEvent
from clinic.roles import Role
from conftest import PASSWORD, make_staff
from infusions.ledger import ledger_administer
from infusions.models import Destruction, Inventory, LedgerEntry, LossIncident
from infusions.tests.factories import dea_registered
from infusions.tests.test_ledger import receive
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory

API = "/api/v1/dea/"


@pytest.fixture
def location(db):
    return dea_registered(LocationFactory(name="Lakeview", time_zone="America/Chicago"))


@pytest.fixture
def lot(nina, location):
    return receive(nina, location, lot_number="KX-1")  # 500 mg


@pytest.fixture
def nora(db):
    return make_staff("nora@clinic.test", "Nora Nurse", Role.NURSE)


def post(client, url: str, data: dict):
    return client.post(url, data, content_type="application/json")


def inventory_body(location, lot, phil, **changes) -> dict:
    return {
        "location": str(location.public_id),
        "time_of_day": "close_of_business",
        "counts": [{"lot": str(lot.public_id), "counted_mg": "500"}],
        "witness": str(phil.public_id),
        "witness_password": PASSWORD,
        **changes,
    }


# --- Reading ---------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["nina", "phil", "alice"])
def test_those_who_read_the_ledger_read_every_dea_list(client, persona, lot, request):
    client.force_login(request.getfixturevalue(persona))
    for what in ["registrations", "receipts", "inventories", "destructions", "loss-incidents"]:
        response = client.get(f"{API}{what}/")
        assert response.status_code == 200, what
    registrations = client.get(f"{API}registrations/").json()["results"]
    assert registrations[0]["location"]["name"] == "Lakeview"
    assert registrations[0]["registrant"]["full_name"] == "Rhea Registrant"
    (receipt,) = client.get(f"{API}receipts/").json()["results"]
    assert receipt["lot_number"] == "KX-1"
    assert receipt["supplier_dea_number"] == "PS1234563"


def test_the_front_desk_reads_none_of_it(client, fran, lot):
    client.force_login(fran)
    for what in ["registrations", "receipts", "inventories", "destructions", "loss-incidents"]:
        assert client.get(f"{API}{what}/").status_code == 403, what


def test_lists_filter_by_location_and_refuse_an_unknown_one(client, nina, lot):
    elsewhere = dea_registered(LocationFactory(name="Mesa", time_zone="America/Denver"))
    receive(nina, elsewhere, lot_number="MESA-1")
    client.force_login(nina)
    response = client.get(f"{API}receipts/", {"location": str(elsewhere.public_id)})
    assert [lot["lot_number"] for lot in response.json()["results"]] == ["MESA-1"]
    response = client.get(f"{API}inventories/", {"location": str(uuid.uuid4())})
    assert response.status_code == 400
    assert "There is no location with that id" in response.json()["location"][0]


# --- Inventories -------------------------------------------------------------------------------


def test_a_nurse_takes_an_inventory_with_a_witness(client, nina, phil, location, lot):
    client.force_login(nina)
    response = post(client, f"{API}inventories/", inventory_body(location, lot, phil))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["is_initial"] is True
    assert body["witness"]["full_name"] == "Phil Physician"
    (count,) = body["counts"]
    assert (count["lot"]["lot_number"], count["counted_mg"], count["discrepancy_mg"]) == (
        "KX-1",
        "500.000",
        "0.000",
    )
    detail = client.get(f"{API}inventories/{body['id']}/").json()
    assert detail == body


def test_a_difference_must_be_explained_and_is_then_booked(client, nina, phil, location, lot):
    client.force_login(nina)
    body = inventory_body(
        location, lot, phil, counts=[{"lot": str(lot.public_id), "counted_mg": "490"}]
    )
    response = post(client, f"{API}inventories/", body)
    assert response.status_code == 400
    assert "explain the difference" in response.json()["counts"][0]
    assert not Inventory.objects.exists()
    body["counts"][0]["explanation"] = "Vial residue"
    response = post(client, f"{API}inventories/", body)
    assert response.status_code == 201
    lot.refresh_from_db()
    assert lot.balance_mg == 490


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"counts": []}, "counts", "Enter what you counted in lot KX-1"),
        ({"witness_password": "not it"}, "witness_password", "That is not Phil"),
        ({"time_of_day": "noon"}, "time_of_day", "close of business"),
        ({"counts": [{"lot": str(uuid.uuid4()), "counted_mg": "1"}]}, "counts", "no lot"),
        ({"witness": "nobody"}, "witness", "That is not an id"),
    ],
)
def test_a_bad_inventory_is_refused_and_nothing_saved(
    client, nina, phil, location, lot, changes, field, message
):
    client.force_login(nina)
    response = post(client, f"{API}inventories/", inventory_body(location, lot, phil, **changes))
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not Inventory.objects.exists()
    assert not LedgerEntry.objects.filter(kind="count").exists()


def test_a_clinic_admin_reads_inventories_but_takes_none(client, alice, phil, location, lot):
    client.force_login(alice)
    response = post(client, f"{API}inventories/", inventory_body(location, lot, phil))
    assert response.status_code == 403


# --- Destruction ---------------------------------------------------------------------------------


def destruction_body(lot, phil, nora, **changes) -> dict:
    return {
        "lot": str(lot.public_id),
        "amount_mg": "100",
        "containers": 1,
        "reason": "Expired",
        "method": "reverse_distributor",
        "reverse_distributor": "Returns Co",
        "reverse_distributor_address": "1 Dock St, Memphis, TN",
        "reverse_distributor_dea_number": "PS1234563",
        "witness": str(phil.public_id),
        "witness_password": PASSWORD,
        "second_witness": str(nora.public_id),
        "second_witness_password": PASSWORD,
        **changes,
    }


def test_a_nurse_records_a_destruction_with_two_witnesses(client, nina, phil, nora, lot):
    client.force_login(nina)
    response = post(client, f"{API}destructions/", destruction_body(lot, phil, nora))
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["amount_mg"] == "100.000"
    assert body["witness"]["full_name"] == "Phil Physician"
    assert body["second_witness"]["full_name"] == "Nora Nurse"
    assert body["reverse_distributor_dea_number"] == "PS1234563"
    lot.refresh_from_db()
    assert lot.balance_mg == 400
    (listed,) = client.get(f"{API}destructions/").json()["results"]
    assert listed == body


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"amount_mg": "600"}, "amount_mg", "below zero"),
        ({"second_witness": "PHIL"}, "second_witness", "That is not an id"),
        ({"reverse_distributor_dea_number": "PS1234567"}, "reverse_distributor_dea_number", ""),
        ({"method": "burned"}, "method", '"reverse_distributor" or "on_site"'),
        ({"method": "on_site"}, "on_site_method", "non-retrievable"),
        ({"second_witness_password": "wrong"}, "second_witness_password", "That is not Nora"),
    ],
)
def test_a_bad_destruction_is_refused_and_nothing_saved(
    client, nina, phil, nora, lot, changes, field, message
):
    client.force_login(nina)
    response = post(client, f"{API}destructions/", destruction_body(lot, phil, nora, **changes))
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not Destruction.objects.exists()
    lot.refresh_from_db()
    assert lot.balance_mg == 500


def test_the_same_person_cannot_be_both_witnesses(client, nina, phil, nora, lot):
    client.force_login(nina)
    body = destruction_body(lot, phil, nora, second_witness=str(phil.public_id))
    response = post(client, f"{API}destructions/", body)
    assert response.status_code == 400
    assert "two different witnesses" in " ".join(response.json()["second_witness"])


# --- Theft or loss ------------------------------------------------------------------------


def test_a_nurse_reports_a_theft_and_the_clock_starts(client, nina, location, lot):
    client.force_login(nina)
    body = {
        "location": str(location.public_id),
        "kind": "theft",
        "description": "Two vials missing from the safe.",
        "lot": str(lot.public_id),
        "amount_mg": "100",
    }
    response = post(client, f"{API}loss-incidents/", body)
    assert response.status_code == 201, response.json()
    incident = response.json()
    assert incident["open"] is True
    assert incident["lot"]["lot_number"] == "KX-1"
    assert incident["notice_due_by"] > incident["discovered_at"]
    assert client.get(f"{API}loss-incidents/{incident['id']}/").json() == incident


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"kind": "misplaced"}, "kind", '"theft"'),
        ({"description": "  "}, "description", ""),
        ({"amount_mg": "-5"}, "amount_mg", "cannot be negative"),
        ({"discovered_at": "2099-01-01T00:00:00Z"}, "discovered_at", "in the future"),
        ({"discovered_at": "2026-01-01T09:00:00"}, "discovered_at", "UTC offset"),
    ],
)
def test_a_bad_loss_report_is_refused_and_nothing_saved(
    client, nina, location, changes, field, message
):
    client.force_login(nina)
    body = {"location": str(location.public_id), "kind": "theft", "description": "Gone"}
    response = post(client, f"{API}loss-incidents/", {**body, **changes})
    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    assert not LossIncident.objects.exists()


def report_theft(client, location) -> dict:
    body = {"location": str(location.public_id), "kind": "theft", "description": "Gone"}
    return post(client, f"{API}loss-incidents/", body).json()


def test_the_registrant_records_the_notice_then_form_106_which_closes_it(
    client, nina, phil, location
):
    client.force_login(nina)
    incident = report_theft(client, location)
    steps = f"{API}loss-incidents/{incident['id']}/steps/"
    client.force_login(phil)
    early = post(client, steps, {"step": "form_106_filed", "reference": "106-77"})
    assert early.status_code == 400
    assert "field office first" in early.json()["step"][0]
    notice = {"step": "field_office_notified", "reference": "Fax to the field office"}
    assert post(client, steps, notice).json()["open"] is True
    closed = post(client, steps, {"step": "form_106_filed", "reference": "106-77"})
    assert closed.status_code == 201
    assert closed.json()["open"] is False
    assert [step["step"] for step in closed.json()["steps"]] == [
        "field_office_notified",
        "form_106_filed",
    ]


def test_a_nurse_cannot_record_the_dea_reports(client, nina, location):
    client.force_login(nina)
    incident = report_theft(client, location)
    steps = f"{API}loss-incidents/{incident['id']}/steps/"
    response = post(client, steps, {"step": "field_office_notified", "reference": "Fax"})
    assert response.status_code == 403
    assert not LossIncident.objects.get().steps.exists()


def test_a_lot_of_another_location_is_refused(client, nina, location):
    elsewhere = dea_registered(LocationFactory(name="Mesa", time_zone="America/Denver"))
    theirs = receive(nina, elsewhere, lot_number="MESA-1")
    client.force_login(nina)
    body = {
        "location": str(location.public_id),
        "kind": "theft",
        "description": "Gone",
        "lot": str(theirs.public_id),
    }
    response = post(client, f"{API}loss-incidents/", body)
    assert response.status_code == 400
    assert "another location" in response.json()["lot"][0]


# --- The inspection report ----------------------------------------------------------------------


def test_the_registrant_physician_downloads_the_inspection_report(
    client, nina, phil, lot, location
):
    patient = PatientFactory(legal_first_name="Dana", legal_last_name="Quill")
    ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="35")
    client.force_login(phil)
    response = client.get(f"{API}inspection.csv", {"location": str(location.public_id)})
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert any("Dana Quill" in row for row in rows)
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, actor=phil).count() == 1


def test_nurses_may_not_download_the_inspection_report(client, nina, location):
    client.force_login(nina)
    response = client.get(f"{API}inspection.csv", {"location": str(location.public_id)})
    assert response.status_code == 403


def test_a_bad_period_is_a_400(client, phil, location):
    client.force_login(phil)
    query = {"location": str(location.public_id), "start": "2026-03-10", "end": "2026-03-01"}
    response = client.get(f"{API}inspection.csv", query, HTTP_ACCEPT="text/csv")
    assert response.status_code == 400
    assert "before the start date" in response.json()["end"][0]


# --- Nothing is edited or deleted; the schema -----------------------------------------------------


def test_nothing_is_edited_or_deleted(client, nina, phil, location, lot):
    client.force_login(nina)
    inventory = post(client, f"{API}inventories/", inventory_body(location, lot, phil)).json()
    url = f"{API}inventories/{inventory['id']}/"
    assert client.delete(url).status_code == 405
    assert client.put(url, {}, content_type="application/json").status_code == 405
    assert client.delete(f"{API}inventories/").status_code == 405


def test_every_dea_endpoint_is_in_the_openapi_schema(client, db):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]
    assert set(paths[f"{API}registrations/"]) == {"get"}
    assert set(paths[f"{API}receipts/"]) == {"get"}
    for what in ["inventories", "destructions", "loss-incidents"]:
        assert set(paths[f"{API}{what}/"]) == {"get", "post"}, what
        assert {"201", "400", "403"} <= set(paths[f"{API}{what}/"]["post"]["responses"])
    assert set(paths[f"{API}inventories/{{inventory_id}}/"]) == {"get"}
    assert set(paths[f"{API}loss-incidents/{{incident_id}}/"]) == {"get"}
    assert set(paths[f"{API}loss-incidents/{{incident_id}}/steps/"]) == {"post"}
    inspection = paths[f"{API}inspection.csv"]["get"]
    assert "text/csv" in inspection["responses"]["200"]["content"]
