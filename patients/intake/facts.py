"""Facts for the screening rules from a patient's intake: what the rules need to know, from
the patient record, their latest intake answers, latest measurement and latest PHQ-9.
Anything not recorded stays ``None``; "I'm not sure" counts as not recorded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils import timezone

from patients.intake.answers import to_json
from patients.intake.questions import (
    HEART_DISEASE_CHOICES,
    LIVER_DISEASE_CHOICES,
    NO,
    SUBSTANCE_USE_DISORDER_CHOICES,
    YES,
)
from patients.models import Measurement, Patient, QuestionnaireResponse, SexAtBirth
from patients.questionnaires import PHQ9_SAFETY_ITEM
from patients.screening import ScreeningFacts


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
    today: date | None = None,
) -> ScreeningFacts:
    """What the screening rules need to know, from the patient record, their latest intake
    answers, latest measurement and latest PHQ-9. Anything not recorded stays ``None``."""
    answers = answers or {}
    today = today or timezone.localdate()
    age = patient.age_on(today) if patient.date_of_birth else None
    asked_pregnancy = patient.sex_at_birth != SexAtBirth.MALE
    return ScreeningFacts(
        age_years=age if age is not None and 0 <= age <= 150 else None,
        sex_at_birth=patient.sex_at_birth or None,
        pregnant=_yes_no_fact(answers.get("pregnant")) if asked_pregnancy else None,
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
        maoi=_yes_no_fact(answers.get("maoi")),
        benzodiazepine_lorazepam_mg=_benzodiazepine_fact(answers),
        lamotrigine=_yes_no_fact(answers.get("lamotrigine")),
        # Current use of street opioids or stimulants adds to the medicines' effects.
        other_cns_depressants=_current_or(answers, "opioids", "other_cns_depressants"),
        stimulants=_current_or(answers, "street_stimulants", "stimulant_medication"),
        phq9_item9=_phq9_item9(phq9),
    )


def facts_to_json(facts: ScreeningFacts) -> dict[str, Any]:
    return {name: to_json(value) for name, value in dataclasses.asdict(facts).items()}
