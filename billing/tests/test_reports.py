"""The billing reports: a location's daily close (on its own clock, DST days included) and
its CSV, the aged balances and the open invoices; who may read them (the front desk and
clinic admins, not nurses or physicians); and each costs the same number of queries
however much the day or the books hold."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from billing.models import CreditNote, Invoice, Payment, Refund
from billing.reports import aged_balances, daily_close
from billing.services import credit_note_create, invoice_void, payment_take, refund_make
from billing.tests.factories import draft, issued, visit
from clinic.models import AuditEvent
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory

pytestmark = pytest.mark.django_db

CLOSE = "/staff/billing/close/"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def pay(invoice: Invoice, amount: str, when: datetime, method: str = "cash") -> Payment:
    return Payment.objects.create(
        invoice=invoice, method=method, amount=Decimal(amount), taken_at=when
    )


_numbers = iter(range(500_000, 1_000_000))


def issued_at(when: datetime, **kwargs) -> Invoice:
    """An invoice issued at ``when``."""
    invoice = draft(**kwargs)
    invoice.status, invoice.number, invoice.issued_at = "issued", next(_numbers), when
    invoice.save()
    return invoice


# --- The daily close ---------------------------------------------------------------------


def test_the_close_counts_the_location_s_own_day_on_a_dst_day():
    # Chicago springs forward on Mar 8, 2026: that day runs 06:00 UTC to 05:00 UTC next day.
    chicago = LocationFactory(time_zone="America/Chicago")
    invoice = issued_at(at("2026-03-08T15:00:00+00:00"), location=chicago, lines=["500"])
    pay(invoice, "10", at("2026-03-08T05:59:00+00:00"))  # Mar 7, 11:59 PM CST
    pay(invoice, "20", at("2026-03-08T06:00:00+00:00"))  # Mar 8, midnight
    pay(invoice, "30", at("2026-03-09T04:59:00+00:00"), "cheque")  # Mar 8, 11:59 PM CDT
    pay(invoice, "40", at("2026-03-09T05:30:00+00:00"))  # Mar 9, 12:30 AM CDT

    close = daily_close(chicago, datetime(2026, 3, 8).date())

    assert [(row.method, row.count, row.total) for row in close.payments] == [
        ("cash", 1, Decimal("20.00")),
        ("cheque", 1, Decimal("30.00")),
    ]
    assert close.starts_at.astimezone(UTC) == at("2026-03-08T06:00:00+00:00")
    assert close.ends_at.astimezone(UTC) - close.starts_at.astimezone(UTC) == timedelta(hours=23)
    assert close.invoices_issued == 1 and close.invoiced == Decimal("500.00")
    # At the end of Mar 8, the invoice owed 500 - 20 - 30 - 10 (taken the day before).
    assert close.outstanding == Decimal("440.00")


def test_the_close_sums_refunds_credit_notes_fees_and_what_is_owed_at_the_end(alice, fran):
    location = LocationFactory()
    no_show = visit("infusion", status="no_show", location=location)
    fee = issued(appointment=no_show, lines=["75"])
    care = issued(location=location, lines=["400"])
    elsewhere = issued(lines=["900"])  # another location's: not in this close
    payment = payment_take(actor=fran, invoice=care, method="terminal", amount="400")
    payment_take(actor=fran, invoice=elsewhere, method="cash", amount="900")
    refund_make(actor=alice, payment=payment, amount="100", reason="Shorter visit")
    credit_note_create(actor=alice, invoice=care, amount="100", reason="Shorter visit")

    close = daily_close(location, timezone.now().astimezone(location.tz).date())

    assert [(r.method, r.total) for r in close.payments] == [("terminal", Decimal("400.00"))]
    assert [(r.method, r.total) for r in close.refunds] == [("terminal", Decimal("100.00"))]
    assert close.net_taken == Decimal("300.00")
    assert (close.invoices_issued, close.invoiced) == (2, Decimal("475.00"))
    assert (close.fees, close.fees_total) == (1, Decimal("75.00"))
    assert (close.credit_notes, close.credited) == (1, Decimal("100.00"))
    assert (close.outstanding_invoices, close.outstanding) == (1, Decimal("75.00"))
    assert [move.kind for move in close.moves] == ["Payment", "Refund"]
    assert fee.pk


def test_a_close_read_later_says_what_it_said_that_night(alice, fran):
    location = LocationFactory(time_zone="UTC")
    invoice = issued_at(at("2026-01-05T10:00:00+00:00"), location=location, lines=["200"])
    pay(invoice, "50", at("2026-01-05T11:00:00+00:00"))
    day = datetime(2026, 1, 5).date()
    before = daily_close(location, day)

    later = payment_take(actor=fran, invoice=invoice, method="cash", amount="150")
    refund_make(actor=alice, payment=later, amount="150", reason="Paid twice")

    assert daily_close(location, day) == before
    assert before.outstanding == Decimal("150.00")


def test_the_close_page_shows_the_day_with_links_to_the_days_around_it(client, fran):
    location = LocationFactory(name="Lakeview", time_zone="America/Chicago")
    invoice = issued_at(at("2026-03-10T15:00:00+00:00"), location=location, lines=["300"])
    pay(invoice, "120", at("2026-03-10T16:00:00+00:00"), "cheque")
    client.force_login(fran)

    shown = client.get(f"{CLOSE}?location={location.public_id}&date=2026-03-10")

    page = shown.content.decode()
    assert shown.status_code == 200
    assert "Lakeview, Tuesday, Mar 10, 2026" in page
    assert "120.00 USD" in page and "Cheque" in page
    assert "date=2026-03-09" in page and "date=2026-03-11" in page
    assert "11:00 AM" in page  # the payment on Chicago's clock (CDT), not UTC


def test_an_empty_day_says_so_and_today_has_no_next_day(client, alice):
    location = LocationFactory()
    client.force_login(alice)

    page = client.get(f"{CLOSE}?location={location.public_id}").content.decode()

    assert 'data-testid="empty-day"' in page
    assert 'data-testid="next-day"' not in page


def test_with_no_location_the_close_says_where_to_add_one(client, alice):
    client.force_login(alice)
    assert 'data-testid="no-locations"' in client.get(CLOSE).content.decode()


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date=2026-13-40", "Enter the date as YYYY-MM-DD"),
        ("date=1900-01-01", "Choose a date between 2000 and 2199"),
        ("location=not-a-location", "That location is not in the list"),
    ],
)
def test_a_bad_date_or_location_says_what_to_fix(client, fran, query, message):
    LocationFactory()
    client.force_login(fran)

    response = client.get(f"{CLOSE}?{query}")

    assert response.status_code == 400
    assert message in response.content.decode()


def test_the_close_costs_the_same_queries_for_one_payment_and_for_fifty(client, alice):
    location = LocationFactory()
    other = LocationFactory()
    client.force_login(alice)
    url = f"{CLOSE}?location={location.public_id}"

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    invoice = issued(location=location, lines=["9000"])
    pay(invoice, "1", timezone.now())
    count()  # the first request of a test warms per-process caches
    one = count()
    for n in range(49):
        target = issued(location=location, lines=["50"]) if n % 5 else invoice
        payment = pay(target, "1", timezone.now(), ["cash", "cheque", "terminal"][n % 3])
        if n % 7 == 0:
            Refund.objects.create(payment=payment, amount=Decimal("1"), reason="x")
        if n % 9 == 0:
            CreditNote.objects.create(
                invoice=target, amount=Decimal("1"), reason="x", created_by=alice
            )
    issued(location=other, lines=["5"])
    assert count() == one


def test_the_close_csv_has_the_summary_and_each_move_without_patient_names(client, fran):
    location = LocationFactory(name="Lakeview")
    patient = PatientFactory(legal_first_name="Zelda")
    invoice = issued(location=location, patient=patient, lines=["300"])
    payment_take(actor=fran, invoice=invoice, method="cheque", amount="120", reference="Chq 88")
    client.force_login(fran)

    response = client.get(f"{CLOSE}csv/?location={location.public_id}")

    assert response["Content-Type"].startswith("text/csv")
    body = response.content.decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert ["Payments", "Cheque", "1", "120.00"] in rows
    assert ["Outstanding at close", "Invoices owing (1 patients)", "1", "180.00"] in rows
    assert any(
        row[1:] == ["Payment", "Cheque", "120.00", str(invoice.number), "Chq 88"] for row in rows
    )
    assert "Zelda" not in body


def test_text_in_the_csvs_never_reads_as_a_formula(client, fran, alice):
    location = LocationFactory(name="=HYPERLINK(1)")
    patient = PatientFactory(legal_first_name="@SUM(A1)")
    invoice = issued(location=location, patient=patient, lines=["300"])
    payment_take(actor=fran, invoice=invoice, method="cheque", amount="120", reference="+cmd")
    client.force_login(alice)

    close = client.get(f"{CLOSE}csv/?location={location.public_id}").content.decode()
    aged = client.get("/staff/billing/aged/csv/").content.decode()

    assert "'=HYPERLINK(1)" in close and "'+cmd" in close
    assert "'@SUM(A1)" in aged
    assert AuditEvent.objects.filter(action="export", summary__contains="daily close").exists()


# --- Who may read the reports ------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        CLOSE,
        f"{CLOSE}csv/",
        "/staff/billing/aged/",
        "/staff/billing/aged/csv/",
        "/staff/billing/open/",
        "/staff/billing/",
    ],
)
def test_nurses_and_physicians_may_not_read_the_reports(client, nina, phil, url):
    LocationFactory()
    for clinician in (nina, phil):
        client.force_login(clinician)
        assert client.get(url).status_code == 403


@pytest.mark.parametrize(
    "url", [CLOSE, "/staff/billing/aged/", "/staff/billing/open/", "/staff/billing/"]
)
def test_the_front_desk_and_clinic_admins_read_the_reports(client, fran, alice, url):
    LocationFactory()
    for person in (fran, alice):
        client.force_login(person)
        assert client.get(url).status_code == 200


def test_the_billing_entry_shows_in_the_navigation_for_billing_staff_only(client, fran, nina):
    client.force_login(fran)
    assert 'href="/staff/billing/"' in client.get("/staff/").content.decode()
    client.force_login(nina)
    assert 'href="/staff/billing/"' not in client.get("/staff/").content.decode()


def test_the_billing_index_links_the_reports_and_prices_for_admins_only(client, fran, alice):
    client.force_login(fran)
    page = client.get("/staff/billing/").content.decode()
    assert "/staff/billing/close/" in page and "/staff/billing/aged/" in page
    assert "/staff/billing/open/" in page and "/staff/billing/prices/" not in page
    client.force_login(alice)
    assert "/staff/billing/prices/" in client.get("/staff/billing/").content.decode()


# --- Aged balances -----------------------------------------------------------------------


def test_balances_are_bucketed_by_the_age_of_the_oldest_unpaid_invoice(alice):
    now = timezone.now()
    near, far = LocationFactory(), LocationFactory()
    fresh, month, quarter, old, paid_up = (PatientFactory() for _ in range(5))
    issued_at(now - timedelta(days=3), patient=fresh, location=near, lines=["100"])
    issued_at(now - timedelta(days=45), patient=month, location=near, lines=["60"])
    issued_at(now - timedelta(days=2), patient=month, location=far, lines=["40"])
    issued_at(now - timedelta(days=75), patient=quarter, location=far, lines=["300"])
    long_ago = issued_at(now - timedelta(days=200), patient=old, location=near, lines=["20"])
    settled = issued_at(now - timedelta(days=120), patient=paid_up, location=near, lines=["50"])
    payment_take(actor=alice, invoice=settled, method="cash", amount="50")
    assert long_ago.pk

    rows = {row["patient_id"]: row for row in aged_balances()}

    assert set(rows) == {fresh.pk, month.pk, quarter.pk, old.pk}
    assert rows[month.pk]["owed"] == Decimal("100.00") and rows[month.pk]["invoices"] == 2
    by_amount = [row["patient_id"] for row in aged_balances(sort="amount")]
    assert by_amount == [quarter.pk, fresh.pk, month.pk, old.pk]
    by_age = [row["patient_id"] for row in aged_balances(sort="age")]
    assert by_age == [old.pk, quarter.pk, month.pk, fresh.pk]
    at_near = {row["patient_id"]: row["owed"] for row in aged_balances(location=near)}
    assert at_near == {
        fresh.pk: Decimal("100.00"),
        month.pk: Decimal("60.00"),
        old.pk: Decimal("20.00"),
    }


def test_the_aged_page_shows_bucket_totals_and_links_each_patient_by_opaque_id(client, fran):
    now = timezone.now()
    patient = PatientFactory(legal_first_name="Ada")
    issued_at(now - timedelta(days=95), patient=patient, lines=["250"])
    client.force_login(fran)

    page = client.get("/staff/billing/aged/").content.decode()

    assert f'href="/staff/billing/patients/{patient.public_id}/"' in page
    assert 'data-testid="bucket-over_90">250.00 USD' in page
    assert 'data-testid="bucket-current">0.00 USD' in page
    assert "95 days" in page
    assert AuditEvent.objects.filter(
        actor=fran, summary__startswith="viewed the aged balances"
    ).exists()


def test_nobody_owing_is_said_plainly(client, fran):
    client.force_login(fran)
    page = client.get("/staff/billing/aged/").content.decode()
    assert 'data-testid="nobody-owes"' in page


def test_a_bad_sort_says_what_to_choose(client, fran):
    client.force_login(fran)
    response = client.get("/staff/billing/aged/?sort=name")
    assert response.status_code == 400
    assert "Sort by amount or by age" in response.content.decode()


def test_the_aged_page_costs_the_same_queries_for_one_patient_and_for_fifty(client, alice):
    client.force_login(alice)
    now = timezone.now()

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/staff/billing/aged/?sort=age").status_code == 200
        return len(queries)

    issued_at(now - timedelta(days=10), lines=["10"])
    count()  # the first request of a test warms per-process caches
    one = count()
    for n in range(49):
        issued_at(now - timedelta(days=n * 3), lines=[f"{n + 1}"])
    assert count() == one


def test_the_aged_csv_lists_every_patient_who_owes_and_is_audited(client, alice):
    patient = PatientFactory(legal_first_name="Ada")
    issued_at(timezone.now() - timedelta(days=40), patient=patient, lines=["80"])
    client.force_login(alice)

    response = client.get("/staff/billing/aged/csv/?sort=age")

    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0][0] == "Patient id"
    assert rows[1][0] == str(patient.public_id) and rows[1][2:4] == ["80.00", "1"]
    assert rows[1][-1] == "31–60 days"
    assert AuditEvent.objects.filter(action="export", summary__contains="aged balances").exists()


# --- Open invoices -----------------------------------------------------------------------


def test_open_invoices_are_drafts_and_issued_invoices_that_still_owe(client, alice, fran):
    waiting = draft(lines=["10"])
    owing = issued(lines=["20"])
    paid = issued(lines=["30"])
    payment_take(actor=fran, invoice=paid, method="cash", amount="30")
    void = issued(lines=["40"])
    invoice_void(actor=alice, invoice=void, reason="Entered twice")
    client.force_login(fran)

    page = client.get("/staff/billing/open/").content.decode()

    assert f"/staff/billing/invoices/{waiting.public_id}/" in page
    assert f"/staff/billing/invoices/{owing.public_id}/" in page
    assert f"/staff/billing/invoices/{paid.public_id}/" not in page
    assert f"/staff/billing/invoices/{void.public_id}/" not in page


def test_the_open_invoices_cost_the_same_queries_for_one_and_for_fifty(client, alice):
    client.force_login(alice)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/staff/billing/open/").status_code == 200
        return len(queries)

    issued(lines=["10"])
    count()  # the first request of a test warms per-process caches
    one = count()
    for _ in range(49):
        issued(lines=["10"])
    assert count() == one
