"""Staff intake pages: entering an intake, reading a version, comparing versions, and
making a link for the patient."""

from __future__ import annotations

import pytest

from clinic.models import AuditEvent
from patients.models import Channel, IntakeSubmission, PatientLink, PatientStatus, SexAtBirth
from patients.tests.factories import (
    CommunicationConsentFactory,
    IntakeSubmissionFactory,
    PatientFactory,
)
from patients.tests.test_intake import complete_answers, form_data, v1_answers


@pytest.fixture
def patient(db):
    return PatientFactory(legal_first_name="Robin", legal_last_name="Quinn")


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


def views_logged(patient):
    return AuditEvent.objects.filter(
        action=AuditEvent.Action.VIEW, object_type="patients.patient", object_id=patient.public_id
    )


# --- Who may do what ---------------------------------------------------------------------


def test_it_sends_anonymous_visitors_to_the_login_page(client, patient):
    for url in [
        f"/staff/patients/{patient.public_id}/intake/new/",
        f"/staff/patients/{patient.public_id}/intake/diff/",
    ]:
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/staff/login/")


@pytest.mark.parametrize("persona", ["fran", "alice", "edie"])
def test_only_clinicians_enter_or_read_intakes(persona, request, signed_in, patient):
    IntakeSubmissionFactory(patient=patient, version=1, answers=complete_answers())
    client = signed_in(request.getfixturevalue(persona))
    base = f"/staff/patients/{patient.public_id}/intake"
    assert client.get(f"{base}/new/").status_code == 403
    assert client.post(f"{base}/new/", form_data(complete_answers())).status_code == 403
    assert client.get(f"{base}/1/").status_code == 403
    assert client.get(f"{base}/diff/").status_code == 403
    assert IntakeSubmission.objects.count() == 1


def test_it_says_404_for_a_patient_that_does_not_exist(signed_in, nina, db):
    url = "/staff/patients/00000000-0000-0000-0000-000000000000/intake/new/"
    assert signed_in(nina).get(url).status_code == 404


# --- Entering an intake ------------------------------------------------------------------


def test_a_nurse_sees_every_section_on_one_page(signed_in, nina, patient):
    response = signed_in(nina).get(f"/staff/patients/{patient.public_id}/intake/new/")
    assert response.status_code == 200
    for title in [
        "Your health",
        "Your mental health",
        "Alcohol and drugs",
        "Your medicines",
        "Allergies",
        "Pregnancy and breastfeeding",
        "Your goals",
    ]:
        assert title in response.text
    assert views_logged(patient).filter(summary="opened the intake form").exists()


def test_the_page_leaves_out_pregnancy_for_a_patient_male_at_birth(signed_in, nina, db):
    patient = PatientFactory(sex_at_birth=SexAtBirth.MALE)
    response = signed_in(nina).get(f"/staff/patients/{patient.public_id}/intake/new/")
    assert "Pregnancy and breastfeeding" not in response.text
    assert 'name="pregnant"' not in response.text


def test_a_nurse_enters_an_intake_and_it_becomes_version_1(signed_in, nina, patient):
    response = signed_in(nina).post(
        f"/staff/patients/{patient.public_id}/intake/new/", form_data(complete_answers())
    )
    assert response.status_code == 302
    assert response["Location"] == f"/staff/patients/{patient.public_id}/intake/1/"
    submission = IntakeSubmission.objects.get(patient=patient)
    assert submission.entered_by == nina
    assert submission.answers["takes_medicines"] == "no"
    patient.refresh_from_db()
    assert patient.status == PatientStatus.AWAITING_DECISION
    assert patient.screenings.count() == 1


def test_missing_answers_are_shown_next_to_their_questions_and_nothing_is_saved(
    signed_in, nina, patient
):
    response = signed_in(nina).post(
        f"/staff/patients/{patient.public_id}/intake/new/",
        form_data(complete_answers(takes_medicines=None)),
    )
    assert response.status_code == 200
    assert 'id="id_takes_medicines_error"' in response.text
    assert not IntakeSubmission.objects.exists()


def test_the_form_starts_from_the_latest_version(signed_in, nina, patient):
    IntakeSubmissionFactory(
        patient=patient, version=1, answers=complete_answers(other_medical="Asthma since childhood")
    )
    response = signed_in(nina).get(f"/staff/patients/{patient.public_id}/intake/new/")
    assert "Asthma since childhood" in response.text
    assert "Save intake as version 2" in response.text


def test_a_second_entry_is_version_2_and_version_1_is_unchanged(signed_in, nina, patient):
    client = signed_in(nina)
    url = f"/staff/patients/{patient.public_id}/intake/new/"
    client.post(url, form_data(complete_answers()))
    client.post(url, form_data(complete_answers(hypertension="yes")))
    first, second = IntakeSubmission.objects.filter(patient=patient).order_by("version")
    assert (first.version, second.version) == (1, 2)
    assert first.answers["hypertension"] == "no"
    assert second.answers["hypertension"] == "yes"


# --- Reading and comparing ---------------------------------------------------------------


def test_a_version_reads_in_plain_words(signed_in, phil, patient):
    IntakeSubmissionFactory(
        patient=patient, version=1, answers=complete_answers(heart_disease="controlled")
    )
    response = signed_in(phil).get(f"/staff/patients/{patient.public_id}/intake/1/")
    assert response.status_code == 200
    assert "Yes, and my treatment keeps it well controlled" in response.text
    assert views_logged(patient).filter(summary="viewed intake version 1").exists()


def test_a_missing_version_is_a_404(signed_in, phil, patient):
    response = signed_in(phil).get(f"/staff/patients/{patient.public_id}/intake/7/")
    assert response.status_code == 404


def test_the_diff_shows_what_changed_between_two_versions(signed_in, phil, patient):
    # Intakes of questionnaire version 1, with its yes/no medicine boxes.
    IntakeSubmissionFactory(patient=patient, version=1, answers=v1_answers())
    IntakeSubmissionFactory(patient=patient, version=2, answers=v1_answers(maoi="yes"))
    IntakeSubmissionFactory(
        patient=patient, version=3, answers=v1_answers(maoi="yes", lamotrigine="yes")
    )
    client = signed_in(phil)
    base = f"/staff/patients/{patient.public_id}/intake/diff/"
    latest_two = client.get(base)
    assert latest_two.status_code == 200
    assert "Lamotrigine" in latest_two.text
    assert "MAOI" not in latest_two.text.split("intake-changes")[1]
    first_to_last = client.get(f"{base}?from=1&to=3")
    assert "2 answers changed from version 1" in first_to_last.text
    assert views_logged(patient).filter(summary="compared intake versions").count() == 2


@pytest.mark.parametrize("query", ["?from=1&to=9", "?from=x&to=2", "?from=0&to=2"])
def test_the_diff_explains_a_bad_version_number(query, signed_in, phil, patient):
    IntakeSubmissionFactory(patient=patient, version=1, answers=complete_answers())
    IntakeSubmissionFactory(patient=patient, version=2, answers=complete_answers())
    response = signed_in(phil).get(f"/staff/patients/{patient.public_id}/intake/diff/{query}")
    assert response.status_code == 200
    assert "is-invalid" in response.text
    assert "intake-changes" not in response.text


def test_the_diff_with_one_version_says_there_is_nothing_to_compare(signed_in, phil, patient):
    IntakeSubmissionFactory(patient=patient, version=1, answers=complete_answers())
    response = signed_in(phil).get(f"/staff/patients/{patient.public_id}/intake/diff/")
    assert "only one intake version so far" in response.text


# --- Making a link -----------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["fran", "nina", "phil", "alice"])
def test_staff_who_send_links_make_one_and_see_it_once(persona, request, signed_in, patient):
    client = signed_in(request.getfixturevalue(persona))
    response = client.post(f"/staff/patients/{patient.public_id}/intake/link/")
    assert response.status_code == 200
    link = PatientLink.objects.get(patient=patient)
    assert link.purpose == PatientLink.Purpose.INTAKE
    assert "http://testserver/p/intake/" in response.text
    assert "no-store" in response["Cache-Control"]


def test_sending_the_link_queues_it_on_the_channels_the_patient_agreed_to(signed_in, fran, patient):
    patient.email, patient.mobile = "pat@example.com", "+13125550123"
    patient.save(update_fields=["email", "mobile"])
    CommunicationConsentFactory(patient=patient, channel=Channel.EMAIL, granted=True)
    CommunicationConsentFactory(patient=patient, channel=Channel.SMS, granted=False)

    response = signed_in(fran).post(
        f"/staff/patients/{patient.public_id}/intake/link/", {"send": "1"}
    )

    assert "queued for the patient by email." in response.text
    [message] = patient.messages.all()
    assert (message.kind, message.channel) == ("intake_link", "email")


def test_without_consent_the_link_is_not_sent_and_staff_are_told(signed_in, fran, patient):
    response = signed_in(fran).post(
        f"/staff/patients/{patient.public_id}/intake/link/", {"send": "1"}
    )

    assert 'data-testid="link-not-sent"' in response.text
    assert "http://testserver/p/intake/" in response.text
    assert not patient.messages.exists()


def test_a_link_to_copy_is_not_sent(signed_in, fran, patient):
    CommunicationConsentFactory(patient=patient, channel=Channel.EMAIL, granted=True)

    response = signed_in(fran).post(f"/staff/patients/{patient.public_id}/intake/link/")

    assert 'data-testid="link-sent"' not in response.text
    assert not patient.messages.exists()


def test_making_a_link_needs_a_post(signed_in, fran, patient):
    response = signed_in(fran).get(f"/staff/patients/{patient.public_id}/intake/link/")
    assert response.status_code == 405
    assert not PatientLink.objects.exists()


def test_content_editors_cannot_make_links(signed_in, edie, patient):
    response = signed_in(edie).post(f"/staff/patients/{patient.public_id}/intake/link/")
    assert response.status_code == 403
    assert not PatientLink.objects.exists()
