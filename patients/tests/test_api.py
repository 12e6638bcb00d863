"""The patients API: /api/v1/patients/ and what hangs under each patient.

Who may read and write what, through the same selectors and services as the pages;
bad input answered with a field error and nothing saved; every read and write audited.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from clinic.models import ApiToken, AuditEvent, Location
from patients.models import (
    IntakeSubmission,
    Measurement,
    Patient,
    PatientStatus,
    QuestionnaireResponse,
    ScreeningDecision,
    ScreeningOutcome,
    ScreeningResult,
)
from patients.questionnaires import definition_for
from patients.services.screening import screening_run
from patients.tests.factories import (
    IntakeSubmissionFactory,
    MeasurementFactory,
    PatientFactory,
    ScreeningDecisionFactory,
)
from patients.tests.test_decision import baseline_phq9
from patients.tests.test_intake import complete_answers
from tests.api_tokens import api_key_for

# The session and the signed-in user; the page of patients with their preferred locations
# (never counted: clinic.api.pagination); the audit event; the session's last-activity
# update (savepoint, update, release). The same however many patients.
LIST_QUERIES = 7

CLINICAL_READS = ["intakes", "measurements", "questionnaires", "screening", "decisions"]
PHQ9_KEYS = definition_for("phq9").item_keys


def phq9(value: int = 1, **overrides: int | None) -> dict[str, int | None]:
    return dict.fromkeys(PHQ9_KEYS, value) | overrides


def new_patient(**overrides) -> dict:
    return {
        "legal_first_name": "Dana",
        "legal_last_name": "Rivers",
        "date_of_birth": "1984-03-27",
        "sex_at_birth": "female",
        "email": "dana@example.com",
        "mobile": "+1 (212) 555-0142",
        "conditions": ["trd", "ptsd"],
    } | overrides


def vitals(**overrides) -> dict:
    return {"systolic": 124, "diastolic": 80, "heart_rate": 72, "spo2": 98} | overrides


def post(client, url: str, data: dict):
    return client.post(url, data, content_type="application/json")


def patch(client, url: str, data: dict):
    return client.patch(url, data, content_type="application/json")


@pytest.fixture
def patient(db) -> Patient:
    return PatientFactory(legal_first_name="Robin", legal_last_name="Okafor", mobile="+12125550199")


@pytest.fixture
def screened(patient, nina) -> ScreeningResult:
    """An intake, a measurement and a baseline PHQ-9, screened: the result a physician
    decides on, with no fact left unrecorded."""
    IntakeSubmissionFactory(patient=patient, answers=complete_answers())
    MeasurementFactory(patient=patient)
    baseline_phq9(patient)
    return screening_run(patient=patient, actor=nina)


@pytest.fixture
def riverside(db) -> Location:
    return Location.objects.create(
        name="Riverside", address_line1="1 River Road", city="Austin", time_zone="America/Chicago"
    )


def patient_events():
    """Audit events about patient data (signing in is audited too)."""
    return AuditEvent.objects.filter(object_type__startswith="patients.")


def views_of(user, patient: Patient) -> int:
    return AuditEvent.objects.filter(
        actor=user, action=AuditEvent.Action.VIEW, object_id=str(patient.public_id)
    ).count()


# --- Who may call what ----------------------------------------------------------------------


def all_urls(patient: Patient) -> list[str]:
    base = f"/api/v1/patients/{patient.public_id}/"
    return ["/api/v1/patients/", base, *(f"{base}{part}/" for part in CLINICAL_READS)]


def test_it_refuses_anonymous_callers_and_saves_nothing(client, patient):
    for url in all_urls(patient):
        assert client.get(url).status_code == 401, url
        assert post(client, url, {}).status_code in (401, 405), url
    assert post(client, "/api/v1/patients/", new_patient()).status_code == 401
    assert Patient.objects.count() == 1
    assert not patient_events().exists()


def test_it_refuses_content_editors_everything(client, edie, patient, screened):
    client.force_login(edie)

    for url in all_urls(patient):
        assert client.get(url).status_code == 403, url
    assert post(client, "/api/v1/patients/", new_patient()).status_code == 403
    base = f"/api/v1/patients/{patient.public_id}/"
    assert patch(client, base, {"email": "x@example.com"}).status_code == 403
    assert post(client, f"{base}measurements/", vitals()).status_code == 403
    assert post(client, f"{base}intakes/", {"answers": complete_answers()}).status_code == 403
    assert (
        post(
            client, f"{base}questionnaires/", {"instrument": "phq9", "answers": phq9()}
        ).status_code
        == 403
    )
    decision = {"screening": str(screened.public_id), "decision": "approve", "reason": "Fine."}
    assert post(client, f"{base}decisions/", decision).status_code == 403
    assert Patient.objects.count() == 1
    assert Measurement.objects.count() == 1
    assert not ScreeningDecision.objects.exists()
    assert not patient_events().filter(actor=edie).exists()


@pytest.mark.parametrize("persona", ["fran", "nina", "phil", "alice"])
def test_it_lists_patients_to_staff_who_may_see_them(request, client, patient, persona):
    client.force_login(request.getfixturevalue(persona))

    response = client.get("/api/v1/patients/")

    assert response.status_code == 200
    assert [row["id"] for row in response.json()["results"]] == [str(patient.public_id)]


@pytest.mark.parametrize("part", CLINICAL_READS)
@pytest.mark.parametrize("persona", ["fran", "alice"])
def test_front_desk_and_admins_may_not_read_clinical_detail(
    request, client, patient, screened, persona, part
):
    user = request.getfixturevalue(persona)
    client.force_login(user)

    response = client.get(f"/api/v1/patients/{patient.public_id}/{part}/")

    assert response.status_code == 403
    assert "results" not in response.json()
    assert views_of(user, patient) == 0


@pytest.mark.parametrize("part", CLINICAL_READS)
@pytest.mark.parametrize("persona", ["nina", "phil"])
def test_nurses_and_physicians_read_clinical_detail(
    request, client, patient, screened, persona, part
):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(f"/api/v1/patients/{patient.public_id}/{part}/")

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("persona", "sees_clinical"),
    [("fran", False), ("alice", False), ("nina", True), ("phil", True)],
)
def test_the_details_show_weight_and_height_to_clinicians_only(
    request, client, patient, persona, sees_clinical
):
    patient.weight_kg, patient.height_cm = Decimal("72.5"), Decimal("170")
    patient.save()
    client.force_login(request.getfixturevalue(persona))

    body = client.get(f"/api/v1/patients/{patient.public_id}/").json()

    assert body["id"] == str(patient.public_id)
    assert body["legal_last_name"] == "Okafor"
    assert body["date_of_birth"] == "1984-03-27"
    assert body["status"] == "consultation_requested"
    assert body["conditions"] == ["trd"]
    if sees_clinical:
        assert body["clinical"] == {"weight_kg": "72.5", "height_cm": "170.0"}
    else:
        assert body["clinical"] is None
    assert "pk" not in body


def test_it_answers_404_for_an_unknown_patient(client, nina):
    client.force_login(nina)

    assert client.get(f"/api/v1/patients/{uuid.uuid4()}/").status_code == 404
    assert client.get(f"/api/v1/patients/{uuid.uuid4()}/measurements/").status_code == 404
    assert (
        post(client, f"/api/v1/patients/{uuid.uuid4()}/measurements/", vitals()).status_code == 404
    )
    assert not Measurement.objects.exists()


def test_it_works_with_a_token_and_no_session(client, nina, patient):
    auth = {"HTTP_AUTHORIZATION": f"Token {api_key_for(nina)}"}

    read = client.get(f"/api/v1/patients/{patient.public_id}/", **auth)
    write = client.post(
        f"/api/v1/patients/{patient.public_id}/measurements/",
        vitals(),
        content_type="application/json",
        **auth,
    )

    assert read.status_code == 200
    assert write.status_code == 201
    assert Measurement.objects.get().taken_by == nina


def test_it_refuses_a_revoked_token(client, nina, patient):
    key = api_key_for(nina)
    ApiToken.objects.filter(user=nina).delete()

    response = client.get("/api/v1/patients/", HTTP_AUTHORIZATION=f"Token {key}")

    assert response.status_code == 401


# --- The list -------------------------------------------------------------------------------


def listed(client, **params) -> list[str]:
    response = client.get("/api/v1/patients/", params)
    assert response.status_code == 200, response.json()
    return [row["legal_last_name"] for row in response.json()["results"]]


def test_it_searches_by_name_date_of_birth_phone_and_email(client, fran, riverside):
    PatientFactory(legal_last_name="Okafor", date_of_birth="1990-01-02", mobile="+12125550100")
    PatientFactory(
        legal_last_name="Lindqvist",
        email="lin@example.org",
        mobile="+441632960001",
        preferred_location=riverside,
        conditions=["migraine"],
        status=PatientStatus.APPROVED,
    )
    client.force_login(fran)

    assert listed(client) == ["Lindqvist", "Okafor"]
    assert listed(client, q="okaf") == ["Okafor"]
    assert listed(client, q="1990-01-02") == ["Okafor"]
    assert listed(client, q="01/02/1990") == ["Okafor"]
    assert listed(client, q="+44 1632 960001") == ["Lindqvist"]
    assert listed(client, q="lin@example.org") == ["Lindqvist"]
    assert listed(client, status="approved") == ["Lindqvist"]
    assert listed(client, condition="migraine") == ["Lindqvist"]
    assert listed(client, location=str(riverside.public_id)) == ["Lindqvist"]
    assert listed(client, q="nobody") == []


@pytest.mark.parametrize(
    ("params", "field", "says"),
    [
        ({"q": "02/30/1984"}, "q", "not a real date"),
        ({"status": "maybe"}, "status", "Choose a status"),
        ({"condition": "flu"}, "condition", "Choose a condition"),
        ({"location": "nowhere"}, "location", "location's id"),
        ({"location": str(uuid.uuid4())}, "location", "no location with that id"),
    ],
)
def test_a_bad_filter_is_a_400_that_says_what_to_fix(client, fran, patient, params, field, says):
    client.force_login(fran)

    response = client.get("/api/v1/patients/", params)

    assert response.status_code == 400
    assert says in response.json()[field][0]


@pytest.mark.parametrize("count", [1, 5])
def test_it_lists_patients_in_a_fixed_number_of_queries(
    client, fran, riverside, django_assert_num_queries, count
):
    PatientFactory.create_batch(count, preferred_location=riverside)
    client.force_login(fran)

    with django_assert_num_queries(LIST_QUERIES):
        response = client.get("/api/v1/patients/")

    assert len(response.json()["results"]) == count
    assert {row["preferred_location"] for row in response.json()["results"]} == {
        str(riverside.public_id)
    }


def test_reading_the_list_is_audited_without_names(client, fran, patient):
    client.force_login(fran)

    client.get("/api/v1/patients/", {"q": "Okafor"})

    event = AuditEvent.objects.get(actor=fran, action=AuditEvent.Action.VIEW)
    assert event.object_type == "patients.patient"
    assert "1 shown" in event.summary
    assert "Okafor" not in event.summary + event.object_label


# --- Every read is audited -------------------------------------------------------------------


@pytest.mark.parametrize("part", ["", *(f"{part}/" for part in CLINICAL_READS)])
def test_every_read_of_a_patient_is_in_the_audit_log(client, phil, patient, screened, part):
    client.force_login(phil)

    response = client.get(f"/api/v1/patients/{patient.public_id}/{part}")

    assert response.status_code == 200
    event = AuditEvent.objects.get(actor=phil, action=AuditEvent.Action.VIEW)
    assert event.object_id == str(patient.public_id)
    assert "through the API" in event.summary
    assert event.object_label == ""


# --- Patient details -------------------------------------------------------------------------


def test_the_front_desk_adds_a_patient(client, fran, riverside):
    client.force_login(fran)

    response = post(
        client, "/api/v1/patients/", new_patient(preferred_location=str(riverside.public_id))
    )

    assert response.status_code == 201, response.json()
    created = Patient.objects.get()
    body = response.json()
    assert body["id"] == str(created.public_id)
    assert body["status"] == "consultation_requested"
    assert body["mobile"] == "+12125550142"
    assert body["conditions"] == ["trd", "ptsd"]
    assert body["preferred_location"] == str(riverside.public_id)
    assert created.preferred_location == riverside
    event = AuditEvent.objects.get(actor=fran, action=AuditEvent.Action.CREATE)
    assert event.object_id == str(created.public_id)


def test_a_nurse_may_record_weight_and_height_when_adding_a_patient(client, nina):
    client.force_login(nina)

    response = post(client, "/api/v1/patients/", new_patient(weight_kg="72.46", height_cm=170))

    assert response.status_code == 201, response.json()
    assert response.json()["clinical"] == {"weight_kg": "72.5", "height_cm": "170.0"}


def test_the_front_desk_may_not_record_weight_or_height(client, fran, patient):
    client.force_login(fran)

    created = post(client, "/api/v1/patients/", new_patient(weight_kg=72))
    changed = patch(client, f"/api/v1/patients/{patient.public_id}/", {"height_cm": 170})

    assert created.status_code == 403
    assert "weight_kg" in created.json()["detail"]
    assert changed.status_code == 403
    assert Patient.objects.count() == 1
    patient.refresh_from_db()
    assert patient.height_cm is None


def test_adding_a_patient_without_the_essentials_says_what_is_missing(client, fran):
    client.force_login(fran)

    response = post(client, "/api/v1/patients/", {})

    assert response.status_code == 400
    errors = response.json()
    assert set(errors) == {"legal_first_name", "legal_last_name", "date_of_birth", "sex_at_birth"}
    assert "legal first name" in errors["legal_first_name"][0]
    assert not Patient.objects.exists()


def test_it_changes_only_the_details_sent_and_audits_the_change(client, fran, patient):
    client.force_login(fran)

    response = patch(
        client, f"/api/v1/patients/{patient.public_id}/", {"mobile": "+1 212 555 0123"}
    )

    assert response.status_code == 200, response.json()
    assert response.json()["mobile"] == "+12125550123"
    patient.refresh_from_db()
    assert patient.mobile == "+12125550123"
    assert patient.legal_last_name == "Okafor"
    event = AuditEvent.objects.get(actor=fran, action=AuditEvent.Action.UPDATE)
    assert event.object_id == str(patient.public_id)
    assert event.summary == "changed mobile"


def test_a_patch_that_changes_nothing_is_still_an_audited_read(client, fran, patient):
    client.force_login(fran)

    response = patch(client, f"/api/v1/patients/{patient.public_id}/", {"mobile": patient.mobile})

    assert response.status_code == 200
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE).exists()
    assert views_of(fran, patient) == 1


def test_status_is_not_changed_through_the_details(client, fran, patient):
    client.force_login(fran)

    patch(client, f"/api/v1/patients/{patient.public_id}/", {"status": "approved"})

    patient.refresh_from_db()
    assert patient.status == PatientStatus.CONSULTATION_REQUESTED


def test_a_patient_keeps_their_deactivated_location_but_cannot_move_to_one(
    client, fran, patient, riverside
):
    hilltop = Location.objects.create(name="Hilltop", time_zone="UTC", is_active=False)
    patient.preferred_location = hilltop
    patient.save()
    client.force_login(fran)
    url = f"/api/v1/patients/{patient.public_id}/"

    kept = patch(client, url, {"preferred_location": str(hilltop.public_id), "city": "Austin"})
    moved = patch(client, url, {"preferred_location": str(riverside.public_id)})
    other = PatientFactory()
    refused = patch(
        client,
        f"/api/v1/patients/{other.public_id}/",
        {"preferred_location": str(hilltop.public_id)},
    )

    assert kept.status_code == 200, kept.json()
    assert moved.json()["preferred_location"] == str(riverside.public_id)
    assert refused.status_code == 400
    assert "no location with that id" in refused.json()["preferred_location"][0]


TOMORROW = (timezone.localdate() + timedelta(days=1)).isoformat()
LONG_AGO = (timezone.localdate() - timedelta(days=121 * 366)).isoformat()

BAD_DETAILS = [
    ({"date_of_birth": TOMORROW}, "date_of_birth", "in the future"),
    ({"date_of_birth": LONG_AGO}, "date_of_birth", "over 120"),
    ({"date_of_birth": "27/03/1984"}, "date_of_birth", "YYYY-MM-DD"),
    ({"mobile": "555-0142"}, "mobile", "with its area code"),
    ({"mobile": "+1 212 555 0142 ext 9"}, "mobile", "with its area code"),
    ({"emergency_contact_phone": "call me"}, "emergency_contact_phone", "with its area code"),
    ({"email": "dana@"}, "email", "valid email address"),
    ({"email": "not an email"}, "email", "valid email address"),
    ({"sex_at_birth": "unknown"}, "sex_at_birth", "Choose the sex at birth"),
    ({"conditions": ["flu"]}, "conditions", "Choose conditions from"),
    ({"country": "USA"}, "country", "two-letter"),
    ({"legal_first_name": "\x00"}, "legal_first_name", "Null characters"),
]


@pytest.mark.parametrize(("changes", "field", "says"), BAD_DETAILS)
def test_bad_details_are_refused_when_adding_a_patient(client, fran, changes, field, says):
    client.force_login(fran)

    response = post(client, "/api/v1/patients/", new_patient(**changes))

    assert response.status_code == 400
    assert says in str(response.json()[field])
    assert not Patient.objects.exists()
    assert not patient_events().exists()


@pytest.mark.parametrize(("changes", "field", "says"), BAD_DETAILS)
def test_bad_details_are_refused_when_changing_a_patient(
    client, fran, patient, changes, field, says
):
    client.force_login(fran)
    before = Patient.objects.values().get()

    response = patch(client, f"/api/v1/patients/{patient.public_id}/", changes)

    assert response.status_code == 400
    assert says in str(response.json()[field])
    assert Patient.objects.values().get() == before
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE).exists()


@pytest.mark.parametrize("weight", ["29.9", 301, "heavy"])
def test_a_weight_outside_30_to_300_kg_is_refused_on_the_record(client, nina, patient, weight):
    client.force_login(nina)

    response = patch(client, f"/api/v1/patients/{patient.public_id}/", {"weight_kg": weight})

    assert response.status_code == 400
    assert "weight in kg" in response.json()["weight_kg"][0]
    patient.refresh_from_db()
    assert patient.weight_kg is None


# --- Measurements ----------------------------------------------------------------------------


def test_a_nurse_records_a_measurement_and_the_patient_is_screened_again(client, nina, patient):
    client.force_login(nina)

    response = post(
        client, f"/api/v1/patients/{patient.public_id}/measurements/", vitals(weight_kg="80.25")
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["systolic"] == 124
    assert body["weight_kg"] == "80.3"
    assert body["taken_by"] == "Nina Nurse"
    measurement = Measurement.objects.get()
    assert ScreeningResult.objects.get(patient=patient).measurement == measurement
    patient.refresh_from_db()
    assert patient.weight_kg == Decimal("80.3")
    assert AuditEvent.objects.filter(
        actor=nina, action=AuditEvent.Action.CREATE, object_type="patients.measurement"
    ).exists()

    listed = client.get(f"/api/v1/patients/{patient.public_id}/measurements/").json()
    assert [row["diastolic"] for row in listed["results"]] == [80]


@pytest.mark.parametrize("persona", ["fran", "alice"])
def test_front_desk_and_admins_may_not_record_measurements(request, client, patient, persona):
    client.force_login(request.getfixturevalue(persona))

    response = post(client, f"/api/v1/patients/{patient.public_id}/measurements/", vitals())

    assert response.status_code == 403
    assert not Measurement.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"diastolic": 124}, "diastolic", "must be lower than the systolic"),
        ({"systolic": 80, "diastolic": 90}, "diastolic", "must be lower than the systolic"),
        ({"systolic": 59}, "systolic", "between 60 and 260"),
        ({"systolic": 261}, "systolic", "between 60 and 260"),
        ({"diastolic": 29}, "diastolic", "between 30 and 160"),
        ({"heart_rate": 24}, "heart_rate", "between 25 and 250"),
        ({"heart_rate": 251}, "heart_rate", "between 25 and 250"),
        ({"spo2": 49}, "spo2", "between 50 and 100"),
        ({"spo2": 101}, "spo2", "between 50 and 100"),
        ({"weight_kg": "29.9"}, "weight_kg", "between 30 and 300"),
        ({"weight_kg": "300.1"}, "weight_kg", "between 30 and 300"),
        ({"weight_kg": "NaN"}, "weight_kg", "as a number"),
        ({"systolic": "high"}, "systolic", "whole number"),
        ({"spo2": None}, "spo2", "Enter the oxygen saturation"),
        ({"taken_at": "2999-01-01T00:00:00Z"}, "taken_at", "in the future"),
    ],
)
def test_a_bad_measurement_is_refused_and_nothing_is_saved(
    client, nina, patient, changes, field, says
):
    client.force_login(nina)

    response = post(
        client, f"/api/v1/patients/{patient.public_id}/measurements/", vitals(**changes)
    )

    assert response.status_code == 400
    assert says in response.json()[field][0]
    assert not Measurement.objects.exists()
    assert not ScreeningResult.objects.exists()
    assert not patient_events().exists()


def test_a_measurement_with_nothing_in_it_names_every_missing_reading(client, nina, patient):
    client.force_login(nina)

    response = post(client, f"/api/v1/patients/{patient.public_id}/measurements/", {})

    assert response.status_code == 400
    assert set(response.json()) == {"systolic", "diastolic", "heart_rate", "spo2"}


# --- Intakes ---------------------------------------------------------------------------------


def test_a_nurse_enters_an_intake_as_a_new_version_and_the_patient_awaits_a_decision(
    client, nina, patient
):
    client.force_login(nina)
    url = f"/api/v1/patients/{patient.public_id}/intakes/"

    first = post(client, url, {"answers": complete_answers()})
    second = post(client, url, {"answers": complete_answers(hypertension="yes")})

    assert first.status_code == 201, first.json()
    assert (first.json()["version"], second.json()["version"]) == (1, 2)
    assert first.json()["entered_by"] == "Nina Nurse"
    assert first.json()["through_patient_link"] is False
    patient.refresh_from_db()
    assert patient.status == PatientStatus.AWAITING_DECISION
    assert ScreeningResult.objects.filter(patient=patient).count() == 2
    listed = client.get(url).json()["results"]
    assert [row["version"] for row in listed] == [2, 1]
    assert listed[0]["answers"]["hypertension"] == "yes"
    assert listed[1]["answers"]["hypertension"] == "no"
    assert (
        AuditEvent.objects.filter(
            actor=nina, action=AuditEvent.Action.CREATE, object_type="patients.intakesubmission"
        ).count()
        == 2
    )


def test_an_intake_takes_and_returns_the_medication_list(client, nina, patient):
    client.force_login(nina)
    medicines = [
        {"drug_key": "alprazolam", "strength_mg": "1.5", "frequency": "twice_daily"},
        {"name": "fish oil"},
    ]

    response = post(
        client,
        f"/api/v1/patients/{patient.public_id}/intakes/",
        {
            "answers": complete_answers(takes_medicines="yes"),
            "medications": [m | {"status": "current", "units_each_time": "1"} for m in medicines],
        },
    )

    assert response.status_code == 201, response.json()
    listed = response.json()["medications"]
    assert [(m["drug_key"], m["other_name"]) for m in listed] == [
        ("alprazolam", ""),
        ("", "fish oil"),
    ]
    screening = ScreeningResult.objects.get(patient=patient)
    assert screening.facts["benzodiazepine_lorazepam_mg"] == "6"


def test_a_wrong_medicine_is_refused_with_what_to_fix(client, nina, patient):
    client.force_login(nina)

    response = post(
        client,
        f"/api/v1/patients/{patient.public_id}/intakes/",
        {
            "answers": complete_answers(takes_medicines="yes"),
            "medications": [{"drug_key": "sertraline", "strength_mg": "0", "status": "current"}],
        },
    )

    assert response.status_code == 400
    assert response.json()["medications"] == [
        "Medicine 1: Enter more than 0 mg, or leave it blank if you don't know."
    ]
    assert not IntakeSubmission.objects.exists()


def test_an_incomplete_intake_is_refused_with_the_question_to_answer(client, nina, patient):
    client.force_login(nina)

    response = post(
        client,
        f"/api/v1/patients/{patient.public_id}/intakes/",
        {"answers": complete_answers(takes_medicines=None, hypertension="sometimes")},
    )

    assert response.status_code == 400
    errors = response.json()["answers"]
    assert set(errors) == {"takes_medicines", "hypertension"}
    assert "Answer this question" in errors["takes_medicines"][0]
    assert not IntakeSubmission.objects.exists()
    assert not ScreeningResult.objects.exists()


@pytest.mark.parametrize("part", ["intakes", "questionnaires"])
@pytest.mark.parametrize("body", [{}, {"instrument": "phq9", "answers": ["no"]}])
def test_answers_must_come_as_an_object(client, nina, patient, part, body):
    client.force_login(nina)

    response = post(client, f"/api/v1/patients/{patient.public_id}/{part}/", body)

    assert response.status_code == 400
    assert "Send the answers" in response.json()["answers"][0]
    assert not IntakeSubmission.objects.exists()
    assert not QuestionnaireResponse.objects.exists()


def test_the_front_desk_may_not_enter_an_intake(client, fran, patient):
    client.force_login(fran)

    response = post(
        client, f"/api/v1/patients/{patient.public_id}/intakes/", {"answers": complete_answers()}
    )

    assert response.status_code == 403
    assert not IntakeSubmission.objects.exists()


# --- Questionnaires --------------------------------------------------------------------------


def test_a_nurse_records_a_baseline_phq9_and_it_is_scored(client, nina, patient):
    client.force_login(nina)
    url = f"/api/v1/patients/{patient.public_id}/questionnaires/"

    response = post(client, url, {"instrument": "phq9", "answers": phq9(2, q9=0)})

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["instrument"], body["context"], body["total"]) == ("phq9", "baseline", 16)
    assert body["item9_positive"] is False
    assert ScreeningResult.objects.get(patient=patient).phq9 == QuestionnaireResponse.objects.get()
    assert [row["total"] for row in client.get(url).json()["results"]] == [16]


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ({"instrument": "phq9", "answers": phq9(q4=4)}, "q4", None),
        ({"instrument": "phq9", "answers": phq9(q4=None)}, "q4", None),
        ({"instrument": "phq9", "answers": phq9(q10=1)}, "q10", "remove it"),
        ({"instrument": "phq9", "answers": phq9(q4="often")}, "q4", "whole number"),
        ({"instrument": "bdi", "answers": phq9()}, "instrument", "Choose a questionnaire"),
        ({"instrument": "phq9", "context": "later", "answers": phq9()}, "context", "Choose when"),
    ],
)
def test_a_bad_questionnaire_is_refused_and_nothing_is_saved(
    client, nina, patient, body, field, says
):
    client.force_login(nina)

    response = post(client, f"/api/v1/patients/{patient.public_id}/questionnaires/", body)

    assert response.status_code == 400
    errors = response.json()
    message = errors[field] if field in ("instrument", "context") else errors["answers"][field]
    assert says is None or says in message[0]
    assert not QuestionnaireResponse.objects.exists()


# --- Screening and decisions -----------------------------------------------------------------


def test_the_screening_result_comes_with_its_findings_and_rule_set(client, phil, patient, screened):
    client.force_login(phil)

    body = client.get(f"/api/v1/patients/{patient.public_id}/screening/").json()

    assert body["id"] == str(screened.public_id)
    assert body["outcome"] == screened.outcome
    assert body["ruleset_version"] == screened.ruleset_version
    assert body["findings"] == screened.findings
    assert body["intake_version"] == screened.intake.version


def test_there_is_no_screening_result_before_anything_is_recorded(client, phil, patient):
    client.force_login(phil)

    response = client.get(f"/api/v1/patients/{patient.public_id}/screening/")

    assert response.status_code == 404
    assert "record an intake" in response.json()["detail"]


def test_a_physician_approves_on_the_latest_screening_result(client, phil, patient, screened):
    client.force_login(phil)
    url = f"/api/v1/patients/{patient.public_id}/decisions/"

    response = post(
        client,
        url,
        {"screening": str(screened.public_id), "decision": "approve", "reason": "No concerns."},
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["decision"] == "approve"
    assert body["screening"] == str(screened.public_id)
    assert body["ruleset_version"] == screened.ruleset_version
    assert body["decided_by"] == "Phil Physician"
    patient.refresh_from_db()
    assert patient.status == PatientStatus.APPROVED
    assert AuditEvent.objects.filter(
        actor=phil, action=AuditEvent.Action.CREATE, object_type="patients.screeningdecision"
    ).exists()
    assert [row["id"] for row in client.get(url).json()["results"]] == [body["id"]]


@pytest.mark.parametrize("persona", ["nina", "fran", "alice"])
def test_only_a_physician_may_decide(request, client, patient, screened, persona):
    client.force_login(request.getfixturevalue(persona))

    response = post(
        client,
        f"/api/v1/patients/{patient.public_id}/decisions/",
        {"screening": str(screened.public_id), "decision": "approve", "reason": "Looks fine."},
    )

    assert response.status_code == 403
    assert "Only a physician" in response.json()["detail"]
    assert not ScreeningDecision.objects.exists()
    patient.refresh_from_db()
    assert patient.status != PatientStatus.APPROVED


def test_a_decision_on_an_old_screening_result_is_refused(client, phil, nina, patient, screened):
    MeasurementFactory(patient=patient, systolic=150)
    newer = screening_run(patient=patient, actor=nina)
    client.force_login(phil)

    response = post(
        client,
        f"/api/v1/patients/{patient.public_id}/decisions/",
        {"screening": str(screened.public_id), "decision": "approve", "reason": "Looks fine."},
    )

    assert response.status_code == 400
    assert "newer screening result" in response.json()["screening"][0]
    assert not ScreeningDecision.objects.exists()
    assert newer.decisions.count() == 0


def test_after_a_new_measurement_the_decision_must_be_made_again_on_the_new_result(
    client, phil, nina, patient, screened
):
    ScreeningDecisionFactory(patient=patient, screening=screened, decided_by=phil)
    client.force_login(nina)
    post(client, f"/api/v1/patients/{patient.public_id}/measurements/", vitals())
    client.force_login(phil)
    url = f"/api/v1/patients/{patient.public_id}/decisions/"

    stale = post(
        client,
        url,
        {"screening": str(screened.public_id), "decision": "approve", "reason": "Same."},
    )
    latest = client.get(f"/api/v1/patients/{patient.public_id}/screening/").json()["id"]
    fresh = post(client, url, {"screening": latest, "decision": "approve", "reason": "Rechecked."})

    assert stale.status_code == 400
    assert fresh.status_code == 201
    assert ScreeningDecision.objects.count() == 2


def test_a_decision_on_another_patients_screening_result_is_refused(
    client, phil, patient, screened
):
    other = PatientFactory()
    client.force_login(phil)

    response = post(
        client,
        f"/api/v1/patients/{other.public_id}/decisions/",
        {"screening": str(screened.public_id), "decision": "approve", "reason": "Looks fine."},
    )

    assert response.status_code == 400
    assert "not this patient's" in response.json()["screening"][0]
    assert not ScreeningDecision.objects.exists()


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"decision": "defer"}, "needed", "what is needed"),
        ({"reason": ""}, "reason", "Say why"),
        ({"decision": "maybe"}, "decision", "approve, defer or decline"),
        ({"screening": "latest"}, "screening", "Give the id"),
    ],
)
def test_a_decision_that_is_missing_something_says_what(
    client, phil, patient, screened, changes, field, says
):
    client.force_login(phil)
    body = {"screening": str(screened.public_id), "decision": "approve", "reason": "Fine."}

    response = post(client, f"/api/v1/patients/{patient.public_id}/decisions/", body | changes)

    assert response.status_code == 400
    assert says in response.json()[field][0]
    assert not ScreeningDecision.objects.exists()


def test_approving_over_a_contraindication_needs_a_written_justification(
    client, phil, patient, screened
):
    ScreeningResult.objects.filter(pk=screened.pk).update(outcome=ScreeningOutcome.CONTRAINDICATED)
    client.force_login(phil)
    url = f"/api/v1/patients/{patient.public_id}/decisions/"
    body = {"screening": str(screened.public_id), "decision": "approve", "reason": "Reviewed."}

    refused = post(client, url, body)
    approved = post(
        client,
        url,
        body | {"override_justification": "Cardiologist cleared the patient in writing today."},
    )

    assert refused.status_code == 400
    assert "contraindication" in refused.json()["override_justification"][0]
    assert approved.status_code == 201
    assert approved.json()["override_justification"].startswith("Cardiologist")


# --- The schema ------------------------------------------------------------------------------


def test_every_patient_endpoint_is_in_the_openapi_schema(client, db):
    paths = client.get("/api/schema/", {"format": "json"}).json()["paths"]

    base = "/api/v1/patients/{patient_id}/"
    assert set(paths["/api/v1/patients/"]) == {"get", "post"}
    assert set(paths[base]) == {"get", "patch"}
    for part in ["intakes", "measurements", "questionnaires", "decisions"]:
        assert set(paths[f"{base}{part}/"]) == {"get", "post"}, part
    assert set(paths[f"{base}screening/"]) == {"get"}
    decision = paths[f"{base}decisions/"]["post"]
    assert decision["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/DecisionWrite"
    }
    assert {"201", "400", "403"} <= set(decision["responses"])
