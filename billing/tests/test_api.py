"""The billing API: /api/v1/prices/, invoices/, payments/, refunds/ and a patient's balance.
Reads for the front desk and clinic admins (the balance for clinicians too); the desk issues
and takes payments, a clinic admin voids and refunds; every write goes through the billing
services, bad input says what to fix and changes nothing, a repeated request with the same
id makes nothing twice, and the lists cost the same queries however long they are."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from billing.models import Invoice, Payment, Refund
from billing.services import payment_take
from billing.tests.factories import draft, issued, price
from clinic.models import AuditEvent
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory

pytestmark = pytest.mark.django_db


def post(client, url: str, data: dict | None = None):
    return client.post(url, data or {}, content_type="application/json")


def invoice_url(invoice: Invoice, action: str = "") -> str:
    return f"/api/v1/invoices/{invoice.public_id}/" + (f"{action}/" if action else "")


# --- Who may call what -------------------------------------------------------------------


def test_it_refuses_anonymous_callers(client):
    invoice = issued()
    assert client.get("/api/v1/invoices/").status_code == 401
    assert post(client, invoice_url(invoice, "payments"), {}).status_code == 401


@pytest.mark.parametrize("persona", ["nina", "phil"])
def test_clinicians_may_not_read_invoices_payments_or_refunds(client, request, persona):
    invoice = issued()
    client.force_login(request.getfixturevalue(persona))

    for url in ("/api/v1/invoices/", invoice_url(invoice), "/api/v1/payments/", "/api/v1/refunds/"):
        assert client.get(url).status_code == 403
    assert (
        post(
            client, invoice_url(invoice, "payments"), {"method": "cash", "amount": "1"}
        ).status_code
        == 403
    )


@pytest.mark.parametrize("persona", ["nina", "phil", "fran", "alice"])
def test_everyone_who_works_with_patients_reads_a_balance(client, request, persona):
    patient = PatientFactory()
    issued(patient=patient, lines=["120.50"])
    client.force_login(request.getfixturevalue(persona))

    response = client.get(f"/api/v1/patients/{patient.public_id}/balance/")

    assert response.status_code == 200
    assert response.json()["owed"] == "120.50"
    assert response.json()["patient"]["id"] == str(patient.public_id)


def test_a_balance_of_no_such_patient_is_404(client, fran):
    client.force_login(fran)
    assert client.get(f"/api/v1/patients/{uuid.uuid4()}/balance/").status_code == 404


def test_the_front_desk_may_not_void_or_refund(client, fran):
    invoice = issued(lines=["100"])
    payment = payment_take(actor=fran, invoice=invoice, method="cash", amount="100")
    client.force_login(fran)

    assert post(client, invoice_url(invoice, "void"), {"reason": "x"}).status_code == 403
    refund = f"{invoice_url(invoice)}payments/{payment.public_id}/refunds/"
    assert post(client, refund, {"amount": "1", "reason": "x"}).status_code == 403
    assert not Refund.objects.exists()


def test_the_price_list_is_the_clinic_admins(client, fran, alice):
    location = LocationFactory(name="Lakeview")
    price("infusion", location, "450")
    client.force_login(fran)
    assert client.get("/api/v1/prices/").status_code == 403

    client.force_login(alice)
    response = client.get("/api/v1/prices/", {"type": "infusion"})

    assert response.status_code == 200
    row = response.json()["results"][0]
    assert row["amount"] == "450.00" and row["type"] == "infusion"
    assert row["location"]["name"] == "Lakeview" and row["currency"] == "USD"


def test_a_bad_price_filter_says_what_to_send(client, alice):
    client.force_login(alice)
    response = client.get("/api/v1/prices/", {"type": "massage"})
    assert response.status_code == 400
    assert "Choose a kind of visit" in response.json()["type"][0]


# --- Reading invoices, payments and refunds ----------------------------------------------


def test_an_invoice_shows_its_lines_state_and_sums(client, fran):
    invoice = issued(lines=["300", "20"])
    payment_take(actor=fran, invoice=invoice, method="cheque", amount="100", reference="Chq 7")
    client.force_login(fran)

    body = client.get(invoice_url(invoice)).json()

    assert body["id"] == str(invoice.public_id) and body["number"] == invoice.number
    assert [line["amount"] for line in body["lines"]] == ["300.00", "20.00"]
    assert body["state"] == "Partly paid" and body["status"] == "issued"
    assert (body["total"], body["paid"], body["due"]) == ("320.00", "100.00", "220.00")
    assert AuditEvent.objects.filter(
        actor=fran, action="view", object_id=str(invoice.public_id)
    ).exists()


def test_the_invoice_list_filters_by_patient_and_status(client, fran):
    patient = PatientFactory()
    mine = issued(patient=patient)
    draft(patient=patient)
    issued()
    client.force_login(fran)

    response = client.get(
        "/api/v1/invoices/", {"patient": str(patient.public_id), "status": "issued"}
    )

    assert [row["id"] for row in response.json()["results"]] == [str(mine.public_id)]


def test_a_bad_invoice_filter_says_what_to_send(client, fran):
    client.force_login(fran)
    response = client.get("/api/v1/invoices/", {"status": "paid", "patient": "nobody"})
    assert response.status_code == 400
    assert "Choose a status" in response.json()["status"][0]
    assert "That is not an id" in response.json()["patient"][0]


@pytest.mark.parametrize("count", [1, 12])
def test_the_lists_cost_the_same_queries_however_long(
    client, fran, alice, django_assert_num_queries, count
):
    for n in range(count):
        invoice = issued(lines=["100", "50"])
        payment = payment_take(actor=fran, invoice=invoice, method="cash", amount="100")
        Refund.objects.create(payment=payment, amount=Decimal("10"), reason="x", refunded_by=alice)
        draft(lines=[f"{n + 1}"])
    client.force_login(fran)
    client.get("/api/v1/me/")  # the first request of a test warms per-process caches

    # The session, the user, the page (with its sums), its lines (invoices only), and the
    # audit event: the same for 1 row as for 24.
    with django_assert_num_queries(5):
        invoices = client.get("/api/v1/invoices/")
    with django_assert_num_queries(4):
        payments = client.get("/api/v1/payments/")
    with django_assert_num_queries(4):
        refunds = client.get("/api/v1/refunds/")

    assert len(invoices.json()["results"]) == 2 * count
    assert len(payments.json()["results"]) == count
    assert payments.json()["results"][0]["refunded"] == "10.00"
    assert len(refunds.json()["results"]) == count


def test_the_invoice_list_pages_by_cursor(client, fran):
    for _ in range(55):
        draft()
    client.force_login(fran)

    first = client.get("/api/v1/invoices/").json()
    second = client.get(first["next"]).json()

    assert len(first["results"]) == 50 and len(second["results"]) == 5
    assert second["next"] is None
    assert not {r["id"] for r in first["results"]} & {r["id"] for r in second["results"]}


# --- The desk's writes -------------------------------------------------------------------


def test_the_front_desk_issues_a_draft_then_takes_a_cash_payment(client, fran):
    invoice = draft(lines=["300"])
    client.force_login(fran)

    issued_now = post(client, invoice_url(invoice, "issue"))
    assert issued_now.status_code == 200
    assert issued_now.json()["status"] == "issued" and issued_now.json()["number"] == 1
    assert issued_now.json()["due"] == "300.00"

    taken = post(client, invoice_url(invoice, "payments"), {"method": "cash", "amount": "120.50"})

    assert taken.status_code == 201
    assert taken.json()["amount"] == "120.50" and taken.json()["method"] == "cash"
    payment = Payment.objects.get()
    assert payment.taken_by == fran and payment.amount == Decimal("120.50")
    assert AuditEvent.objects.filter(action="create", object_id=str(payment.public_id)).exists()
    assert client.get(invoice_url(invoice)).json()["state"] == "Partly paid"


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"method": "cash", "amount": "300.01"},
            "amount",
            "owes 300.00 USD: take that much at most",
        ),
        ({"method": "cash", "amount": "ten"}, "amount", "Enter the amount as a number"),
        ({"method": "cash"}, "amount", "Give the amount received"),
        ({"method": "card", "amount": "10"}, "method", "Choose how the patient paid"),
        ({"amount": "10"}, "method", "Say how the patient paid"),
        ({"method": "cash", "amount": "10", "id": "twelve"}, "id", "as a UUID"),
        ({"method": "cash", "amount": "-5"}, "amount", "more than 0"),
    ],
)
def test_a_bad_payment_says_what_to_fix_and_takes_nothing(client, fran, data, field, message):
    invoice = issued(lines=["300"])
    client.force_login(fran)

    response = post(client, invoice_url(invoice, "payments"), data)

    assert response.status_code == 400
    assert message in response.json()[field][0]
    assert not Payment.objects.exists()


def test_a_payment_on_a_draft_says_to_issue_it_first(client, fran):
    invoice = draft(lines=["300"])
    client.force_login(fran)

    response = post(client, invoice_url(invoice, "payments"), {"method": "cash", "amount": "5"})

    assert response.status_code == 400
    assert "Issue it first" in response.json()["invoice"][0]


def test_a_payment_sent_twice_with_the_same_id_is_taken_once(client, fran):
    invoice = issued(lines=["300"])
    client.force_login(fran)
    data = {"method": "cheque", "amount": "100", "reference": "Chq 9", "id": str(uuid.uuid4())}

    first = post(client, invoice_url(invoice, "payments"), data)
    again = post(client, invoice_url(invoice, "payments"), data)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json() == again.json()
    assert Payment.objects.count() == 1
    assert first.json()["id"] == data["id"]

    other = post(client, invoice_url(invoice, "payments"), data | {"amount": "50"})
    assert other.status_code == 400
    assert "Another payment has this id" in other.json()["id"][0]
    assert Payment.objects.count() == 1


def test_an_admin_voids_with_a_reason_and_an_empty_reason_is_refused(client, alice):
    invoice = issued(lines=["80"])
    client.force_login(alice)

    empty = post(client, invoice_url(invoice, "void"), {"reason": "  "})
    assert empty.status_code == 400 and "Write why the invoice is void" in empty.json()["reason"][0]

    done = post(client, invoice_url(invoice, "void"), {"reason": "Booked twice"})

    assert done.status_code == 200
    assert done.json()["status"] == "void" and done.json()["credited"] == "80.00"
    again = post(client, invoice_url(invoice, "void"), {"reason": "Booked twice"})
    assert again.status_code == 400 and "void already" in again.json()["invoice"][0]


def test_an_admin_refunds_part_of_a_payment_once_per_id(client, fran, alice):
    invoice = issued(lines=["200"])
    payment = payment_take(actor=fran, invoice=invoice, method="terminal", amount="200")
    client.force_login(alice)
    url = f"{invoice_url(invoice)}payments/{payment.public_id}/refunds/"
    data = {"amount": "50", "reason": "Shorter visit", "id": str(uuid.uuid4())}

    first = post(client, url, data)
    again = post(client, url, data)

    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["method"] == "terminal" and first.json()["amount"] == "50.00"
    assert Refund.objects.count() == 1
    too_much = post(client, url, {"amount": "150.01", "reason": "x"})
    assert too_much.status_code == 400
    assert "150.00 USD is left of this payment" in too_much.json()["amount"][0]
    assert client.get(invoice_url(invoice)).json()["due"] == "50.00"


def test_a_refund_of_a_payment_of_another_invoice_is_404(client, fran, alice):
    invoice, other = issued(lines=["200"]), issued(lines=["200"])
    payment = payment_take(actor=fran, invoice=other, method="cash", amount="20")
    client.force_login(alice)

    url = f"{invoice_url(invoice)}payments/{payment.public_id}/refunds/"
    assert post(client, url, {"amount": "5", "reason": "x"}).status_code == 404


def test_the_billing_paths_are_in_the_schema(client):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    for path in (
        "/api/v1/prices/",
        "/api/v1/invoices/",
        "/api/v1/invoices/{invoice_id}/issue/",
        "/api/v1/invoices/{invoice_id}/void/",
        "/api/v1/invoices/{invoice_id}/payments/",
        "/api/v1/invoices/{invoice_id}/payments/{payment_id}/refunds/",
        "/api/v1/payments/",
        "/api/v1/refunds/",
        "/api/v1/patients/{patient_id}/balance/",
    ):
        assert path in schema["paths"]


@pytest.mark.parametrize("count", [1, 8])
def test_the_price_list_costs_the_same_queries_however_long(
    client, alice, django_assert_num_queries, count
):
    for n in range(count):
        price("infusion", LocationFactory(), f"{400 + n}")
    client.force_login(alice)
    client.get("/api/v1/me/")  # the first request of a test warms per-process caches

    # The session, the user, the count and the page (prices are not patient data: no audit).
    with django_assert_num_queries(4):
        response = client.get("/api/v1/prices/")

    assert response.json()["count"] == count


def test_a_draft_owes_nothing_yet_and_issuing_it_twice_says_so(client, fran):
    invoice = draft(lines=["90"])
    client.force_login(fran)

    assert client.get(invoice_url(invoice)).json()["due"] == "0.00"
    assert post(client, invoice_url(invoice, "issue")).status_code == 200
    again = post(client, invoice_url(invoice, "issue"))

    assert again.status_code == 400
    assert "This invoice is issued" in again.json()["invoice"][0]
    assert Invoice.objects.get().number == 1
