"""The discharge API: /api/v1/sessions/<id>/discharge/. Where a session stands, signing
through the same service as the screen, bad input answered with field errors and nothing
saved, who may call it, and its place in the OpenAPI schema."""

from __future__ import annotations

import uuid

import pytest

from clinic.models import AuditEvent
from conftest import PASSWORD
from infusions.models import Discharge
from infusions.models.sessions import InfusionSessionState
from infusions.tests.test_discharge import session_in, with_unresolved_alert
from scheduling.models import AppointmentStatus

S = InfusionSessionState
CHECKLIST = {
    "vitals_near_baseline": True,
    "alert_and_oriented": True,
    "aldrete_score": 10,
    "escort_present": True,
    "instructions_given": True,
}


@pytest.fixture
def recovering(nina, phil):
    return session_in(nina, phil)


def url(session) -> str:
    return f"/api/v1/sessions/{session.public_id}/discharge/"


def post(client, address: str, data: dict):
    return client.post(address, data, content_type="application/json")


def test_it_says_where_a_recovering_session_stands(client, nina, phil, recovering):
    with_unresolved_alert(recovering, nina, phil)
    client.force_login(nina)
    response = client.get(url(recovering))
    body = response.json()

    assert response.status_code == 200
    assert body["session"] == str(recovering.public_id)
    assert body["state"] == "recovering"
    assert body["may_sign"] is True
    assert body["blockers"] == []
    assert body["min_aldrete"] == 9
    assert body["escort_name"] == "Sam Escort"
    assert body["discharge"] is None
    [alert] = body["unresolved_alerts"]
    assert alert["parameter"] == "systolic" and alert["direction"] == "high"
    assert alert["value"] == 186
    assert "186 mmHg" in alert["message"]


def test_it_lists_the_blockers(client, nina, phil):
    session = session_in(nina, phil, given=False)
    client.force_login(nina)
    body = client.get(url(session)).json()
    assert body["may_sign"] is False
    assert "Record what was given and wasted" in body["blockers"][0]


def test_reading_it_is_audited(client, nina, recovering):
    client.force_login(nina)
    client.get(url(recovering))
    event = AuditEvent.objects.get(action="view", object_type="patients.patient")
    assert event.object_id == str(recovering.appointment.patient.public_id)


def test_it_signs_the_checklist(client, nina, recovering):
    client.force_login(nina)
    response = post(client, url(recovering), CHECKLIST | {"escort_name": "Robin Driver"})
    body = response.json()

    assert response.status_code == 201, body
    assert body["state"] == "discharged"
    assert body["may_sign"] is False
    assert body["discharge"]["escort_name"] == "Robin Driver"
    assert body["discharge"]["signed_by"]["full_name"] == "Nina Nurse"
    recovering.refresh_from_db()
    assert recovering.state == S.DISCHARGED
    assert recovering.appointment.status == AppointmentStatus.DISCHARGED


@pytest.mark.parametrize(
    "change,field",
    [
        ({"aldrete_score": 8}, "aldrete_score"),
        ({"aldrete_score": "ten"}, "aldrete_score"),
        ({"escort_present": False}, "escort_present"),
        ({"instructions_given": None}, "instructions_given"),
        ({"vitals_near_baseline": "maybe"}, "vitals_near_baseline"),
    ],
)
def test_bad_input_is_refused_with_field_errors_and_nothing_saved(
    client, nina, recovering, change, field
):
    client.force_login(nina)
    response = post(client, url(recovering), CHECKLIST | change)
    assert response.status_code == 400
    assert list(response.json()) == [field]
    recovering.refresh_from_db()
    assert recovering.state == S.RECOVERING
    assert not Discharge.objects.exists()


def test_a_missing_criterion_is_named(client, nina, recovering):
    client.force_login(nina)
    data = {key: value for key, value in CHECKLIST.items() if key != "alert_and_oriented"}
    response = post(client, url(recovering), data)
    assert response.status_code == 400
    assert "alert and oriented" in response.json()["alert_and_oriented"][0]


def test_an_unresolved_alert_needs_the_physicians_note(client, nina, phil, recovering):
    with_unresolved_alert(recovering, nina, phil)
    client.force_login(nina)

    response = post(client, url(recovering), CHECKLIST)
    assert response.status_code == 400
    assert set(response.json()) == {"physician", "physician_note"}

    note = {"physician": str(phil.public_id), "physician_note": "Reviewed, may go home."}
    response = post(client, url(recovering), CHECKLIST | note | {"physician_password": "no"})
    assert response.status_code == 400
    assert "physician_password" in response.json()
    assert not Discharge.objects.exists()

    response = post(client, url(recovering), CHECKLIST | note | {"physician_password": PASSWORD})
    assert response.status_code == 201
    assert response.json()["discharge"]["physician"]["full_name"] == "Phil Physician"
    assert "physician_password" not in response.json()


def test_an_unknown_physician_is_refused(client, nina, phil, recovering):
    with_unresolved_alert(recovering, nina, phil)
    client.force_login(nina)
    response = post(
        client,
        url(recovering),
        CHECKLIST | {"physician": str(uuid.uuid4()), "physician_note": "Fine."},
    )
    assert response.status_code == 400
    assert "no active member of staff" in response.json()["physician"][0]


def test_the_front_desk_may_neither_read_nor_sign(client, fran, recovering):
    client.force_login(fran)
    assert client.get(url(recovering)).status_code == 403
    assert post(client, url(recovering), CHECKLIST).status_code == 403
    assert not Discharge.objects.exists()


def test_an_unknown_session_is_not_found(client, nina, db):
    client.force_login(nina)
    address = f"/api/v1/sessions/{uuid.uuid4()}/discharge/"
    assert client.get(address).status_code == 404
    assert post(client, address, CHECKLIST).status_code == 404


def test_signed_out_callers_are_refused(client, recovering):
    assert client.get(url(recovering)).status_code in (401, 403)


def test_the_discharge_endpoint_is_in_the_openapi_schema(client, db):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]
    operations = paths["/api/v1/sessions/{session_id}/discharge/"]
    assert set(operations) >= {"get", "post"}
    assert "400" in operations["post"]["responses"]
    assert "201" in operations["post"]["responses"]
