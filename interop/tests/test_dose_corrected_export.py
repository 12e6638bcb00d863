"""A dose recorded in full for an infusion then stopped early, and corrected to what was
really given: the FHIR exports (the patient's ``$everything`` and the bulk export) say what
the patient received, read with the dose in the same query."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from infusions.tests.test_dose_corrections import correct, given, stop_early  # noqa: F401
from infusions.tests.test_orders import infusing, lot  # noqa: F401 - fixtures
from interop.fhir import bulk

pytestmark = pytest.mark.django_db


@pytest.fixture
def corrected(nina, phil, given):  # noqa: F811 - the fixture above
    """40 mg recorded as given, the infusion stopped early: 3.1 mg really given."""
    session = stop_early(nina, given)
    correct(nina, session, phil)
    return session


def doses_in(resources) -> list[dict]:
    return [
        r["dosage"]["dose"] for r in resources if r["resourceType"] == "MedicationAdministration"
    ]


def test_everything_exports_what_was_really_given_not_what_was_recorded(client, nina, corrected):
    patient = corrected.appointment.patient
    client.force_login(nina)

    bundle = client.get(f"/fhir/R4/Patient/{patient.public_id}/$everything").json()

    doses = doses_in(entry["resource"] for entry in bundle["entry"])
    assert [Decimal(str(dose["value"])) for dose in doses] == [Decimal("3.1")]
    assert doses[0]["unit"] == "mg"


def test_the_bulk_export_exports_what_was_really_given_in_one_query(corrected):
    (source,) = [s for s in bulk._sources() if s.step == "doses given"]

    with CaptureQueriesContext(connection) as queries:
        resources = [r for batch in source.convert(source.rows.iterator()) for r in batch]

    assert [Decimal(str(dose["value"])) for dose in doses_in(resources)] == [Decimal("3.1")]
    assert len(queries) == 1
