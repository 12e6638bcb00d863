"""The sessions API: listing a day's sessions (constant queries), one session with its
checks, order and administration, opening a session, moving it, recording the checks, the
dose order and what was given; refusals answer 400 by field with nothing saved, roles
without clinical access 403; every path in the OpenAPI schema."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clinic.models import AuditEvent
from conftest import PASSWORD
from infusions.ledger import lot_receive
from infusions.models import (
    DoseAdministration,
    DoseOrder,
    InfusionSession,
    PreAssessment,
    VitalsReading,
)
from infusions.models.sessions import InfusionSessionState
from infusions.sessions import session_for_appointment, session_transition
from infusions.tests.factories import (
    SUPPLIER,
    complete_pre_assessment,
    dea_registered,
    infusion_session,
    signed_order,
)
from scheduling.tests.test_booking import book, cleared_for_infusions, riverside_for
from tests.clock import travel_to

S = InfusionSessionState
NORMAL = {
    "systolic": 120,
    "diastolic": 80,
    "heart_rate": 72,
    "spo2": 98,
    "respiratory_rate": 14,
    "consciousness": 1,
}


def api(session, action: str = "") -> str:
    return f"/api/v1/sessions/{session.public_id}/{action}"


def send(client, method: str, url: str, data: dict | None = None):
    return getattr(client, method)(url, data or {}, content_type="application/json")


@pytest.fixture
def riverside(nina, phil):
    return riverside_for(nina, phil)


@pytest.fixture
def session(nina, phil, riverside):
    return infusion_session(nina, phil, location=riverside)


@pytest.fixture
def checked_in(nina, session):
    return session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)


# --- Reading -------------------------------------------------------------------------------------


def local_day(session):
    """The local day ``session`` is booked for."""
    appointment = session.appointment
    return appointment.starts_at.astimezone(appointment.location.tz).date()


def _day_list(client, riverside, day) -> tuple[dict, int]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(
            "/api/v1/sessions/", {"day": day.isoformat(), "location": str(riverside.public_id)}
        )
    assert response.status_code == 200
    # The sign-in session's activity stamp is written at most once a minute: not counted.
    counted = [
        query["sql"]
        for query in queries.captured_queries
        if "django_session" not in query["sql"] and "SAVEPOINT" not in query["sql"]
    ]
    return response.json(), len(counted)


def test_it_lists_a_days_sessions_in_the_same_number_of_queries(client, nina, phil, riverside):
    first = infusion_session(nina, phil, location=riverside, hour=9)
    first = session_transition(actor=nina, session=first, to_state=S.CHECKED_IN)
    complete_pre_assessment(first, nina)
    signed_order(first, phil)
    client.force_login(nina)
    one, queries_for_one = _day_list(client, riverside, local_day(first))
    for hour in (11, 13):
        # Later the same day, each checked in at its own time (past the idle sign-out, so
        # nina signs in again below).
        patient = cleared_for_infusions(phil)
        appointment = book(nina, patient, riverside, "infusion", hour=hour, day=local_day(first))
        travel_to(appointment.starts_at - timedelta(minutes=10))
        other = session_for_appointment(appointment=appointment, actor=nina)
        other = session_transition(actor=nina, session=other, to_state=S.CHECKED_IN)
        complete_pre_assessment(other, nina)
        signed_order(other, phil)
    client.logout()
    client.force_login(nina)

    three, queries_for_three = _day_list(client, riverside, local_day(first))

    assert len(one["results"]) == 1
    assert len(three["results"]) == 3
    assert queries_for_three == queries_for_one
    assert queries_for_one <= 7
    row = three["results"][0]
    assert row["id"] == str(first.public_id)
    assert row["state"] == "checked_in"
    assert row["pre_assessment"]["weight_kg"] == "80.0"
    assert row["current_order"]["total_mg"] == "40.0"
    assert row["administration"] is None


def test_the_day_is_the_locations_local_day(client, nina, session, riverside):
    client.force_login(nina)

    other_day = client.get(
        "/api/v1/sessions/", {"day": (local_day(session) + timedelta(days=1)).isoformat()}
    )
    that_day = client.get("/api/v1/sessions/", {"day": local_day(session).isoformat()})

    assert other_day.json()["results"] == []
    assert [row["id"] for row in that_day.json()["results"]] == [str(session.public_id)]


@pytest.mark.parametrize(
    "params,field",
    [({"day": "tomorrow"}, "day"), ({"location": "not-an-id"}, "location")],
)
def test_bad_list_parameters_answer_400(client, nina, params, field):
    client.force_login(nina)

    response = client.get("/api/v1/sessions/", params)

    assert response.status_code == 400
    assert field in response.json()


def test_an_unknown_location_answers_400(client, nina):
    client.force_login(nina)

    response = client.get("/api/v1/sessions/", {"location": "00000000-0000-0000-0000-000000000000"})

    assert response.status_code == 400
    assert "no location with that id" in response.json()["location"][0]


def test_one_session_with_its_records_and_the_read_is_audited(client, nina, phil, checked_in):
    complete_pre_assessment(checked_in, nina)
    signed_order(checked_in, phil)
    client.force_login(nina)

    response = client.get(api(checked_in))

    body = response.json()
    assert response.status_code == 200
    assert body["state"] == "checked_in"
    assert body["next_states"] == ["pre_assessment_passed", "not_started"]
    assert body["pre_assessment"]["bp_status"] == "ok"
    assert body["pre_assessment"]["vitals"]["systolic"] == 120
    assert body["current_order"]["rate_ml_per_h"] == "150.0"
    patient = checked_in.appointment.patient
    assert AuditEvent.objects.filter(
        object_id=str(patient.public_id), summary__contains="infusion session through the API"
    ).exists()


@pytest.mark.parametrize("persona", ["fran", "alice", "edie"])
def test_people_who_do_not_treat_cannot_read_sessions(request, client, session, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.get("/api/v1/sessions/").status_code == 403
    assert client.get(api(session)).status_code == 403


def test_an_unknown_session_is_404(client, nina):
    client.force_login(nina)

    assert client.get("/api/v1/sessions/00000000-0000-0000-0000-000000000000/").status_code == 404


# --- Opening and moving --------------------------------------------------------------------------


def test_it_opens_the_session_of_an_infusion_once(client, nina, phil, riverside):
    appointment = book(nina, cleared_for_infusions(phil), riverside, "infusion", hour=9)
    client.force_login(nina)
    url = f"/api/v1/appointments/{appointment.public_id}/session/"

    first = send(client, "post", url)
    again = send(client, "post", url)

    session = InfusionSession.objects.get(appointment=appointment)
    assert first.status_code == 201
    assert again.status_code == 200
    assert first.json()["id"] == again.json()["id"] == str(session.public_id)


def test_a_consultation_has_no_session(client, nina, phil, riverside):
    appointment = book(
        nina, cleared_for_infusions(phil), riverside, "consultation", hour=9, clinician=phil
    )
    client.force_login(nina)

    response = send(client, "post", f"/api/v1/appointments/{appointment.public_id}/session/")

    assert response.status_code == 400
    assert "only infusion and booster appointments" in response.json()["appointment"][0]
    assert not InfusionSession.objects.exists()


def test_it_moves_a_session_along(client, nina, session):
    client.force_login(nina)

    response = send(client, "post", api(session, "transition/"), {"to_state": "checked_in"})

    assert response.status_code == 200
    assert response.json()["state"] == "checked_in"
    session.refresh_from_db()
    assert session.state == S.CHECKED_IN


@pytest.mark.parametrize(
    "data,field,message",
    [
        ({"to_state": "infusing"}, "state", "next it can be"),
        ({"to_state": "asleep"}, "to_state", "is not a session state"),
        ({"to_state": "not_started"}, "reason", "Say why"),
        ({}, "to_state", "Say which state"),
    ],
)
def test_a_refused_move_answers_400_and_changes_nothing(
    client, nina, session, data, field, message
):
    client.force_login(nina)

    response = send(client, "post", api(session, "transition/"), data)

    assert response.status_code == 400
    assert message in " ".join(response.json()[field])
    session.refresh_from_db()
    assert session.state == S.SCHEDULED


# --- The checks ----------------------------------------------------------------------------------


def test_patch_records_some_checks_and_keeps_the_rest(client, nina, checked_in):
    client.force_login(nina)
    send(client, "patch", api(checked_in, "pre-assessment/"), {"identity_confirmed": True})

    response = send(client, "patch", api(checked_in, "pre-assessment/"), {"weight_kg": 80.5})

    assert response.status_code == 200
    checks = response.json()["pre_assessment"]
    assert checks["weight_kg"] == "80.5"
    assert checks["identity_confirmed"] is True


@pytest.mark.parametrize("weight", ["29.9", "300.1", 300.1])
def test_a_weight_outside_the_limits_answers_400_and_saves_nothing(
    client, nina, checked_in, weight
):
    client.force_login(nina)

    response = send(
        client,
        "patch",
        api(checked_in, "pre-assessment/"),
        {"weight_kg": weight, "identity_confirmed": True},
    )

    assert response.status_code == 400
    assert "not pounds" in response.json()["weight_kg"][0]
    assert not PreAssessment.objects.exists()


def test_put_records_every_check_with_the_vitals(client, nina, checked_in):
    client.force_login(nina)
    data = {
        "identity_confirmed": True,
        "weight_kg": "72.5",
        "pregnancy_status": "test_negative",
        "escort_confirmed": True,
        "escort_name": "Sam Escort",
        "escort_phone": "+13125550100",
        "last_ate_at": (timezone.now() - timedelta(hours=9)).isoformat(),
        "notes": "",
        "vitals": NORMAL,
    }

    response = send(client, "put", api(checked_in, "pre-assessment/"), data)

    assert response.status_code == 200
    checks = response.json()["pre_assessment"]
    assert checks["bp_status"] == "ok"
    assert checks["pregnancy_status"] == "test_negative"
    moved = send(
        client, "post", api(checked_in, "transition/"), {"to_state": "pre_assessment_passed"}
    )
    assert moved.json()["state"] == "pre_assessment_passed"


def test_put_needs_the_checks_in_full(client, nina, checked_in):
    client.force_login(nina)

    response = send(client, "put", api(checked_in, "pre-assessment/"), {"weight_kg": "80"})

    assert response.status_code == 400
    assert "identity_confirmed" in response.json()
    assert not PreAssessment.objects.exists()


def test_a_refused_acknowledgement_undoes_the_whole_request(client, nina, checked_in):
    client.force_login(nina)

    response = send(
        client,
        "patch",
        api(checked_in, "pre-assessment/"),
        {
            "weight_kg": "80",
            "vitals": NORMAL | {"systolic": 165},
            "caution_acknowledgement": "Looks fine to me.",
        },
    )

    assert response.status_code == 403
    assert not PreAssessment.objects.exists()
    assert not VitalsReading.objects.exists()


def test_a_physician_acknowledges_a_caution_through_the_api(client, nina, phil, checked_in):
    client.force_login(nina)
    send(
        client,
        "patch",
        api(checked_in, "pre-assessment/"),
        {"vitals": NORMAL | {"systolic": 165}},
    )
    client.force_login(phil)

    response = send(
        client,
        "patch",
        api(checked_in, "pre-assessment/"),
        {"caution_acknowledgement": "Anxious; rechecked."},
    )

    checks = response.json()["pre_assessment"]
    assert checks["bp_status"] == "caution"
    assert checks["caution_acknowledged_by"] == "Phil Physician"


def test_the_checks_are_refused_before_check_in(client, nina, session):
    client.force_login(nina)

    response = send(client, "patch", api(session, "pre-assessment/"), {"identity_confirmed": True})

    assert response.status_code == 400
    assert "Check the patient in first" in response.json()["session"][0]


# --- The dose ------------------------------------------------------------------------------------

ORDER = {
    "route": "iv_infusion",
    "dose_mg_per_kg": "0.75",
    "duration_minutes": 40,
    "concentration_mg_per_ml": "0.4",
}


@pytest.fixture
def ready(nina, checked_in):
    complete_pre_assessment(checked_in, nina)
    return checked_in


def test_a_physician_signs_an_order_and_gets_the_servers_numbers(client, phil, ready):
    client.force_login(phil)

    response = send(client, "post", api(ready, "dose-orders/"), ORDER)

    body = response.json()
    assert response.status_code == 201
    assert (body["total_mg"], body["rate_mg_per_h"], body["rate_ml_per_h"], body["volume_ml"]) == (
        "60.0",
        "90.0",
        "225.0",
        "150.00",
    )
    assert body["weight_kg"] == "80.0"
    assert body["replaces"] is None


def test_a_json_number_dose_is_exact(client, phil, ready):
    client.force_login(phil)

    response = send(client, "post", api(ready, "dose-orders/"), ORDER | {"dose_mg_per_kg": 0.55})

    assert response.json()["total_mg"] == "44.0"
    assert DoseOrder.objects.get().dose_mg_per_kg == Decimal("0.55")


def test_a_nurse_cannot_sign_an_order(client, nina, ready):
    client.force_login(nina)

    response = send(client, "post", api(ready, "dose-orders/"), ORDER)

    assert response.status_code == 403
    assert not DoseOrder.objects.exists()


@pytest.mark.parametrize(
    "field,value",
    [("dose_mg_per_kg", "1.001"), ("duration_minutes", 101), ("route", "oral")],
)
def test_a_bad_order_answers_400_by_field(client, phil, ready, field, value):
    client.force_login(phil)

    response = send(client, "post", api(ready, "dose-orders/"), ORDER | {field: value})

    assert response.status_code == 400
    assert field in response.json()
    assert not DoseOrder.objects.exists()


@pytest.fixture
def infusing(nina, phil, ready):
    signed_order(ready, phil)
    session = session_transition(actor=nina, session=ready, to_state=S.PRE_ASSESSMENT_PASSED)
    return session_transition(actor=nina, session=session, to_state=S.INFUSING)


@pytest.fixture
def lot(nina, riverside):
    return lot_receive(
        actor=nina,
        location=dea_registered(riverside),
        product_name="Ketamine HCl injection 50 mg/mL",
        concentration_mg_per_ml="50",
        container_volume_ml="10",
        containers_received=1,
        lot_number="K-001",
        expiry_date=riverside.local_now().date() + timedelta(days=365),
        supplier="Hospira",
        **SUPPLIER,
        invoice_number="INV-1",
    )


def given(lot, witness, **fields) -> dict:
    return {
        "lot": str(lot.public_id),
        "drawn_mg": "50",
        "administered_mg": "40",
        "witness": str(witness.public_id),
        "witness_password": PASSWORD,
    } | fields


def test_a_nurse_records_the_dose_given(client, nina, phil, infusing, lot):
    client.force_login(nina)

    response = send(client, "post", api(infusing, "administration/"), given(lot, phil))

    body = response.json()
    assert response.status_code == 201
    assert (body["administered_mg"], body["wasted_mg"], body["witness"]) == (
        "40.000",
        "10.000",
        "Phil Physician",
    )
    detail = client.get(api(infusing)).json()
    assert detail["administration"]["id"] == body["id"]
    lot.refresh_from_db()
    assert lot.balance_mg == Decimal("450")


def test_the_same_person_as_witness_answers_400_and_books_nothing(client, nina, infusing, lot):
    client.force_login(nina)

    response = send(client, "post", api(infusing, "administration/"), given(lot, nina))

    assert response.status_code == 400
    assert "your own second person" in response.json()["witness"][0]
    assert not DoseAdministration.objects.exists()
    lot.refresh_from_db()
    assert lot.balance_mg == Decimal("500")


def test_an_unknown_lot_answers_400(client, nina, phil, infusing, lot):
    client.force_login(nina)

    response = send(
        client,
        "post",
        api(infusing, "administration/"),
        given(lot, phil) | {"lot": "00000000-0000-0000-0000-000000000000"},
    )

    assert response.status_code == 400
    assert "no lot with that id" in response.json()["lot"][0]


def test_the_front_desk_cannot_record_a_dose(client, fran, phil, infusing, lot):
    client.force_login(fran)

    response = send(client, "post", api(infusing, "administration/"), given(lot, phil))

    assert response.status_code == 403
    assert not DoseAdministration.objects.exists()


# --- The schema ----------------------------------------------------------------------------------


def test_every_session_endpoint_is_in_the_openapi_schema(client, db):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]

    base = "/api/v1/sessions/{session_id}/"
    assert set(paths["/api/v1/sessions/"]) == {"get"}
    assert set(paths[base]) == {"get"}
    assert set(paths["/api/v1/appointments/{appointment_id}/session/"]) == {"post"}
    assert set(paths[f"{base}transition/"]) == {"post"}
    assert set(paths[f"{base}pre-assessment/"]) == {"put", "patch"}
    assert set(paths[f"{base}dose-orders/"]) == {"post"}
    assert set(paths[f"{base}administration/"]) == {"post"}
    assert {"201", "400", "403"} <= set(paths[f"{base}dose-orders/"]["post"]["responses"])
    parameters = {p["name"] for p in paths["/api/v1/sessions/"]["get"]["parameters"]}
    assert {"day", "location"} <= parameters
