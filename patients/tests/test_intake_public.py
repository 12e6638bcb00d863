"""The patient's intake pages behind a signed link: steps, drafts, review, submit, and
every way a link can fail."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from patients.intake.answers import draft_answers
from patients.intake.questions import section_by_key
from patients.links import link_create
from patients.models import IntakeSubmission, PatientLink, PatientStatus, SexAtBirth
from patients.services.intake import intake_save_draft
from patients.tests.factories import PatientFactory
from patients.tests.test_intake import complete_answers, form_data

STEPS = ["medical", "psychiatric", "substances", "medications", "allergies", "pregnancy", "goals"]


@pytest.fixture
def patient(db):
    return PatientFactory(
        legal_first_name="Robin",
        legal_last_name="Quinn",
        email="robin.quinn@example.com",
        mobile="+12125550199",
    )


def make_link(patient, purpose=PatientLink.Purpose.INTAKE, **kwargs):
    link, token = link_create(patient=patient, purpose=purpose, created_by=None, **kwargs)
    return link, token


@pytest.fixture
def link_and_token(patient):
    return make_link(patient)


def url(token, step=None):
    return f"/p/intake/{token}/" + (f"?step={step}" if step else "")


def answers_for(step):
    """The complete answers to one step's questions."""
    section = section_by_key(step, SexAtBirth.FEMALE)
    return {
        name: value for name, value in complete_answers().items() if name in section.base_fields
    }


def fill_in_every_step(client, token, steps=STEPS):
    for step in steps:
        response = client.post(url(token, step), form_data(answers_for(step)) | {"action": "next"})
        assert response.status_code == 302, response.content


# --- Steps and drafts --------------------------------------------------------------------


def test_the_first_step_greets_the_patient_by_first_name_only(client, patient, link_and_token):
    _link, token = link_and_token
    response = client.get(url(token))
    assert response.status_code == 200
    assert "Hello Robin." in response.text
    assert "Your health" in response.text
    assert "Step 1 of 8" in response.text
    for private in ["Quinn", "robin.quinn@example.com", "+12125550199", "1984"]:
        assert private not in response.text
    assert '<meta name="referrer" content="same-origin">' in response.text
    assert "no-store" in response["Cache-Control"]


def test_save_and_continue_stores_the_draft_and_goes_to_the_next_step(
    client, patient, link_and_token
):
    link, token = link_and_token
    response = client.post(url(token, "medical"), {"hypertension": "yes", "action": "next"})
    assert response.status_code == 302
    assert response["Location"] == url(token, "psychiatric")
    link.refresh_from_db()
    assert draft_answers(link)["hypertension"] == "yes"
    patient.refresh_from_db()
    assert patient.status == PatientStatus.INTAKE_IN_PROGRESS


def test_back_saves_and_goes_to_the_previous_step(client, link_and_token):
    link, token = link_and_token
    response = client.post(url(token, "psychiatric"), {"depression": "yes", "action": "back"})
    assert response["Location"] == url(token, "medical")
    link.refresh_from_db()
    assert draft_answers(link)["depression"] == "yes"


def test_a_wrong_answer_is_shown_next_to_its_question_and_not_saved(client, link_and_token):
    link, token = link_and_token
    response = client.post(
        url(token, "psychiatric"), {"antidepressant_trials": "lots", "action": "next"}
    )
    assert response.status_code == 200
    assert 'id="id_antidepressant_trials_error"' in response.text
    assert "Enter a whole number" in response.text
    link.refresh_from_db()
    assert link.draft == {}


def test_coming_back_with_the_same_link_shows_the_saved_answers(client, link_and_token):
    _link, token = link_and_token
    client.post(url(token, "medical"), form_data(answers_for("medical")) | {"action": "next"})
    client.post(url(token, "psychiatric"), {"antidepressant_trials": "4", "depression": "yes"})
    resumed = client.get(url(token))
    assert "Your mental health" not in resumed.text  # starts at the first step not saved
    assert "Alcohol and drugs" in resumed.text
    psychiatric = client.get(url(token, "psychiatric"))
    assert 'value="4"' in psychiatric.text
    assert re.search(r'value="yes"\s+id="id_depression_0" checked', psychiatric.text)


def test_an_unknown_step_shows_the_first_step(client, link_and_token):
    _link, token = link_and_token
    response = client.get(url(token, "<script>"))
    assert response.status_code == 200
    assert "Your health" in response.text


def test_a_patient_male_at_birth_is_not_asked_about_pregnancy(client, db):
    patient = PatientFactory(sex_at_birth=SexAtBirth.MALE)
    _link, token = make_link(patient)
    response = client.post(url(token, "allergies"), form_data(answers_for("allergies")))
    assert response["Location"] == url(token, "goals")
    assert "Step 1 of 7" in client.get(url(token)).text
    assert "Your health" in client.get(url(token, "pregnancy")).text


# --- Review and submit -------------------------------------------------------------------


def test_the_review_lists_unanswered_questions(client, link_and_token):
    _link, token = link_and_token
    client.post(url(token, "medical"), form_data(answers_for("medical")))
    response = client.get(url(token, "review"))
    assert response.status_code == 200
    assert "still need an answer" in response.text
    assert "Answer this question before you send the questionnaire." in response.text


def test_submitting_an_incomplete_intake_is_refused(client, link_and_token):
    link, token = link_and_token
    client.post(url(token, "medical"), form_data(answers_for("medical")))
    response = client.post(url(token, "review"))
    assert response.status_code == 200
    assert "still need an answer" in response.text
    assert not IntakeSubmission.objects.exists()
    link.refresh_from_db()
    assert link.used_at is None


def test_a_patient_completes_the_intake_and_sees_a_thank_you_page(client, patient, link_and_token):
    link, token = link_and_token
    fill_in_every_step(client, token)
    review = client.get(url(token))  # every step saved: straight to the review
    assert review.status_code == 302
    assert review["Location"] == url(token, "review")
    response = client.post(url(token, "review"))
    assert response.status_code == 302
    assert response["Location"] == "/p/intake/done/"
    thanks = client.get("/p/intake/done/")
    assert "Your answers have reached the clinic." in thanks.text
    submission = IntakeSubmission.objects.get(patient=patient)
    assert submission.via_link == link
    assert submission.answers["treatment_goals"] == "Get back to work."
    patient.refresh_from_db()
    assert patient.status == PatientStatus.AWAITING_DECISION


def test_the_link_cannot_be_used_again_after_submitting(client, link_and_token):
    _link, token = link_and_token
    fill_in_every_step(client, token)
    client.post(url(token, "review"))
    again = client.post(url(token, "review"))
    assert again.status_code == 410
    assert "already been used" in again.text
    assert client.get(url(token, "medical")).status_code == 410
    assert client.post(url(token, "medical"), {"hypertension": "no"}).status_code == 410
    assert IntakeSubmission.objects.count() == 1


# --- Links that do not work --------------------------------------------------------------


def test_an_expired_link_says_so_with_410(client, patient):
    _link, token = make_link(patient, lifetime=timedelta(seconds=-1))
    response = client.get(url(token))
    assert response.status_code == 410
    assert "This link has expired." in response.text
    assert "Robin" not in response.text


def test_a_replaced_link_says_so_with_410(client, patient):
    _old, old_token = make_link(patient)
    make_link(patient)
    response = client.get(url(old_token))
    assert response.status_code == 410
    assert "replaced by a newer one" in response.text


def test_a_tampered_token_is_a_404(client, link_and_token):
    _link, token = link_and_token
    tampered = token[:-2] + ("AA" if token[-2:] != "AA" else "BB")
    for bad in [tampered, "nonsense", "a" * 500]:
        response = client.get(url(bad))
        assert response.status_code == 404
        assert "This link is not valid." in response.text


def test_a_consent_link_does_not_open_the_intake(client, patient):
    _link, token = make_link(patient, purpose=PatientLink.Purpose.CONSENT)
    assert client.get(url(token)).status_code == 404
    assert client.post(url(token, "medical"), {"hypertension": "yes"}).status_code == 404


def test_a_link_only_ever_touches_its_own_patient(client, patient, link_and_token):
    other = PatientFactory(legal_first_name="Sam")
    other_link, other_token = make_link(other)
    _link, token = link_and_token
    fill_in_every_step(client, token)
    client.post(url(token, "review"))
    assert IntakeSubmission.objects.get().patient == patient
    other_link.refresh_from_db()
    assert other_link.used_at is None
    assert "Hello Sam." in client.get(url(other_token)).text


def test_a_draft_saved_elsewhere_shows_up_on_the_review(client, link_and_token):
    link, token = link_and_token
    intake_save_draft(link=link, data={"treatment_goals": "Sleep better."}, step="goals")
    assert "Sleep better." in client.get(url(token, "review")).text


def test_after_changing_a_section_the_patient_can_go_straight_back_to_the_review(
    client, link_and_token
):
    _link, token = link_and_token
    assert "Save and check my answers" not in client.get(url(token, "medical")).text
    fill_in_every_step(client, token)
    assert "Save and check my answers" in client.get(url(token, "medical")).text
    response = client.post(url(token, "medical"), {"hypertension": "yes", "action": "review"})
    assert response["Location"] == url(token, "review")
