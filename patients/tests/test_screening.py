"""The candidacy screening engine, rule by rule, at and around every threshold.

No database: the engine is pure. Each test starts from a fully recorded patient with
nothing to find (``HEALTHY``) and changes only what it is about.
"""

from __future__ import annotations

import ast
import json
from dataclasses import FrozenInstanceError, fields, replace
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from patients import screening
from patients.screening import (
    CONTEXT_FACTS,
    DEFAULT_THRESHOLDS,
    MISSING_FACTS,
    RULES,
    RULESET_VERSION,
    Finding,
    Outcome,
    ScreeningFacts,
    ScreeningResult,
    Severity,
    Thresholds,
    outcome_for,
    rules_table,
    ruleset_fingerprint,
    screen,
    thresholds_from_settings,
)

C = Severity.CONTRAINDICATED
R = Severity.REVIEW
N = Severity.NOTE

HEALTHY = ScreeningFacts(
    age_years=40,
    sex_at_birth="female",
    pregnant=False,
    breastfeeding=False,
    systolic=120,
    diastolic=80,
    allergy_ketamine=False,
    aneurysm_or_avm=False,
    intracranial_bleeding=False,
    heart_disease="none",
    substance_use_disorder="none",
    ketamine_misuse_history=False,
    current_psychosis_or_mania=False,
    history_psychosis_schizophrenia_or_bipolar=False,
    liver_disease="none",
    raised_icp_or_iop=False,
    maoi=False,
    benzodiazepine_lorazepam_mg=Decimal("0"),
    lamotrigine=False,
    other_cns_depressants=False,
    stimulants=False,
    phq9_item9=0,
)


def found(facts: ScreeningFacts, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> list[str]:
    return [finding.rule_id for finding in screen(facts, thresholds).findings]


def the_finding(facts: ScreeningFacts, rule_id: str) -> Finding:
    (finding,) = [f for f in screen(facts).findings if f.rule_id == rule_id]
    return finding


# --- A patient with nothing to find ---------------------------------------------------


def test_it_finds_nothing_for_a_fully_recorded_healthy_patient() -> None:
    result = screen(HEALTHY)

    assert result.outcome is Outcome.ELIGIBLE
    assert result.findings == ()
    assert result.has_urgent is False
    assert result.ruleset_version == RULESET_VERSION
    assert result.thresholds == DEFAULT_THRESHOLDS.to_dict()


def test_it_gives_the_same_result_every_time() -> None:
    facts = replace(HEALTHY, systolic=150, maoi=True, phq9_item9=1, age_years=70)

    assert screen(facts) == screen(facts)


# --- Every rule at, below and above its threshold, and every categorical value --------

RULE_CASES = [
    # Allergy, vascular
    pytest.param({"allergy_ketamine": True}, ["allergy.ketamine"], id="allergy to ketamine"),
    pytest.param({"aneurysm_or_avm": True}, ["vascular.aneurysm_avm"], id="aneurysm or AVM"),
    pytest.param(
        {"intracranial_bleeding": True},
        ["vascular.intracranial_bleeding"],
        id="intracranial bleeding",
    ),
    # Pregnancy and breastfeeding
    pytest.param({"pregnant": True}, ["pregnancy.pregnant"], id="pregnant"),
    pytest.param({"breastfeeding": True}, ["pregnancy.breastfeeding"], id="breastfeeding"),
    pytest.param(
        {"sex_at_birth": "intersex", "pregnant": True},
        ["pregnancy.pregnant"],
        id="pregnant, intersex at birth",
    ),
    # Systolic, diastolic normal
    pytest.param({"systolic": 139}, [], id="systolic 139 is fine"),
    pytest.param({"systolic": 140}, ["bp.review"], id="systolic 140 needs review"),
    pytest.param({"systolic": 141}, ["bp.review"], id="systolic 141 needs review"),
    pytest.param({"systolic": 159}, ["bp.review"], id="systolic 159 needs review"),
    pytest.param({"systolic": 160}, ["bp.contraindicated"], id="systolic 160 contraindicates"),
    pytest.param({"systolic": 161}, ["bp.contraindicated"], id="systolic 161 contraindicates"),
    # Diastolic, systolic normal
    pytest.param({"diastolic": 89}, [], id="diastolic 89 is fine"),
    pytest.param({"diastolic": 90}, ["bp.review"], id="diastolic 90 needs review"),
    pytest.param({"diastolic": 91}, ["bp.review"], id="diastolic 91 needs review"),
    pytest.param({"diastolic": 99}, ["bp.review"], id="diastolic 99 needs review"),
    pytest.param({"diastolic": 100}, ["bp.contraindicated"], id="diastolic 100 contraindicates"),
    pytest.param({"diastolic": 101}, ["bp.contraindicated"], id="diastolic 101 contraindicates"),
    # Both numbers: only the most severe blood pressure finding
    pytest.param(
        {"systolic": 139, "diastolic": 89}, [], id="139/89 is fine (just below both limits)"
    ),
    pytest.param(
        {"systolic": 150, "diastolic": 95}, ["bp.review"], id="150/95 is one review finding"
    ),
    pytest.param(
        {"systolic": 165, "diastolic": 95},
        ["bp.contraindicated"],
        id="165/95 contraindicates, without a review finding",
    ),
    pytest.param(
        {"systolic": 150, "diastolic": 105},
        ["bp.contraindicated"],
        id="150/105 contraindicates, without a review finding",
    ),
    # Heart disease
    pytest.param({"heart_disease": "none"}, [], id="no heart disease"),
    pytest.param(
        {"heart_disease": "controlled"}, ["heart.controlled"], id="controlled heart disease"
    ),
    pytest.param(
        {"heart_disease": "uncontrolled"},
        ["heart.uncontrolled"],
        id="uncontrolled heart disease",
    ),
    # Substance use
    pytest.param({"substance_use_disorder": "none"}, [], id="no substance use disorder"),
    pytest.param(
        {"substance_use_disorder": "in_remission"},
        ["substance.remission"],
        id="substance use disorder in remission",
    ),
    pytest.param(
        {"substance_use_disorder": "active"},
        ["substance.active"],
        id="active substance use disorder",
    ),
    pytest.param(
        {"ketamine_misuse_history": True},
        ["substance.ketamine_misuse"],
        id="past ketamine misuse",
    ),
    # Psychiatric
    pytest.param(
        {"current_psychosis_or_mania": True},
        ["psychiatric.current_psychosis_mania"],
        id="current psychosis or mania",
    ),
    pytest.param(
        {"history_psychosis_schizophrenia_or_bipolar": True},
        ["psychiatric.history"],
        id="history of psychosis, schizophrenia or bipolar",
    ),
    pytest.param(
        {"current_psychosis_or_mania": True, "history_psychosis_schizophrenia_or_bipolar": True},
        ["psychiatric.current_psychosis_mania", "psychiatric.history"],
        id="current mania and a bipolar history are both reported",
    ),
    # Liver
    pytest.param({"liver_disease": "none"}, [], id="no liver disease"),
    pytest.param({"liver_disease": "mild"}, [], id="mild liver disease"),
    pytest.param({"liver_disease": "moderate"}, ["liver.moderate"], id="moderate liver disease"),
    pytest.param({"liver_disease": "severe"}, ["liver.severe"], id="severe liver disease"),
    # Pressure
    pytest.param({"raised_icp_or_iop": True}, ["pressure.icp_iop"], id="raised ICP or IOP"),
    # Age
    pytest.param({"age_years": 0}, ["age.minor"], id="age 0 contraindicates"),
    pytest.param({"age_years": 17}, ["age.minor"], id="age 17 contraindicates"),
    pytest.param({"age_years": 18}, [], id="age 18 is fine"),
    pytest.param({"age_years": 19}, [], id="age 19 is fine"),
    pytest.param({"age_years": 64}, [], id="age 64 is fine"),
    pytest.param({"age_years": 65}, ["age.older"], id="age 65 is a note"),
    pytest.param({"age_years": 66}, ["age.older"], id="age 66 is a note"),
    pytest.param({"age_years": 99}, ["age.older"], id="age 99 is a note"),
    # Medications
    pytest.param({"maoi": True}, ["meds.maoi"], id="MAOI"),
    pytest.param({"benzodiazepine_lorazepam_mg": Decimal("0")}, [], id="no benzodiazepine"),
    pytest.param({"benzodiazepine_lorazepam_mg": Decimal("1.99")}, [], id="benzo 1.99 mg"),
    pytest.param({"benzodiazepine_lorazepam_mg": Decimal("2")}, [], id="benzo 2 mg is fine"),
    pytest.param({"benzodiazepine_lorazepam_mg": Decimal("2.00")}, [], id="benzo 2.00 mg"),
    pytest.param(
        {"benzodiazepine_lorazepam_mg": Decimal("2.01")},
        ["meds.benzodiazepine"],
        id="benzo 2.01 mg needs review",
    ),
    pytest.param(
        {"benzodiazepine_lorazepam_mg": Decimal("4")},
        ["meds.benzodiazepine"],
        id="benzo 4 mg needs review",
    ),
    pytest.param({"lamotrigine": True}, ["meds.lamotrigine"], id="lamotrigine"),
    pytest.param({"other_cns_depressants": True}, ["meds.cns_depressant"], id="CNS depressant"),
    pytest.param({"stimulants": True}, ["meds.stimulant"], id="stimulants"),
    # Consistency: the record against the patient's answers
    pytest.param(
        {"referral_conditions": ("trd",), "antidepressant_trials": 1},
        ["consistency.trd_trials"],
        id="TRD with one antidepressant tried",
    ),
    pytest.param(
        {"referral_conditions": ("trd",), "antidepressant_trials": 2},
        [],
        id="TRD with two antidepressants tried",
    ),
    pytest.param(
        {"referral_conditions": ("mdd",), "antidepressant_trials": 0},
        [],
        id="major depression with none tried is not TRD",
    ),
    pytest.param(
        {"referral_conditions": ("mdd",), "depression_reported": False},
        ["consistency.condition_denied"],
        id="major depression on the record, denied on the intake",
    ),
    pytest.param(
        {"referral_conditions": ("bipolar_depression",), "bipolar_reported": False},
        ["consistency.condition_denied"],
        id="bipolar depression on the record, no bipolar disorder on the intake",
    ),
    pytest.param(
        {"referral_conditions": ("mdd",), "depression_reported": True},
        [],
        id="major depression on the record and the intake",
    ),
    pytest.param(
        {"referral_conditions": ("anxiety",), "depression_reported": False},
        [],
        id="anxiety on the record, no depression on the intake",
    ),
    pytest.param(
        {"referral_conditions": ("trd",), "antidepressant_trials": 3, "phq9_total": 4},
        ["consistency.phq9_minimal"],
        id="TRD with a PHQ-9 of 4",
    ),
    pytest.param(
        {"referral_conditions": ("trd",), "antidepressant_trials": 3, "phq9_total": 5},
        [],
        id="TRD with a PHQ-9 of 5",
    ),
    pytest.param({"phq9_total": 0}, [], id="PHQ-9 of 0 without a depression referral"),
    pytest.param(
        {"pregnant": None, "pregnancy_unsure": True},
        ["missing.pregnancy_status", "consistency.pregnancy_untested"],
        id="not sure about pregnancy at 40, no test",
    ),
    pytest.param(
        {"pregnant": None, "pregnancy_unsure": True, "pregnancy_test": "negative"},
        ["missing.pregnancy_status"],
        id="not sure about pregnancy, test negative",
    ),
    pytest.param(
        {"pregnant": None, "pregnancy_unsure": True, "age_years": 50},
        ["missing.pregnancy_status"],
        id="not sure about pregnancy at 50",
    ),
    pytest.param(
        {"pregnant": None, "pregnancy_unsure": True, "age_years": 49},
        ["missing.pregnancy_status", "consistency.pregnancy_untested"],
        id="not sure about pregnancy at 49",
    ),
    # Suicidality
    pytest.param({"phq9_item9": 0}, [], id="PHQ-9 item 9 answered 0"),
    pytest.param({"phq9_item9": 1}, ["suicidality.phq9_item9"], id="PHQ-9 item 9 answered 1"),
    pytest.param({"phq9_item9": 2}, ["suicidality.phq9_item9"], id="PHQ-9 item 9 answered 2"),
    pytest.param({"phq9_item9": 3}, ["suicidality.phq9_item9"], id="PHQ-9 item 9 answered 3"),
]


@pytest.mark.parametrize(("changes", "expected"), RULE_CASES)
def test_it_triggers_exactly_the_expected_rules(
    changes: dict[str, object], expected: list[str]
) -> None:
    assert found(replace(HEALTHY, **changes)) == expected


@pytest.mark.parametrize(("changes", "expected"), RULE_CASES)
def test_the_outcome_follows_the_worst_finding(
    changes: dict[str, object], expected: list[str]
) -> None:
    severity_of = {rule.id: rule.severity for rule in RULES}
    severity_of |= {missing.rule_id: R for missing in MISSING_FACTS.values()}

    result = screen(replace(HEALTHY, **changes))

    assert result.outcome is outcome_for(severity_of[rule_id] for rule_id in expected)


FALSE_BOOLEANS = [f.name for f in fields(ScreeningFacts) if getattr(HEALTHY, f.name) is False]


@pytest.mark.parametrize("name", FALSE_BOOLEANS)
def test_a_recorded_no_is_no_finding(name: str) -> None:
    assert screen(replace(HEALTHY, **{name: False})).findings == ()


RULE_SEVERITIES = [
    ("allergy.ketamine", C),
    ("vascular.aneurysm_avm", C),
    ("vascular.intracranial_bleeding", C),
    ("pregnancy.pregnant", C),
    ("pregnancy.breastfeeding", C),
    ("bp.contraindicated", C),
    ("bp.review", R),
    ("heart.uncontrolled", C),
    ("heart.controlled", R),
    ("substance.active", C),
    ("substance.remission", R),
    ("substance.ketamine_misuse", R),
    ("psychiatric.current_psychosis_mania", C),
    ("psychiatric.history", R),
    ("liver.severe", C),
    ("liver.moderate", R),
    ("pressure.icp_iop", R),
    ("age.minor", C),
    ("age.older", N),
    ("meds.maoi", R),
    ("meds.benzodiazepine", R),
    ("meds.lamotrigine", N),
    ("meds.cns_depressant", N),
    ("meds.stimulant", N),
    ("consistency.trd_trials", R),
    ("consistency.condition_denied", R),
    ("consistency.phq9_minimal", R),
    ("consistency.pregnancy_untested", R),
    ("suicidality.phq9_item9", R),
]


def test_the_rules_are_exactly_those_of_domain_md_with_their_severities() -> None:
    assert [(rule.id, rule.severity) for rule in RULES] == RULE_SEVERITIES


def test_every_rule_is_triggered_by_some_case_above() -> None:
    triggered = {rule_id for case in RULE_CASES for rule_id in case.values[1]}
    missing = {missing.rule_id for missing in MISSING_FACTS.values()}

    assert triggered - missing == {rule.id for rule in RULES}


# --- What a finding says --------------------------------------------------------------


def test_it_explains_a_high_blood_pressure_with_the_reading_and_the_limit() -> None:
    finding = the_finding(replace(HEALTHY, systolic=162, diastolic=95), "bp.contraindicated")

    assert finding.severity is C
    assert finding.value == "162/95 mmHg"
    assert finding.reason == (
        "Blood pressure 162/95 mmHg is at or above 160/100: treat only once controlled."
    )
    assert finding.missing is False
    assert finding.urgent is False


def test_it_explains_a_raised_blood_pressure_with_the_review_limit() -> None:
    finding = the_finding(replace(HEALTHY, systolic=145, diastolic=85), "bp.review")

    assert finding.value == "145/85 mmHg"
    assert "at or above 140/90" in finding.reason


def test_it_asks_for_same_day_contact_when_phq9_item9_is_above_zero() -> None:
    result = screen(replace(HEALTHY, phq9_item9=2))
    (finding,) = result.findings

    assert finding.rule_id == "suicidality.phq9_item9"
    assert finding.severity is R
    assert finding.urgent is True
    assert finding.value == "2 of 3"
    assert "urgent clinician contact the same day" in finding.reason
    assert "Not a contraindication" in finding.reason
    assert result.outcome is Outcome.REVIEW
    assert result.has_urgent is True


def test_it_is_not_urgent_when_phq9_item9_is_zero() -> None:
    assert screen(replace(HEALTHY, phq9_item9=0)).has_urgent is False


@pytest.mark.parametrize(
    ("changes", "rule_id", "value"),
    [
        ({"age_years": 17}, "age.minor", "17 years"),
        ({"age_years": 70}, "age.older", "70 years"),
        (
            {"benzodiazepine_lorazepam_mg": Decimal("2.50")},
            "meds.benzodiazepine",
            "2.5 mg lorazepam-equivalent a day",
        ),
        (
            {"benzodiazepine_lorazepam_mg": Decimal("10")},
            "meds.benzodiazepine",
            "10 mg lorazepam-equivalent a day",
        ),
        ({"heart_disease": "uncontrolled"}, "heart.uncontrolled", "uncontrolled"),
        ({"substance_use_disorder": "in_remission"}, "substance.remission", "in remission"),
        ({"liver_disease": "severe"}, "liver.severe", "severe (Child-Pugh C)"),
        ({"maoi": True}, "meds.maoi", "yes"),
    ],
)
def test_it_shows_the_value_that_triggered_the_finding(
    changes: dict[str, object], rule_id: str, value: str
) -> None:
    assert the_finding(replace(HEALTHY, **changes), rule_id).value == value


@pytest.mark.parametrize("rule", RULES, ids=lambda rule: rule.id)
def test_every_rule_has_a_title_a_source_and_a_reason_ending_in_a_full_stop(rule) -> None:
    everything_wrong = ScreeningFacts(
        age_years=10,
        sex_at_birth="female",
        pregnant=True,
        breastfeeding=True,
        systolic=200,
        diastolic=120,
        allergy_ketamine=True,
        aneurysm_or_avm=True,
        intracranial_bleeding=True,
        heart_disease="uncontrolled" if rule.id != "heart.controlled" else "controlled",
        substance_use_disorder="active" if rule.id != "substance.remission" else "in_remission",
        ketamine_misuse_history=True,
        current_psychosis_or_mania=True,
        history_psychosis_schizophrenia_or_bipolar=True,
        liver_disease="severe" if rule.id != "liver.moderate" else "moderate",
        raised_icp_or_iop=True,
        maoi=True,
        benzodiazepine_lorazepam_mg=Decimal("6"),
        lamotrigine=True,
        other_cns_depressants=True,
        stimulants=True,
        phq9_item9=3,
        referral_conditions=("trd", "bipolar_depression"),
        antidepressant_trials=1,
        depression_reported=False,
        bipolar_reported=False,
        phq9_total=2,
        pregnancy_unsure=True,
    )
    if rule.id == "consistency.pregnancy_untested":
        everything_wrong = replace(everything_wrong, age_years=30)
    if rule.id == "bp.review":
        everything_wrong = replace(everything_wrong, systolic=150, diastolic=95)
    if rule.id == "age.older":
        everything_wrong = replace(everything_wrong, age_years=80)

    hit = rule.check(everything_wrong, DEFAULT_THRESHOLDS)

    assert rule.title
    assert rule.source
    assert hit is not None
    assert hit.value
    assert hit.reason.endswith(".")


# --- Missing information is a finding, never "eligible" -------------------------------

MISSING_CASES = [
    ("age_years", "missing.age"),
    ("sex_at_birth", "missing.sex_at_birth"),
    ("pregnant", "missing.pregnancy_status"),
    ("breastfeeding", "missing.breastfeeding_status"),
    ("systolic", "missing.blood_pressure"),
    ("diastolic", "missing.blood_pressure"),
    ("allergy_ketamine", "missing.allergy_ketamine"),
    ("aneurysm_or_avm", "missing.aneurysm_or_avm"),
    ("intracranial_bleeding", "missing.intracranial_bleeding"),
    ("heart_disease", "missing.heart_disease"),
    ("substance_use_disorder", "missing.substance_use_disorder"),
    ("ketamine_misuse_history", "missing.ketamine_misuse_history"),
    ("current_psychosis_or_mania", "missing.current_psychosis_or_mania"),
    ("history_psychosis_schizophrenia_or_bipolar", "missing.psychiatric_history"),
    ("liver_disease", "missing.liver_disease"),
    ("raised_icp_or_iop", "missing.raised_icp_or_iop"),
    ("maoi", "missing.maoi"),
    ("benzodiazepine_lorazepam_mg", "missing.benzodiazepine_dose"),
    ("lamotrigine", "missing.lamotrigine"),
    ("other_cns_depressants", "missing.other_cns_depressants"),
    ("stimulants", "missing.stimulants"),
    ("phq9_item9", "missing.phq9_item9"),
]


def test_every_fact_has_a_missing_case_below() -> None:
    assert [name for name, _ in MISSING_CASES] == [
        f.name for f in fields(ScreeningFacts) if f.name not in CONTEXT_FACTS
    ]


@pytest.mark.parametrize(("name", "rule_id"), MISSING_CASES)
def test_a_fact_not_recorded_is_a_review_finding(name: str, rule_id: str) -> None:
    result = screen(replace(HEALTHY, **{name: None}))

    assert result.outcome is Outcome.REVIEW
    assert result.findings == (
        Finding(
            rule_id=rule_id,
            severity=R,
            reason=MISSING_FACTS[name].reason,
            value="not recorded",
            missing=True,
        ),
    )


TEXT_FACTS = [f.name for f in fields(ScreeningFacts) if isinstance(getattr(HEALTHY, f.name), str)]


@pytest.mark.parametrize("name", TEXT_FACTS)
def test_a_blank_text_answer_counts_as_not_recorded(name: str) -> None:
    assert screen(replace(HEALTHY, **{name: ""})) == screen(replace(HEALTHY, **{name: None}))


@pytest.mark.parametrize("name", [name for name, _ in MISSING_CASES])
def test_a_missing_fact_reads_as_a_question_to_ask(name: str) -> None:
    reason = MISSING_FACTS[name].reason

    assert "not recorded" in reason or "not answered" in reason
    assert reason.endswith(".")


def test_nothing_recorded_reports_each_missing_fact_once() -> None:
    result = screen(ScreeningFacts())

    ids = [finding.rule_id for finding in result.findings]
    assert sorted(ids) == sorted({rule_id for _, rule_id in MISSING_CASES})
    assert len(ids) == len(set(ids))
    assert all(finding.missing for finding in result.findings)
    assert result.outcome is Outcome.REVIEW


def test_a_blood_pressure_not_measured_is_one_finding_not_two() -> None:
    assert found(replace(HEALTHY, systolic=None, diastolic=None)) == ["missing.blood_pressure"]


def test_half_a_blood_pressure_still_contraindicates_when_that_half_is_too_high() -> None:
    facts = replace(HEALTHY, systolic=170, diastolic=None)

    assert found(facts) == ["bp.contraindicated", "missing.blood_pressure"]
    assert the_finding(facts, "bp.contraindicated").value == (
        "170 mmHg systolic (diastolic not recorded)"
    )


def test_half_a_blood_pressure_in_the_review_range_needs_review() -> None:
    facts = replace(HEALTHY, systolic=None, diastolic=95)

    # Both are reviews; the missing reading comes first, raised by the first rule needing it.
    assert found(facts) == ["missing.blood_pressure", "bp.review"]
    assert the_finding(facts, "bp.review").value == "95 mmHg diastolic (systolic not recorded)"


def test_a_missing_fact_does_not_hide_a_contraindication_found_elsewhere() -> None:
    result = screen(replace(HEALTHY, maoi=None, allergy_ketamine=True))

    assert result.outcome is Outcome.CONTRAINDICATED
    assert [f.rule_id for f in result.findings] == ["allergy.ketamine", "missing.maoi"]


# --- Pregnancy and sex at birth -------------------------------------------------------


def test_it_does_not_ask_about_pregnancy_when_male_at_birth() -> None:
    male = replace(HEALTHY, sex_at_birth="male", pregnant=None, breastfeeding=None)

    result = screen(male)

    assert result.outcome is Outcome.ELIGIBLE
    assert result.findings == ()


@pytest.mark.parametrize("sex", ["female", "intersex"])
def test_it_asks_about_pregnancy_when_not_male_at_birth(sex: str) -> None:
    facts = replace(HEALTHY, sex_at_birth=sex, pregnant=None, breastfeeding=None)

    assert found(facts) == ["missing.pregnancy_status", "missing.breastfeeding_status"]


def test_it_asks_about_sex_and_pregnancy_when_neither_is_recorded() -> None:
    facts = replace(HEALTHY, sex_at_birth=None, pregnant=None, breastfeeding=None)

    assert found(facts) == [
        "missing.sex_at_birth",
        "missing.pregnancy_status",
        "missing.breastfeeding_status",
    ]


def test_a_recorded_pregnancy_contraindicates_even_when_sex_at_birth_is_not_recorded() -> None:
    facts = replace(HEALTHY, sex_at_birth=None, pregnant=True)

    assert found(facts) == ["pregnancy.pregnant", "missing.sex_at_birth"]
    assert screen(facts).outcome is Outcome.CONTRAINDICATED


def test_a_recorded_pregnancy_is_never_ignored_even_if_recorded_as_male_at_birth() -> None:
    # Contradictory records go to the physician rather than being silently dropped.
    facts = replace(HEALTHY, sex_at_birth="male", pregnant=True)

    assert found(facts) == ["pregnancy.pregnant"]


def test_it_reads_sex_at_birth_without_regard_to_case_or_spaces() -> None:
    facts = replace(HEALTHY, sex_at_birth=" Male ", pregnant=None, breastfeeding=None)

    assert facts.sex_at_birth == "male"
    assert screen(facts).findings == ()


# --- Combined outcome: the most severe finding wins ------------------------------------


@pytest.mark.parametrize(
    ("severities", "outcome"),
    [
        ((), Outcome.ELIGIBLE),
        ((N,), Outcome.ELIGIBLE),
        ((N, N), Outcome.ELIGIBLE),
        ((R,), Outcome.REVIEW),
        ((N, R), Outcome.REVIEW),
        ((R, N, R), Outcome.REVIEW),
        ((C,), Outcome.CONTRAINDICATED),
        ((N, C), Outcome.CONTRAINDICATED),
        ((R, C), Outcome.CONTRAINDICATED),
        ((C, R, N), Outcome.CONTRAINDICATED),
        ((N, R, C, N), Outcome.CONTRAINDICATED),
    ],
)
def test_the_most_severe_finding_decides_the_outcome(
    severities: tuple[Severity, ...], outcome: Outcome
) -> None:
    assert outcome_for(severities) is outcome


@pytest.mark.parametrize(
    ("changes", "outcome"),
    [
        pytest.param({"age_years": 70, "lamotrigine": True}, Outcome.ELIGIBLE, id="two notes"),
        pytest.param({"age_years": 70, "maoi": True}, Outcome.REVIEW, id="note and review"),
        pytest.param(
            {"maoi": True, "pregnant": True}, Outcome.CONTRAINDICATED, id="review and contra"
        ),
        pytest.param(
            {"stimulants": True, "heart_disease": "uncontrolled"},
            Outcome.CONTRAINDICATED,
            id="note and contraindication",
        ),
        pytest.param(
            {"phq9_item9": 1, "pregnant": True},
            Outcome.CONTRAINDICATED,
            id="urgent review and contraindication",
        ),
        pytest.param(
            {"lamotrigine": True, "maoi": None}, Outcome.REVIEW, id="note and a missing fact"
        ),
    ],
)
def test_screening_a_patient_gives_the_most_severe_outcome(
    changes: dict[str, object], outcome: Outcome
) -> None:
    assert screen(replace(HEALTHY, **changes)).outcome is outcome


def test_severities_are_ordered_by_clinical_weight_not_alphabetically() -> None:
    assert N < R < C
    assert sorted([C, N, R]) == [N, R, C]
    assert max([N, C, R]) is C


# --- Order of findings ----------------------------------------------------------------


def test_it_lists_the_most_severe_findings_first_then_in_rule_order() -> None:
    facts = replace(
        HEALTHY,
        stimulants=True,  # note
        age_years=70,  # note
        phq9_item9=1,  # review, urgent
        maoi=True,  # review
        liver_disease="severe",  # contraindicated
        lamotrigine=None,  # missing: review
        allergy_ketamine=True,  # contraindicated
    )

    assert found(facts) == [
        "allergy.ketamine",
        "liver.severe",
        "meds.maoi",
        "missing.lamotrigine",
        "suicidality.phq9_item9",
        "age.older",
        "meds.stimulant",
    ]


# --- Thresholds are clinic settings ---------------------------------------------------


@pytest.mark.parametrize(
    ("thresholds", "changes", "expected"),
    [
        pytest.param(
            Thresholds(bp_review_systolic=130), {"systolic": 130}, ["bp.review"], id="review 130"
        ),
        pytest.param(Thresholds(bp_review_systolic=130), {"systolic": 129}, [], id="129 is fine"),
        pytest.param(
            Thresholds(bp_review_diastolic=85), {"diastolic": 85}, ["bp.review"], id="review 85"
        ),
        pytest.param(
            Thresholds(bp_contraindicated_systolic=150),
            {"systolic": 150},
            ["bp.contraindicated"],
            id="contraindicate at 150",
        ),
        pytest.param(
            Thresholds(bp_contraindicated_diastolic=95),
            {"diastolic": 95},
            ["bp.contraindicated"],
            id="contraindicate at 95",
        ),
        pytest.param(
            Thresholds(bp_contraindicated_systolic=170),
            {"systolic": 165},
            ["bp.review"],
            id="165 only needs review under a 170 limit",
        ),
        pytest.param(Thresholds(min_age=21), {"age_years": 20}, ["age.minor"], id="minor at 20"),
        pytest.param(Thresholds(min_age=21), {"age_years": 21}, [], id="adult at 21"),
        pytest.param(Thresholds(older_age=60), {"age_years": 60}, ["age.older"], id="older 60"),
        pytest.param(Thresholds(older_age=70), {"age_years": 69}, [], id="69 under a 70 limit"),
        pytest.param(
            Thresholds(benzo_review_lorazepam_mg=Decimal("4")),
            {"benzodiazepine_lorazepam_mg": Decimal("4")},
            [],
            id="benzo at a 4 mg limit",
        ),
        pytest.param(
            Thresholds(benzo_review_lorazepam_mg=Decimal("1")),
            {"benzodiazepine_lorazepam_mg": Decimal("1.5")},
            ["meds.benzodiazepine"],
            id="benzo above a 1 mg limit",
        ),
    ],
)
def test_custom_thresholds_change_the_result(
    thresholds: Thresholds, changes: dict[str, object], expected: list[str]
) -> None:
    assert found(replace(HEALTHY, **changes), thresholds) == expected


def test_a_result_records_the_thresholds_it_used_and_says_them_in_its_reasons() -> None:
    thresholds = Thresholds(bp_review_systolic=130, bp_review_diastolic=85)

    result = screen(replace(HEALTHY, systolic=132, diastolic=80), thresholds)

    assert result.thresholds["bp_review_systolic"] == 130
    assert "at or above 130/85" in result.findings[0].reason


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"bp_review_systolic": 170}, "must not be above bp_contraindicated_systolic"),
        ({"bp_review_diastolic": 101}, "must not be above bp_contraindicated_diastolic"),
        ({"older_age": 18}, "must be above min_age"),
        ({"min_age": 0}, "whole number above 0"),
        ({"min_age": "18"}, "whole number above 0"),
        ({"bp_review_systolic": True}, "whole number above 0"),
        ({"benzo_review_lorazepam_mg": Decimal("-1")}, "0 or more"),
        ({"benzo_review_lorazepam_mg": "lots"}, "must be a number"),
        ({"benzo_review_lorazepam_mg": Decimal("NaN")}, "finite"),
    ],
)
def test_it_refuses_thresholds_that_make_no_sense(
    overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        Thresholds(**overrides)


def test_it_reads_the_benzodiazepine_limit_from_text_or_numbers_exactly() -> None:
    assert Thresholds(benzo_review_lorazepam_mg="2.5").benzo_review_lorazepam_mg == Decimal("2.5")
    assert Thresholds(benzo_review_lorazepam_mg=3).benzo_review_lorazepam_mg == Decimal("3")
    assert Thresholds(benzo_review_lorazepam_mg=0.1).benzo_review_lorazepam_mg == Decimal("0.1")


def test_it_uses_the_defaults_when_no_thresholds_are_configured(settings) -> None:
    del settings.SCREENING_THRESHOLDS  # pytest-django restores whatever was there

    assert thresholds_from_settings() == DEFAULT_THRESHOLDS


def test_it_reads_overrides_from_settings(settings) -> None:
    settings.SCREENING_THRESHOLDS = {"bp_review_systolic": 135, "benzo_review_lorazepam_mg": "3"}

    thresholds = thresholds_from_settings()

    assert thresholds == Thresholds(bp_review_systolic=135, benzo_review_lorazepam_mg=Decimal(3))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"bp_review_sistolic": 135}, "Unknown screening threshold"),
        ({"bp_review_systolic": 200}, "must not be above"),
        ({"min_age": "eighteen"}, "whole number"),
        (["bp_review_systolic", 135], "must be a dict"),
    ],
)
def test_it_refuses_bad_threshold_settings_loudly(settings, value: object, message: str) -> None:
    settings.SCREENING_THRESHOLDS = value

    with pytest.raises(ImproperlyConfigured, match=message):
        thresholds_from_settings()


# --- Facts the engine cannot understand are a caller's bug ----------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"heart_disease": "mild"}, "heart_disease must be one of"),
        ({"substance_use_disorder": "past"}, "substance_use_disorder must be one of"),
        ({"liver_disease": "Child-Pugh C"}, "liver_disease must be one of"),
        ({"pregnant": "no"}, "pregnant must be True, False or None"),
        ({"maoi": 0}, "maoi must be True, False or None"),
        ({"phq9_item9": 4}, "phq9_item9 must be between 0 and 3"),
        ({"phq9_item9": -1}, "phq9_item9 must be between 0 and 3"),
        ({"age_years": -1}, "age_years must be between"),
        ({"age_years": 40.5}, "age_years must be a whole number"),
        ({"systolic": "120"}, "systolic must be a whole number"),
        ({"diastolic": 0}, "diastolic must be between"),
        ({"benzodiazepine_lorazepam_mg": Decimal("-0.5")}, "0 or more"),
        ({"benzodiazepine_lorazepam_mg": True}, "must be a number"),
        ({"sex_at_birth": 1}, "sex_at_birth must be text"),
    ],
)
def test_it_refuses_facts_it_cannot_understand(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(HEALTHY, **changes)


def test_it_takes_a_benzodiazepine_dose_as_a_whole_number_or_a_float() -> None:
    assert replace(HEALTHY, benzodiazepine_lorazepam_mg=3).benzodiazepine_lorazepam_mg == 3
    assert found(replace(HEALTHY, benzodiazepine_lorazepam_mg=2.01)) == ["meds.benzodiazepine"]


def test_facts_cannot_be_changed_after_they_are_made() -> None:
    with pytest.raises(FrozenInstanceError):
        HEALTHY.pregnant = True  # type: ignore[misc]


# --- Stored as JSON and read back -----------------------------------------------------


def test_a_finding_survives_a_round_trip_through_json() -> None:
    finding = Finding(
        rule_id="suicidality.phq9_item9",
        severity=R,
        reason="PHQ-9 item 9 answered 1.",
        value="1 of 3",
        urgent=True,
    )

    assert Finding.from_dict(json.loads(json.dumps(finding.to_dict()))) == finding


def test_a_result_survives_a_round_trip_through_json() -> None:
    facts = replace(HEALTHY, systolic=150, phq9_item9=1, maoi=None, age_years=70)
    result = screen(facts, Thresholds(benzo_review_lorazepam_mg=Decimal("2.5")))

    stored = json.loads(json.dumps(result.to_dict()))

    assert stored["outcome"] == "review"
    assert stored["ruleset_version"] == RULESET_VERSION
    assert stored["thresholds"]["benzo_review_lorazepam_mg"] == "2.5"
    assert ScreeningResult.from_dict(stored) == result
    assert ScreeningResult.from_dict(stored).has_urgent is True


def test_stored_thresholds_can_be_read_back() -> None:
    thresholds = Thresholds(min_age=21, benzo_review_lorazepam_mg=Decimal("1.5"))

    assert Thresholds.from_dict(thresholds.to_dict()) == thresholds


def test_an_unknown_stored_threshold_is_refused() -> None:
    with pytest.raises(ValueError, match="Unknown screening threshold"):
        Thresholds.from_dict({"max_age": 90})


# --- Presenting the rules to staff ----------------------------------------------------


def test_the_rules_table_lists_every_rule_in_order_with_its_source() -> None:
    table = rules_table()

    assert [row.id for row in table] == [rule.id for rule in RULES]
    assert all(row.title and row.source and row.threshold for row in table)
    assert table[0].severity is C


def test_the_rules_table_shows_the_clinic_thresholds() -> None:
    table = {row.id: row for row in rules_table(Thresholds(min_age=21, bp_review_systolic=135))}

    assert table["age.minor"].threshold == "Under 21"
    assert table["bp.review"].threshold.startswith("Systolic 135 mmHg or more")
    assert table["meds.benzodiazepine"].threshold == "Above 2 mg lorazepam-equivalent a day"


def test_rule_ids_are_unique() -> None:
    ids = [rule.id for rule in RULES]

    assert len(ids) == len(set(ids))


def test_every_rule_needs_only_real_facts_and_every_fact_is_needed() -> None:
    needed = {name for rule in RULES for name in rule.needs}

    assert needed == {f.name for f in fields(ScreeningFacts)} - set(CONTEXT_FACTS)
    assert set(MISSING_FACTS) == needed


# --- The rule set version -------------------------------------------------------------

# When you change RULES, MISSING_FACTS or the default thresholds, bump RULESET_VERSION
# in patients/screening/rules.py and add the new fingerprint here (keep the old lines: they
# are the history of what each stored version meant).
FINGERPRINTS = {
    "2026.11-1": "ef9974066ba066b802c046c295fdffbe04aaf63d618e062b8df293ab7fe855d0",
    # Issue 17: the consistency rules and the child-bearing age thresholds (the medicine
    # facts now come from the medication list, pinned by the drug list's own version).
    "2026.12-1": "39d51390fc3f626d546ec058658c714b94ffe9593c7baf5ab93e6dffff140c25",
}


def test_the_rule_set_version_matches_the_rules() -> None:
    assert RULESET_VERSION in FINGERPRINTS, (
        f"Add the fingerprint of version {RULESET_VERSION} to FINGERPRINTS: {ruleset_fingerprint()}"
    )
    assert ruleset_fingerprint() == FINGERPRINTS[RULESET_VERSION], (
        "The rules changed: bump RULESET_VERSION and add its fingerprint to FINGERPRINTS."
    )


# ruleset_fingerprint reads RULES and DEFAULT_THRESHOLDS from the engine module's globals
# (see patients/screening/engine.py), so that is the one module these tests patch.
@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda rules: rules[1:], id="a rule removed"),
        pytest.param(
            lambda rules: (replace(rules[0], severity=Severity.REVIEW), *rules[1:]),
            id="a severity changed",
        ),
        pytest.param(
            lambda rules: (*rules[:-1], replace(rules[-1], urgent=False)), id="urgency dropped"
        ),
        pytest.param(
            lambda rules: (replace(rules[0], id="allergy.any"), *rules[1:]), id="a rule renamed"
        ),
    ],
)
def test_a_change_to_the_rules_changes_the_fingerprint(monkeypatch, change) -> None:
    before = ruleset_fingerprint()
    monkeypatch.setattr(screening.engine, "RULES", change(RULES))

    assert ruleset_fingerprint() != before


def test_a_change_to_a_default_threshold_changes_the_fingerprint(monkeypatch) -> None:
    before = ruleset_fingerprint()
    monkeypatch.setattr(screening.engine, "DEFAULT_THRESHOLDS", Thresholds(bp_review_systolic=135))

    assert ruleset_fingerprint() != before


# --- Purity ---------------------------------------------------------------------------


def test_no_module_of_the_engine_imports_django_or_other_app_code_at_module_level() -> None:
    package = Path(screening.__file__).parent
    modules = sorted(package.glob("*.py"))
    assert {path.name for path in modules} >= {"__init__.py", "facts.py", "rules.py", "engine.py"}

    for path in modules:
        tree = ast.parse(path.read_text())
        imported = [
            alias.name for node in tree.body if isinstance(node, ast.Import) for alias in node.names
        ] + [
            node.module or ""
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.level == 0
        ]
        outside = [
            name
            for name in imported
            if name.split(".")[0] in {"django", "patients"}
            and not name.startswith("patients.screening.")
        ]
        relative_beyond_package = [
            node.module for node in tree.body if isinstance(node, ast.ImportFrom) and node.level > 1
        ]

        assert not outside, f"{path.name} imports {outside} at module level"
        assert not relative_beyond_package, f"{path.name} reaches outside the package"
