"""``GET /fhir/R4/Patient/<id>/$everything``: the patient's whole record as a Bundle, for
clinicians only, audited, in a fixed number of queries, and readable by a FHIR library."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from fhir.resources.R4B.bundle import Bundle

from clinic.models import AuditEvent
from infusions.tests.rems_factories import dosed
from interop.tests.conftest import given_infusion, valid
from tests.api_tokens import api_key_for

pytestmark = pytest.mark.django_db

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def everything_url(patient) -> str:
    return f"/fhir/R4/Patient/{patient.public_id}/$everything"


def resources_of(bundle: dict) -> list[dict]:
    return [entry["resource"] for entry in bundle["entry"]]


@pytest.fixture
def treated(nina, phil, amara, riverside, lot):
    given_infusion(nina, phil, amara, riverside, lot)
    return amara


def test_a_nurse_gets_the_whole_record_as_a_searchset_bundle(client, nina, treated):
    client.force_login(nina)

    response = client.get(everything_url(treated))

    assert response.status_code == 200
    assert response["Content-Type"] == "application/fhir+json"
    assert "no-store" in response["Cache-Control"]
    bundle = response.json()
    valid(bundle)
    for resource in resources_of(bundle):
        valid(resource)
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 1
    first = bundle["entry"][0]
    assert first["resource"]["resourceType"] == "Patient"
    assert first["search"] == {"mode": "match"}
    assert first["fullUrl"] == f"http://testserver/fhir/R4/Patient/{treated.public_id}"
    kinds = {resource["resourceType"] for resource in resources_of(bundle)}
    assert kinds == {
        "Patient",
        "Condition",
        "Observation",
        "QuestionnaireResponse",
        "Appointment",
        "MedicationAdministration",
        "Consent",
    }
    ids = [resource["id"] for resource in resources_of(bundle)]
    assert len(ids) == len(set(ids))
    assert all(entry["search"] == {"mode": "include"} for entry in bundle["entry"][1:])


def test_a_physician_may_export_too_and_with_an_api_token(client, phil, treated):
    key = api_key_for(phil)

    response = client.get(everything_url(treated), HTTP_AUTHORIZATION=f"Token {key}")

    assert response.status_code == 200
    assert response.json()["entry"][0]["resource"]["id"] == str(treated.public_id)


@pytest.mark.parametrize("persona", ["fran", "alice"])
def test_the_front_desk_and_clinic_admins_are_refused_with_an_operation_outcome(
    request, client, treated, persona
):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(everything_url(treated))

    assert response.status_code == 403
    assert response["Content-Type"] == "application/fhir+json"
    outcome = response.json()
    valid(outcome)
    assert outcome["issue"][0]["code"] == "forbidden"
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.EXPORT).exists()


def test_an_unknown_patient_is_a_404_operation_outcome(client, nina, db):
    client.force_login(nina)

    response = client.get(f"/fhir/R4/Patient/{UNKNOWN}/$everything")

    assert response.status_code == 404
    outcome = response.json()
    valid(outcome)
    assert outcome["issue"][0]["code"] == "not-found"
    assert "No such patient" in outcome["issue"][0]["diagnostics"]


def test_without_signing_in_it_asks_for_credentials(client, treated):
    response = client.get(everything_url(treated))

    assert response.status_code == 401
    assert valid(response.json()).issue[0].code == "login"


def test_the_export_is_in_the_audit_log_without_patient_details(client, nina, treated):
    client.force_login(nina)

    client.get(everything_url(treated))

    event = AuditEvent.objects.get(action=AuditEvent.Action.EXPORT)
    assert event.actor == nina
    assert event.object_type == "patients.patient"
    assert event.object_id == str(treated.public_id)
    assert event.object_label == ""
    assert "Amara" not in event.summary and "Osei" not in event.summary


def count_queries(client, url: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries)


def test_the_number_of_queries_does_not_grow_with_the_record(
    client, nina, phil, amara, riverside, lot, django_assert_num_queries
):
    given_infusion(nina, phil, amara, riverside, lot)
    client.force_login(nina)
    client.get(everything_url(amara))  # the session's first request settles its own rows
    # 13: with the Spravato devices given and the clinic's ICD-10-CM codes (one query each)
    with django_assert_num_queries(13):
        one = client.get(everything_url(amara))

    for days in range(1, 5):
        given_infusion(nina, phil, amara, riverside, lot, days=days)
    with django_assert_num_queries(13):
        five = client.get(everything_url(amara))

    def count(response, kind):
        return sum(entry["resource"]["resourceType"] == kind for entry in response.json()["entry"])

    assert count(one, "MedicationAdministration") == 1
    assert count(five, "MedicationAdministration") == 5


def test_an_exported_bundle_reads_back_the_same(client, nina, treated):
    client.force_login(nina)
    exported = client.get(everything_url(treated)).content

    bundle = Bundle.model_validate_json(exported)

    assert len(bundle.entry) == len(json.loads(exported)["entry"])
    patient = bundle.entry[0].resource
    assert patient.get_resource_type() == "Patient"
    assert patient.name[0].family == "Osei"
    assert str(patient.birthDate) == "1984-03-27"
    pressures = [
        entry.resource
        for entry in bundle.entry
        if entry.resource.get_resource_type() == "Observation"
        and entry.resource.code.coding[0].code == "85354-9"
    ]
    assert len(pressures) == 2  # the consultation's and the session's
    for pressure in pressures:
        assert [component.code.coding[0].code for component in pressure.component] == [
            "8480-6",
            "8462-4",
        ]
        assert pressure.component[0].valueQuantity.unit == "mmHg"
    # Written out again, it is the same document (the library writes UTC as "Z", we as
    # "+00:00": the same moment).
    again = json.loads(bundle.model_dump_json())
    ours = json.loads(exported.decode().replace('+00:00"', 'Z"'))
    assert again["entry"] == ours["entry"]


def test_a_spravato_dose_is_exported_as_one_administration_per_device(client, nina, phil):
    session, dose = dosed(nina, phil, devices=3)
    patient = session.appointment.patient
    client.force_login(nina)

    bundle = client.get(everything_url(patient)).json()

    given = [
        valid(resource)
        for resource in resources_of(bundle)
        if resource["resourceType"] == "MedicationAdministration"
    ]
    assert [item.id for item in given] == [f"{dose.public_id}-{n}" for n in (1, 2, 3)]
    for item in given:
        assert item.dosage.dose.value == 28 and item.dosage.dose.code == "mg"
        assert item.dosage.route.text == "Intranasal"
        assert item.contained[0].code.text.startswith("esketamine")
        assert not item.contained[0].code.coding  # ketamine's RxNorm code is not esketamine's
        assert "84 mg" in item.note[0].text
