"""The price list: clinic admins set effective-dated prices per kind of visit and location,
on the staff page or in the Django admin (the same service, audited); bad input says what
to fix and changes nothing."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.models import Price
from billing.tests.factories import price
from clinic.models import AuditEvent
from scheduling.tests.factories import LocationFactory, appointment_type

pytestmark = pytest.mark.django_db
PAGE = "/staff/billing/prices/"


def form(where, **changes) -> dict[str, str]:
    return {
        "appointment_type": str(appointment_type("infusion").pk),
        "location": str(where.public_id),
        "amount": "495.00",
        "effective_from": "2027-01-01",
    } | changes


def test_a_clinic_admin_sets_a_price_from_a_day(client, alice):
    riverside = LocationFactory(name="Riverside")
    client.force_login(alice)

    empty = client.get(PAGE).content.decode()
    response = client.post(PAGE, form(riverside))

    assert 'data-testid="no-prices"' in empty
    assert response.status_code == 302
    saved = Price.objects.get()
    assert (saved.amount, saved.effective_from, saved.set_by) == (
        Decimal("495.00"),
        date(2027, 1, 1),
        alice,
    )
    listed = client.get(PAGE).content.decode()
    assert "Infusion at Riverside costs 495.00 USD from Jan 1, 2027" in listed
    assert "495.00 USD" in listed and "upcoming" in listed
    assert AuditEvent.objects.filter(object_type="billing.price", actor=alice).exists()


def test_the_same_day_again_changes_that_price_s_amount(client, alice):
    riverside = LocationFactory()
    client.force_login(alice)

    client.post(PAGE, form(riverside))
    client.post(PAGE, form(riverside, amount="450"))

    assert list(Price.objects.values_list("amount", flat=True)) == [Decimal("450.00")]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount": "-5"}, "Enter an amount of 0 or more."),
        ({"amount": "4.999"}, "at most 2 decimal places"),
        ({"amount": ""}, "Enter the amount"),
        ({"effective_from": "next week"}, "Enter the day as YYYY-MM-DD."),
        ({"effective_from": "1999-12-31"}, "between 2000 and 2100"),
        ({"appointment_type": "999"}, "Choose the kind of visit from the list."),
        ({"location": "not-a-location"}, "Choose the location from the list."),
    ],
)
def test_a_bad_price_says_what_to_fix_and_saves_nothing(client, alice, changes, message):
    riverside = LocationFactory()
    client.force_login(alice)

    response = client.post(PAGE, form(riverside, **changes))

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not Price.objects.exists()


@pytest.mark.parametrize("persona", ["fran", "nina", "phil"])
def test_only_clinic_admins_set_prices(client, request, persona):
    riverside = LocationFactory()
    client.force_login(request.getfixturevalue(persona))

    assert client.post(PAGE, form(riverside)).status_code == 403
    assert not Price.objects.exists()


def test_the_price_list_costs_the_same_queries_however_long(
    client, alice, django_assert_num_queries
):
    riverside, lakeside = LocationFactory(), LocationFactory()
    price("infusion", riverside, "400")
    client.force_login(alice)
    client.get(PAGE)
    with django_assert_num_queries(5) as queries:
        client.get(PAGE)
    for location in (riverside, lakeside):
        for kind in ("consultation", "booster", "follow_up"):
            price(kind, location, "100")
    with django_assert_num_queries(len(queries)):
        client.get(PAGE)


def test_prices_are_also_set_in_the_django_admin_through_the_service(client, alice):
    riverside = LocationFactory()
    client.force_login(alice)

    added = client.post(
        "/admin/billing/price/add/",
        {
            "appointment_type": appointment_type("booster").pk,
            "location": riverside.pk,
            "effective_from": "2026-06-01",
            "amount": "380",
        },
    )
    refused = client.post(
        "/admin/billing/price/add/",
        {
            "appointment_type": appointment_type("booster").pk,
            "location": riverside.pk,
            "effective_from": "2026-07-01",
            "amount": "-1",
        },
    )

    assert added.status_code == 302
    assert (
        refused.status_code == 200 and "Enter an amount of 0 or more." in refused.content.decode()
    )
    assert Price.objects.get().amount == Decimal("380.00")
    assert AuditEvent.objects.filter(object_type="billing.price", actor=alice).count() == 1
    assert client.get("/admin/billing/invoice/").status_code == 404  # patient data: not here
