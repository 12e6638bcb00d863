"""The FHIR builders: what each resource says, in which codes and units, and that each is
valid FHIR (``conftest.valid``)."""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal

import pytest

from billing.codes import diagnosis_code_set
from infusions.models import DoseAdministration, VitalsReading
from interop.fhir import codes
from interop.fhir.care import appointment_resource, medication_administration_resource
from interop.fhir.observations import (
    VitalSigns,
    body_height_observation,
    measurement_vital_signs,
    reading_vital_signs,
    survey_resources,
    vital_sign_observations,
)
from interop.fhir.patient import (
    condition_resources,
    contact_consent_resources,
    diagnosis_codes,
    patient_resource,
    treatment_consent_resource,
)
from interop.tests.conftest import all_valid, given_infusion, valid
from patients.tests.factories import PatientFactory
from scheduling.models import AppointmentStatus

pytestmark = pytest.mark.django_db


def codings(concept: dict) -> list[tuple[str, str]]:
    return [(coding["system"], coding["code"]) for coding in concept.get("coding", [])]


def by_code(observations: list[dict]) -> dict[str, dict]:
    return {observation["code"]["coding"][0]["code"]: observation for observation in observations}


def test_the_patient_has_our_public_id_names_contacts_and_us_core_profile(amara):
    resource = patient_resource(amara)

    patient = valid(resource)
    assert patient.id == str(amara.public_id)
    assert resource["meta"]["profile"] == [codes.US_CORE + "us-core-patient"]
    assert resource["identifier"] == [
        {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{amara.public_id}"}
    ]
    assert [(name["use"], name["given"]) for name in resource["name"]] == [
        ("official", ["Amara"]),
        ("usual", ["Mara"]),
    ]
    assert resource["gender"] == "female"
    assert resource["birthDate"] == "1984-03-27"
    assert resource["extension"] == [{"url": codes.US_CORE_BIRTH_SEX, "valueCode": "F"}]
    assert {item["system"] for item in resource["telecom"]} == {"phone", "email"}
    assert resource["address"][0]["line"] == ["12 Elm Street"]
    assert resource["address"][0]["state"] == "IL"
    assert resource["contact"][0]["name"] == {"text": "Kofi Osei"}


def test_a_patient_with_only_the_required_fields_is_still_valid(db):
    patient = PatientFactory(email="", mobile="", city="", sex_at_birth="intersex")

    resource = patient_resource(patient)

    valid(resource)
    assert resource["gender"] == "other"
    assert "extension" not in resource  # US Core's birth sex has no code for it
    assert "telecom" not in resource and "address" not in resource


def test_conditions_are_coded_in_icd10_and_snomed_where_known_else_named(amara):
    resources = condition_resources(amara, diagnosis_codes())

    all_valid(resources)
    assert [codings(resource["code"]) for resource in resources] == [
        [(codes.ICD10CM, "F33.2"), (codes.SNOMED_CT, "370143000")],
        [(codes.ICD10CM, "F43.10"), (codes.SNOMED_CT, "47505003")],
        [],
    ]
    assert [resource["code"]["text"] for resource in resources] == [
        "Treatment-resistant depression",
        "PTSD",
        "Substance use disorder",
    ]
    assert all(
        resource["subject"] == {"reference": f"Patient/{amara.public_id}"} for resource in resources
    )
    # Stable, opaque ids: the same in every export, none of them a database key.
    assert [resource["id"] for resource in condition_resources(amara, diagnosis_codes())] == [
        resource["id"] for resource in resources
    ]
    assert len({resource["id"] for resource in resources}) == 3


def test_a_condition_is_coded_as_the_clinic_codes_it_for_its_superbills(amara, alice):
    diagnosis_code_set(actor=alice, condition="ptsd", code="F43.12", description="PTSD, chronic")

    resources = condition_resources(amara, diagnosis_codes())

    assert (codes.ICD10CM, "F43.12") in codings(resources[1]["code"])
    all_valid(resources)


def test_a_consultation_gives_a_blood_pressure_panel_and_each_vital_sign(amara):
    measurement = amara.measurements.get()

    observations = vital_sign_observations(measurement_vital_signs(measurement), amara.public_id)

    all_valid(observations)
    found = by_code(observations)
    assert set(found) == {"85354-9", "8867-4", "59408-5", "29463-7"}
    pressure = found["85354-9"]
    assert "valueQuantity" not in pressure
    assert [
        (component["code"]["coding"][0]["code"], component["valueQuantity"])
        for component in pressure["component"]
    ] == [
        ("8480-6", {"value": 122, "unit": "mmHg", "system": codes.UCUM, "code": "mm[Hg]"}),
        ("8462-4", {"value": 78, "unit": "mmHg", "system": codes.UCUM, "code": "mm[Hg]"}),
    ]
    assert found["8867-4"]["valueQuantity"]["code"] == "/min"
    assert codings(found["59408-5"]["code"]) == [(codes.LOINC, "59408-5"), (codes.LOINC, "2708-6")]
    assert found["59408-5"]["valueQuantity"]["code"] == "%"
    assert found["29463-7"]["valueQuantity"] == {
        "value": 72.5,
        "unit": "kg",
        "system": codes.UCUM,
        "code": "kg",
    }
    for observation in observations:
        assert observation["category"] == [{"coding": [codes.VITAL_SIGNS_CATEGORY.coding()]}]
        assert observation["effectiveDateTime"].endswith("+00:00")
        assert observation["meta"]["profile"][0].startswith(codes.US_CORE)


def test_the_height_on_the_record_is_a_body_height_in_centimetres(amara):
    observation = body_height_observation(amara)

    valid(observation)
    assert codings(observation["code"]) == [(codes.LOINC, "8302-2")]
    assert observation["valueQuantity"]["code"] == "cm"
    assert observation["valueQuantity"]["value"] == 168


def test_half_a_blood_pressure_still_has_both_components(amara):
    signs = VitalSigns(id_prefix="x", taken_at=amara.created_at, systolic=150)

    [pressure] = vital_sign_observations(signs, amara.public_id)

    valid(pressure)
    assert len(pressure["component"]) == 2
    assert pressure["component"][1]["dataAbsentReason"]["coding"][0]["code"] == "not-performed"


def test_a_reading_in_a_session_adds_the_respiratory_rate(nina, phil, amara, riverside, lot):
    given_infusion(nina, phil, amara, riverside, lot)
    reading = VitalsReading.objects.get()

    observations = vital_sign_observations(reading_vital_signs(reading), amara.public_id)

    all_valid(observations)
    assert set(by_code(observations)) == {"85354-9", "8867-4", "9279-1", "59408-5"}
    assert by_code(observations)["9279-1"]["valueQuantity"]["value"] == 14


def test_a_reading_entered_in_error_is_exported_as_such(nina, phil, amara, riverside, lot):
    given_infusion(nina, phil, amara, riverside, lot)
    reading = VitalsReading.objects.get()
    reading.entered_in_error_at = reading.taken_at
    reading.entered_in_error_by = nina
    reading.entered_in_error_reason = "Wrong patient"

    observations = vital_sign_observations(reading_vital_signs(reading), amara.public_id)

    assert {observation["status"] for observation in observations} == {"entered-in-error"}
    all_valid(observations)


@pytest.mark.parametrize(
    ("instrument", "panel", "total", "score"),
    [
        ("phq9", "44249-1", "44261-6", 18),
        ("gad7", "69737-5", "70274-6", 7),
        ("pcl5", "101697-1", "101698-9", 40),
    ],
)
def test_a_questionnaire_is_its_answers_a_panel_and_the_total(
    amara, instrument, panel, total, score
):
    response = amara.questionnaires.get(instrument=instrument)

    answers, panel_observation, total_observation = survey_resources(response, amara.public_id)

    all_valid([answers, panel_observation, total_observation])
    assert answers["resourceType"] == "QuestionnaireResponse"
    assert answers["questionnaire"] == f"http://loinc.org/q/{panel}"
    assert answers["item"][0]["linkId"] == "q1"
    assert answers["item"][-1] == {
        "linkId": "total",
        "text": answers["item"][-1]["text"],
        "answer": [{"valueInteger": score}],
    }
    assert codings(panel_observation["code"]) == [(codes.LOINC, panel)]
    assert panel_observation["hasMember"] == [
        {"reference": f"Observation/{total_observation['id']}"}
    ]
    assert codings(total_observation["code"]) == [(codes.LOINC, total)]
    assert total_observation["valueQuantity"]["value"] == score
    assert total_observation["valueQuantity"]["code"] == "{score}"
    for observation in (panel_observation, total_observation):
        assert observation["derivedFrom"] == [
            {"reference": f"QuestionnaireResponse/{answers['id']}"}
        ]
        assert observation["category"][0]["coding"][0]["code"] == "survey"


def test_the_pain_rating_is_not_exported_as_a_survey(amara):
    assert survey_resources(amara.questionnaires.get(instrument="pain_nrs"), amara.public_id) == []


def test_the_appointment_says_when_what_where_and_its_status(nina, phil, amara, riverside, lot):
    session = given_infusion(nina, phil, amara, riverside, lot)
    appointment = session.appointment

    resource = appointment_resource(appointment, amara.public_id)

    valid(resource)
    assert resource["id"] == str(appointment.public_id)
    assert resource["status"] == "arrived"  # infusing
    assert resource["start"] == appointment.starts_at.astimezone(UTC).isoformat(timespec="seconds")
    assert resource["start"].endswith("+00:00")
    assert resource["participant"][0]["actor"] == {"reference": f"Patient/{amara.public_id}"}
    assert resource["participant"][1]["actor"] == {"display": "Riverside"}


def test_a_cancelled_appointment_gives_its_reason(nina, phil, amara, riverside, lot):
    appointment = given_infusion(nina, phil, amara, riverside, lot).appointment
    appointment.status = AppointmentStatus.CANCELLED
    appointment.cancel_reason = "Patient unwell"

    resource = appointment_resource(appointment, amara.public_id)

    valid(resource)
    assert resource["status"] == "cancelled"
    assert resource["cancelationReason"] == {"text": "Patient unwell"}


def test_each_dose_given_is_a_medication_administration_of_ketamine(
    nina, phil, amara, riverside, lot
):
    given_infusion(nina, phil, amara, riverside, lot)
    administration = DoseAdministration.objects.select_related("order", "lot", "given_by").get()

    resource = medication_administration_resource(administration, amara.public_id)

    model = valid(resource)
    assert model.status == "completed"
    drug = resource["contained"][0]
    assert codings(drug["code"]) == [(codes.RXNORM, "6130")]
    assert drug["batch"]["lotNumber"] == "K-001"
    assert resource["medicationReference"]["reference"] == "#drug"
    assert resource["dosage"]["dose"] == {
        "value": 40,
        "unit": "mg",
        "system": codes.UCUM,
        "code": "mg",
    }
    assert resource["dosage"]["rateQuantity"]["value"] == 60
    assert resource["performer"] == [{"actor": {"display": "Nina Nurse"}}]


def test_the_signed_consent_is_a_treatment_consent(amara):
    signature = amara.consent_signatures.select_related("document").get()

    resource = treatment_consent_resource(signature, amara.public_id)

    valid(resource)
    assert resource["id"] == str(signature.public_id)
    assert resource["scope"]["coding"][0]["code"] == "treatment"
    assert resource["policy"] == [{"uri": f"urn:uuid:{signature.document.public_id}"}]
    assert resource["dateTime"].endswith("+00:00")


def test_each_contact_consent_change_is_a_consent_and_the_latest_per_channel_is_active(amara):
    rows = amara.contact_consents.order_by("channel", "recorded_at", "id")

    resources = contact_consent_resources(rows, amara.public_id)

    all_valid(resources)
    summary = [
        (resource["category"][0]["text"], resource["status"], resource["provision"]["type"])
        for resource in resources
    ]
    assert summary == [
        ("Consent to be contacted by Email", "active", "permit"),
        ("Consent to be contacted by Text message (SMS)", "inactive", "permit"),
        ("Consent to be contacted by Text message (SMS)", "active", "deny"),
    ]
    assert resources[2]["policyRule"]["coding"][0]["code"] == "OPTOUT"


def test_amounts_are_exact_decimals_never_float_noise(amara):
    signs = VitalSigns(id_prefix="w", taken_at=amara.created_at, weight_kg=Decimal("80.1"))

    [weight] = vital_sign_observations(signs, amara.public_id)

    assert repr(weight["valueQuantity"]["value"]) == "80.1"


def test_every_condition_with_a_snomed_code_validates_with_both_codings():
    patient = PatientFactory.build(conditions=list(codes.SNOMED_BY_CONDITION))
    resources = condition_resources(patient, diagnosis_codes())
    all_valid(resources)
    for resource in resources:
        systems = [coding["system"] for coding in resource["code"]["coding"]]
        assert systems == [codes.ICD10CM, codes.SNOMED_CT]
        assert all(coding["code"].isdigit() for coding in resource["code"]["coding"][1:])
