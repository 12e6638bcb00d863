"""The demo clinic (``seed_demo``) exported: every resource is valid FHIR and every blood
pressure panel has exactly its two components."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from interop.fhir.everything import patient_records, patient_resources
from interop.tests.conftest import valid
from patients.models import Patient

pytestmark = pytest.mark.django_db

BLOOD_PRESSURE_PANEL = "85354-9"


def is_blood_pressure(resource: dict) -> bool:
    return resource["resourceType"] == "Observation" and any(
        coding["code"] == BLOOD_PRESSURE_PANEL for coding in resource["code"].get("coding", [])
    )


def test_every_demo_patients_record_is_valid_fhir(settings, phil):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    patients = list(Patient.objects.order_by("id"))
    assert patients

    resources = [
        resource
        for patient in patients
        for resource in patient_resources(patient_records(phil, patient.public_id))
    ]

    for resource in resources:
        valid(resource)
    pressures = [resource for resource in resources if is_blood_pressure(resource)]
    assert pressures, "the demo clinic has measured blood pressures"
    assert all(len(pressure["component"]) == 2 for pressure in pressures)
    assert sum(resource["resourceType"] == "Patient" for resource in resources) == len(patients)


def test_a_demo_patient_exports_over_http(settings, client, phil):
    settings.DEBUG = True
    call_command("seed_demo", verbosity=0)
    patient = Patient.objects.filter(measurements__isnull=False).first()
    client.force_login(phil)

    response = client.get(f"/fhir/R4/Patient/{patient.public_id}/$everything")

    assert response.status_code == 200
    bundle = response.json()
    valid(bundle)
    assert any(is_blood_pressure(entry["resource"]) for entry in bundle["entry"])
