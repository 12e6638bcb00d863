"""The package pages: clinic admins offer packages and read the liability report (with its
CSV, at the same cost in queries however many were sold); the front desk sells one to a
patient after confirming what will happen; clinicians see what is left on the chart, and the
front desk sees it where the patient is checked in."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from billing.models import Invoice, PackageOffer, PatientPackage
from billing.packages import package_sell
from billing.services import payment_take
from billing.tests.factories import price
from billing.tests.package_factories import offer, visit_of, visits_of
from patients.tests.factories import PatientFactory
from scheduling.services.status_changes import appointment_set_status
from scheduling.tests.factories import LocationFactory, appointment_type

pytestmark = pytest.mark.django_db

OFFERS = "/staff/billing/packages/"
REPORT = "/staff/billing/reports/packages/"


def sell_url(patient) -> str:
    return f"/staff/billing/patients/{patient.public_id}/packages/sell/"


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def riverside():
    return LocationFactory(name="Riverside")


def partly_used(fran, location, *, used: int, visits: int = 6, name: str = "Six consultations"):
    patient = PatientFactory()
    package = package_sell(
        actor=fran, patient=patient, offer=offer(name, visits=visits), location=location
    )
    payment_take(actor=fran, invoice=package.invoice, method="cash", amount=package.price)
    for appointment in visits_of(patient, location, used):
        appointment_set_status(actor=fran, appointment=appointment, status="discharged")
    return package


# --- Offers ----------------------------------------------------------------------------------


def test_a_clinic_admin_offers_a_package(client, alice, riverside):
    client.force_login(alice)
    assert "No packages yet" in text(client.get(OFFERS))

    response = client.post(
        OFFERS,
        {
            "name": "Induction series of six infusions",
            "appointment_type": appointment_type("infusion").pk,
            "visits": "6",
            "amount": "2400",
            "effective_from": "2026-01-01",
            "locations": [str(riverside.public_id)],
        },
    )

    assert response.status_code == 302
    made = PackageOffer.objects.get()
    assert (made.visits, list(made.locations.all())) == (6, [riverside])
    page = text(client.get(OFFERS))
    assert "Induction series of six infusions" in page and "Riverside" in page


def test_a_bad_offer_is_shown_again_with_what_to_fix(client, alice):
    client.force_login(alice)

    response = client.post(
        OFFERS,
        {
            "name": "",
            "appointment_type": appointment_type("infusion").pk,
            "visits": "0",
            "amount": "12.345",
            "effective_from": "2026-01-01",
        },
    )

    assert response.status_code == 400
    page = text(response)
    assert "Name the package." in page
    assert "from 1 to 50" in page
    assert "at most 2 decimal places" in page
    assert not PackageOffer.objects.exists()


def test_an_admin_sets_a_new_price_and_retires_the_offer_after_confirming(client, alice):
    made = offer()
    client.force_login(alice)
    url = f"/staff/billing/packages/{made.public_id}/"

    client.post(url, {"amount": "1300", "effective_from": "2026-02-01"})
    assert "1,300.00 USD" in text(client.get(url))

    retire = f"{url}retire/"
    confirm = client.post(retire, {})
    assert "will no longer be sold" in text(confirm)
    made.refresh_from_db()
    assert made.retired_at is None
    assert client.post(retire, {"confirmed": "yes"}).status_code == 302
    made.refresh_from_db()
    assert made.retired_at is not None


@pytest.mark.parametrize("who", ["fran", "nina", "phil"])
def test_only_clinic_admins_see_the_offers_and_the_report(client, who, request):
    client.force_login(request.getfixturevalue(who))

    assert client.get(OFFERS).status_code == 403
    assert client.get(REPORT).status_code == 403
    assert client.get(f"/staff/billing/packages/{offer().public_id}/").status_code == 403


# --- Selling ---------------------------------------------------------------------------------


def test_the_front_desk_sells_a_package_after_confirming_and_takes_the_payment(
    client, fran, riverside
):
    made = offer(amount="1200")
    patient = PatientFactory()
    client.force_login(fran)
    billing_page = text(client.get(f"/staff/billing/patients/{patient.public_id}/"))
    assert "Sell a package" in billing_page and "No packages." in billing_page
    form = {"offer": str(made.public_id), "location": str(riverside.public_id)}

    confirm = client.post(sell_url(patient), form)
    assert "for 1,200.00 USD" in text(confirm) and not PatientPackage.objects.exists()
    done = client.post(sell_url(patient), form | {"confirmed": "yes"})

    package = PatientPackage.objects.get()
    assert done.status_code == 302
    assert done["Location"] == f"/staff/billing/invoices/{package.invoice.public_id}/"
    assert "6 of 6" in text(client.get(f"/staff/billing/patients/{patient.public_id}/"))


def test_a_sale_that_cannot_be_made_is_shown_with_the_reason(client, fran, riverside):
    made = offer(locations=[LocationFactory(name="Mesa")])
    patient = PatientFactory()
    client.force_login(fran)

    response = client.post(
        sell_url(patient), {"offer": str(made.public_id), "location": str(riverside.public_id)}
    )

    assert response.status_code == 400
    assert "is not sold at Riverside" in text(response)
    assert not Invoice.objects.exists()


def test_with_no_package_on_sale_the_sell_page_says_so(client, fran):
    client.force_login(fran)

    assert "No package is on sale" in text(client.get(sell_url(PatientFactory())))


@pytest.mark.parametrize("who", ["nina", "phil"])
def test_clinicians_do_not_sell_packages(client, who, request, riverside):
    made = offer()
    client.force_login(request.getfixturevalue(who))

    response = client.post(
        sell_url(PatientFactory()),
        {"offer": str(made.public_id), "location": str(riverside.public_id), "confirmed": "yes"},
    )

    assert response.status_code == 403 and not PatientPackage.objects.exists()


# --- What is left ----------------------------------------------------------------------------


def test_clinicians_see_what_is_left_on_the_chart_but_not_what_it_cost(
    client, fran, nina, riverside
):
    package = partly_used(fran, riverside, used=2)
    client.force_login(nina)

    chart = text(client.get(f"/staff/patients/{package.patient.public_id}/"))

    assert "4 of 6" in chart and "Six consultations" in chart
    assert "1,200.00" not in chart
    packages_page = f"/staff/billing/patients/{package.patient.public_id}/packages/"
    assert client.get(packages_page).status_code == 403


def test_the_front_desk_sees_what_is_left_where_the_patient_checks_in(client, fran, riverside):
    package = partly_used(fran, riverside, used=1)
    booked = visit_of(package.patient, riverside, hours_ago=-2, status="booked")
    client.force_login(fran)

    page = text(client.get(f"/staff/schedule/appointments/{booked.public_id}/"))

    assert "5 of 6" in page


def test_the_patient_s_packages_page_lists_each_visit_used(client, fran, riverside):
    package = partly_used(fran, riverside, used=2)
    client.force_login(fran)

    page = text(client.get(f"/staff/billing/patients/{package.patient.public_id}/packages/"))

    assert "2 of 6" in page and page.count("<td>Used</td>") == 2


# --- The liability report --------------------------------------------------------------------


def test_the_report_shows_sold_used_left_and_what_is_not_yet_earned(client, fran, alice, riverside):
    price("consultation", riverside, "250")
    partly_used(fran, riverside, used=2)  # 1200 for 6: 4 left = 800
    partly_used(fran, riverside, used=1, visits=3, name="Three consultations")  # 2 left of 1200
    client.force_login(alice)

    page = text(client.get(REPORT))
    csv_rows = list(csv.reader(io.StringIO(text(client.get(REPORT + "?format=csv")))))

    assert "1,600.00 USD" in page  # 800 + 800
    assert csv_rows[0][:7] == [
        "location",
        "package",
        "packages_sold",
        "visits_sold",
        "visits_used",
        "visits_left",
        "not_yet_earned",
    ]
    assert csv_rows[1] == ["Riverside", "Six consultations", "1", "6", "2", "4", "800.00", "USD"]
    assert csv_rows[2][:7] == ["Riverside", "Three consultations", "1", "3", "1", "2", "800.00"]
    assert csv_rows[3][2:7] == ["2", "9", "3", "6", "1600.00"]


def test_the_report_rounds_each_package_to_the_cent(client, fran, alice, riverside):
    patient = PatientFactory()
    package_sell(
        actor=fran,
        patient=patient,
        offer=offer("Three for 100", visits=3, amount="100"),
        location=riverside,
    )
    client.force_login(alice)

    rows = list(csv.reader(io.StringIO(text(client.get(REPORT + "?format=csv")))))

    assert Decimal(rows[1][6]) == Decimal("100.00")


def test_the_report_costs_the_same_queries_however_many_were_sold(
    client, fran, alice, riverside, django_assert_num_queries
):
    client.force_login(alice)
    client.get(REPORT)  # the session, warmed up
    partly_used(fran, riverside, used=1)

    # The session and the user, the audit event, and the report's one query.
    with django_assert_num_queries(4) as few:
        client.get(REPORT)
    for n in range(3):
        partly_used(fran, LocationFactory(), used=n, name=f"Package {n}")
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(REPORT)
    with django_assert_num_queries(len(few.captured_queries)):
        client.get(REPORT + "?format=csv")


def test_with_nothing_sold_the_report_says_so(client, alice):
    client.force_login(alice)

    assert "No package has been sold yet" in text(client.get(REPORT))


def test_the_billing_index_links_the_package_pages_for_clinic_admins_only(client, fran, alice):
    client.force_login(fran)
    assert REPORT not in text(client.get("/staff/billing/"))
    client.force_login(alice)
    page = text(client.get("/staff/billing/"))
    assert REPORT in page and OFFERS in page


def test_selling_infusions_to_a_patient_not_approved_yet_says_so_before_confirming(
    client, fran, riverside
):
    made = offer("Induction series", kind="infusion", amount="2400")
    waiting = PatientFactory(status="awaiting_decision")
    approved = PatientFactory(status="approved")
    client.force_login(fran)
    form = {"offer": str(made.public_id), "location": str(riverside.public_id)}

    warned = text(client.post(sell_url(waiting), form))
    not_warned = text(client.post(sell_url(approved), form))

    assert "is not approved for treatment yet (awaiting screening decision)" in warned
    assert "not approved" not in not_warned
    assert not PatientPackage.objects.exists()
