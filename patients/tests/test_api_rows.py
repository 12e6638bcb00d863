"""The patient list written from plain rows says what its serializer says.

GET /api/v1/patients/ writes each page from ``.values()`` rows (``clinic.api.rows``); one
patient is still written by ``PatientSerializer``. Each row of the list must be exactly what
the serializer writes for the same patient and reader.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from rest_framework.renderers import JSONRenderer

from clinic.api.rows import RowWriter
from patients.api.patients import PatientSerializer
from patients.models import Patient
from patients.selectors import can_see_clinical
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory


def as_sent(data) -> object:
    return json.loads(JSONRenderer().render(data))


@pytest.fixture
def lakeview(db):
    return LocationFactory(name="Lakeview")


@pytest.mark.parametrize("persona", ["fran", "phil"])
def test_the_patient_list_writes_each_as_its_serializer_does(request, client, lakeview, persona):
    user = request.getfixturevalue(persona)
    PatientFactory(
        legal_first_name="Ada",
        legal_last_name="Byron",
        preferred_location=lakeview,
        weight_kg=Decimal("70.5"),
        height_cm=Decimal("172"),
        conditions=["mdd"],
    )
    PatientFactory(legal_first_name="Cy", legal_last_name="Dunn", preferred_name="C")
    client.force_login(user)

    listed = client.get("/api/v1/patients/").json()["results"]

    patients = Patient.objects.order_by("legal_last_name")
    context = {"clinical": can_see_clinical(user)}
    assert listed == as_sent(PatientSerializer(patients, many=True, context=context).data)
    assert listed[0]["preferred_location"] == str(lakeview.public_id)
    assert (listed[0]["clinical"] is not None) is (persona == "phil")


def test_a_row_writer_needs_to_be_told_how_to_write_nested_fields():
    with pytest.raises(ValueError, match="clinical"):
        RowWriter(PatientSerializer())
