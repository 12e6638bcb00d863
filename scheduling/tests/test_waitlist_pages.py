"""The waitlist pages for staff: the list, adding a patient, taking them off."""

from __future__ import annotations

from datetime import time, timedelta
from html import unescape

import pytest

from clinic.models import Location
from patients.models import Patient
from patients.tests.factories import PatientFactory
from scheduling.models import WaitlistEntry
from scheduling.tests.factories import AppointmentFactory, appointment_type, clinic_location
from scheduling.tests.test_booking import at, next_week, riverside_for

State = WaitlistEntry.State

# The session and the signed-in user; the locations for the filter; the paginator's count
# and the page of entries (patient, location, type and offered appointment joined in); the
# audit event; the session's last-activity update (savepoint, update, release).
LIST_QUERIES = 9


@pytest.fixture
def riverside(nina, phil) -> Location:
    return riverside_for(nina, phil, chairs=2)


@pytest.fixture
def jordan(db) -> Patient:
    return PatientFactory(legal_first_name="Jordan", legal_last_name="Rivera")


def wait(patient, location, kind="consultation", **fields) -> WaitlistEntry:
    return WaitlistEntry.objects.create(
        patient=patient, location=location, appointment_type=appointment_type(kind), **fields
    )


def page_text(response) -> str:
    return unescape(response.content.decode())


def shown(response) -> list[str]:
    return [str(message) for message in response.wsgi_request._messages]


# --- The list ------------------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["fran", "nina", "phil", "alice"])
def test_schedule_staff_see_the_waitlist(client, riverside, user, request):
    client.force_login(request.getfixturevalue(user))

    assert client.get("/staff/schedule/waitlist/").status_code == 200


def test_content_editors_and_visitors_do_not(client, edie, riverside):
    client.force_login(edie)
    assert client.get("/staff/schedule/waitlist/").status_code == 403
    client.logout()
    assert client.get("/staff/schedule/waitlist/")["Location"].startswith("/staff/login/")


def test_it_lists_who_is_waiting_or_offered_by_location_with_the_offered_time(
    client, fran, riverside, jordan
):
    northside = clinic_location(name="Northside", time_zone="America/Los_Angeles")
    offered_time = AppointmentFactory(
        location=northside,
        appointment_type=appointment_type("consultation"),
        starts_at=at(northside, next_week(northside), 9, 30),
    )
    wait(jordan, riverside, preferred_weekdays=[0, 4], preferred_after=time(9))
    wait(
        PatientFactory(legal_last_name="Okafor"),
        northside,
        state=State.OFFERED,
        offered_appointment=offered_time,
    )
    wait(PatientFactory(legal_last_name="Gone"), riverside, state=State.REMOVED)
    wait(PatientFactory(legal_last_name="Done"), riverside, state=State.BOOKED)
    client.force_login(fran)

    response = client.get("/staff/schedule/waitlist/")

    entries = list(response.context["page"].object_list)
    assert [entry.location.name for entry in entries] == ["Northside", "Riverside"]
    html = page_text(response)
    assert "Jordan Rivera" in html
    assert "on Mon, Fri" in html
    assert "starting at or after 09:00" in html
    day = next_week(northside)
    assert f"{day:%a} {day.day} {day:%b}, 09:30" in html  # Los Angeles time
    assert "Gone" not in html and "Done" not in html


def test_it_narrows_to_one_location(client, fran, riverside, jordan):
    northside = clinic_location(name="Northside")
    wait(jordan, riverside)
    wait(PatientFactory(), northside)
    client.force_login(fran)

    response = client.get("/staff/schedule/waitlist/", {"location": northside.public_id})

    assert [entry.location for entry in response.context["page"].object_list] == [northside]


def test_a_nonsense_location_is_explained_and_all_are_shown(client, fran, riverside, jordan):
    wait(jordan, riverside)
    client.force_login(fran)

    response = client.get("/staff/schedule/waitlist/", {"location": "nowhere", "page": "-1"})

    assert response.status_code == 200
    assert "There is no location with that id" in page_text(response)
    assert len(response.context["page"].object_list) == 1


def test_an_empty_waitlist_says_so(client, fran, riverside):
    client.force_login(fran)

    response = client.get("/staff/schedule/waitlist/")

    assert "Nobody is on the waitlist." in page_text(response)


@pytest.mark.parametrize("count", [1, 20])
def test_the_list_costs_the_same_queries_however_long(
    client, django_assert_num_queries, fran, riverside, count
):
    offered = AppointmentFactory(location=riverside)
    for number in range(count):
        if number % 2:
            wait(PatientFactory(), riverside, state=State.OFFERED, offered_appointment=offered)
        else:
            wait(PatientFactory(), riverside)
    client.force_login(fran)

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get("/staff/schedule/waitlist/")

    assert len(response.context["page"].object_list) == count


# --- Adding -------------------------------------------------------------------------------------


def test_it_adds_a_patient_with_what_suits_them(client, fran, riverside, jordan):
    client.force_login(fran)
    earliest = next_week(riverside)

    response = client.post(
        f"/staff/schedule/waitlist/new/?patient={jordan.public_id}",
        {
            "location": riverside.public_id,
            "appointment_type": "consultation",
            "earliest_date": earliest.isoformat(),
            "latest_date": (earliest + timedelta(days=14)).isoformat(),
            "preferred_weekdays": ["1", "3"],
            "preferred_after": "09:00",
            "preferred_before": "12:00",
        },
    )

    assert response["Location"] == "/staff/schedule/waitlist/"
    entry = WaitlistEntry.objects.get(patient=jordan)
    assert entry.location == riverside
    assert entry.preferred_weekdays == [1, 3]
    assert entry.preferred_after == time(9)
    assert shown(response)[0].startswith("Jordan Rivera is on the waitlist for consultation")


def test_the_form_starts_at_the_patients_location(client, fran, riverside):
    patient = PatientFactory(preferred_location=riverside)
    client.force_login(fran)

    response = client.get(f"/staff/schedule/waitlist/new/?patient={patient.public_id}")

    assert response.status_code == 200
    assert response.context["form"].initial["location"] == riverside.public_id


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        (
            {"earliest_date": "2026-12-20", "latest_date": "2026-12-10"},
            "latest_date",
            "The latest date is before the earliest: swap them.",
        ),
        (
            {"preferred_after": "14:00", "preferred_before": "09:00"},
            "preferred_before",
            "must be later than",
        ),
        ({"preferred_weekdays": ["9"]}, "preferred_weekdays", "Tick days from the list."),
        ({"preferred_after": "noonish"}, "preferred_after", "Enter the time as HH:MM"),
        ({"appointment_type": "infusion"}, "__all__", "no approved, current screening decision"),
    ],
)
def test_bad_input_is_explained_next_to_the_field(
    client, fran, riverside, jordan, data, field, message
):
    client.force_login(fran)

    response = client.post(
        f"/staff/schedule/waitlist/new/?patient={jordan.public_id}",
        {"location": riverside.public_id, "appointment_type": "consultation", **data},
    )

    assert response.status_code == 200
    assert message in " ".join(response.context["form"].errors[field])
    assert message in page_text(response)
    assert not WaitlistEntry.objects.exists()


def test_an_empty_post_is_answered_with_the_form_and_its_errors(client, fran, riverside, jordan):
    client.force_login(fran)

    response = client.post(f"/staff/schedule/waitlist/new/?patient={jordan.public_id}")

    assert response.status_code == 200
    assert response.context["form"].errors["location"] == ["Choose a location."]
    assert not WaitlistEntry.objects.exists()


def test_a_patient_already_waiting_is_not_added_twice(client, fran, riverside, jordan):
    wait(jordan, riverside)
    client.force_login(fran)

    response = client.post(
        f"/staff/schedule/waitlist/new/?patient={jordan.public_id}",
        {"location": riverside.public_id, "appointment_type": "consultation"},
    )

    assert "already on the waitlist" in page_text(response)
    assert WaitlistEntry.objects.count() == 1


def test_without_a_patient_it_helps_find_them(client, fran, riverside, jordan):
    client.force_login(fran)

    response = client.get("/staff/schedule/waitlist/new/", {"q": "jordan"})

    assert f'href="/staff/schedule/waitlist/new/?patient={jordan.public_id}"' in page_text(response)


def test_adding_is_for_staff_who_book(client, edie, riverside, jordan):
    client.force_login(edie)

    response = client.get(f"/staff/schedule/waitlist/new/?patient={jordan.public_id}")

    assert response.status_code == 403


# --- Taking off ----------------------------------------------------------------------------------


def test_it_asks_before_taking_a_patient_off(client, fran, riverside, jordan):
    entry = wait(jordan, riverside)
    client.force_login(fran)

    response = client.get(f"/staff/schedule/waitlist/{entry.public_id}/remove/")

    assert "Take Jordan Rivera off the waitlist?" in page_text(response)
    entry.refresh_from_db()
    assert entry.state == State.WAITING


def test_it_takes_a_patient_off(client, fran, riverside, jordan):
    entry = wait(jordan, riverside)
    client.force_login(fran)

    response = client.post(f"/staff/schedule/waitlist/{entry.public_id}/remove/")

    assert response["Location"] == "/staff/schedule/waitlist/"
    entry.refresh_from_db()
    assert entry.state == State.REMOVED
    assert shown(response) == ["Took Jordan Rivera off the waitlist for consultation at Riverside."]


def test_taking_off_twice_is_explained(client, fran, riverside, jordan):
    entry = wait(jordan, riverside, state=State.REMOVED)
    client.force_login(fran)

    response = client.post(f"/staff/schedule/waitlist/{entry.public_id}/remove/")

    assert response.status_code == 302
    assert shown(response) == ["This entry is removed already."]


def test_an_unknown_entry_is_not_found(client, fran, riverside):
    client.force_login(fran)

    response = client.get("/staff/schedule/waitlist/00000000-0000-0000-0000-000000000000/remove/")

    assert response.status_code == 404
