"""Staff pages that change the patient record: details, contact consent, measurements and
questionnaires. Bad input is shown next to its field and saves nothing."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from clinic.audit import Action
from clinic.models import AuditEvent, Location
from patients.models import (
    CommunicationConsent,
    Measurement,
    Patient,
    PatientStatus,
    QuestionnaireResponse,
    ScreeningResult,
)
from patients.tests.factories import CommunicationConsentFactory, PatientFactory


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def riverside(db) -> Location:
    return Location.objects.create(
        name="Riverside",
        address_line1="1 River Road",
        city="New York",
        phone="+12125550100",
        time_zone="America/New_York",
    )


@pytest.fixture
def patient(db) -> Patient:
    return PatientFactory(legal_first_name="Jordan", legal_last_name="Rivera")


def new_patient_form(**overrides) -> dict:
    return {
        "legal_first_name": "Amara",
        "legal_last_name": "Okafor",
        "date_of_birth": "1990-11-02",
        "sex_at_birth": "female",
        "email": "amara@example.org",
        "mobile": "+44 20 7946 0958",
        "country": "US",
        "conditions": ["ptsd"],
        **overrides,
    }


def field_errors(response, field: str) -> list[str]:
    return response.context["form"].errors.get(field, [])


def audit_events(action: Action) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("id"))


# --- Adding and editing a patient ---------------------------------------------------------


def test_the_front_desk_adds_a_patient(signed_in, fran, riverside):
    response = signed_in(fran).post(
        "/staff/patients/new/",
        new_patient_form(preferred_location=str(riverside.public_id), date_of_birth="11/02/1990"),
    )

    patient = Patient.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/staff/patients/{patient.public_id}/"
    assert patient.status == PatientStatus.CONSULTATION_REQUESTED
    assert patient.date_of_birth == date(1990, 11, 2)
    assert patient.mobile == "+442079460958"
    assert patient.preferred_location == riverside
    [event] = audit_events(Action.CREATE)
    assert (event.actor, event.object_id) == (fran, str(patient.public_id))


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"date_of_birth": "2999-01-01"}, "date_of_birth", "in the future"),
        ({"date_of_birth": "1890-01-01"}, "date_of_birth", "over 120"),
        ({"date_of_birth": "27.03.1984"}, "date_of_birth", "YYYY-MM-DD or MM/DD/YYYY"),
        ({"mobile": "555-0142"}, "mobile", "with its area code"),
        ({"email": "amara@"}, "email", "valid email address"),
        ({"legal_last_name": ""}, "legal_last_name", "legal last name"),
        ({"conditions": ["flu"]}, "conditions", "flu is not in the list"),
        ({"preferred_location": "nowhere"}, "preferred_location", "not in the list"),
    ],
)
def test_bad_details_are_shown_next_to_the_field_and_nothing_is_saved(
    signed_in, fran, overrides, field, message
):
    response = signed_in(fran).post("/staff/patients/new/", new_patient_form(**overrides))

    assert response.status_code == 200
    assert message in " ".join(field_errors(response, field))
    assert f'id="error_1_id_{field}"' in response.content.decode() or field == "conditions"
    assert not Patient.objects.exists()


def test_weight_and_height_are_for_clinicians(signed_in, fran, nina):
    front_desk = signed_in(fran).get("/staff/patients/new/")
    nurse = signed_in(nina).get("/staff/patients/new/")

    assert "weight_kg" not in front_desk.context["form"].fields
    assert "weight_kg" in nurse.context["form"].fields


def test_a_nurse_gets_a_clear_message_for_a_weight_out_of_range(signed_in, nina):
    response = signed_in(nina).post("/staff/patients/new/", new_patient_form(weight_kg="25"))

    assert "between 30 and 300" in field_errors(response, "weight_kg")[0]
    assert not Patient.objects.exists()


def test_the_front_desk_edits_details_and_the_change_is_logged(signed_in, fran, patient):
    client = signed_in(fran)
    form = client.get(f"/staff/patients/{patient.public_id}/edit/").context["form"]
    data = {name: value for name, value in form.initial.items() if value not in (None, "")}
    data["date_of_birth"] = patient.date_of_birth.isoformat()

    response = client.post(
        f"/staff/patients/{patient.public_id}/edit/", data | {"city": "Brooklyn"}
    )

    assert response.status_code == 302
    patient.refresh_from_db()
    assert patient.city == "Brooklyn"
    [change] = audit_events(Action.UPDATE)
    assert change.summary == "changed city"
    [view] = audit_events(Action.VIEW)
    assert view.summary == "viewed the details form"


def test_an_edit_with_a_bad_date_of_birth_changes_nothing(signed_in, fran, patient):
    future = (timezone.localdate() + timedelta(days=3)).isoformat()
    data = new_patient_form(date_of_birth=future, legal_last_name="Changed")

    response = signed_in(fran).post(f"/staff/patients/{patient.public_id}/edit/", data)

    assert "in the future" in field_errors(response, "date_of_birth")[0]
    patient.refresh_from_db()
    assert patient.legal_last_name == "Rivera"
    assert audit_events(Action.UPDATE) == []


@pytest.mark.parametrize(
    "url",
    ["/staff/patients/new/", "/staff/patients/{id}/edit/", "/staff/patients/{id}/contact-consent/"],
)
def test_a_content_editor_cannot_change_patient_details(signed_in, edie, patient, url):
    response = signed_in(edie).get(url.format(id=patient.public_id))

    assert response.status_code == 403


# --- Contact consent ----------------------------------------------------------------------


def test_the_front_desk_records_consent_to_texts(signed_in, fran, patient):
    response = signed_in(fran).post(
        f"/staff/patients/{patient.public_id}/contact-consent/",
        {"channel": "sms", "granted": "yes", "method": "by phone", "wording": ""},
    )

    assert response.status_code == 302
    consent = CommunicationConsent.objects.get()
    assert (consent.channel, consent.granted, consent.recorded_by) == ("sms", True, fran)
    [event] = audit_events(Action.UPDATE)
    assert event.summary == "changed contact consent: sms"


def test_recording_the_current_state_again_is_refused_with_a_reason(signed_in, fran, patient):
    CommunicationConsentFactory(patient=patient, channel="email", granted=False)

    response = signed_in(fran).post(
        f"/staff/patients/{patient.public_id}/contact-consent/",
        {"channel": "email", "granted": "no", "method": "by phone"},
    )

    assert response.status_code == 200
    assert "already withdrawn" in field_errors(response, "granted")[0]
    assert CommunicationConsent.objects.count() == 1


def test_the_consent_page_shows_the_history(signed_in, fran, patient):
    CommunicationConsentFactory(patient=patient, channel="email", method="online booking form")

    response = signed_in(fran).get(f"/staff/patients/{patient.public_id}/contact-consent/")

    assert b"online booking form" in response.content
    [view] = audit_events(Action.VIEW)
    assert view.object_id == str(patient.public_id)


# --- Measurements -------------------------------------------------------------------------


def test_a_nurse_records_measurements_and_the_screening_runs(signed_in, nina, patient):
    response = signed_in(nina).post(
        f"/staff/patients/{patient.public_id}/measurements/new/",
        {
            "systolic": "132",
            "diastolic": "86",
            "heart_rate": "74",
            "spo2": "97",
            "weight_kg": "81.2",
        },
    )

    assert response.status_code == 302
    assert response["Location"] == f"/staff/patients/{patient.public_id}/#measurements"
    measurement = Measurement.objects.get()
    assert (measurement.systolic, measurement.weight_kg) == (132, Decimal("81.2"))
    assert ScreeningResult.objects.filter(patient=patient, measurement=measurement).exists()


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"systolic": "120", "diastolic": "130"}, "diastolic", "lower than the systolic"),
        ({"systolic": "300"}, "systolic", "between 60 and 260"),
        ({"heart_rate": "0"}, "heart_rate", "between 25 and 250"),
        ({"spo2": "ninety"}, "spo2", "whole number"),
        ({"weight_kg": "400"}, "weight_kg", "between 30 and 300"),
    ],
)
def test_bad_readings_are_shown_next_to_the_field(signed_in, nina, patient, data, field, message):
    reading = {"systolic": "128", "diastolic": "84", "heart_rate": "72", "spo2": "98"} | data

    response = signed_in(nina).post(
        f"/staff/patients/{patient.public_id}/measurements/new/", reading
    )

    assert response.status_code == 200
    assert message in field_errors(response, field)[0]
    assert not Measurement.objects.exists()


@pytest.mark.parametrize("user", ["fran", "alice", "edie"])
def test_only_clinicians_record_measurements(signed_in, patient, user, request):
    client = signed_in(request.getfixturevalue(user))
    url = f"/staff/patients/{patient.public_id}/measurements/new/"

    assert client.get(url).status_code == 403
    reading = {"systolic": "128", "diastolic": "84", "heart_rate": "72", "spo2": "98"}
    assert client.post(url, reading).status_code == 403
    assert not Measurement.objects.exists()


# --- Questionnaires -----------------------------------------------------------------------


def test_a_nurse_enters_a_baseline_phq9(signed_in, nina, patient):
    answers = {f"q{n}": "2" for n in range(1, 10)} | {"q9": "1", "context": "baseline"}

    response = signed_in(nina).post(
        f"/staff/patients/{patient.public_id}/questionnaires/new/phq9/", answers, follow=True
    )

    saved = QuestionnaireResponse.objects.get()
    assert (saved.total, saved.band, saved.item9_positive) == (17, "moderately severe", True)
    assert ScreeningResult.objects.filter(patient=patient, phq9=saved).exists()
    content = response.content.decode()
    assert "PHQ-9 recorded: 17/27 (moderately severe)." in content
    assert "must contact the patient today" in content


def test_unanswered_questions_are_shown_one_by_one(signed_in, nina, patient):
    response = signed_in(nina).post(
        f"/staff/patients/{patient.public_id}/questionnaires/new/phq9/",
        {"q1": "1", "q2": "3", "context": "baseline"},
    )

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["q3"] == ["Answer question 3."]
    assert set(errors) == {f"q{n}" for n in range(3, 10)}
    assert not QuestionnaireResponse.objects.exists()


def test_opened_from_a_session_it_is_before_an_infusion_and_goes_back_there(
    signed_in, nina, patient
):
    url = f"/staff/patients/{patient.public_id}/questionnaires/new/gad7/"
    back = "/staff/sessions/00000000-0000-0000-0000-000000000001/#pre-assessment"
    client = signed_in(nina)

    shown = client.get(url, {"context": "pre_session", "next": back})
    response = client.post(
        url, {f"q{n}": "1" for n in range(1, 8)} | {"context": "pre_session", "next": back}
    )

    assert shown.context["context_form"]["context"].value() == "pre_session"
    assert f'name="next" value="{back}"' in shown.content.decode()
    assert response.status_code == 302
    assert response["Location"] == back
    assert QuestionnaireResponse.objects.get().context == "pre_session"


def test_it_never_goes_back_to_another_site(signed_in, nina, patient):
    url = f"/staff/patients/{patient.public_id}/questionnaires/new/gad7/"
    answers = {f"q{n}": "1" for n in range(1, 8)} | {"context": "follow_up"}

    response = signed_in(nina).post(url, answers | {"next": "https://evil.example/"})

    assert response["Location"] == f"/staff/patients/{patient.public_id}/#questionnaires"


def test_an_unknown_questionnaire_is_not_found(signed_in, nina, patient):
    response = signed_in(nina).get(f"/staff/patients/{patient.public_id}/questionnaires/new/beck/")

    assert response.status_code == 404


def test_the_front_desk_cannot_enter_questionnaires(signed_in, fran, patient):
    response = signed_in(fran).get(f"/staff/patients/{patient.public_id}/questionnaires/new/phq9/")

    assert response.status_code == 403


# --- The Django admin ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["patient", "intakesubmission", "measurement", "questionnaireresponse"]
)
def test_patient_records_are_not_in_the_django_admin(signed_in, alice, path):
    # The admin would show clinical detail to clinic admins and leave no audit trail.
    response = signed_in(alice).get(f"/admin/patients/{path}/")

    assert response.status_code == 404


def test_consent_documents_can_be_browsed_in_the_django_admin(signed_in, alice):
    response = signed_in(alice).get("/admin/patients/consentdocument/")

    assert response.status_code == 200


@pytest.mark.parametrize(
    "url",
    [
        "/staff/patients/new/",
        "/staff/patients/{id}/edit/",
        "/staff/patients/{id}/contact-consent/",
        "/staff/patients/{id}/measurements/new/",
        "/staff/patients/{id}/questionnaires/new/phq9/",
    ],
)
def test_forms_answer_nonsense_with_the_form_again(signed_in, phil, patient, url):
    nonsense = {
        "legal_first_name": "\u202e",  # NUL: tests/test_bad_requests.py
        "date_of_birth": "31/31/2026",
        "email": "@@",
        "conditions": ["astronaut"],
        "channel": "pigeon",
        "systolic": "99999999999999999999",
        "weight_kg": "NaN",
        "q1": "7",
        "context": "someday",
    }

    response = signed_in(phil).post(url.format(id=patient.public_id), nonsense)

    assert response.status_code == 200
    assert b"is-invalid" in response.content
    patient.refresh_from_db()
    assert patient.legal_first_name == "Jordan"
    assert not Measurement.objects.exists()
    assert not QuestionnaireResponse.objects.exists()
    assert not CommunicationConsent.objects.exists()


def test_a_patient_whose_location_closed_can_still_be_edited(signed_in, fran, riverside):
    patient = PatientFactory(preferred_location=riverside)
    riverside.is_active = False
    riverside.save(update_fields=["is_active"])
    data = new_patient_form(preferred_location=str(riverside.public_id), city="Queens")

    response = signed_in(fran).post(f"/staff/patients/{patient.public_id}/edit/", data)

    assert response.status_code == 302
    patient.refresh_from_db()
    assert (patient.preferred_location, patient.city) == (riverside, "Queens")


def test_a_malformed_patient_id_is_not_found_not_an_error(nina):
    from django.http import Http404

    from patients.selectors import patient_for

    with pytest.raises(Http404):
        patient_for(nina, "not-a-uuid")
