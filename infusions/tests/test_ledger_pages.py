"""The ketamine ledger's pages: /staff/ledger/.

Nurses and physicians reach them all; clinic admins read and export (the registrant answers
for the ledger in an inspection) but record nothing. The stock list, receiving, a lot's
running balance with witnessed waste, adjustments and counts, and the CSV export. Bad input
shows the ledger's own message and changes nothing; there is no way to edit or delete a
record.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from clinic.models import AuditEvent
from conftest import PASSWORD
from infusions.forms_ledger import CONFIRM_REQUIRED
from infusions.ledger import ledger_adjust, ledger_administer, ledger_count, ledger_waste
from infusions.models import Lot
from infusions.models.ledger import LedgerEntryKind
from infusions.tests.factories import SUPPLIER, dea_registered, infusion_session
from infusions.tests.test_ledger import receive
from infusions.views import ledger as ledger_views
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory

Kind = LedgerEntryKind
LIST = "/staff/ledger/"
RECEIVE = "/staff/ledger/receive/"
EXPORT = "/staff/ledger/export/"
# The session and the user; the paginator's count; the page of lots with their location and
# receiver joined in; the locations for the filter. The same however many lots. (Measured
# after a first page view, which also records the session's last activity.)
LIST_QUERIES = 7  # with the locations and their latest inventories (due dates)
# The session and the user; the lot; the paginator's count; the page of entries with who
# and what they name joined in; the audit event; the witnesses to choose from; the entries
# an adjustment may correct. The same however many entries.
LOT_QUERIES = 8


@pytest.fixture
def location(db):
    return dea_registered(LocationFactory(name="Lakeview", time_zone="America/Chicago"))


@pytest.fixture
def lot(nina, location) -> Lot:
    return receive(nina, location)  # 50 mg/mL x 10 mL = 500 mg


def lot_url(lot: Lot) -> str:
    return f"/staff/ledger/lots/{lot.public_id}/"


def signed_in(client, user):
    client.force_login(user)
    return client


def state(lot: Lot) -> tuple[Decimal, int]:
    """What a refused write must leave as it was: the balance and the number of entries."""
    lot.refresh_from_db()
    return lot.balance_mg, lot.entries.count()


def page_text(response) -> str:
    return response.content.decode()


# --- Who may --------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["nina", "phil"])
def test_nurses_and_physicians_reach_every_ledger_page(client, persona, lot, request):
    signed_in(client, request.getfixturevalue(persona))

    for url in [LIST, RECEIVE, EXPORT, lot_url(lot)]:
        assert client.get(url).status_code == 200, url


def refused_every_record(client, lot, phil) -> None:
    before = state(lot)
    assert client.get(RECEIVE).status_code == 403
    waste = {
        "waste-amount_mg": "5",
        "waste-witness": str(phil.public_id),
        "waste-witness_password": PASSWORD,
        "waste-confirm": "on",
    }
    assert client.post(f"{lot_url(lot)}waste/", waste).status_code == 403
    adjust = {"adjust-amount_mg": "-5", "adjust-reason": "x", "adjust-confirm": "on"}
    assert client.post(f"{lot_url(lot)}adjustments/", adjust).status_code == 403
    count = {"count-counted_mg": "1", "count-explanation": "x", "count-confirm": "on"}
    assert client.post(f"{lot_url(lot)}counts/", count).status_code == 403
    assert state(lot) == before


@pytest.mark.parametrize("persona", ["fran", "edie"])
def test_other_roles_are_refused_every_ledger_page(client, persona, lot, phil, request):
    signed_in(client, request.getfixturevalue(persona))

    for url in [LIST, EXPORT, f"{EXPORT}?start=2020-01-01&end=2030-01-01", lot_url(lot)]:
        assert client.get(url).status_code == 403, url
    refused_every_record(client, lot, phil)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


def test_a_clinic_admin_reads_and_exports_the_ledger_but_records_nothing(client, alice, lot, phil):
    ledger_count(actor=phil, lot=lot, counted_mg=lot.balance_mg)
    signed_in(client, alice)

    stock = page_text(client.get(LIST))
    assert lot.lot_number in stock and "Receive a delivery" not in stock
    detail = page_text(client.get(lot_url(lot)))
    assert "matches the book" in detail, "the counts are in the entries"
    assert "Record the count" not in detail and "Record the waste" not in detail
    export = client.get(f"{EXPORT}?start=2020-01-01&end=2030-01-01")
    assert export.status_code == 200 and export["Content-Type"].startswith("text/csv")
    assert AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT, actor=alice).exists()
    refused_every_record(client, lot, phil)


def test_signed_out_visitors_are_sent_to_sign_in(client, lot):
    response = client.get(lot_url(lot))

    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")


def test_an_unknown_lot_is_not_found(client, nina, db):
    signed_in(client, nina)

    assert client.get("/staff/ledger/lots/00000000-0000-0000-0000-000000000000/").status_code == 404


def test_the_ledger_is_in_the_navigation_of_nurses_only(client, nina, fran):
    assert ">Ledger</a>" in page_text(signed_in(client, nina).get("/staff/"))
    assert ">Ledger</a>" not in page_text(signed_in(client, fran).get("/staff/"))


# --- The stock ------------------------------------------------------------------------------


def test_the_stock_list_shows_each_lot_with_its_details(client, nina, lot):
    page = page_text(signed_in(client, nina).get(LIST))

    for shown in [
        "Ketamine HCl 50 mg/mL",
        "50 mg/mL",
        "KX-1001",
        "Midwest Pharma Supply",
        "Invoice INV-77",
        "by Nina Nurse",
        "Lakeview",
        "500.000 mg",
        "≈ 10.00 mL",
        "at least 2 years",
    ]:
        assert shown in page, shown
    assert lot_url(lot) in page


def test_lots_near_or_past_expiry_are_flagged_in_words(client, nina, location):
    today = timezone.now().astimezone(location.tz).date()
    receive(nina, location, lot_number="SOON", expiry_date=today + timedelta(days=10))
    receive(nina, location, lot_number="LATER", expiry_date=today + timedelta(days=31))
    receive(
        nina,
        location,
        lot_number="OLD",
        received_at=timezone.now() - timedelta(days=40),
        expiry_date=today - timedelta(days=2),
    )
    signed_in(client, nina)

    in_stock = page_text(client.get(LIST))
    everything = page_text(client.get(LIST, {"show_all": "on"}))

    assert "Expires in 10 days" in in_stock
    assert "Expires in 31 days" not in in_stock
    assert "OLD" not in in_stock
    assert "OLD" in everything
    assert "Expired " in everything


def test_empty_lots_show_only_when_asked_for(client, nina, location):
    empty = receive(nina, location, lot_number="EMPTY-1")
    ledger_adjust(actor=nina, lot=empty, amount_mg="-500", reason="broken vial")
    signed_in(client, nina)

    assert "EMPTY-1" not in page_text(client.get(LIST))
    page = page_text(client.get(LIST, {"show_all": "on"}))
    assert "EMPTY-1" in page
    assert "Empty" in page


def test_it_filters_by_location_and_searches_lot_numbers_and_products(client, nina, location):
    elsewhere = LocationFactory(name="Hillside")
    receive(nina, location, lot_number="LAKE-7")
    receive(nina, elsewhere, lot_number="HILL-9", product_name="Ketalar 100 mg/mL")
    signed_in(client, nina)

    by_location = page_text(client.get(LIST, {"location": str(elsewhere.public_id)}))
    by_lot = page_text(client.get(LIST, {"q": "lake"}))
    by_product = page_text(client.get(LIST, {"q": "ketalar"}))

    assert "HILL-9" in by_location and "LAKE-7" not in by_location
    assert "LAKE-7" in by_lot and "HILL-9" not in by_lot
    assert "HILL-9" in by_product and "LAKE-7" not in by_product


def test_it_explains_an_empty_list(client, nina, location):
    signed_in(client, nina)

    assert "No ketamine in stock" in page_text(client.get(LIST))
    assert "The ledger has no lots yet" in page_text(client.get(LIST, {"show_all": "on"}))
    receive(nina, location)
    assert "No lots match these filters" in page_text(client.get(LIST, {"q": "nothing-like"}))


def test_the_stock_list_is_paginated(client, nina, location, monkeypatch):
    monkeypatch.setattr(ledger_views, "LOTS_PER_PAGE", 2)
    for number in ["A-1", "A-2", "A-3"]:
        receive(nina, location, lot_number=number)
    signed_in(client, nina)

    first = page_text(client.get(LIST))
    second = page_text(client.get(LIST, {"page": 2}))

    assert "Page 1 of 2" in first
    assert first.count('data-testid="lot-row"') == 2
    assert second.count('data-testid="lot-row"') == 1


def test_the_stock_list_takes_the_same_queries_however_many_lots(
    client, nina, location, django_assert_num_queries
):
    signed_in(client, nina).get("/staff/")
    receive(nina, location, lot_number="ONE")
    with django_assert_num_queries(LIST_QUERIES):
        assert client.get(LIST).status_code == 200

    for number in range(8):
        receive(nina, LocationFactory(), lot_number=f"MORE-{number}")
    with django_assert_num_queries(LIST_QUERIES):
        response = client.get(LIST)
    assert page_text(response).count('data-testid="lot-row"') == 9


# --- Receiving ------------------------------------------------------------------------------


def delivery(location, **fields) -> dict:
    return {
        "location": str(location.public_id),
        "product_name": "Ketamine HCl 50 mg/mL",
        "concentration_mg_per_ml": "50",
        "container_volume_ml": "10",
        "containers_received": "2",
        **SUPPLIER,
        "lot_number": "NEW-1",
        "expiry_date": (location.local_now().date() + timedelta(days=400)).isoformat(),
        "supplier": "Midwest Pharma Supply",
        "invoice_number": "INV-900",
    } | fields


def test_receiving_a_delivery_books_the_lot_on_the_locations_clock(client, nina, location):
    yesterday = timezone.now().astimezone(location.tz).date() - timedelta(days=1)
    signed_in(client, nina)

    response = client.post(RECEIVE, delivery(location, received_at=f"{yesterday}T09:30"))

    lot = Lot.objects.get(lot_number="NEW-1")
    assert response.status_code == 302
    assert response["Location"] == lot_url(lot)
    assert lot.balance_mg == Decimal("1000.000")
    assert lot.received_by == nina
    assert lot.received_at == datetime(
        yesterday.year, yesterday.month, yesterday.day, 9, 30, tzinfo=location.tz
    )
    assert lot.entries.get().kind == Kind.RECEIPT
    assert "Received lot NEW-1: 1000.000 mg" in page_text(client.get(response["Location"]))


def test_a_bad_delivery_shows_the_messages_by_the_fields_and_saves_nothing(client, nina, location):
    signed_in(client, nina)
    expired = (location.local_now().date() - timedelta(days=3)).isoformat()

    response = client.post(
        RECEIVE,
        delivery(location, concentration_mg_per_ml="50.0001", lot_number="", expiry_date=expired),
    )

    page = page_text(response)
    assert response.status_code == 200
    assert "Enter the lot number." in page
    assert "at most 3 decimals" in page
    assert "return it to the supplier" in page
    assert 'aria-invalid="true"' in page
    assert (
        'aria-describedby="id_concentration_mg_per_ml_helptext id_concentration_mg_per_ml_error"'
        in (page)
    )
    assert not Lot.objects.exists()


def test_receiving_refuses_a_time_nobody_could_mean(client, nina, location):
    signed_in(client, nina)

    response = client.post(RECEIVE, delivery(location, received_at="0001-01-01T00:30"))

    assert "Enter a date between" in page_text(response)
    assert not Lot.objects.exists()


# --- A lot's entries ------------------------------------------------------------------------


def test_the_lot_page_shows_the_entries_as_a_running_balance(client, nina, phil, lot):
    patient = PatientFactory(legal_first_name="Robin", legal_last_name="Quinn")
    dose = ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="35")
    ledger_waste(
        actor=nina,
        lot=lot,
        amount_mg="15",
        witness=phil,
        witness_password=PASSWORD,
        reason="end of vial",
    )
    ledger_adjust(actor=phil, lot=lot, amount_mg="-5", reason="dose was 40 mg", corrects=dose)

    page = page_text(signed_in(client, nina).get(lot_url(lot)))

    balances = ["500.000 mg", "465.000 mg", "450.000 mg", "445.000 mg"]
    positions = [
        page.index(balance, page.index('data-testid="entry-table"')) for balance in balances
    ]
    assert positions == sorted(positions)
    assert f'href="/staff/patients/{patient.public_id}/"' in page
    assert "Robin Quinn" in page
    assert "Phil Physician" in page
    assert "end of vial" in page
    assert f'corrects <a href="#entry-{dose.public_id}">#{str(dose.public_id)[:8]}</a>' in page
    assert "≈ 8.90 mL" in page
    assert "at least 2 years" in page


def test_a_dose_given_in_a_session_links_to_it(client, nina, phil):
    session = infusion_session(nina, phil)
    appointment = session.appointment
    lot = receive(nina, appointment.location)
    ledger_administer(
        actor=nina, lot=lot, patient=appointment.patient, amount_mg="40", session=session
    )

    page = page_text(signed_in(client, phil).get(lot_url(lot)))

    assert f'href="/staff/sessions/{session.public_id}/"' in page


def test_reading_a_lot_is_in_the_audit_log_without_patient_data(client, nina, lot):
    signed_in(client, nina).get(lot_url(lot))

    event = AuditEvent.objects.filter(action=AuditEvent.Action.VIEW).get()
    assert event.actor == nina
    assert event.object_id == str(lot.public_id)
    assert event.object_label == ""


def test_the_lot_page_takes_the_same_queries_however_many_entries(
    client, nina, phil, lot, django_assert_num_queries
):
    signed_in(client, nina).get("/staff/")
    with django_assert_num_queries(LOT_QUERIES):
        assert client.get(lot_url(lot)).status_code == 200

    for number in range(4):
        patient = PatientFactory()
        dose = ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="10")
        ledger_waste(actor=nina, lot=lot, amount_mg="1", witness=phil, witness_password=PASSWORD)
        ledger_adjust(actor=phil, lot=lot, amount_mg="1", reason=f"fix {number}", corrects=dose)
    with django_assert_num_queries(LOT_QUERIES):
        response = client.get(lot_url(lot))
    assert page_text(response).count('data-testid="entry-row"') == 13


def test_a_long_ledger_opens_on_its_latest_entries(client, nina, lot, monkeypatch):
    monkeypatch.setattr(ledger_views, "ENTRIES_PER_PAGE", 2)
    ledger_count(actor=nina, lot=lot, counted_mg="500")
    ledger_adjust(actor=nina, lot=lot, amount_mg="-1", reason="latest one")
    signed_in(client, nina)

    latest = page_text(client.get(lot_url(lot)))
    first = page_text(client.get(lot_url(lot), {"page": 1}))

    assert "latest one" in latest and "Page 2 of 2" in latest
    assert "latest one" not in first and "Receipt" in first


# --- Waste ----------------------------------------------------------------------------------


def waste_form(witness_user, **fields) -> dict:
    values = {
        "amount_mg": "12.5",
        "witness": str(witness_user.public_id),
        "witness_password": PASSWORD,
        "reason": "left in the vial",
        "confirm": "on",
    } | fields
    return {f"waste-{name}": value for name, value in values.items() if value is not None}


def test_recording_witnessed_waste(client, nina, phil, lot):
    signed_in(client, nina)

    response = client.post(f"{lot_url(lot)}waste/", waste_form(phil), follow=True)

    entry = lot.entries.get(kind=Kind.WASTED)
    assert entry.amount_mg == Decimal("-12.500")
    assert entry.witness == phil and entry.recorded_by == nina
    assert state(lot) == (Decimal("487.500"), 2)
    assert "Recorded 12.500 mg wasted from lot KX-1001, witnessed by Phil Physician" in (
        page_text(response)
    )


def test_the_witness_list_offers_the_other_active_nurses_and_physicians(
    client, nina, phil, fran, olga, lot
):
    page = page_text(signed_in(client, nina).get(lot_url(lot)))

    assert f'<option value="{phil.public_id}">' in page
    assert f'<option value="{nina.public_id}">' not in page
    assert f'<option value="{fran.public_id}">' not in page
    assert f'<option value="{olga.public_id}">' not in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"amount_mg": "600"}, "That would take lot KX-1001 below zero: it holds 500.000 mg"),
        ({"amount_mg": "-5"}, "cannot be negative"),
        ({"amount_mg": "five"}, "must be a number of mg"),
        ({"witness": "self"}, "You cannot be your own second person"),
        ({"witness": "not-an-id"}, "That person is not in the list"),
        ({"witness_password": "not-it"}, "That is not Phil Physician&#x27;s password"),
        ({"witness": None}, "Choose the second member of staff who saw the drug destroyed."),
        ({"confirm": None}, CONFIRM_REQUIRED),
    ],
)
def test_bad_waste_shows_the_message_and_changes_nothing(client, nina, phil, lot, change, message):
    if change.get("witness") == "self":
        change = {"witness": str(nina.public_id)}
    signed_in(client, nina)
    before = state(lot)

    response = client.post(f"{lot_url(lot)}waste/", waste_form(phil, **change))

    assert response.status_code == 200
    assert message in page_text(response)
    assert 'id="waste" open' in page_text(response)
    assert state(lot) == before


def test_a_refused_record_must_be_confirmed_again_and_the_password_typed_again(
    client, nina, phil, lot
):
    signed_in(client, nina)

    response = client.post(f"{lot_url(lot)}waste/", waste_form(phil, amount_mg="900"))

    page = page_text(response)
    assert "below zero" in page
    assert 'value="900"' in page
    assert PASSWORD not in page
    assert 'id="id_waste-confirm" checked' not in page


# --- Adjustments and counts -----------------------------------------------------------------


def test_an_adjustment_corrects_a_chosen_entry(client, nina, lot):
    patient = PatientFactory()
    dose = ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="30")
    signed_in(client, nina)
    form = {
        "adjust-amount_mg": "-2.5",
        "adjust-reason": "dose was 32.5 mg",
        "adjust-corrects": str(dose.public_id),
        "adjust-confirm": "on",
    }

    response = client.post(f"{lot_url(lot)}adjustments/", form)

    assert response.status_code == 302
    correction = lot.entries.get(kind=Kind.ADJUSTMENT)
    assert correction.corrects == dose
    assert correction.amount_mg == Decimal("-2.500")
    assert state(lot) == (Decimal("467.500"), 3)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"adjust-reason": ""}, "Say why the balance changes"),
        ({"adjust-amount_mg": "-501"}, "below zero"),
        ({"adjust-amount_mg": "0"}, "cannot be zero"),
        ({"adjust-corrects": "00000000-0000-0000-0000-000000000000"}, "not in the list"),
        ({"adjust-confirm": ""}, CONFIRM_REQUIRED),
    ],
)
def test_a_bad_adjustment_shows_the_message_and_changes_nothing(client, nina, lot, change, message):
    signed_in(client, nina)
    before = state(lot)
    form = {"adjust-amount_mg": "-5", "adjust-reason": "spill", "adjust-confirm": "on"} | change

    response = client.post(f"{lot_url(lot)}adjustments/", form)

    assert response.status_code == 200
    assert message in page_text(response)
    assert state(lot) == before


def test_a_count_that_matches_the_book_moves_nothing(client, nina, lot):
    signed_in(client, nina)
    form = {"count-counted_mg": "500", "count-confirm": "on"}

    response = client.post(f"{lot_url(lot)}counts/", form, follow=True)

    assert "it matches the book" in page_text(response)
    count = lot.entries.get(kind=Kind.COUNT)
    assert count.discrepancy_mg == 0
    assert state(lot) == (Decimal("500.000"), 2)


def test_a_count_discrepancy_needs_an_explanation(client, nina, lot):
    signed_in(client, nina)
    before = state(lot)

    response = client.post(
        f"{lot_url(lot)}counts/", {"count-counted_mg": "490", "count-confirm": "on"}
    )

    assert response.status_code == 200
    assert "You counted 10.000 mg less than the book" in page_text(response)
    assert state(lot) == before


def test_an_explained_count_discrepancy_is_booked_as_an_adjustment(client, nina, lot):
    signed_in(client, nina)
    form = {"count-counted_mg": "490", "count-explanation": "vial cracked", "count-confirm": "on"}

    response = client.post(f"{lot_url(lot)}counts/", form, follow=True)

    assert "booked as an adjustment" in page_text(response)
    count = lot.entries.get(kind=Kind.COUNT)
    adjustment = lot.entries.get(kind=Kind.ADJUSTMENT)
    assert adjustment.corrects == count
    assert state(lot) == (Decimal("490.000"), 3)


# --- Nothing is ever edited or deleted ------------------------------------------------------


def test_there_is_no_way_to_change_or_delete_a_record(client, nina, lot):
    signed_in(client, nina)
    entry = lot.entries.get()

    assert client.delete(lot_url(lot)).status_code == 405
    assert client.post(lot_url(lot)).status_code == 405
    assert client.post(f"{lot_url(lot)}delete/").status_code == 404
    assert client.post(f"/staff/ledger/entries/{entry.public_id}/delete/").status_code == 404
    assert client.get(f"{lot_url(lot)}waste/").status_code == 405
    assert state(lot) == (Decimal("500.000"), 1)


# --- The export -----------------------------------------------------------------------------


def test_the_export_form_offers_the_last_30_days(client, nina):
    today = timezone.localdate()

    page = page_text(signed_in(client, nina).get(EXPORT))

    assert f'value="{today - timedelta(days=30):%Y-%m-%d}"' in page
    assert f'value="{today:%Y-%m-%d}"' in page
    assert "at least 2 years" in page


def test_the_export_downloads_the_ledger_and_is_audited(client, nina, lot):
    patient = PatientFactory(legal_first_name="Robin", legal_last_name="Quinn")
    ledger_administer(actor=nina, lot=lot, patient=patient, amount_mg="35")
    today = timezone.now().astimezone(lot.location.tz).date()
    start, end = today - timedelta(days=1), today + timedelta(days=1)

    response = signed_in(client, nina).get(EXPORT, {"start": start, "end": end})

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == (
        f'attachment; filename="ketamine-ledger-{start}-to-{end}.csv"'
    )
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [row["kind"] for row in rows] == ["receipt", "administered"]
    assert rows[1]["patient_name"] == "Robin Quinn"
    assert rows[1]["balance_after_mg"] == "465.000"
    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.actor == nina
    assert event.summary == f"exported the ketamine ledger from {start} to {end} as CSV"
    assert "Robin" not in event.summary and "Quinn" not in event.summary


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"start": "2026-03-10", "end": "2026-03-01"}, "The end date is before the start date"),
        ({"start": "2026-02-30", "end": "2026-03-01"}, "Enter the first day as YYYY-MM-DD"),
        ({"start": "2026-03-01", "end": "9999-12-31"}, "Enter a date between"),
        ({"start": "", "end": "2026-03-01"}, "Enter the first day to export."),
    ],
)
def test_a_bad_export_range_shows_a_message_and_exports_nothing(client, nina, query, message):
    response = signed_in(client, nina).get(EXPORT, query)

    assert response.status_code == 200
    assert message in page_text(response)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()
