"""The intake questionnaire itself: each section's checks, drafts, the diff between
versions, and the facts the screening rules get from a patient's answers."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from patients.demo import DEMO_INTAKE
from patients.intake.answers import (
    INTAKE_SCHEMA_VERSION,
    NOT_ANSWERED,
    answers_by_section,
    answers_diff,
    clean_answers,
)
from patients.intake.facts import facts_from
from patients.intake.questions import (
    AllergiesForm,
    GoalsForm,
    MedicalHistoryForm,
    MedicationsForm,
    MedicationsFormV1,
    PregnancyForm,
    PsychiatricHistoryForm,
    SubstanceUseForm,
    sections_for,
)
from patients.models import SexAtBirth
from patients.tests.factories import (
    MeasurementFactory,
    PatientFactory,
    QuestionnaireResponseFactory,
)

REQUIRED_MESSAGE = "Answer this question before you send the questionnaire."


def complete_answers(**overrides: Any) -> dict[str, Any]:
    """A complete intake with nothing of concern: every question answered."""
    # The demo clinic's unremarkable intake, with answers tests look for by value.
    answers = DEMO_INTAKE | {
        "other_allergies": "Penicillin: rash",
        "treatment_goals": "Get back to work.",
        "schema_version": INTAKE_SCHEMA_VERSION,
    }
    return answers | overrides


# Questionnaire version 1 asked about medicines with yes/no boxes and a dose in mg of
# lorazepam; intakes answered then are still shown, compared and screened as answered.
V1_MEDICINES = {
    "schema_version": 1,
    "medications": "Sertraline 100 mg a day",
    "benzodiazepines": "no",
    "benzodiazepine_lorazepam_mg": None,
    "maoi": "no",
    "lamotrigine": "no",
    "other_cns_depressants": "no",
    "stimulant_medication": "no",
}


def v1_answers(**overrides: Any) -> dict[str, Any]:
    """A complete intake as questionnaire version 1 stored it."""
    answers = {k: v for k, v in complete_answers().items() if k != "takes_medicines"}
    return answers | V1_MEDICINES | overrides


def form_data(answers: dict[str, Any]) -> dict[str, str]:
    """Answers as posted, with the staff form's (empty) medication list."""
    data = {key: "" if value is None else str(value) for key, value in answers.items()}
    return {"med-TOTAL_FORMS": "0", "med-INITIAL_FORMS": "0"} | data


def errors_of(form_class, draft: bool = False, **overrides: Any) -> dict[str, list[str]]:
    answers = v1_answers if form_class is MedicationsFormV1 else complete_answers
    form = form_class(data=form_data(answers(**overrides)), draft=draft)
    form.is_valid()
    return dict(form.errors)


# --- Every section's checks --------------------------------------------------------------


@pytest.mark.parametrize(
    ("form_class", "question"),
    [
        (MedicalHistoryForm, "hypertension"),
        (MedicalHistoryForm, "heart_disease"),
        (MedicalHistoryForm, "aneurysm_or_avm"),
        (MedicalHistoryForm, "intracranial_bleeding"),
        (MedicalHistoryForm, "raised_icp_or_iop"),
        (MedicalHistoryForm, "liver_disease"),
        (MedicalHistoryForm, "seizures"),
        (PsychiatricHistoryForm, "depression"),
        (PsychiatricHistoryForm, "bipolar"),
        (PsychiatricHistoryForm, "mania_now"),
        (PsychiatricHistoryForm, "psychosis_history"),
        (PsychiatricHistoryForm, "psychosis_now"),
        (PsychiatricHistoryForm, "suicidal_thoughts"),
        (PsychiatricHistoryForm, "antidepressant_trials"),
        (PsychiatricHistoryForm, "psychotherapy"),
        (PsychiatricHistoryForm, "ect"),
        (PsychiatricHistoryForm, "tms"),
        (SubstanceUseForm, "alcohol"),
        (SubstanceUseForm, "cannabis"),
        (SubstanceUseForm, "street_stimulants"),
        (SubstanceUseForm, "opioids"),
        (SubstanceUseForm, "ketamine_misuse"),
        (SubstanceUseForm, "substance_use_disorder"),
        (MedicationsForm, "takes_medicines"),
        (MedicationsFormV1, "medications"),
        (MedicationsFormV1, "benzodiazepines"),
        (MedicationsFormV1, "maoi"),
        (AllergiesForm, "allergy_ketamine"),
        (PregnancyForm, "pregnant"),
        (PregnancyForm, "breastfeeding"),
    ],
)
def test_it_requires_an_answer_on_submit_but_not_in_a_draft(form_class, question):
    assert errors_of(form_class, **{question: None}) == {question: [REQUIRED_MESSAGE]}
    assert errors_of(form_class, draft=True, **{question: None}) == {}


@pytest.mark.parametrize(
    ("form_class", "question"),
    [
        (MedicalHistoryForm, "other_medical"),
        (AllergiesForm, "other_allergies"),
        (GoalsForm, "treatment_goals"),
    ],
)
def test_it_lets_free_text_extras_stay_blank(form_class, question):
    assert errors_of(form_class, **{question: ""}) == {}


def test_every_section_accepts_a_complete_answer_set():
    for form_class in sections_for(SexAtBirth.FEMALE):
        assert errors_of(form_class) == {}, form_class.__name__


@pytest.mark.parametrize(
    ("form_class", "question", "value"),
    [
        (MedicalHistoryForm, "heart_disease", "a bit"),
        (MedicalHistoryForm, "liver_disease", "critical"),
        (MedicalHistoryForm, "hypertension", "maybe"),
        (SubstanceUseForm, "alcohol", "sometimes"),
        (SubstanceUseForm, "substance_use_disorder", "cured"),
        (AllergiesForm, "allergy_ketamine", "perhaps"),
        (PregnancyForm, "breastfeeding", "unsure"),  # only pregnancy has "not sure"
    ],
)
def test_it_refuses_answers_that_are_not_among_the_choices(form_class, question, value):
    assert errors_of(form_class, **{question: value}) == {
        question: ["Choose one of the answers shown."]
    }


def test_it_accepts_not_sure_about_a_ketamine_allergy_and_pregnancy():
    assert errors_of(AllergiesForm, allergy_ketamine="unsure") == {}
    assert errors_of(PregnancyForm, pregnant="unsure") == {}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "Enter 0 or more."),
        ("51", "Enter a number up to 50."),
        ("two", "Enter a whole number, such as 0, 1 or 3."),
    ],
)
def test_it_checks_the_number_of_antidepressants_tried(value, message):
    assert errors_of(PsychiatricHistoryForm, antidepressant_trials=value) == {
        "antidepressant_trials": [message]
    }


def test_it_needs_the_recovery_date_when_in_recovery():
    errors = errors_of(SubstanceUseForm, substance_use_disorder="in_remission")
    assert errors == {
        "remission_since": [
            "You said you are in recovery: tell us since when (your best guess is fine)."
        ]
    }
    assert errors_of(SubstanceUseForm, draft=True, substance_use_disorder="in_remission") == {}
    assert (
        errors_of(
            SubstanceUseForm, substance_use_disorder="in_remission", remission_since="2022-01-01"
        )
        == {}
    )


def test_it_refuses_a_recovery_date_in_the_future():
    tomorrow = (timezone.localdate() + timedelta(days=1)).isoformat()
    errors = errors_of(
        SubstanceUseForm, substance_use_disorder="in_remission", remission_since=tomorrow
    )
    assert errors == {"remission_since": ["This date is in the future: enter when it began."]}


def test_it_drops_a_recovery_date_when_not_in_recovery():
    form = SubstanceUseForm(
        data=form_data(
            complete_answers(substance_use_disorder="active", remission_since="2020-1-1")
        )
    )
    assert form.is_valid()
    assert form.cleaned_data["remission_since"] is None


def test_it_needs_the_benzodiazepine_dose_when_one_is_taken():
    errors = errors_of(MedicationsFormV1, benzodiazepines="yes")
    assert errors == {
        "benzodiazepine_lorazepam_mg": [
            "You said you take a benzodiazepine: enter how many milligrams a day (your best "
            "estimate is fine)."
        ]
    }
    assert errors_of(MedicationsFormV1, draft=True, benzodiazepines="yes") == {}
    assert (
        errors_of(MedicationsFormV1, benzodiazepines="yes", benzodiazepine_lorazepam_mg="0") == {}
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-0.5", "Enter 0 or more milligrams."),
        ("lots", "Enter a number of milligrams, such as 0.5 or 2."),
        ("0.125", "Use at most 2 decimal places, such as 0.25."),
        ("150", "Enter 100 mg or less; if you take more, tell us in the list above."),
    ],
)
def test_it_checks_the_benzodiazepine_dose(value, message):
    errors = errors_of(MedicationsFormV1, benzodiazepines="yes", benzodiazepine_lorazepam_mg=value)
    assert errors == {"benzodiazepine_lorazepam_mg": [message]}


def test_it_checks_a_dose_even_in_a_draft():
    errors = errors_of(
        MedicationsFormV1, draft=True, benzodiazepines="yes", benzodiazepine_lorazepam_mg="-1"
    )
    assert errors == {"benzodiazepine_lorazepam_mg": ["Enter 0 or more milligrams."]}


def test_it_drops_a_dose_when_no_benzodiazepine_is_taken():
    form = MedicationsFormV1(
        data=form_data(v1_answers(benzodiazepines="no", benzodiazepine_lorazepam_mg="4"))
    )
    assert form.is_valid()
    assert form.cleaned_data["benzodiazepine_lorazepam_mg"] is None


def test_it_asks_for_the_medicines_list_with_none_written_out():
    assert errors_of(MedicationsFormV1, medications="") == {"medications": [REQUIRED_MESSAGE]}


def test_it_limits_free_text_length():
    errors = errors_of(GoalsForm, treatment_goals="x" * 2001)
    assert errors == {
        "treatment_goals": [
            "Keep this under 2000 characters; you can tell us more at your consultation."
        ]
    }


def test_it_does_not_ask_about_pregnancy_when_male_at_birth():
    assert PregnancyForm not in sections_for(SexAtBirth.MALE)
    assert PregnancyForm in sections_for(SexAtBirth.FEMALE)
    assert PregnancyForm in sections_for(SexAtBirth.INTERSEX)


# --- A whole answer set ------------------------------------------------------------------


def test_it_stores_answers_in_json_with_the_schema_version():
    answers = clean_answers(
        complete_answers(
            takes_medicines="yes",
            substance_use_disorder="in_remission",
            remission_since="2021-06-01",
        ),
        sex_at_birth=SexAtBirth.FEMALE,
        draft=False,
    )
    assert answers["schema_version"] == INTAKE_SCHEMA_VERSION
    assert answers["takes_medicines"] == "yes"
    assert "maoi" not in answers  # a box of questionnaire version 1, no longer asked
    assert answers["remission_since"] == "2021-06-01"
    assert answers["antidepressant_trials"] == 3
    assert answers["pregnant"] == "no"


def test_it_reports_every_missing_answer_by_question():
    with pytest.raises(ValidationError) as caught:
        clean_answers(
            complete_answers(takes_medicines=None, pregnant=None),
            sex_at_birth="female",
            draft=False,
        )
    assert caught.value.message_dict == {
        "takes_medicines": [REQUIRED_MESSAGE],
        "pregnant": [REQUIRED_MESSAGE],
    }


def test_it_leaves_pregnancy_out_for_a_patient_male_at_birth():
    answers = clean_answers(
        complete_answers(pregnant=None, breastfeeding=None), sex_at_birth="male", draft=False
    )
    assert "pregnant" not in answers
    assert "breastfeeding" not in answers


def test_it_drops_keys_that_are_not_questions():
    answers = clean_answers(
        {"hypertension": "yes", "is_admin": True}, sex_at_birth="male", draft=True
    )
    assert answers["hypertension"] == "yes"
    assert "is_admin" not in answers


def test_it_shows_answers_section_by_section_in_plain_words():
    sections = answers_by_section(
        complete_answers(heart_disease="controlled", takes_medicines=None), SexAtBirth.FEMALE
    )
    rows = {row.key: row for section in sections for row in section.rows}
    assert rows["heart_disease"].value == "Yes, and my treatment keeps it well controlled"
    assert rows["heart_disease"].short_label == "Heart disease"
    assert rows["takes_medicines"].value == NOT_ANSWERED
    assert "maoi" not in rows
    assert [section.key for section in sections][-2:] == ["pregnancy", "goals"]


def test_an_intake_of_questionnaire_version_1_is_shown_as_it_was_asked():
    sections = answers_by_section(v1_answers(maoi="yes"), SexAtBirth.FEMALE)
    rows = {row.key: row for section in sections for row in section.rows}
    assert rows["maoi"].value == "Yes"
    assert rows["medications"].value == "Sertraline 100 mg a day"
    assert "takes_medicines" not in rows


# --- Comparing versions ------------------------------------------------------------------


def test_the_diff_lists_each_changed_answer_with_its_label():
    old = complete_answers()
    new = complete_answers(heart_disease="controlled", takes_medicines="yes")
    changes = answers_diff(old, new)
    assert [(c.key, c.label, c.before, c.after) for c in changes] == [
        (
            "heart_disease",
            "Heart disease",
            "No",
            "Yes, and my treatment keeps it well controlled",
        ),
        ("takes_medicines", "Takes medicines now", "No", "Yes"),
    ]
    assert changes[0].section == "Your health"


def test_the_diff_is_empty_when_nothing_changed_as_people_read_it():
    old = v1_answers(benzodiazepines="yes", benzodiazepine_lorazepam_mg="2.50")
    new = v1_answers(benzodiazepines="yes", benzodiazepine_lorazepam_mg="2.5")
    assert answers_diff(old, new) == []
    assert answers_diff({"other_medical": None}, {"other_medical": ""}) == []


def test_the_diff_shows_answers_from_other_questionnaire_versions():
    changes = answers_diff({"schema_version": 0, "old_question": "yes"}, {"schema_version": 1})
    assert [(c.key, c.before, c.after) for c in changes] == [("old_question", "yes", NOT_ANSWERED)]


# --- Facts for the screening rules -------------------------------------------------------


def facts(patient=None, answers=None, **kwargs):
    patient = patient or PatientFactory.build(date_of_birth=date(1980, 6, 15))
    return facts_from(
        patient=patient,
        answers=complete_answers() if answers is None else answers,
        measurement=kwargs.get("measurement"),
        phq9=kwargs.get("phq9"),
        medications=kwargs.get("medications", ()),
        today=kwargs.get("today", date(2026, 6, 14)),
    )


def test_facts_take_age_and_sex_from_the_patient_record():
    result = facts()
    assert result.age_years == 45  # one day before the 46th birthday
    assert result.sex_at_birth == "female"


def test_facts_map_every_answer_the_rules_use_in_questionnaire_version_1():
    result = facts(
        answers=v1_answers(
            allergy_ketamine="yes",
            aneurysm_or_avm="yes",
            intracranial_bleeding="yes",
            heart_disease="uncontrolled",
            substance_use_disorder="in_remission",
            ketamine_misuse="yes",
            psychosis_now="yes",
            bipolar="yes",
            liver_disease="moderate",
            raised_icp_or_iop="yes",
            maoi="yes",
            benzodiazepines="yes",
            benzodiazepine_lorazepam_mg="3",
            lamotrigine="yes",
            other_cns_depressants="yes",
            stimulant_medication="yes",
            pregnant="yes",
            breastfeeding="yes",
        )
    )
    assert (result.allergy_ketamine, result.aneurysm_or_avm, result.intracranial_bleeding) == (
        True,
        True,
        True,
    )
    assert result.heart_disease == "uncontrolled"
    assert result.substance_use_disorder == "in_remission"
    assert result.ketamine_misuse_history is True
    assert result.current_psychosis_or_mania is True
    assert result.history_psychosis_schizophrenia_or_bipolar is True
    assert result.liver_disease == "moderate"
    assert result.raised_icp_or_iop is True
    assert (result.maoi, result.lamotrigine) == (True, True)
    assert result.benzodiazepine_lorazepam_mg == Decimal(3)
    assert (result.other_cns_depressants, result.stimulants) == (True, True)
    assert (result.pregnant, result.breastfeeding) == (True, True)


def test_facts_of_a_reassuring_intake_are_all_recorded_as_no():
    result = facts()
    assert result.allergy_ketamine is False
    assert result.current_psychosis_or_mania is False
    assert result.history_psychosis_schizophrenia_or_bipolar is False
    assert result.benzodiazepine_lorazepam_mg == Decimal(0)
    assert result.pregnant is False


def test_not_sure_counts_as_not_recorded():
    result = facts(answers=complete_answers(allergy_ketamine="unsure", pregnant="unsure"))
    assert result.allergy_ketamine is None
    assert result.pregnant is None


def test_psychosis_or_mania_is_unknown_unless_both_are_answered_no():
    assert facts(answers=complete_answers(mania_now=None)).current_psychosis_or_mania is None
    assert (
        facts(
            answers=complete_answers(mania_now=None, psychosis_now="yes")
        ).current_psychosis_or_mania
        is True
    )


@pytest.mark.parametrize("answers", [complete_answers, v1_answers])
def test_current_street_drug_use_counts_with_the_medicines(answers):
    result = facts(answers=answers(opioids="current", street_stimulants="current"))
    assert result.other_cns_depressants is True
    assert result.stimulants is True
    past = facts(answers=answers(opioids="past", street_stimulants="past"))
    assert (past.other_cns_depressants, past.stimulants) == (False, False)


def test_facts_are_not_recorded_without_an_intake():
    result = facts(answers={})
    assert result.allergy_ketamine is None
    assert result.benzodiazepine_lorazepam_mg is None
    assert result.systolic is None
    assert result.phq9_item9 is None


def test_pregnancy_is_never_a_fact_for_a_patient_male_at_birth():
    male = PatientFactory.build(sex_at_birth=SexAtBirth.MALE)
    assert facts(patient=male, answers=complete_answers(pregnant="yes")).pregnant is None


def test_facts_take_blood_pressure_and_phq9_item_9_from_what_is_given():
    measurement = MeasurementFactory.build(systolic=151, diastolic=92)
    phq9 = QuestionnaireResponseFactory.build(answers={f"q{n}": 0 for n in range(1, 9)} | {"q9": 2})
    result = facts(measurement=measurement, phq9=phq9)
    assert (result.systolic, result.diastolic) == (151, 92)
    assert result.phq9_item9 == 2
