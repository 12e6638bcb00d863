"""The staff patient list: search, filters, pagination, access and its cost in queries."""

from __future__ import annotations

from datetime import date

import pytest

from clinic.audit import Action
from clinic.models import AuditEvent, Location
from patients.models import Patient, PatientStatus
from patients.tests.factories import PatientFactory

# The session and the signed-in user; the page of patients (with their locations, and one
# more row to know whether there is a next page: the list is never counted); the locations
# for the filter; the audit event; the session's last-activity update (savepoint, update,
# release). The same however many patients.
LIST_QUERIES = 8


def names(response) -> list[str]:
    return [patient.legal_last_name for patient in response.context["page"].object_list]


def make_location(name: str) -> Location:
    return Location.objects.create(
        name=name,
        address_line1="1 Main Street",
        city="New York",
        phone="+12125550100",
        time_zone="America/New_York",
    )


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def people(db) -> None:
    PatientFactory(
        legal_first_name="Jordan",
        legal_last_name="Rivera",
        preferred_name="Jo",
        date_of_birth=date(1984, 3, 27),
        email="jordan.rivera@example.com",
        mobile="+12125550142",
        conditions=["trd"],
    )
    PatientFactory(
        legal_first_name="Amara",
        legal_last_name="Okafor",
        date_of_birth=date(1990, 11, 2),
        email="amara@example.org",
        mobile="+442079460958",
        conditions=["ptsd", "anxiety"],
        status=PatientStatus.AWAITING_DECISION,
    )


@pytest.mark.parametrize("user", ["fran", "nina", "phil", "alice"])
def test_staff_who_see_patients_get_the_list(signed_in, people, user, request):
    response = signed_in(request.getfixturevalue(user)).get("/staff/patients/")

    assert response.status_code == 200
    assert names(response) == ["Okafor", "Rivera"]


def test_a_content_editor_cannot_see_patients(signed_in, edie, people):
    response = signed_in(edie).get("/staff/patients/")

    assert response.status_code == 403


def test_it_asks_visitors_to_sign_in(client, people):
    response = client.get("/staff/patients/")

    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")


@pytest.mark.parametrize(
    ("search", "found"),
    [
        ("rivera", ["Rivera"]),
        ("JO", ["Rivera"]),  # preferred name
        ("amara okafor", ["Okafor"]),
        ("okafor jordan", []),  # every word must match
        ("1984-03-27", ["Rivera"]),
        ("03/27/1984", ["Rivera"]),
        ("11/2/1990", ["Okafor"]),
        ("212 555 0142", ["Rivera"]),
        ("+44 20 7946", ["Okafor"]),
        ("0142", ["Rivera"]),  # the last four digits
        ("12125550142", ["Rivera"]),  # the whole number, without the "+"
        ("0958", ["Okafor"]),
        ("1990", ["Okafor"]),  # the year of birth
        ("amara@example.org", ["Okafor"]),
        ("example.org", ["Okafor"]),
        ("riv", ["Rivera"]),  # the start of a name
        ("Rivera,   Jordan", ["Rivera"]),  # punctuation and spaces between words
        ("jordan.rivera", ["Rivera"]),  # the start of an email address
        ("amara@example", ["Okafor"]),
        ("vera", []),  # a word is found by its start, not from its middle
        ("jordan@example.com", []),  # an @ search must be in the address as typed
        ("!!!", []),
    ],
)
def test_it_searches_by_name_date_of_birth_phone_and_email(signed_in, fran, people, search, found):
    response = signed_in(fran).get("/staff/patients/", {"q": search})

    assert names(response) == found


def test_a_phone_search_can_use_the_indexes_instead_of_reading_every_patient(fran, people):
    from django.db import connection

    from patients.selectors import patients_search

    found = patients_search(fran, search="212 555 0142")
    sql, params = found.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # a few rows: make the plan show it
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "patient_mobile_start_idx" in plan
    assert "patient_mobile_end_idx" in plan


def test_it_explains_a_date_that_does_not_exist(signed_in, fran, people):
    response = signed_in(fran).get("/staff/patients/", {"q": "02/30/1984"})

    assert response.status_code == 200
    assert "not a real date" in response.context["form"].errors["q"][0]
    assert names(response) == ["Okafor", "Rivera"]


def test_it_filters_by_status_location_and_condition(signed_in, fran, people):
    riverside = make_location("Riverside")
    PatientFactory(legal_last_name="Lindqvist", preferred_location=riverside, conditions=["ptsd"])
    client = signed_in(fran)

    by_status = client.get("/staff/patients/", {"status": "awaiting_decision"})
    by_location = client.get("/staff/patients/", {"location": str(riverside.public_id)})
    by_condition = client.get("/staff/patients/", {"condition": "ptsd"})
    combined = client.get("/staff/patients/", {"condition": "ptsd", "q": "okafor"})

    assert names(by_status) == ["Okafor"]
    assert names(by_location) == ["Lindqvist"]
    assert names(by_condition) == ["Lindqvist", "Okafor"]
    assert names(combined) == ["Okafor"]


def test_it_ignores_a_filter_that_is_not_in_its_list_and_says_so(signed_in, fran, people):
    response = signed_in(fran).get(
        "/staff/patients/", {"status": "cured", "location": "not-a-location"}
    )

    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"status", "location"}
    assert names(response) == ["Okafor", "Rivera"]


def test_it_shows_25_patients_a_page(signed_in, fran):
    for number in range(26):
        PatientFactory(legal_last_name=f"Patient{number:02d}")
    client = signed_in(fran)

    first = client.get("/staff/patients/")
    second = client.get("/staff/patients/", {"page": 2})
    beyond = client.get("/staff/patients/", {"page": "many"})

    assert len(names(first)) == 25
    assert names(second) == ["Patient25"]
    assert b"Page 1<" in first.content
    assert b'rel="next"' in first.content
    assert b'rel="next"' not in second.content
    assert b'rel="prev"' in second.content
    assert names(beyond) == names(first)


def test_a_page_past_the_end_shows_the_first_page(signed_in, fran, people):
    response = signed_in(fran).get("/staff/patients/", {"page": 7})

    assert names(response) == ["Okafor", "Rivera"]
    assert response.context["page"].number == 1


@pytest.mark.parametrize("count", [1, 5])
def test_it_lists_patients_in_a_fixed_number_of_queries(
    signed_in, fran, django_assert_num_queries, count
):
    riverside = make_location("Riverside")
    for _ in range(count):
        PatientFactory(preferred_location=riverside)
    client = signed_in(fran)

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get("/staff/patients/", {"q": "example"})

    assert len(names(response)) == count


def test_it_says_what_to_do_when_there_are_no_patients(signed_in, fran):
    response = signed_in(fran).get("/staff/patients/")

    assert b"There are no patients yet" in response.content
    assert b"add a patient" in response.content


def test_it_says_what_to_try_when_nothing_matches(signed_in, fran, people):
    response = signed_in(fran).get("/staff/patients/", {"q": "nobody"})

    content = response.content.decode()
    assert "No patients match this search" in content
    assert "Clear the search" in content


def test_viewing_the_list_is_in_the_audit_log(signed_in, nina, people):
    signed_in(nina).get("/staff/patients/", {"q": "rivera"})

    [event] = AuditEvent.objects.filter(action=Action.VIEW)
    assert (event.actor, event.object_type) == (nina, "patients.patient")
    assert "rivera" not in event.summary.lower()


def test_the_list_shows_demographics_only(signed_in, fran, people):
    response = signed_in(fran).get("/staff/patients/")

    content = response.content.decode()
    assert "Rivera, Jordan" in content
    assert "Prefers Jo" in content
    assert "1984-03-27" in content
    assert "Awaiting screening decision" in content


def test_it_shrugs_off_nonsense_parameters(signed_in, fran, people):
    response = signed_in(fran).get(
        "/staff/patients/",
        {
            "page": "-1'; DROP TABLE",
            "q": "\u202e<script>alert(1)</script>" + "x" * 500,  # NUL: tests/test_bad_requests.py
            "status": "maybe",
            "location": "%%%",
            "condition": "flu",
        },
    )

    assert response.status_code == 200
    assert b"<script>alert(1)" not in response.content


def test_each_row_links_the_chart_and_shows_contact_location_and_status(signed_in, fran, people):
    riverside = make_location("Riverside <East>")
    PatientFactory(
        legal_first_name="Ines",
        legal_last_name="Nowak",
        mobile="",
        email="",
        preferred_location=riverside,
    )
    rivera = Patient.objects.get(legal_last_name="Rivera")

    content = signed_in(fran).get("/staff/patients/").content.decode()

    rows = content.split("<tbody>")[1].split("</tbody>")[0].split("<tr>")[1:]
    nowak, okafor, rivera_row = rows
    assert f'<a href="/staff/patients/{rivera.public_id}/">Rivera, Jordan</a>' in rivera_row
    assert '<span class="text-nowrap">(212) 555-0142</span>' in rivera_row  # home: national
    assert '<br><span class="small">jordan.rivera@example.com</span>' in rivera_row
    assert "<td>—</td>" in rivera_row  # no preferred location
    assert '<span class="text-nowrap">+44 20 7946 0958</span>' in okafor  # abroad: international
    assert "Awaiting screening decision" in okafor
    assert '<span class="text-body-secondary">None recorded</span>' in nowak
    assert "<td>Riverside &lt;East&gt;</td>" in nowak
    assert "Prefers" not in nowak
