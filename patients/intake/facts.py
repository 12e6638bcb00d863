"""Facts for the screening rules from a patient's intake: what the rules need to know, from
the patient record, their latest intake answers and medication list, latest measurement
and latest PHQ-9. Anything not recorded stays ``None``; "I'm not sure" counts as not
recorded.

Medicines: an intake of questionnaire version 2 or later has a medication list, and the
medicine facts come from the classes of the medicines taken now (``patients.medicines``);
the daily benzodiazepine load is each one's daily dose in lorazepam equivalents, added
up. A benzodiazepine whose daily dose or equivalent is not known makes the load not
recorded (a missing fact the physician resolves), never "none". An intake of version 1
asked yes/no boxes and a dose in mg of lorazepam, and is read as it was answered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from patients.intake.answers import schema_version, to_json
from patients.intake.questions import (
    HEART_DISEASE_CHOICES,
    LIVER_DISEASE_CHOICES,
    NO,
    SUBSTANCE_USE_DISORDER_CHOICES,
    UNSURE,
    YES,
)
from patients.medicines import DrugClass, drug_by_key, lorazepam_equivalent
from patients.medicines.doses import FREQUENCY_BY_KEY, daily_mg
from patients.models import (
    Measurement,
    Medication,
    MedicationStatus,
    Patient,
    QuestionnaireResponse,
    SexAtBirth,
)
from patients.questionnaires import PHQ9_SAFETY_ITEM
from patients.screening import ScreeningFacts

# Which medicine fact each class of medicine raises. Opioids count as CNS depressants:
# the rule is about added sedation.
CLASS_FACTS = {
    DrugClass.MAOI: "maoi",
    DrugClass.LAMOTRIGINE: "lamotrigine",
    DrugClass.STIMULANT: "stimulants",
    DrugClass.OPIOID: "other_cns_depressants",
    DrugClass.OTHER_CNS_DEPRESSANT: "other_cns_depressants",
}
_STREET_USE = (
    ("opioids", "other_cns_depressants", "opioids not as prescribed (alcohol and drugs answers)"),
    ("street_stimulants", "stimulants", "stimulants not prescribed (alcohol and drugs answers)"),
)
_LIST_FACTS = ("maoi", "lamotrigine", "stimulants", "other_cns_depressants")


def _yes_no_fact(value: Any) -> bool | None:
    # "I'm not sure" is not an answer the rules can rely on: it is reported as not recorded.
    if value == YES:
        return True
    if value == NO:
        return False
    return None


def _either(*values: Any) -> bool | None:
    """Yes if any answer is yes; no only if every one is no; otherwise not recorded."""
    facts = [_yes_no_fact(value) for value in values]
    if any(fact is True for fact in facts):
        return True
    if all(fact is False for fact in facts):
        return False
    return None


def _current_or(answers: Mapping[str, Any], substance: str, medicine: str) -> bool | None:
    if answers.get(substance) == "current":
        return True
    return _yes_no_fact(answers.get(medicine))


def _choice_fact(value: Any, allowed: Iterable[str]) -> str | None:
    return value if value in set(allowed) else None


def _benzodiazepine_fact(answers: Mapping[str, Any]) -> Decimal | None:
    takes = answers.get("benzodiazepines")
    if takes == NO:
        return Decimal(0)
    if takes != YES:
        return None
    try:
        dose = Decimal(str(answers.get("benzodiazepine_lorazepam_mg")))
    except InvalidOperation:
        return None
    return dose if dose.is_finite() and dose >= 0 else None


def _text_mg(value: Decimal) -> str:
    return f"{to_json(value)} mg"


def _benzodiazepine_line(medication: Medication, drug: Any) -> tuple[Decimal | None, str]:
    """One benzodiazepine's daily load in mg of lorazepam, and how staff read it (or, when
    it cannot be computed, why)."""
    daily = daily_mg(medication.strength_mg, medication.units_each_time, medication.frequency)
    if daily is None:
        frequency = FREQUENCY_BY_KEY.get(medication.frequency)
        if medication.strength_mg is None:
            gap = "its strength is not given"
        elif medication.units_each_time is None:
            gap = "how many are taken each time is not given"
        elif frequency is None:
            gap = "how often it is taken is not given"
        else:
            gap = "it is taken only when needed; ask the most taken in a day"
        return None, f"From the medication list: {drug.name}: {gap}."
    equivalent = lorazepam_equivalent(drug, daily)
    if equivalent is None:
        return None, (
            f"From the medication list: {drug.name}, {_text_mg(daily)} a day, has no "
            "lorazepam equivalent in the clinic's table; the physician estimates it."
        )
    return equivalent, f"{drug.name} {_text_mg(daily)} a day = {_text_mg(equivalent)} lorazepam"


def medicine_facts(
    takes_medicines: Any, medications: Sequence[Medication]
) -> tuple[dict[str, Any], dict[str, tuple[str, ...]]]:
    """The medicine facts from a medication list: (facts, the medicines behind each).

    Only medicines taken now count. "No medicines now" with no current medicine on the
    list is "none" for every fact; an unanswered question leaves them not recorded."""
    current = [m for m in medications if m.status == MedicationStatus.CURRENT]
    if takes_medicines not in (YES, NO) or (takes_medicines == YES and not current):
        return dict.fromkeys([*_LIST_FACTS, "benzodiazepine_lorazepam_mg"]), {}
    facts: dict[str, Any] = dict.fromkeys(_LIST_FACTS, False)
    sources: dict[str, list[str]] = {}
    load = Decimal(0)
    gaps: list[str] = []
    for medication in current:
        drug = drug_by_key(medication.drug_key) if medication.drug_key else None
        if drug is None:
            continue  # not on the clinic's list: shown to staff, not screened
        if drug.drug_class is DrugClass.BENZODIAZEPINE:
            equivalent, line = _benzodiazepine_line(medication, drug)
            if equivalent is None:
                gaps.append(line)
            else:
                load += equivalent
                sources.setdefault("benzodiazepine_lorazepam_mg", []).append(line)
            continue
        fact = CLASS_FACTS.get(drug.drug_class)
        if fact is not None:
            facts[fact] = True
            label = drug.name
            if drug.drug_class is DrugClass.OPIOID:
                label = f"{drug.name}, an opioid"
            sources.setdefault(fact, []).append(label)
    # One benzodiazepine that cannot be counted makes the whole load unknown: the finding
    # then says which and why, instead of the medicines that could be counted.
    facts["benzodiazepine_lorazepam_mg"] = None if gaps else load
    if gaps:
        sources["benzodiazepine_lorazepam_mg"] = gaps
    return facts, {name: tuple(lines) for name, lines in sources.items()}


def _phq9_item9(phq9: QuestionnaireResponse | None) -> int | None:
    if phq9 is None:
        return None
    value = phq9.answers.get(PHQ9_SAFETY_ITEM)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 3:
        return None
    return value


def facts_from(
    *,
    patient: Patient,
    answers: Mapping[str, Any] | None,
    measurement: Measurement | None,
    phq9: QuestionnaireResponse | None,
    medications: Sequence[Medication] = (),
    today: date | None = None,
) -> ScreeningFacts:
    """What the screening rules need to know, from the patient record, their latest intake
    answers and its medication list, latest measurement and latest PHQ-9. Anything not
    recorded stays ``None``."""
    answers = answers or {}
    if schema_version(answers) >= 2:
        medicines, medicine_sources = medicine_facts(answers.get("takes_medicines"), medications)
        # Current use of street opioids or stimulants adds to the medicines' effects.
        for substance, fact, label in _STREET_USE:
            if answers.get(substance) == "current":
                medicines[fact] = True
                medicine_sources[fact] = (*medicine_sources.get(fact, ()), label)
    else:
        medicines, medicine_sources = _boxes(answers), {}
    today = today or timezone.localdate()
    age = patient.age_on(today) if patient.date_of_birth else None
    asked_pregnancy = patient.sex_at_birth != SexAtBirth.MALE
    pregnancy_test = answers.get("pregnancy_test") if asked_pregnancy else None
    pregnant = _yes_no_fact(answers.get("pregnant")) if asked_pregnancy else None
    if pregnancy_test == "positive" and pregnant is None:
        pregnant = True  # not sure, but a test says so
    return ScreeningFacts(
        age_years=age if age is not None and 0 <= age <= 150 else None,
        sex_at_birth=patient.sex_at_birth or None,
        pregnant=pregnant,
        breastfeeding=_yes_no_fact(answers.get("breastfeeding")) if asked_pregnancy else None,
        systolic=measurement.systolic if measurement else None,
        diastolic=measurement.diastolic if measurement else None,
        allergy_ketamine=_yes_no_fact(answers.get("allergy_ketamine")),
        aneurysm_or_avm=_yes_no_fact(answers.get("aneurysm_or_avm")),
        intracranial_bleeding=_yes_no_fact(answers.get("intracranial_bleeding")),
        heart_disease=_choice_fact(answers.get("heart_disease"), dict(HEART_DISEASE_CHOICES)),
        substance_use_disorder=_choice_fact(
            answers.get("substance_use_disorder"), dict(SUBSTANCE_USE_DISORDER_CHOICES)
        ),
        ketamine_misuse_history=_yes_no_fact(answers.get("ketamine_misuse")),
        current_psychosis_or_mania=_either(answers.get("mania_now"), answers.get("psychosis_now")),
        history_psychosis_schizophrenia_or_bipolar=_either(
            answers.get("psychosis_history"), answers.get("bipolar")
        ),
        liver_disease=_choice_fact(answers.get("liver_disease"), dict(LIVER_DISEASE_CHOICES)),
        raised_icp_or_iop=_yes_no_fact(answers.get("raised_icp_or_iop")),
        **medicines,
        phq9_item9=_phq9_item9(phq9),
        medicines=medicine_sources,
        referral_conditions=tuple(patient.conditions or ()),
        antidepressant_trials=_antidepressant_trials(answers, medications),
        depression_reported=_yes_no_fact(answers.get("depression")),
        bipolar_reported=_yes_no_fact(answers.get("bipolar")),
        phq9_total=phq9.total if phq9 is not None and 0 <= phq9.total <= 27 else None,
        pregnancy_unsure=(answers.get("pregnant") == UNSURE) if asked_pregnancy else None,
        pregnancy_test=pregnancy_test if pregnancy_test in ("negative", "positive") else None,
    )


def _antidepressant_trials(
    answers: Mapping[str, Any], medications: Sequence[Medication]
) -> int | None:
    """The antidepressants tried, as recorded: the intake's count or the different
    antidepressants on the medication list (current or stopped), whichever is more."""
    count = answers.get("antidepressant_trials")
    counted = count if isinstance(count, int) and not isinstance(count, bool) else None
    listed = {
        m.drug_key
        for m in medications
        if (drug := drug_by_key(m.drug_key)) is not None and drug.is_antidepressant
    }
    if counted is None and not listed:
        return None
    return min(max(counted or 0, len(listed)), 200)


def _boxes(answers: Mapping[str, Any]) -> dict[str, Any]:
    """The medicine facts from questionnaire version 1's yes/no boxes."""
    return {
        "maoi": _yes_no_fact(answers.get("maoi")),
        "benzodiazepine_lorazepam_mg": _benzodiazepine_fact(answers),
        "lamotrigine": _yes_no_fact(answers.get("lamotrigine")),
        # Current use of street opioids or stimulants adds to the medicines' effects.
        "other_cns_depressants": _current_or(answers, "opioids", "other_cns_depressants"),
        "stimulants": _current_or(answers, "street_stimulants", "stimulant_medication"),
    }


def facts_to_json(facts: ScreeningFacts) -> dict[str, Any]:
    return {name: to_json(value) for name, value in dataclasses.asdict(facts).items()}
