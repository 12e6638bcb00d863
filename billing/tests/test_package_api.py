"""Packages in the API: the offers and a patient's packages, for the staff who see the books,
in the schema, at the same cost in queries however many there are."""

from __future__ import annotations

import pytest

from billing.packages import package_sell
from billing.services import invoice_void
from billing.tests.package_factories import offer
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory

pytestmark = pytest.mark.django_db

OFFERS = "/api/v1/package-offers/"


def packages_url(patient) -> str:
    return f"/api/v1/patients/{patient.public_id}/packages/"


def test_the_front_desk_reads_the_offers_with_their_prices(client, fran):
    riverside = LocationFactory(name="Riverside")
    offer("Six infusions", kind="infusion", amount="2400", locations=[riverside])
    client.force_login(fran)

    body = client.get(OFFERS).json()

    (made,) = body["results"]
    assert made["name"] == "Six infusions" and made["type"] == "infusion"
    assert made["visits"] == 6 and made["price"] == "2400.00" and made["on_sale"] is True
    assert made["locations"] == [str(riverside.public_id)]
    assert made["prices"] == [{"effective_from": "2020-01-01", "amount": "2400.00"}]


def test_a_patient_s_packages_say_what_is_used_and_left(client, fran, alice):
    patient, location = PatientFactory(), LocationFactory()
    first = package_sell(actor=fran, patient=patient, offer=offer("A"), location=location)
    voided = package_sell(actor=fran, patient=patient, offer=offer("B"), location=location)
    invoice_void(actor=alice, invoice=voided.invoice, reason="Sold by mistake")
    client.force_login(fran)

    body = client.get(packages_url(patient)).json()

    assert [(p["id"], p["used"], p["left"], p["status"]) for p in body["results"]] == [
        (str(first.public_id), 0, 6, "active"),
        (str(voided.public_id), 0, 0, "void"),
    ]
    assert body["results"][0]["invoice_number"] == first.invoice.number


@pytest.mark.parametrize("who", ["nina", "phil"])
def test_clinicians_do_not_read_packages_through_the_api(client, who, request):
    patient = PatientFactory()
    client.force_login(request.getfixturevalue(who))

    assert client.get(OFFERS).status_code == 403
    assert client.get(packages_url(patient)).status_code == 403


def test_an_unknown_patient_is_404(client, fran):
    client.force_login(fran)

    assert (
        client.get("/api/v1/patients/00000000-0000-4000-8000-000000000000/packages/").status_code
        == 404
    )


def test_the_lists_cost_the_same_queries_however_long(client, fran, django_assert_num_queries):
    patient, location = PatientFactory(), LocationFactory()
    package_sell(actor=fran, patient=patient, offer=offer("A"), location=location)
    client.force_login(fran)
    client.get(OFFERS)

    # The session and the user, the count, the offers, their locations and their prices.
    with django_assert_num_queries(6) as few_offers:
        client.get(OFFERS)
    # The session and the user, the patient, the count, the packages, the audit event.
    with django_assert_num_queries(6) as few_packages:
        client.get(packages_url(patient))
    for n in range(4):
        package_sell(actor=fran, patient=patient, offer=offer(f"More {n}"), location=location)
    with django_assert_num_queries(len(few_offers.captured_queries)):
        client.get(OFFERS)
    with django_assert_num_queries(len(few_packages.captured_queries)):
        client.get(packages_url(patient))


def test_the_package_endpoints_are_in_the_schema(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()

    assert "/api/v1/package-offers/" in schema["paths"]
    assert "/api/v1/patients/{patient_id}/packages/" in schema["paths"]
