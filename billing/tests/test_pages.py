"""The billing pages: the front desk issues an invoice and takes a payment after confirming
it; a clinic admin refunds, credits and voids with a reason; bad input says what to fix and
changes nothing; clinicians see the balance on the chart and no further; every read is
audited; the lists cost the same number of queries however long they are."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.models import CreditNote, Invoice, Payment, Refund
from billing.services import invoice_issue, invoice_void, payment_take
from billing.tests.factories import draft, issued, price, visit
from clinic.models import AuditEvent
from patients.tests.factories import PatientFactory
from scheduling.services.status_changes import appointment_set_status

pytestmark = pytest.mark.django_db


def page(invoice: Invoice, action: str = "") -> str:
    return f"/staff/billing/invoices/{invoice.public_id}/" + (f"{action}/" if action else "")


def test_the_front_desk_issues_an_invoice_then_takes_the_balance_after_confirming(client, fran):
    invoice = draft(lines=["300.00"])
    client.force_login(fran)

    shown = client.get(page(invoice)).content.decode()
    assert "Draft invoice" in shown and "Issue" in shown
    client.post(page(invoice, "issue"))
    invoice.refresh_from_db()
    assert invoice.status == "issued" and invoice.number == 1

    form = client.get(page(invoice, "pay")).content.decode()
    assert 'value="300.00"' in form  # the amount still owed, as the default
    confirm = client.post(page(invoice, "pay"), {"method": "cash", "amount": "300.00"})
    assert "Record 300.00 USD paid by cash on invoice 1" in confirm.content.decode()
    assert not Payment.objects.exists()  # nothing before the confirmation

    done = client.post(
        page(invoice, "pay"), {"method": "cash", "amount": "300.00", "confirmed": "yes"}
    )
    assert done.status_code == 302 and done.url == page(invoice)
    assert Payment.objects.get().amount == Decimal("300.00")
    after = client.get(page(invoice)).content.decode()
    assert "Took 300.00 USD (cash)." in after
    assert 'data-testid="state">Paid<' in after


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"method": "cash", "amount": "300.01"}, "owes 300.00 USD: take that much at most"),
        ({"method": "cash", "amount": "ten"}, "Enter the amount as a number"),
        ({"method": "cash", "amount": ""}, "Enter the amount"),
        ({"method": "card", "amount": "10"}, "card terminal, cash or cheque"),
        ({"amount": "10"}, "Choose how the patient paid"),
    ],
)
def test_a_bad_payment_says_what_to_fix_and_takes_nothing(client, fran, data, message):
    invoice = issued(lines=["300"])
    client.force_login(fran)

    response = client.post(page(invoice, "pay"), data | {"confirmed": "yes"})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Payment.objects.exists()


def test_a_clinic_admin_refunds_credits_and_voids_with_a_reason(client, alice, fran):
    invoice = issued(lines=["200"])
    payment = payment_take(actor=fran, invoice=invoice, method="cheque", amount="50")
    client.force_login(alice)
    refund_page = page(invoice) + f"payments/{payment.public_id}/refund/"

    no_reason = client.post(refund_page, {"amount": "50", "reason": "", "confirmed": "yes"})
    assert no_reason.status_code == 400 and "Write the reason" in no_reason.content.decode()
    client.post(refund_page, {"amount": "50", "reason": "Paid twice", "confirmed": "yes"})
    assert Refund.objects.get().amount == Decimal("50.00")

    client.post(page(invoice, "credit"), {"amount": "20", "reason": "Discount", "confirmed": "yes"})
    assert CreditNote.objects.get().amount == Decimal("20.00")

    client.post(page(invoice, "void"), {"reason": "Visit did not happen", "confirmed": "yes"})
    invoice.refresh_from_db()
    assert invoice.status == "void"
    assert CreditNote.objects.filter(invoice=invoice).count() == 2


def test_the_front_desk_cannot_refund_or_void(client, fran):
    invoice = issued(lines=["200"])
    payment = payment_take(actor=fran, invoice=invoice, method="cash", amount="50")
    client.force_login(fran)

    refund = client.post(
        page(invoice) + f"payments/{payment.public_id}/refund/",
        {"amount": "50", "reason": "x", "confirmed": "yes"},
    )
    void = client.post(page(invoice, "void"), {"reason": "x", "confirmed": "yes"})

    assert (refund.status_code, void.status_code) == (403, 403)
    assert not Refund.objects.exists()
    assert Invoice.objects.get().status == "issued"


@pytest.mark.parametrize("persona", ["nina", "phil"])
def test_clinicians_see_the_balance_on_the_chart_and_no_billing_page(
    client, persona, request, fran
):
    invoice = issued(lines=["120"])
    payment_take(actor=fran, invoice=invoice, method="cash", amount="20")
    client.force_login(request.getfixturevalue(persona))

    chart = client.get(f"/staff/patients/{invoice.patient.public_id}/").content.decode()

    assert "100.00 USD" in chart and "owed" in chart
    assert "Invoices and payments" not in chart
    assert client.get(f"/staff/billing/patients/{invoice.patient.public_id}/").status_code == 403
    assert client.get(page(invoice)).status_code == 403


def test_the_front_desk_reaches_the_billing_page_from_the_chart(client, fran):
    patient = PatientFactory()
    client.force_login(fran)

    chart = client.get(f"/staff/patients/{patient.public_id}/").content.decode()
    billing = client.get(f"/staff/billing/patients/{patient.public_id}/").content.decode()

    assert f"/staff/billing/patients/{patient.public_id}/" in chart
    assert "Nothing owed" in billing
    assert 'data-testid="no-invoices"' in billing and 'data-testid="no-payments"' in billing


def test_reading_the_books_is_audited_without_the_patient_s_name(client, fran):
    invoice = issued(lines=["120"])
    client.force_login(fran)

    client.get(f"/staff/billing/patients/{invoice.patient.public_id}/")
    client.get(page(invoice))

    views = AuditEvent.objects.filter(action="view", actor=fran).order_by("id")
    assert [event.summary.split(" (")[0] for event in views] == [
        "viewed the billing page",
        "viewed the invoice",
    ]
    assert all(invoice.patient.legal_last_name not in e.summary + e.object_label for e in views)


def test_a_draft_without_a_price_says_so_and_takes_the_price_once_set(client, fran, alice):
    consultation = visit("consultation", status="checked_in")

    appointment_set_status(actor=fran, appointment=consultation, status="discharged")
    invoice = Invoice.objects.get(appointment=consultation)
    client.force_login(fran)

    before = client.get(page(invoice)).content.decode()
    assert "No price set." in before and "Add the visit" not in before
    price("consultation", consultation.location, "175")
    assert "Add the visit" in client.get(page(invoice)).content.decode()
    client.post(page(invoice, "visit-price"))
    assert invoice.lines.get().amount == Decimal("175.00")


def test_a_line_with_bad_input_is_refused_on_the_invoice_page(client, fran):
    invoice = draft(lines=[])
    client.force_login(fran)

    response = client.post(
        page(invoice, "lines"), {"description": "", "quantity": "0", "unit_amount": "-3"}
    )

    assert response.status_code == 400
    text = response.content.decode()
    assert "Say what the line is for." in text and "Enter a quantity from 1 to 99." in text
    assert not invoice.lines.exists()


def _history(patient, fran, invoices: int) -> None:
    for _ in range(invoices):
        invoice = draft(patient=patient, lines=["100", "20"])
        invoice_issue(actor=fran, invoice=invoice)
        payment_take(actor=fran, invoice=invoice, method="cash", amount="60")


def test_the_billing_page_costs_the_same_queries_however_long_the_history(
    client, fran, django_assert_num_queries
):
    small, large = PatientFactory(), PatientFactory()
    _history(small, fran, 2)
    _history(large, fran, 12)
    client.force_login(fran)
    client.get(f"/staff/billing/patients/{small.public_id}/")  # the session, warmed up

    # The card on file is one of them, the packages another.
    with django_assert_num_queries(9) as small_queries:
        small_page = client.get(f"/staff/billing/patients/{small.public_id}/")
    with django_assert_num_queries(len(small_queries)):
        large_page = client.get(f"/staff/billing/patients/{large.public_id}/")
    # No balance, no "latest" list, no card on file, no packages.
    with django_assert_num_queries(len(small_queries) - 4):
        client.get(f"/staff/billing/patients/{large.public_id}/payments/")

    assert "120.00 USD" in small_page.content.decode()
    assert "720.00 USD" in large_page.content.decode()  # 12 x 60 still owed


def test_the_invoice_page_costs_the_same_queries_however_many_payments(
    client, fran, alice, django_assert_num_queries
):
    few, many = issued(lines=["500"]), issued(lines=["500"])
    payment_take(actor=fran, invoice=few, method="cash", amount="10")
    for _ in range(8):
        payment_take(actor=fran, invoice=many, method="cash", amount="10")
    client.force_login(alice)
    client.get(page(few))

    with django_assert_num_queries(8) as queries:
        client.get(page(few))
    with django_assert_num_queries(len(queries)):
        client.get(page(many))


def test_the_front_desk_finds_the_visit_s_invoice_on_the_appointment_page(client, fran, nina):
    consultation = visit("consultation", status="checked_in")
    price("consultation", consultation.location, "250")

    appointment_set_status(actor=fran, appointment=consultation, status="discharged")
    invoice = Invoice.objects.get(appointment=consultation)
    url = f"/staff/schedule/appointments/{consultation.public_id}/"

    client.force_login(fran)
    assert page(invoice) in client.get(url).content.decode()
    client.force_login(nina)
    assert page(invoice) not in client.get(url).content.decode()


def test_the_pay_page_of_a_draft_says_to_issue_it_once_and_offers_no_payment_form(client, fran):
    invoice = draft(lines=["300.00"])
    client.force_login(fran)

    for response in (
        client.get(page(invoice, "pay")),
        client.post(page(invoice, "pay"), {"method": "cash", "amount": "300.00"}),
        client.post(page(invoice, "pay"), {"method": "cash", "amount": "300", "confirmed": "yes"}),
    ):
        shown = response.content.decode()
        assert shown.count("This invoice is draft") + shown.count("is a draft") == 1
        assert 'name="amount"' not in shown and 'name="method"' not in shown
        assert f'href="{page(invoice, "issue")}"' in shown
    assert not Payment.objects.exists()


def test_the_pay_page_of_a_void_invoice_offers_no_payment_form(client, fran, alice):
    invoice = issued(lines=["300.00"])
    invoice_void(actor=alice, invoice=invoice, reason="billed to the wrong patient")
    client.force_login(fran)

    shown = client.get(page(invoice, "pay")).content.decode()

    assert 'name="amount"' not in shown and "nothing is owed" in shown.lower()
    assert page(invoice, "issue") not in shown
