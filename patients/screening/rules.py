"""The screening rules, as data: ``RULES`` and the checks behind them.

Each rule has a severity, a source note and the facts it needs. Change a rule (or
``MISSING_FACTS`` or the default thresholds in ``facts.py``) and you must bump
``RULESET_VERSION``: a test pins the rules' fingerprint to the version.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from patients.screening.consistency import (
    condition_denied,
    phq9_minimal,
    pregnancy_untested,
    trd_trials,
)
from patients.screening.facts import Hit, ScreeningFacts, Severity, Thresholds, _decimal_text

RULESET_VERSION = "2026.12-1"


Check = Callable[[ScreeningFacts, Thresholds], Hit | None]


@dataclass(frozen=True)
class Rule:
    """One screening rule, as data.

    ``needs`` are the facts that must be recorded before "no finding" can be trusted;
    each one left unrecorded raises its missing-fact finding (once per screening).
    ``not_needed_when`` lifts that requirement for some patients (pregnancy for a
    patient male at birth); a value that *is* recorded is still checked.
    ``check`` looks only at what is recorded and returns a ``Hit`` or ``None``.
    ``criterion`` describes when the rule triggers, for staff (uses the thresholds).
    """

    id: str
    severity: Severity
    title: str
    source: str
    needs: tuple[str, ...]
    check: Check = field(repr=False)
    criterion: Callable[[Thresholds], str] = field(repr=False)
    urgent: bool = False
    not_needed_when: Callable[[ScreeningFacts], bool] | None = field(default=None, repr=False)


def _is_true(name: str, reason: str) -> Check:
    def check(facts: ScreeningFacts, thresholds: Thresholds) -> Hit | None:
        return Hit("yes", reason) if getattr(facts, name) is True else None

    return check


def _equals(name: str, expected: str, value: str, reason: str) -> Check:
    def check(facts: ScreeningFacts, thresholds: Thresholds) -> Hit | None:
        return Hit(value, reason) if getattr(facts, name) == expected else None

    return check


def _taken(name: str, what: str, consequence: str) -> Check:
    """A medicine fact: the finding names the medicines it came from, when it knows them."""

    def check(facts: ScreeningFacts, thresholds: Thresholds) -> Hit | None:
        if getattr(facts, name) is not True:
            return None
        names = facts.medicines.get(name, ())
        if not names:
            return Hit("yes", f"Takes {what}: {consequence}")
        listed = "; ".join(names)
        return Hit(listed, f"Takes {what} ({listed}): {consequence}")

    return check


def _text(text: str) -> Callable[[Thresholds], str]:
    return lambda thresholds: text


def _is_male(facts: ScreeningFacts) -> bool:
    return facts.sex_at_birth == "male"


def _bp_text(facts: ScreeningFacts) -> str:
    if facts.systolic is not None and facts.diastolic is not None:
        return f"{facts.systolic}/{facts.diastolic} mmHg"
    if facts.systolic is not None:
        return f"{facts.systolic} mmHg systolic (diastolic not recorded)"
    return f"{facts.diastolic} mmHg diastolic (systolic not recorded)"


def _bp_at_or_above(facts: ScreeningFacts, systolic: int, diastolic: int) -> bool:
    # Either number alone is enough, and half a reading still counts.
    return (facts.systolic is not None and facts.systolic >= systolic) or (
        facts.diastolic is not None and facts.diastolic >= diastolic
    )


def _bp_contraindicated(facts: ScreeningFacts, t: Thresholds) -> Hit | None:
    if not _bp_at_or_above(facts, t.bp_contraindicated_systolic, t.bp_contraindicated_diastolic):
        return None
    limit = f"{t.bp_contraindicated_systolic}/{t.bp_contraindicated_diastolic}"
    value = _bp_text(facts)
    return Hit(value, f"Blood pressure {value} is at or above {limit}: treat only once controlled.")


def _bp_review(facts: ScreeningFacts, t: Thresholds) -> Hit | None:
    # Only the most severe blood pressure finding is reported.
    if _bp_contraindicated(facts, t) is not None:
        return None
    if not _bp_at_or_above(facts, t.bp_review_systolic, t.bp_review_diastolic):
        return None
    limit = f"{t.bp_review_systolic}/{t.bp_review_diastolic}"
    value = _bp_text(facts)
    return Hit(
        value,
        f"Blood pressure {value} is at or above {limit}: "
        "physician to decide whether to wait until it is lower.",
    )


def _age_minor(facts: ScreeningFacts, t: Thresholds) -> Hit | None:
    if facts.age_years is None or facts.age_years >= t.min_age:
        return None
    return Hit(
        f"{facts.age_years} years",
        f"Age {facts.age_years} is under {t.min_age}: the clinic treats adults only.",
    )


def _age_older(facts: ScreeningFacts, t: Thresholds) -> Hit | None:
    if facts.age_years is None or facts.age_years < t.older_age:
        return None
    return Hit(
        f"{facts.age_years} years",
        f"Age {facts.age_years} is {t.older_age} or over: consider a lower starting dose.",
    )


def _benzodiazepine(facts: ScreeningFacts, t: Thresholds) -> Hit | None:
    dose = facts.benzodiazepine_lorazepam_mg
    if dose is None or dose <= t.benzo_review_lorazepam_mg:
        return None
    value = f"{_decimal_text(dose)} mg lorazepam-equivalent a day"
    names = facts.medicines.get("benzodiazepine_lorazepam_mg", ())
    source = f" ({'; '.join(names)})" if names else ""
    return Hit(
        value,
        f"Benzodiazepines at {value}{source} is above "
        f"{_decimal_text(t.benzo_review_lorazepam_mg)} mg: "
        "they may blunt the effect of ketamine; consider the dose and its timing.",
    )


def _phq9_item9(facts: ScreeningFacts, t: Thresholds) -> Hit | None:
    if facts.phq9_item9 is None or facts.phq9_item9 == 0:
        return None
    return Hit(
        f"{facts.phq9_item9} of 3",
        f"PHQ-9 item 9 answered {facts.phq9_item9} (thoughts of being better off dead or of "
        "self-harm): urgent clinician contact the same day. Not a contraindication.",
    )


RULES: tuple[Rule, ...] = (
    Rule(
        id="allergy.ketamine",
        severity=Severity.CONTRAINDICATED,
        title="Allergy to ketamine or esketamine",
        source="Ketamine and Spravato labels (known hypersensitivity)",
        needs=("allergy_ketamine",),
        check=_is_true(
            "allergy_ketamine", "Known allergy to ketamine or esketamine: do not treat."
        ),
        criterion=_text("Allergy recorded"),
    ),
    Rule(
        id="vascular.aneurysm_avm",
        severity=Severity.CONTRAINDICATED,
        title="Aneurysmal vascular disease or arteriovenous malformation",
        source="Spravato label (aneurysmal vascular disease, AVM, intracranial haemorrhage)",
        needs=("aneurysm_or_avm",),
        check=_is_true(
            "aneurysm_or_avm",
            "Aneurysmal vascular disease or arteriovenous malformation: the rise in blood "
            "pressure during treatment could cause a rupture.",
        ),
        criterion=_text("Present"),
    ),
    Rule(
        id="vascular.intracranial_bleeding",
        severity=Severity.CONTRAINDICATED,
        title="History of intracranial bleeding",
        source="Spravato label (aneurysmal vascular disease, AVM, intracranial haemorrhage)",
        needs=("intracranial_bleeding",),
        check=_is_true(
            "intracranial_bleeding",
            "History of intracranial bleeding: the rise in blood pressure during treatment "
            "could cause another bleed.",
        ),
        criterion=_text("Any history"),
    ),
    Rule(
        id="pregnancy.pregnant",
        severity=Severity.CONTRAINDICATED,
        title="Pregnant",
        source="Clinic policy; label: not recommended in pregnancy",
        needs=("sex_at_birth", "pregnant"),
        not_needed_when=_is_male,
        check=_is_true("pregnant", "Pregnant: the clinic does not treat during pregnancy."),
        criterion=_text("Pregnant (not asked when male at birth)"),
    ),
    Rule(
        id="pregnancy.breastfeeding",
        severity=Severity.CONTRAINDICATED,
        title="Breastfeeding",
        source="Clinic policy; label: not recommended while breastfeeding",
        needs=("sex_at_birth", "breastfeeding"),
        not_needed_when=_is_male,
        check=_is_true(
            "breastfeeding", "Breastfeeding: the clinic does not treat nursing mothers."
        ),
        criterion=_text("Breastfeeding (not asked when male at birth)"),
    ),
    Rule(
        id="bp.contraindicated",
        severity=Severity.CONTRAINDICATED,
        title="Blood pressure too high to treat",
        source="Clinic default; label: consider delaying if >140/90",
        needs=("systolic", "diastolic"),
        check=_bp_contraindicated,
        criterion=lambda t: (
            f"Systolic {t.bp_contraindicated_systolic} mmHg or more, "
            f"or diastolic {t.bp_contraindicated_diastolic} mmHg or more"
        ),
    ),
    Rule(
        id="bp.review",
        severity=Severity.REVIEW,
        title="Blood pressure raised",
        source="Clinic default; label: consider delaying if >140/90",
        needs=("systolic", "diastolic"),
        check=_bp_review,
        criterion=lambda t: (
            f"Systolic {t.bp_review_systolic} mmHg or more, "
            f"or diastolic {t.bp_review_diastolic} mmHg or more "
            "(below the limits that contraindicate)"
        ),
    ),
    Rule(
        id="heart.uncontrolled",
        severity=Severity.CONTRAINDICATED,
        title="Heart disease not well controlled",
        source="Clinic default; ketamine raises blood pressure and heart rate",
        needs=("heart_disease",),
        check=_equals(
            "heart_disease",
            "uncontrolled",
            "uncontrolled",
            "Heart disease that is not well controlled (recent heart attack, unstable angina, "
            "heart failure): do not treat until it is controlled.",
        ),
        criterion=_text("Recorded as not well controlled"),
    ),
    Rule(
        id="heart.controlled",
        severity=Severity.REVIEW,
        title="Controlled heart disease",
        source="Clinic default; ketamine raises blood pressure and heart rate",
        needs=("heart_disease",),
        check=_equals(
            "heart_disease",
            "controlled",
            "controlled",
            "Controlled heart disease: physician to weigh the rise in blood pressure and "
            "heart rate during treatment.",
        ),
        criterion=_text("Recorded as controlled"),
    ),
    Rule(
        id="substance.active",
        severity=Severity.CONTRAINDICATED,
        title="Active substance use disorder",
        source="Clinic default; ketamine can be misused (US Schedule III)",
        needs=("substance_use_disorder",),
        check=_equals(
            "substance_use_disorder",
            "active",
            "active",
            "Active substance use disorder: do not treat until it is addressed.",
        ),
        criterion=_text("Recorded as active"),
    ),
    Rule(
        id="substance.remission",
        severity=Severity.REVIEW,
        title="Substance use disorder in remission",
        source="Clinic default; ketamine can be misused (US Schedule III)",
        needs=("substance_use_disorder",),
        check=_equals(
            "substance_use_disorder",
            "in_remission",
            "in remission",
            "Substance use disorder in remission: physician to weigh the risk of relapse.",
        ),
        criterion=_text("Recorded as in remission"),
    ),
    Rule(
        id="substance.ketamine_misuse",
        severity=Severity.REVIEW,
        title="Past ketamine misuse",
        source="Clinic default; ketamine can be misused (US Schedule III)",
        needs=("ketamine_misuse_history",),
        check=_is_true(
            "ketamine_misuse_history",
            "Past ketamine misuse: physician to weigh the risk of relapse.",
        ),
        criterion=_text("Any history"),
    ),
    Rule(
        id="psychiatric.current_psychosis_mania",
        severity=Severity.CONTRAINDICATED,
        title="Current psychosis or mania",
        source="JAMA Psychiatry 2017 consensus (Sanacora et al.)",
        needs=("current_psychosis_or_mania",),
        check=_is_true(
            "current_psychosis_or_mania",
            "Current psychosis or mania: ketamine can make it worse; do not treat now.",
        ),
        criterion=_text("Present now"),
    ),
    Rule(
        id="psychiatric.history",
        severity=Severity.REVIEW,
        title="History of psychosis, schizophrenia or bipolar disorder",
        source="JAMA Psychiatry 2017 consensus (Sanacora et al.)",
        needs=("history_psychosis_schizophrenia_or_bipolar",),
        check=_is_true(
            "history_psychosis_schizophrenia_or_bipolar",
            "History of psychosis, schizophrenia or bipolar disorder: physician to weigh "
            "the risk of bringing it back.",
        ),
        criterion=_text("Any history"),
    ),
    Rule(
        id="liver.severe",
        severity=Severity.CONTRAINDICATED,
        title="Severe liver impairment",
        source="Clinic default; ketamine is cleared by the liver",
        needs=("liver_disease",),
        check=_equals(
            "liver_disease",
            "severe",
            "severe (Child-Pugh C)",
            "Severe liver impairment (Child-Pugh C): do not treat.",
        ),
        criterion=_text("Severe (Child-Pugh C)"),
    ),
    Rule(
        id="liver.moderate",
        severity=Severity.REVIEW,
        title="Moderate liver impairment",
        source="Clinic default; ketamine is cleared by the liver",
        needs=("liver_disease",),
        check=_equals(
            "liver_disease",
            "moderate",
            "moderate (Child-Pugh B)",
            "Moderate liver impairment (Child-Pugh B): physician to decide, perhaps at a "
            "lower dose.",
        ),
        criterion=_text("Moderate (Child-Pugh B)"),
    ),
    Rule(
        id="pressure.icp_iop",
        severity=Severity.REVIEW,
        title="Raised intracranial or intraocular pressure",
        source="Clinic default; ketamine may raise intracranial and intraocular pressure",
        needs=("raised_icp_or_iop",),
        check=_is_true(
            "raised_icp_or_iop",
            "Raised intracranial or intraocular pressure: ketamine may raise it further; "
            "physician to decide.",
        ),
        criterion=_text("Present"),
    ),
    Rule(
        id="age.minor",
        severity=Severity.CONTRAINDICATED,
        title="Under the minimum age",
        source="Clinic policy: adults only",
        needs=("age_years",),
        check=_age_minor,
        criterion=lambda t: f"Under {t.min_age}",
    ),
    Rule(
        id="age.older",
        severity=Severity.NOTE,
        title="Older adult",
        source="Clinic default: lower starting dose for older adults",
        needs=("age_years",),
        check=_age_older,
        criterion=lambda t: f"{t.older_age} and over",
    ),
    Rule(
        id="meds.maoi",
        severity=Severity.REVIEW,
        title="Takes an MAOI",
        source="Clinic default; MAOIs with ketamine may raise blood pressure",
        needs=("maoi",),
        check=_taken(
            "maoi",
            "an MAOI",
            "together with ketamine it may raise blood pressure; physician to decide.",
        ),
        criterion=_text("Currently taken"),
    ),
    Rule(
        id="meds.benzodiazepine",
        severity=Severity.REVIEW,
        title="Benzodiazepines above the limit",
        source="Clinic default; benzodiazepines may blunt the effect of ketamine",
        needs=("benzodiazepine_lorazepam_mg",),
        check=_benzodiazepine,
        criterion=lambda t: (
            f"Above {_decimal_text(t.benzo_review_lorazepam_mg)} mg lorazepam-equivalent a day"
        ),
    ),
    Rule(
        id="meds.lamotrigine",
        severity=Severity.NOTE,
        title="Takes lamotrigine",
        source="Clinic default; lamotrigine may reduce the effect of ketamine",
        needs=("lamotrigine",),
        check=_taken("lamotrigine", "lamotrigine", "it may reduce the effect of ketamine."),
        criterion=_text("Currently taken"),
    ),
    Rule(
        id="meds.cns_depressant",
        severity=Severity.NOTE,
        title="Takes other CNS depressants",
        source="Clinic default; added sedation",
        needs=("other_cns_depressants",),
        check=_taken(
            "other_cns_depressants",
            "other CNS depressants",
            "expect more sedation; plan monitoring.",
        ),
        criterion=_text("Currently taken"),
    ),
    Rule(
        id="meds.stimulant",
        severity=Severity.NOTE,
        title="Takes stimulants",
        source="Clinic default; may add to the rise in blood pressure and heart rate",
        needs=("stimulants",),
        check=_taken(
            "stimulants",
            "stimulants",
            "they may add to the rise in blood pressure and heart rate.",
        ),
        criterion=_text("Currently taken"),
    ),
    Rule(
        id="consistency.trd_trials",
        severity=Severity.REVIEW,
        title="Treatment-resistant depression with fewer than two antidepressant trials",
        source="Clinic default; treatment-resistant depression usually means no response to "
        "at least two adequate antidepressant trials",
        needs=(),
        check=trd_trials,
        criterion=_text(
            "Referred for treatment-resistant depression, and fewer than 2 antidepressants "
            "recorded (the intake's count or the medication list, whichever is more)"
        ),
    ),
    Rule(
        id="consistency.condition_denied",
        severity=Severity.REVIEW,
        title="A condition on the record that the intake denies",
        source="Clinic default: the referral and the patient's own answers must agree",
        needs=(),
        check=condition_denied,
        criterion=_text(
            "Depression (treatment-resistant, major or bipolar) on the record and no "
            "depression on the intake; or bipolar depression and no bipolar disorder"
        ),
    ),
    Rule(
        id="consistency.phq9_minimal",
        severity=Severity.REVIEW,
        title="PHQ-9 minimal for a patient referred for depression",
        source="PHQ-9 bands (0 to 4 minimal); clinic default",
        needs=(),
        check=phq9_minimal,
        criterion=_text(
            "Referred for treatment-resistant, major or bipolar depression, and a baseline "
            "PHQ-9 of 0 to 4"
        ),
    ),
    Rule(
        id="consistency.pregnancy_untested",
        severity=Severity.REVIEW,
        title="Not sure about pregnancy, and no test result",
        source="Clinic default; label: not recommended in pregnancy",
        needs=(),
        not_needed_when=_is_male,
        check=pregnancy_untested,
        criterion=lambda t: (
            f"Not male at birth, aged {t.childbearing_age_from} to {t.childbearing_age_to} "
            "(or age not recorded), pregnancy answered “not sure”, and no test result"
        ),
    ),
    Rule(
        id="suicidality.phq9_item9",
        severity=Severity.REVIEW,
        title="Suicidal thoughts (PHQ-9 item 9)",
        source="PHQ-9 item 9; clinic policy: same-day clinician contact",
        needs=("phq9_item9",),
        urgent=True,
        check=_phq9_item9,
        criterion=_text("Item 9 answered above 0 (urgent, not a contraindication)"),
    ),
)
