"""Running the screening rules on a patient's latest records, and keeping the result."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from clinic.models import AuditEvent
from patients.models import PatientStatus, QuestionnaireResponse, ScreeningResult, SexAtBirth
from patients.screening import RULESET_VERSION
from patients.services.screening import screening_run
from patients.tests.factories import (
    IntakeSubmissionFactory,
    MeasurementFactory,
    PatientFactory,
    QuestionnaireResponseFactory,
    ScreeningDecisionFactory,
)
from patients.tests.test_intake import complete_answers, v1_answers


def rule_ids(result: ScreeningResult) -> set[str]:
    return {finding["rule_id"] for finding in result.findings}


@pytest.fixture
def patient(db):
    return PatientFactory(sex_at_birth=SexAtBirth.FEMALE, date_of_birth=date(1980, 1, 1))


def phq9(patient, item9: int, **kwargs):
    answers = {f"q{n}": 1 for n in range(1, 9)} | {"q9": item9}
    return QuestionnaireResponseFactory(patient=patient, answers=answers, **kwargs)


def test_a_female_patient_with_pregnancy_unanswered_gets_a_missing_pregnancy_finding(patient, nina):
    IntakeSubmissionFactory(patient=patient, answers=complete_answers(pregnant=None))
    MeasurementFactory(patient=patient)
    result = screening_run(patient=patient, actor=nina)
    assert "missing.pregnancy_status" in rule_ids(result)
    assert result.outcome == "review"


def test_a_male_patient_gets_no_pregnancy_finding(db, nina):
    patient = PatientFactory(sex_at_birth=SexAtBirth.MALE)
    answers = complete_answers()
    del answers["pregnant"], answers["breastfeeding"]
    IntakeSubmissionFactory(patient=patient, answers=answers)
    MeasurementFactory(patient=patient)
    phq9(patient, 0)
    result = screening_run(patient=patient, actor=nina)
    assert not any(rule.startswith(("missing.preg", "missing.breast")) for rule in rule_ids(result))
    assert result.findings == []
    assert result.outcome == "eligible"


def test_blood_pressure_comes_from_the_latest_measurement(patient, nina):
    IntakeSubmissionFactory(patient=patient, answers=complete_answers())
    MeasurementFactory(
        patient=patient, systolic=170, diastolic=95, taken_at=timezone.now() - timedelta(days=2)
    )
    latest = MeasurementFactory(patient=patient, systolic=145, diastolic=85)
    result = screening_run(patient=patient, actor=nina)
    assert result.measurement == latest
    assert (result.facts["systolic"], result.facts["diastolic"]) == (145, 85)
    assert "bp.review" in rule_ids(result)
    assert "bp.contraindicated" not in rule_ids(result)


def test_phq9_item_9_comes_from_the_latest_baseline_phq9(patient, nina):
    phq9(patient, 0, completed_at=timezone.now() - timedelta(days=1))
    latest = phq9(patient, 2)
    phq9(patient, 3, context=QuestionnaireResponse.Context.PRE_SESSION)
    result = screening_run(patient=patient, actor=nina)
    assert result.phq9 == latest
    assert result.facts["phq9_item9"] == 2
    finding = next(f for f in result.findings if f["rule_id"] == "suicidality.phq9_item9")
    assert finding["urgent"] is True
    assert finding["value"] == "2 of 3"


def test_the_latest_intake_version_is_used(patient, nina):
    IntakeSubmissionFactory(patient=patient, version=1, answers=v1_answers(maoi="yes"))
    latest = IntakeSubmissionFactory(patient=patient, version=2, answers=complete_answers())
    result = screening_run(patient=patient, actor=nina)
    assert result.intake == latest
    assert "meds.maoi" not in rule_ids(result)


def test_it_stores_every_finding_with_the_facts_thresholds_and_ruleset(patient, nina):
    IntakeSubmissionFactory(
        patient=patient,
        # Questionnaire version 1: the dose was asked in mg of lorazepam.
        answers=v1_answers(
            allergy_ketamine="yes", benzodiazepines="yes", benzodiazepine_lorazepam_mg="3"
        ),
    )
    MeasurementFactory(patient=patient, systolic=120, diastolic=80)
    phq9(patient, 0)
    result = screening_run(patient=patient, actor=nina)
    result.refresh_from_db()
    assert result.outcome == "contraindicated"
    assert result.ruleset_version == RULESET_VERSION
    assert result.findings[0] == {
        "rule_id": "allergy.ketamine",
        "severity": "contraindicated",
        "reason": "Known allergy to ketamine or esketamine: do not treat.",
        "value": "yes",
        "urgent": False,
        "missing": False,
    }
    assert "meds.benzodiazepine" in rule_ids(result)
    assert result.facts["benzodiazepine_lorazepam_mg"] == "3"
    assert result.facts["age_years"] == patient.age_on(timezone.localdate())
    assert result.thresholds["bp_contraindicated_systolic"] == 160


@override_settings(SCREENING_THRESHOLDS={"bp_review_systolic": 130})
def test_it_uses_the_clinics_thresholds(patient, nina):
    MeasurementFactory(patient=patient, systolic=132, diastolic=80)
    result = screening_run(patient=patient, actor=nina)
    assert "bp.review" in rule_ids(result)
    assert result.thresholds["bp_review_systolic"] == 130


def test_nothing_recorded_is_never_eligible(patient, nina):
    result = screening_run(patient=patient, actor=nina)
    assert result.outcome == "review"
    assert {"missing.blood_pressure", "missing.allergy_ketamine", "missing.phq9_item9"} <= (
        rule_ids(result)
    )


def test_it_records_the_run_in_the_audit_log(patient, nina):
    result = screening_run(patient=patient, actor=nina)
    event = AuditEvent.objects.get(object_type="patients.screeningresult")
    assert event.object_id == str(result.public_id)
    assert event.actor == nina
    assert event.summary == f"ran the screening rules for patient {patient.public_id}"


def test_a_new_result_sends_a_decided_patient_back_to_awaiting_a_decision(patient, nina, phil):
    first = screening_run(patient=patient, actor=nina)
    ScreeningDecisionFactory(patient=patient, screening=first, decided_by=phil)
    patient.status = PatientStatus.APPROVED
    patient.save(update_fields=["status"])
    screening_run(patient=patient, actor=nina)
    patient.refresh_from_db()
    assert patient.status == PatientStatus.AWAITING_DECISION


def test_it_leaves_an_undecided_patient_status_alone(patient, nina):
    screening_run(patient=patient, actor=nina)
    patient.refresh_from_db()
    assert patient.status == PatientStatus.CONSULTATION_REQUESTED


# --- Rule set versions: a result keeps the version it was made with ------------------------


def test_a_result_made_with_an_older_rule_set_keeps_its_version_and_findings(patient, nina, phil):
    old_findings = [
        {
            "rule_id": "meds.maoi",
            "severity": "review",
            "reason": "Takes an MAOI: together with ketamine it may raise blood pressure; "
            "physician to decide.",
            "value": "yes",
            "urgent": False,
            "missing": False,
        }
    ]
    old = ScreeningDecisionFactory(
        patient=patient,
        decided_by=phil,
        screening__outcome="review",
        screening__findings=old_findings,
        screening__ruleset_version="2026.11-1",
    ).screening
    IntakeSubmissionFactory(patient=patient, answers=complete_answers())
    MeasurementFactory(patient=patient)

    new = screening_run(patient=patient, actor=nina)

    old.refresh_from_db()
    assert (old.ruleset_version, old.findings, old.outcome) == ("2026.11-1", old_findings, "review")
    assert old.decisions.get().ruleset_version == "2026.11-1"
    assert new.ruleset_version == RULESET_VERSION == "2026.12-1"


def test_an_intake_of_questionnaire_version_1_screens_as_it_did(patient, nina):
    # The boxes as answered then: an MAOI, and 3 mg of lorazepam a day.
    IntakeSubmissionFactory(
        patient=patient,
        answers=v1_answers(maoi="yes", benzodiazepines="yes", benzodiazepine_lorazepam_mg="3"),
    )
    MeasurementFactory(patient=patient, systolic=120, diastolic=80)
    phq9(patient, 0)

    result = screening_run(patient=patient, actor=nina)

    by_rule = {finding["rule_id"]: finding for finding in result.findings}
    assert set(by_rule) == {"meds.maoi", "meds.benzodiazepine"}
    assert by_rule["meds.maoi"]["value"] == "yes"
    assert by_rule["meds.maoi"]["reason"] == (
        "Takes an MAOI: together with ketamine it may raise blood pressure; physician to decide."
    )
    assert by_rule["meds.benzodiazepine"]["value"] == "3 mg lorazepam-equivalent a day"
    assert result.outcome == "review"
