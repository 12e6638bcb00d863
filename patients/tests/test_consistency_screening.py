"""The consistency findings, from intake answers as a patient would give them (through the
real intake form and ``facts_from``) to the screening outcome: where the record and the
patient's answers disagree, the physician reviews."""

from __future__ import annotations

from datetime import date

import pytest

from patients.models import ScreeningResult, SexAtBirth
from patients.tests.factories import (
    MeasurementFactory,
    PatientFactory,
    QuestionnaireResponseFactory,
)
from patients.tests.test_medication_screening import findings_of, medicine, screen_intake


def make_patient(*conditions: str, phq9_each: int = 2) -> object:
    patient = PatientFactory(
        sex_at_birth=SexAtBirth.FEMALE, date_of_birth=date(1988, 1, 1), conditions=list(conditions)
    )
    MeasurementFactory(patient=patient, systolic=120, diastolic=80)
    QuestionnaireResponseFactory(
        patient=patient, answers={f"q{n}": phq9_each for n in range(1, 9)} | {"q9": 0}
    )
    return patient


def consistency_findings(result: ScreeningResult) -> dict[str, str]:
    return {
        rule_id: finding["value"]
        for rule_id, finding in findings_of(result).items()
        if rule_id.startswith("consistency.")
    }


CASES = [
    pytest.param(
        ("trd",),
        {"antidepressant_trials": 1},
        [medicine("sertraline", "100", how_often="once_daily")],
        {"consistency.trd_trials": "1 antidepressant recorded"},
        id="TRD referral, one antidepressant tried",
    ),
    pytest.param(
        ("trd",),
        {"antidepressant_trials": 1},
        [
            medicine("sertraline", "100", how_often="once_daily"),
            medicine("Lexapro", status="stopped"),
        ],
        {},
        id="TRD referral, the list shows two antidepressants",
    ),
    pytest.param(
        ("mdd",),
        {"depression": "no"},
        [],
        {
            "consistency.condition_denied": (
                "major depression on the record; the intake says no depression"
            )
        },
        id="major depression on the record, the intake denies depression",
    ),
    pytest.param(
        ("bipolar_depression",),
        {"bipolar": "no"},
        [],
        {
            "consistency.condition_denied": (
                "bipolar depression on the record; the intake says no bipolar disorder"
            )
        },
        id="bipolar depression on the record, the intake denies bipolar disorder",
    ),
    pytest.param(
        ("anxiety",),
        {"depression": "no"},
        [],
        {},
        id="anxiety on the record, no depression: consistent",
    ),
    pytest.param(
        (),
        {"pregnant": "unsure"},
        [],
        {"consistency.pregnancy_untested": "not sure, no test"},
        id="not sure about pregnancy at 38, no test",
    ),
    pytest.param(
        (),
        {"pregnant": "unsure", "pregnancy_test": "none"},
        [],
        {"consistency.pregnancy_untested": "not sure, no test"},
        id="not sure about pregnancy at 38, answered no test",
    ),
    pytest.param(
        (),
        {"pregnant": "unsure", "pregnancy_test": "negative"},
        [],
        {},
        id="not sure about pregnancy, a negative test",
    ),
]


@pytest.mark.parametrize(("conditions", "answers", "medicines", "expected"), CASES)
def test_the_record_and_the_answers_are_checked_against_each_other(
    client, nina, db, conditions, answers, medicines, expected
):
    patient = make_patient(*conditions)

    result = screen_intake(client, nina, patient, medicines, **answers)

    assert consistency_findings(result) == expected
    if expected:
        assert result.outcome == "review"


def test_a_minimal_phq9_for_a_depression_referral_is_reviewed(client, nina, db):
    patient = make_patient("trd", phq9_each=0)

    result = screen_intake(client, nina, patient, [])

    assert consistency_findings(result) == {"consistency.phq9_minimal": "PHQ-9 0 (minimal)"}
    assert result.outcome == "review"


def test_a_positive_test_when_not_sure_counts_as_pregnant(client, nina, db):
    patient = make_patient()

    result = screen_intake(client, nina, patient, [], pregnant="unsure", pregnancy_test="positive")

    assert result.outcome == "contraindicated"
    assert "pregnancy.pregnant" in findings_of(result)


def test_a_test_result_is_dropped_when_the_answer_is_sure(client, nina, db):
    patient = make_patient()

    screen_intake(client, nina, patient, [], pregnant="no", pregnancy_test="positive")

    assert patient.intakes.get().answers["pregnancy_test"] == ""


def test_the_condition_keys_are_the_patient_records() -> None:
    from clinic.conditions import Condition
    from patients.screening import consistency

    assert set(consistency.DEPRESSION_REFERRALS) <= set(Condition.values)
    assert consistency.BIPOLAR_REFERRAL in Condition.values
    assert consistency.TRD == Condition.TRD
