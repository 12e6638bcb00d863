"""The printable one-page session summary: what it shows, that it is audited, who may open it,
and that its queries do not grow with the readings."""

from __future__ import annotations

import uuid

import pytest
from django.utils import timezone

from clinic.models import AuditEvent
from infusions.models import SessionEvent
from infusions.models.readings import VitalsPhase
from infusions.readings import reading_record
from infusions.tests.factories import vitals_reading
from infusions.tests.test_discharge import HIGH_BP, NORMAL, acknowledge_all, session_in, sign


@pytest.fixture
def discharged(nina, phil):
    """A whole session: an alert acknowledged on the way, an event, then discharge."""
    session = session_in(nina, phil)
    reading_record(actor=nina, session=session, values=HIGH_BP)
    acknowledge_all(session, phil)
    reading_record(actor=nina, session=session, values=NORMAL)
    SessionEvent.objects.create(
        session=session,
        occurred_at=timezone.now(),
        side_effect="nausea",
        severity="mild",
        medication_name="Ondansetron",
        medication_dose="4 mg",
        medication_route="oral",
        recorded_by=nina,
    )
    sign(nina, session, aldrete_score=9)
    return session


def summary(session) -> str:
    return f"/staff/sessions/{session.public_id}/summary/"


def test_it_shows_the_whole_session_on_one_page(client, nina, phil, discharged):
    client.force_login(nina)
    response = client.get(summary(discharged))
    html = response.content.decode()
    patient = discharged.appointment.patient

    assert response.status_code == 200
    assert patient.display_name in html
    assert patient.date_of_birth.strftime("%-d %b %Y") in html
    assert discharged.appointment.location.name in html
    # The dose: mg/kg, weight, total, rate, who signed; what was given.
    assert "0.500 mg/kg × 80.0 kg = <strong>40.0 mg</strong> over 40 min" in html
    assert "Rate 60.0 mg/h" in html
    assert "Signed by Phil Physician" in html
    assert "Lot KX-2041: drawn 40 mg, given 40 mg, wasted 0 mg · by Nina Nurse" in html
    # The picture, the readings, the alert and who acknowledged it, the event.
    assert "<svg" in html and 'class="threshold"' in html
    assert html.count("<tr><td>") >= 3
    assert "acknowledged by Phil Physician" in html
    assert "Nausea (mild), Ondansetron 4 mg" in html
    # The discharge and who signed it; the staff involved.
    assert "modified Aldrete 9/10" in html
    assert "signed by Nina Nurse" in html
    assert "Nina Nurse, Phil Physician" in html
    # Ready to print.
    assert 'media="print" href="/static/css/print/session-summary.css"' in html
    assert 'data-testid="print-button"' in html


def test_opening_it_is_audited_as_a_view_of_the_patient(client, nina, discharged):
    client.force_login(nina)
    client.get(summary(discharged))
    event = AuditEvent.objects.filter(action="view", object_type="patients.patient").get()
    assert event.object_id == str(discharged.appointment.patient.public_id)
    assert str(discharged.public_id) in event.summary
    assert discharged.appointment.patient.legal_last_name not in event.summary


def test_it_shows_a_session_that_has_barely_begun(client, nina, phil):
    session = session_in(nina, phil, given=False)
    client.force_login(nina)
    html = client.get(summary(session)).content.decode()
    assert "Administration not recorded." in html
    assert "Not signed." in html


def test_its_queries_do_not_grow_with_the_readings(
    client, nina, discharged, django_assert_max_num_queries
):
    client.force_login(nina)
    with django_assert_max_num_queries(30) as few:
        client.get(summary(discharged))
    for minutes in range(6):
        vitals_reading(discharged, nina, phase=VitalsPhase.RECOVERING, minutes_ago=minutes)
    # Six more readings, the same queries.
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(summary(discharged))
    assert response.content.decode().count("<td>Recovering</td>") == 2 + 6


@pytest.mark.parametrize("persona", ["fran", "alice", "edie"])
def test_only_clinical_staff_may_open_it(client, request, discharged, persona):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(summary(discharged)).status_code == 403
    assert not AuditEvent.objects.filter(action="view", object_type="patients.patient").exists()


def test_a_physician_may_open_it(client, phil, discharged):
    client.force_login(phil)
    assert client.get(summary(discharged)).status_code == 200


def test_an_unknown_session_is_not_found(client, nina, db):
    client.force_login(nina)
    assert client.get(f"/staff/sessions/{uuid.uuid4()}/summary/").status_code == 404
