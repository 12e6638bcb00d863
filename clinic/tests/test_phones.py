"""Phone numbers read against the numbering plans (``clinic.phones``), and shown to staff in
the way people of the clinic's country write them."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from clinic.models import Location
from clinic.phones import phone_display, phone_e164

HOW = "Enter it in international format."


def refusal(text: str, *, national: bool = False) -> str:
    with pytest.raises(ValidationError) as caught:
        phone_e164(text, how_to_write=HOW, national=national)
    return " ".join(caught.value.messages)


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("+1 (212) 555-0142", "+12125550142"),
        ("0044 20 7946 0958", "+442079460958"),
        ("+44 7400 123456", "+447400123456"),
        ("  ", ""),
    ],
)
def test_it_stores_an_international_number_in_e164(typed, stored):
    assert phone_e164(typed, how_to_write=HOW) == stored


@pytest.mark.parametrize("typed", ["(312) 555-0142", "312.555.0142", "1-312-555-0142"])
def test_it_reads_a_home_number_without_its_country_code_when_asked(typed):
    assert phone_e164(typed, how_to_write=HOW, national=True) == "+13125550142"
    assert refusal(typed) == HOW


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("+1 212 555 014", "too few digits for country code +1"),
        ("+1 212 555 01422", "too many digits for country code +1"),
        ("+1 123 555 0142", "not a valid number for country code +1: check the area code"),
        ("+44 7700 900123", "not a valid number for country code +44"),
        ("+999 1234567", "No country has the code"),
    ],
)
def test_it_refuses_a_number_the_plan_does_not_have_and_says_what_to_check(typed, says):
    assert says in refusal(typed)


@pytest.mark.parametrize("typed", ["call me", "+1 212 555 0142 ext 3", "+0123456789", "212"])
def test_it_asks_for_the_way_to_write_it_when_it_is_not_a_number(typed):
    assert refusal(typed) == HOW


def test_a_home_number_missing_its_area_code_is_asked_for_again():
    assert refusal("555-0142", national=True) == HOW


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("+12125550199", "(212) 555-0199"),
        ("+1 212 555 0142", "(212) 555-0142"),
        ("+442079460958", "+44 20 7946 0958"),
        ("+14165550199", "+1 416-555-0199"),  # Canada: +1, but not the clinic's country
        ("+1 555 010 0100", "+1 555 010 0100"),  # no such number: as it was typed
        ("ask at the desk", "ask at the desk"),
    ],
)
def test_staff_see_home_numbers_nationally_and_others_internationally(stored, shown):
    assert phone_display(stored) == shown


def test_the_location_page_shows_its_number_nationally_and_dials_it_as_stored(client, fran):
    location = Location.objects.create(
        name="Riverside",
        address_line1="1 River Road",
        city="New York",
        phone="+12125550199",
        time_zone="America/New_York",
    )
    client.force_login(fran)

    content = client.get(f"/staff/locations/{location.public_id}/").content.decode()

    assert '<a href="tel:+12125550199">(212) 555-0199</a>' in content
