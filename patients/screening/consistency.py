"""Consistency checks: where what the record says and what the patient says disagree.

Each check looks at facts already recorded and raises nothing when a fact it compares is
not recorded (the missing-fact findings of the other rules cover that). The condition
keys are the patient record's (``clinic.conditions.Condition``), written out here so the
package stays free of Django; a test keeps them in step.
"""

from __future__ import annotations

from patients.screening.facts import Hit, ScreeningFacts, Thresholds

TRD = "trd"
DEPRESSION_REFERRALS = {
    "trd": "treatment-resistant depression",
    "mdd": "major depression",
    "bipolar_depression": "bipolar depression",
}
BIPOLAR_REFERRAL = "bipolar_depression"
MIN_TRD_TRIALS = 2
PHQ9_MINIMAL_UP_TO = 4


def _depression_referrals(facts: ScreeningFacts) -> list[str]:
    return [DEPRESSION_REFERRALS[c] for c in facts.referral_conditions if c in DEPRESSION_REFERRALS]


def trd_trials(facts: ScreeningFacts, t: Thresholds) -> Hit | None:
    trials = facts.antidepressant_trials
    if TRD not in facts.referral_conditions or trials is None or trials >= MIN_TRD_TRIALS:
        return None
    count = f"{trials} antidepressant{'' if trials == 1 else 's'} recorded"
    return Hit(
        count,
        f"Referred for treatment-resistant depression, but {count} (on the intake and the "
        "medication list): treatment-resistant usually means at least two adequate trials "
        "did not help. Check the treatment history with the patient and the referrer.",
    )


def condition_denied(facts: ScreeningFacts, t: Thresholds) -> Hit | None:
    denied: list[str] = []
    referred = _depression_referrals(facts)
    if referred and facts.depression_reported is False:
        denied.append(f"{' and '.join(referred)} on the record; the intake says no depression")
    if BIPOLAR_REFERRAL in facts.referral_conditions and facts.bipolar_reported is False:
        denied.append("bipolar depression on the record; the intake says no bipolar disorder")
    if not denied:
        return None
    value = "; ".join(denied)
    return Hit(
        value,
        f"The record and the intake disagree ({value}): check the diagnosis with the patient "
        "and the referrer before deciding.",
    )


def phq9_minimal(facts: ScreeningFacts, t: Thresholds) -> Hit | None:
    referred = _depression_referrals(facts)
    total = facts.phq9_total
    if not referred or total is None or total > PHQ9_MINIMAL_UP_TO:
        return None
    return Hit(
        f"PHQ-9 {total} (minimal)",
        f"Referred for {' and '.join(referred)}, but the baseline PHQ-9 is {total}, in the "
        "minimal band (0 to 4): check the questionnaire and how the patient is now before "
        "deciding.",
    )


def pregnancy_untested(facts: ScreeningFacts, t: Thresholds) -> Hit | None:
    if facts.pregnancy_unsure is not True or facts.pregnancy_test is not None:
        return None
    if facts.sex_at_birth == "male":
        return None
    age = facts.age_years
    if age is not None and not t.childbearing_age_from <= age <= t.childbearing_age_to:
        return None
    return Hit(
        "not sure, no test",
        "Not sure whether pregnant, and no pregnancy test result: do a test before the first "
        "treatment.",
    )
