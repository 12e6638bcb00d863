"""The flowsheet API: readings (one, or a monitor's batch), alerts and their acknowledgement,
events; bad input answered 400 by field with nothing saved; who may; the schema."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from clinic.models import AuditEvent
from infusions.models import SessionAlert, SessionEvent, VitalsReading
from infusions.models.readings import AlertAction, ReadingSource
from infusions.models.sessions import InfusionSessionState
from infusions.tests.test_flowsheet import record, session_in

S = InfusionSessionState
READING = {
    "systolic": 124,
    "diastolic": 82,
    "heart_rate": 70,
    "spo2": 97,
    "respiratory_rate": 13,
    "consciousness": 1,
}


@pytest.fixture
def infusing(nina, phil):
    return session_in(nina, phil, S.INFUSING)


def api(session, tail: str) -> str:
    return f"/api/v1/sessions/{session.public_id}/{tail}"


def post(client, url: str, data: dict):
    return client.post(url, data, content_type="application/json")


def utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def nothing_saved() -> None:
    assert VitalsReading.objects.count() == 0
    assert SessionAlert.objects.count() == 0


# --- Readings ------------------------------------------------------------------------------------


def test_a_nurse_records_a_reading(client, nina, infusing):
    client.force_login(nina)
    taken = timezone.now() - timedelta(minutes=3)

    response = post(client, api(infusing, "readings/"), READING | {"taken_at": taken.isoformat()})

    assert response.status_code == 201, response.json()
    body = response.json()
    reading = VitalsReading.objects.get()
    assert body["id"] == str(reading.public_id)
    assert body["taken_at"] == utc(taken)
    assert (body["phase"], body["source"], body["systolic"]) == ("infusing", "manual", 124)
    assert body["recorded_by"]["full_name"] == "Nina Nurse"
    assert body["alerts"] == []


def test_a_reading_beyond_a_limit_answers_with_its_alert(client, nina, infusing):
    client.force_login(nina)

    response = post(client, api(infusing, "readings/"), READING | {"respiratory_rate": 8})

    alerts = response.json()["alerts"]
    assert [(a["findings"], a["acknowledged"]) for a in alerts] == [
        (
            [
                {
                    "parameter": "respiratory_rate",
                    "direction": "low",
                    "value": 8,
                    "threshold": 10,
                    "message": "Respiratory rate of 8/min is below the alert limit of 10/min.",
                }
            ],
            False,
        )
    ]


def test_a_reading_with_several_values_out_of_range_answers_one_alert_listing_them(
    client, nina, infusing
):
    client.force_login(nina)
    high = {"systolic": 186, "diastolic": 112, "heart_rate": 124}

    response = post(client, api(infusing, "readings/"), READING | high)

    [alert] = response.json()["alerts"]
    assert [(f["parameter"], f["direction"], f["value"]) for f in alert["findings"]] == [
        ("systolic", "high", 186),
        ("diastolic", "high", 112),
        ("heart_rate", "high", 124),
    ]
    listed = client.get(api(infusing, "alerts/"), {"open": "true"}).json()
    assert [a["id"] for a in listed] == [alert["id"]]


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"systolic": 100, "diastolic": 100}, "diastolic", "must be below the systolic"),
        ({"spo2": 40}, "spo2", "outside 50–100"),
        ({"heart_rate": "fast"}, "heart_rate", "whole number"),
        ({"taken_at": "2026-03-01T10:00:00"}, "taken_at", "UTC offset"),
        ({"taken_at": "yesterday"}, "taken_at", "ISO 8601"),
        ({"source": "psychic"}, "source", "manual or monitor"),
    ],
    ids=lambda value: str(value)[:30],
)
def test_a_bad_reading_is_a_400_by_field_with_nothing_saved(
    client, nina, infusing, data, field, words
):
    client.force_login(nina)

    response = post(client, api(infusing, "readings/"), READING | data)

    assert response.status_code == 400
    assert words in " ".join(response.json()[field])
    nothing_saved()


def test_a_reading_outside_the_session_times_is_refused(client, nina, infusing):
    client.force_login(nina)
    checked_in = infusing.state_changes.get(to_state=S.CHECKED_IN).at

    before = post(
        client,
        api(infusing, "readings/"),
        READING | {"taken_at": utc(checked_in - timedelta(minutes=5))},
    )
    future = post(
        client,
        api(infusing, "readings/"),
        READING | {"taken_at": utc(timezone.now() + timedelta(minutes=30))},
    )

    assert "before the patient was checked in" in before.json()["taken_at"][0]
    assert "in the future" in future.json()["taken_at"][0]
    nothing_saved()


def test_readings_are_listed_oldest_first_with_their_alerts(
    client, django_assert_max_num_queries, nina, infusing
):
    now = timezone.now()
    record(nina, infusing, taken_at=now - timedelta(minutes=2), spo2=90)
    record(nina, infusing, taken_at=now - timedelta(minutes=9))
    client.force_login(nina)
    client.get(api(infusing, "readings/"))  # warm the session
    for minutes in range(3, 8):
        record(nina, infusing, taken_at=now - timedelta(minutes=minutes), heart_rate=130)

    with django_assert_max_num_queries(10):
        response = client.get(api(infusing, "readings/"))

    body = response.json()
    assert len(body) == 7
    assert [r["taken_at"] for r in body] == sorted(r["taken_at"] for r in body)
    assert body[-1]["alerts"][0]["findings"][0]["parameter"] == "spo2"
    assert AuditEvent.objects.filter(
        action="view", object_id=str(infusing.public_id), summary__contains="vital signs"
    ).exists()


# --- A monitor's batch ---------------------------------------------------------------------------


def test_a_monitors_batch_answers_the_readings_and_the_alerts_raised(client, nina, infusing):
    client.force_login(nina)
    now = timezone.now()
    batch = {
        "readings": [
            {"taken_at": utc(now - timedelta(minutes=6)), "systolic": 182, "diastolic": 96},
            {"taken_at": utc(now - timedelta(minutes=3)), "heart_rate": 88, "spo2": 96},
        ]
    }

    response = post(client, api(infusing, "readings/batch/"), batch)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert [r["source"] for r in body["readings"]] == ["monitor", "monitor"]
    assert [[f["parameter"] for f in a["findings"]] for a in body["alerts"]] == [["systolic"]]
    assert body["alerts"][0]["reading"] == body["readings"][0]["id"]
    assert VitalsReading.objects.filter(source=ReadingSource.MONITOR).count() == 2


def test_a_batch_with_a_bad_reading_saves_nothing_and_names_it(client, nina, infusing):
    client.force_login(nina)
    now = timezone.now()
    batch = {
        "readings": [
            {"taken_at": utc(now - timedelta(minutes=6)), "spo2": 85},
            {"taken_at": utc(now - timedelta(minutes=3)), "systolic": 80, "diastolic": 90},
        ]
    }

    response = post(client, api(infusing, "readings/batch/"), batch)

    assert response.status_code == 400
    problems = response.json()["readings"]
    assert len(problems) == 1
    assert problems[0].startswith("readings[1].diastolic:")
    nothing_saved()


def test_a_batch_reading_without_a_time_is_refused_by_index(client, nina, infusing):
    client.force_login(nina)

    response = post(client, api(infusing, "readings/batch/"), {"readings": [{"spo2": 97}]})

    assert response.status_code == 400
    assert response.json()["readings"] == [
        "readings[0].taken_at: Say when each reading was taken: give taken_at."
    ]
    nothing_saved()


def test_an_empty_batch_is_refused(client, nina, infusing):
    client.force_login(nina)
    response = post(client, api(infusing, "readings/batch/"), {"readings": []})
    assert response.status_code == 400
    assert "readings" in response.json()


# --- Alerts --------------------------------------------------------------------------------------


def test_alerts_are_listed_and_filtered_to_the_open_ones(client, nina, phil, infusing):
    first = record(nina, infusing, spo2=88, taken_at=timezone.now() - timedelta(minutes=5))
    record(nina, infusing, heart_rate=45)
    client.force_login(phil)
    post(
        client,
        api(infusing, f"alerts/{first.alerts.get().public_id}/acknowledge/"),
        {"action": "continue"},
    )

    every = client.get(api(infusing, "alerts/")).json()
    still_open = client.get(api(infusing, "alerts/"), {"open": "true"}).json()

    assert [a["findings"][0]["parameter"] for a in every] == ["spo2", "heart_rate"]
    assert [a["findings"][0]["parameter"] for a in still_open] == ["heart_rate"]
    assert every[0]["acknowledged_by"]["full_name"] == "Phil Physician"


def test_an_alert_is_acknowledged_through_the_api(client, phil, nina, infusing):
    alert = record(nina, infusing, systolic=195).alerts.get()
    client.force_login(phil)

    response = post(
        client,
        api(infusing, f"alerts/{alert.public_id}/acknowledge/"),
        {
            "action": "medication",
            "note": "BP rechecked",
            "medication_name": "Labetalol",
            "medication_dose": "10 mg",
            "medication_route": "iv",
        },
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["acknowledged"] is True
    assert body["action"] == "medication"
    assert body["acknowledged_by"]["full_name"] == "Phil Physician"
    assert SessionEvent.objects.get().alert == alert


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "action"),
        ({"action": "panic"}, "action"),
        ({"action": "medication", "medication_name": "Labetalol"}, "medication_dose"),
    ],
)
def test_a_bad_acknowledgement_is_a_400(client, nina, infusing, data, field):
    alert = record(nina, infusing, systolic=195).alerts.get()
    client.force_login(nina)

    response = post(client, api(infusing, f"alerts/{alert.public_id}/acknowledge/"), data)

    assert response.status_code == 400
    assert field in response.json()
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_acknowledging_twice_is_a_400(client, nina, infusing):
    alert = record(nina, infusing, systolic=195).alerts.get()
    client.force_login(nina)
    url = api(infusing, f"alerts/{alert.public_id}/acknowledge/")
    post(client, url, {"action": "slow"})

    response = post(client, url, {"action": "stop"})

    assert response.status_code == 400
    assert "already" in response.json()["alert"][0]
    infusing.refresh_from_db()
    assert infusing.state == S.INFUSING


def test_an_alert_is_found_only_through_its_session(client, nina, phil, infusing):
    other = session_in(nina, phil, S.INFUSING, location=infusing.appointment.location, hour=13)
    alert = record(nina, other, spo2=85).alerts.get()
    client.force_login(nina)

    response = post(
        client, api(infusing, f"alerts/{alert.public_id}/acknowledge/"), {"action": "continue"}
    )

    assert response.status_code == 404
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


# --- Events --------------------------------------------------------------------------------------


def test_events_are_recorded_and_listed(client, nina, infusing):
    client.force_login(nina)
    when = timezone.now() - timedelta(minutes=4)

    made = post(
        client,
        api(infusing, "events/"),
        {"occurred_at": utc(when), "side_effect": "vomiting", "severity": "moderate"},
    )
    listed = client.get(api(infusing, "events/"))

    assert made.status_code == 201, made.json()
    assert made.json()["occurred_at"] == utc(when)
    assert [e["side_effect"] for e in listed.json()] == ["vomiting"]
    assert listed.json()[0]["recorded_by"]["full_name"] == "Nina Nurse"


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "side_effect"),
        ({"side_effect": "nausea"}, "severity"),
        ({"side_effect": "sneezing", "severity": "mild"}, "side_effect"),
        ({"medication_name": "Ondansetron", "medication_route": "oral"}, "medication_dose"),
        ({"side_effect": "nausea", "severity": "mild", "occurred_at": "now"}, "occurred_at"),
    ],
)
def test_a_bad_event_is_a_400_with_nothing_saved(client, nina, infusing, data, field):
    client.force_login(nina)

    response = post(client, api(infusing, "events/"), data)

    assert response.status_code == 400
    assert field in response.json()
    assert SessionEvent.objects.count() == 0


# --- Who may -------------------------------------------------------------------------------------


def test_the_front_desk_can_neither_read_nor_record(client, fran, nina, infusing):
    alert = record(nina, infusing, spo2=85).alerts.get()
    client.force_login(fran)

    for tail in ["readings/", "alerts/", "events/"]:
        assert client.get(api(infusing, tail)).status_code == 403, tail
    assert post(client, api(infusing, "readings/"), READING).status_code == 403
    batch = {"readings": [{"taken_at": utc(timezone.now()), "spo2": 97}]}
    assert post(client, api(infusing, "readings/batch/"), batch).status_code == 403
    ack = api(infusing, f"alerts/{alert.public_id}/acknowledge/")
    assert post(client, ack, {"action": "continue"}).status_code == 403
    events = {"side_effect": "nausea", "severity": "mild"}
    assert post(client, api(infusing, "events/"), events).status_code == 403
    assert VitalsReading.objects.count() == 1
    assert SessionEvent.objects.count() == 0


def test_an_unknown_session_is_a_404(client, nina):
    client.force_login(nina)
    assert client.get(f"/api/v1/sessions/{uuid.uuid4()}/readings/").status_code == 404


def test_anonymous_callers_are_refused(client, infusing):
    assert client.get(api(infusing, "readings/")).status_code in (401, 403)
    assert post(client, api(infusing, "readings/"), READING).status_code in (401, 403)
    nothing_saved()


# --- The schema ----------------------------------------------------------------------------------


def test_the_flowsheet_endpoints_are_in_the_schema(client, db):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]

    base = "/api/v1/sessions/{session_id}/"
    assert set(paths[f"{base}readings/"]) == {"get", "post"}
    assert set(paths[f"{base}readings/batch/"]) == {"post"}
    assert set(paths[f"{base}alerts/"]) == {"get"}
    assert set(paths[f"{base}alerts/{{alert_id}}/acknowledge/"]) == {"post"}
    assert set(paths[f"{base}events/"]) == {"get", "post"}
    post_reading = paths[f"{base}readings/"]["post"]
    assert {"201", "400", "403", "404"} <= set(post_reading["responses"])
    assert "open" in {p["name"] for p in paths[f"{base}alerts/"]["get"]["parameters"]}


def test_acknowledge_action_choices_match_the_model(client, db):
    schema = client.get("/api/schema/", {"format": "json"}).json()
    request = schema["components"]["schemas"]["Acknowledge"]["properties"]["action"]
    enum_ref = request["allOf"][0]["$ref"].rsplit("/", 1)[1]
    assert schema["components"]["schemas"][enum_ref]["enum"] == AlertAction.values
