"""The decision page and running the screening from a page."""

from __future__ import annotations

import pytest

from clinic.models import AuditEvent
from patients.models import PatientStatus, ScreeningDecision, ScreeningResult
from patients.screening import RULESET_VERSION
from patients.services.screening import screening_run
from patients.tests.factories import IntakeSubmissionFactory, MeasurementFactory, PatientFactory
from patients.tests.test_decision import baseline_phq9
from patients.tests.test_intake import complete_answers


@pytest.fixture
def patient(db):
    return PatientFactory()


@pytest.fixture
def signed_in(client):
    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in


@pytest.fixture
def contraindicated(patient, nina):
    IntakeSubmissionFactory(patient=patient, answers=complete_answers(allergy_ketamine="yes"))
    MeasurementFactory(patient=patient, systolic=150, diastolic=85)
    baseline_phq9(patient)
    return screening_run(patient=patient, actor=nina)


def decision_url(patient):
    return f"/staff/patients/{patient.public_id}/decision/new/"


def post_decision(client, patient, screening, **fields):
    data = {"screening": str(screening.public_id), "reason": "Discussed with the patient."}
    return client.post(decision_url(patient), data | fields)


@pytest.mark.parametrize("persona", ["fran", "nina", "alice", "edie"])
def test_only_physicians_open_the_decision_page(persona, request, signed_in, contraindicated):
    client = signed_in(request.getfixturevalue(persona))
    patient = contraindicated.patient
    assert client.get(decision_url(patient)).status_code == 403
    response = post_decision(client, patient, contraindicated, decision="decline")
    assert response.status_code == 403
    assert not ScreeningDecision.objects.exists()


def test_the_page_shows_every_finding_and_the_ruleset(signed_in, phil, contraindicated):
    patient = contraindicated.patient
    response = signed_in(phil).get(decision_url(patient))
    assert response.status_code == 200
    for finding in contraindicated.findings:
        assert finding["rule_id"] in response.text
        assert finding["value"] in response.text
    assert "Known allergy to ketamine or esketamine: do not treat." in response.text
    assert "bp.review" in response.text
    assert "150/85 mmHg" in response.text
    assert RULESET_VERSION in response.text
    assert "Approving needs a written justification" in response.text
    assert AuditEvent.objects.filter(
        action="view", object_id=patient.public_id, summary="opened the screening decision form"
    ).exists()


def test_the_page_says_when_there_is_nothing_to_decide_on(signed_in, phil, patient):
    response = signed_in(phil).get(decision_url(patient))
    assert response.status_code == 200
    assert "has not been screened yet" in response.text


def test_approving_a_contraindication_without_justification_shows_the_error_by_the_field(
    signed_in, phil, contraindicated
):
    patient = contraindicated.patient
    response = post_decision(signed_in(phil), patient, contraindicated, decision="approve")
    assert response.status_code == 200
    assert 'id="id_override_justification_error"' in response.text
    assert "at least 20 characters" in response.text
    assert not ScreeningDecision.objects.exists()


def test_a_deferral_without_what_is_needed_shows_the_error_by_the_field(
    signed_in, phil, contraindicated
):
    response = post_decision(
        signed_in(phil), contraindicated.patient, contraindicated, decision="defer"
    )
    assert 'id="id_needed_error"' in response.text
    assert not ScreeningDecision.objects.exists()


def test_a_physician_records_a_justified_approval(signed_in, phil, contraindicated):
    patient = contraindicated.patient
    response = post_decision(
        signed_in(phil),
        patient,
        contraindicated,
        decision="approve",
        override_justification="The reaction was to a different drug; allergist confirmed.",
    )
    assert response.status_code == 302
    assert response["Location"] == f"/staff/patients/{patient.public_id}/#decisions"
    decision = ScreeningDecision.objects.get()
    assert decision.decided_by == phil
    assert decision.screening == contraindicated
    patient.refresh_from_db()
    assert patient.status == PatientStatus.APPROVED


def test_a_newer_result_is_shown_instead_of_saving_a_decision_on_the_old_one(
    signed_in, phil, nina, contraindicated
):
    patient = contraindicated.patient
    newer = screening_run(patient=patient, actor=nina)
    response = post_decision(signed_in(phil), patient, contraindicated, decision="decline")
    assert response.status_code == 200
    assert "A newer screening result exists" in response.text
    assert f'value="{newer.public_id}"' in response.text
    assert not ScreeningDecision.objects.exists()


def test_a_result_of_another_patient_is_refused(signed_in, phil, contraindicated):
    other = PatientFactory()
    screening_run(patient=other, actor=None)
    response = post_decision(signed_in(phil), other, contraindicated, decision="decline")
    assert response.status_code == 200
    assert "not this patient" in response.text
    assert not ScreeningDecision.objects.exists()


def test_a_malformed_result_id_is_a_form_error_not_a_crash(signed_in, phil, contraindicated):
    client = signed_in(phil)
    response = client.post(
        decision_url(contraindicated.patient),
        {"screening": "not-a-uuid", "decision": "decline", "reason": "x"},
    )
    assert response.status_code == 200
    assert not ScreeningDecision.objects.exists()


# --- Running the screening from a page ---------------------------------------------------


def test_a_nurse_runs_the_screening_and_returns_to_the_chart(signed_in, nina, patient):
    response = signed_in(nina).post(f"/staff/patients/{patient.public_id}/screening/run/")
    assert response.status_code == 302
    assert response["Location"] == f"/staff/patients/{patient.public_id}/#screening"
    assert ScreeningResult.objects.filter(patient=patient).count() == 1


def test_a_physician_runs_the_screening_and_goes_on_to_decide(signed_in, phil, patient):
    response = signed_in(phil).post(f"/staff/patients/{patient.public_id}/screening/run/")
    assert response["Location"] == f"/staff/patients/{patient.public_id}/decision/new/"


@pytest.mark.parametrize("persona", ["fran", "alice", "edie"])
def test_only_clinicians_run_the_screening(persona, request, signed_in, patient):
    client = signed_in(request.getfixturevalue(persona))
    assert client.post(f"/staff/patients/{patient.public_id}/screening/run/").status_code == 403
    assert not ScreeningResult.objects.exists()


def test_running_the_screening_needs_a_post(signed_in, nina, patient):
    assert (
        signed_in(nina).get(f"/staff/patients/{patient.public_id}/screening/run/").status_code
        == 405
    )
