"""Candidacy screening: which patients may start ketamine treatment, and why not.

A pure module: it takes plain facts about one patient (``ScreeningFacts``) and the
clinic's numbers (``Thresholds``) and returns an outcome with every finding behind
it. It imports no models and touches no database, so the same facts always give the
same result and every rule can be tested in isolation. Loading the facts from the
latest intake and measurements is the job of the caller (the patients services).

The rules come from DOMAIN.md, "Candidacy screening rules". They are data (``RULES``),
each with a severity and a source note, and the rule set has a version that is stored
with every result. Change a rule and you must bump ``RULESET_VERSION``: a test pins the
rules' fingerprint to the version so a silent change fails the suite.

Missing information is never read as "all clear": when a fact a rule needs is not
recorded, that absence is itself a finding of severity review.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, NamedTuple

RULESET_VERSION = "2026.11-1"


# --- Helpers --------------------------------------------------------------------------


def _to_decimal(value: object, name: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, Decimal | int | float | str):
        raise ValueError(f"{name} must be a number, not {value!r}.")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{name} must be a number, not {value!r}.") from None
    if not number.is_finite():
        raise ValueError(f"{name} must be a finite number, not {value!r}.")
    return number


def _decimal_text(value: Decimal) -> str:
    """2 -> "2", 2.50 -> "2.5", 100 -> "100" (never "1E+2")."""
    return f"{value.normalize():f}"


class Severity(StrEnum):
    """How much a finding matters. Ordered: note < review < contraindicated."""

    NOTE = "note"
    REVIEW = "review"
    CONTRAINDICATED = "contraindicated"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    # Compare by clinical weight, not alphabetically (a plain str would put
    # "contraindicated" first), so max() and sorted() do the obvious thing.
    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank < other.rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank <= other.rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank > other.rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Severity):
            return NotImplemented
        return self.rank >= other.rank


_SEVERITY_RANK = {Severity.NOTE: 0, Severity.REVIEW: 1, Severity.CONTRAINDICATED: 2}


class Outcome(StrEnum):
    """The combined result of a screening: the most severe finding wins."""

    ELIGIBLE = "eligible"
    REVIEW = "review"
    CONTRAINDICATED = "contraindicated"


def outcome_for(severities: Iterable[Severity]) -> Outcome:
    """The outcome for a set of findings' severities: notes alone (or none) are eligible."""
    worst = max(severities, default=Severity.NOTE)
    if worst is Severity.CONTRAINDICATED:
        return Outcome.CONTRAINDICATED
    if worst is Severity.REVIEW:
        return Outcome.REVIEW
    return Outcome.ELIGIBLE


# --- Findings -------------------------------------------------------------------------

NOT_RECORDED = "not recorded"


@dataclass(frozen=True)
class Finding:
    """One reason a patient needs attention.

    ``value`` is the triggering value as text ("162/95 mmHg", or "not recorded" when
    ``missing``); ``urgent`` asks for same-day clinician contact.
    """

    rule_id: str
    severity: Severity
    reason: str
    value: str
    urgent: bool = False
    missing: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "severity": str(self.severity),
            "reason": self.reason,
            "value": self.value,
            "urgent": self.urgent,
            "missing": self.missing,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        return cls(
            rule_id=str(data["rule_id"]),
            severity=Severity(data["severity"]),
            reason=str(data["reason"]),
            value=str(data["value"]),
            urgent=bool(data.get("urgent", False)),
            missing=bool(data.get("missing", False)),
        )


# --- Thresholds -----------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    """The clinic's numbers for the screening rules (defaults from DOMAIN.md).

    Blood pressure limits are inclusive: a reading at the limit triggers the rule.
    The benzodiazepine limit is exclusive: exactly the limit is no finding.
    """

    bp_contraindicated_systolic: int = 160
    bp_contraindicated_diastolic: int = 100
    bp_review_systolic: int = 140
    bp_review_diastolic: int = 90
    min_age: int = 18
    older_age: int = 65
    benzo_review_lorazepam_mg: Decimal = Decimal("2")

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "benzo_review_lorazepam_mg":
                number = _to_decimal(value, f.name)
                if number < 0:
                    raise ValueError(f"{f.name} must be 0 or more, not {value}.")
                object.__setattr__(self, f.name, number)
            elif isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ValueError(f"{f.name} must be a whole number above 0, not {value!r}.")
        if self.bp_review_systolic > self.bp_contraindicated_systolic:
            raise ValueError(
                f"bp_review_systolic ({self.bp_review_systolic}) must not be above "
                f"bp_contraindicated_systolic ({self.bp_contraindicated_systolic})."
            )
        if self.bp_review_diastolic > self.bp_contraindicated_diastolic:
            raise ValueError(
                f"bp_review_diastolic ({self.bp_review_diastolic}) must not be above "
                f"bp_contraindicated_diastolic ({self.bp_contraindicated_diastolic})."
            )
        if self.older_age <= self.min_age:
            raise ValueError(
                f"older_age ({self.older_age}) must be above min_age ({self.min_age})."
            )

    def to_dict(self) -> dict[str, int | str]:
        """JSON-safe: the Decimal becomes a string so no precision is lost."""
        data: dict[str, int | str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            data[f.name] = _decimal_text(value) if isinstance(value, Decimal) else value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Thresholds:
        """Build from a (partial) mapping; keys left out keep their defaults."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"Unknown screening threshold(s): {', '.join(unknown)}. "
                f"Known thresholds are: {', '.join(sorted(known))}."
            )
        return cls(**dict(data))


DEFAULT_THRESHOLDS = Thresholds()


def thresholds_from_settings() -> Thresholds:
    """The clinic's thresholds: defaults overridden by ``settings.SCREENING_THRESHOLDS``.

    The only place this module reads Django; importing the module does not.
    """
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    overrides = getattr(settings, "SCREENING_THRESHOLDS", None) or {}
    if not isinstance(overrides, Mapping):
        raise ImproperlyConfigured(
            "SCREENING_THRESHOLDS must be a dict of threshold names to numbers, "
            f"not {type(overrides).__name__}."
        )
    try:
        return Thresholds.from_dict(overrides)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"SCREENING_THRESHOLDS is not valid: {exc}") from None


# --- Facts ----------------------------------------------------------------------------

HEART_DISEASE_VALUES = ("none", "controlled", "uncontrolled")
SUBSTANCE_USE_VALUES = ("none", "in_remission", "active")
LIVER_DISEASE_VALUES = ("none", "mild", "moderate", "severe")

_CHOICES: dict[str, tuple[str, ...]] = {
    "heart_disease": HEART_DISEASE_VALUES,
    "substance_use_disorder": SUBSTANCE_USE_VALUES,
    "liver_disease": LIVER_DISEASE_VALUES,
}
_BOOL_FACTS = (
    "pregnant",
    "breastfeeding",
    "allergy_ketamine",
    "aneurysm_or_avm",
    "intracranial_bleeding",
    "ketamine_misuse_history",
    "current_psychosis_or_mania",
    "history_psychosis_schizophrenia_or_bipolar",
    "raised_icp_or_iop",
    "maoi",
    "lamotrigine",
    "other_cns_depressants",
    "stimulants",
)
_INT_FACTS = {
    # name: (lowest, highest) accepted
    "age_years": (0, 150),
    "systolic": (1, 400),
    "diastolic": (1, 300),
    "phq9_item9": (0, 3),
}


@dataclass(frozen=True)
class ScreeningFacts:
    """Everything the rules look at, for one patient. ``None`` means "not recorded".

    Blank strings are read as ``None`` (a CharField left empty is not an answer).
    Values outside what the rules understand raise ``ValueError``: that is a bug in
    the caller, and guessing would be unsafe.
    """

    age_years: int | None = None
    sex_at_birth: str | None = None  # "female", "male", "intersex"
    pregnant: bool | None = None
    breastfeeding: bool | None = None
    systolic: int | None = None  # mmHg, at screening
    diastolic: int | None = None
    allergy_ketamine: bool | None = None  # ketamine or esketamine
    aneurysm_or_avm: bool | None = None
    intracranial_bleeding: bool | None = None  # history of
    heart_disease: str | None = None  # HEART_DISEASE_VALUES
    substance_use_disorder: str | None = None  # SUBSTANCE_USE_VALUES
    ketamine_misuse_history: bool | None = None
    current_psychosis_or_mania: bool | None = None
    history_psychosis_schizophrenia_or_bipolar: bool | None = None
    liver_disease: str | None = None  # LIVER_DISEASE_VALUES; severe = Child-Pugh C
    raised_icp_or_iop: bool | None = None
    maoi: bool | None = None
    benzodiazepine_lorazepam_mg: Decimal | None = None  # per day; 0 when none taken
    lamotrigine: bool | None = None
    other_cns_depressants: bool | None = None
    stimulants: bool | None = None
    phq9_item9: int | None = None  # 0-3

    def __post_init__(self) -> None:
        if isinstance(self.sex_at_birth, str):
            sex = self.sex_at_birth.strip().lower()
            object.__setattr__(self, "sex_at_birth", sex or None)
        elif self.sex_at_birth is not None:
            raise ValueError(f"sex_at_birth must be text, not {self.sex_at_birth!r}.")
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            if value == "":
                object.__setattr__(self, name, None)
            elif value is not None and value not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}, not {value!r}.")
        for name in _BOOL_FACTS:
            value = getattr(self, name)
            if value is not None and not isinstance(value, bool):
                raise ValueError(f"{name} must be True, False or None, not {value!r}.")
        for name, (lowest, highest) in _INT_FACTS.items():
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{name} must be a whole number, not {value!r}.")
            if not lowest <= value <= highest:
                raise ValueError(f"{name} must be between {lowest} and {highest}, not {value}.")
        dose = self.benzodiazepine_lorazepam_mg
        if dose is not None:
            number = _to_decimal(dose, "benzodiazepine_lorazepam_mg")
            if number < 0:
                raise ValueError(f"benzodiazepine_lorazepam_mg must be 0 or more, not {dose}.")
            object.__setattr__(self, "benzodiazepine_lorazepam_mg", number)


FACT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(ScreeningFacts))


class MissingFact(NamedTuple):
    """The finding raised when a needed fact is not recorded."""

    rule_id: str
    reason: str


# Systolic and diastolic share one finding: a blood pressure is measured as a pair.
MISSING_FACTS: dict[str, MissingFact] = {
    "age_years": MissingFact(
        "missing.age", "Age (date of birth) is not recorded; record it before deciding."
    ),
    "sex_at_birth": MissingFact(
        "missing.sex_at_birth",
        "Sex at birth is not recorded; ask, as it decides whether pregnancy must be ruled out.",
    ),
    "pregnant": MissingFact(
        "missing.pregnancy_status", "Pregnancy status is not recorded; ask before deciding."
    ),
    "breastfeeding": MissingFact(
        "missing.breastfeeding_status",
        "Breastfeeding status is not recorded; ask before deciding.",
    ),
    "systolic": MissingFact(
        "missing.blood_pressure",
        "Blood pressure at screening is not recorded; measure it before deciding.",
    ),
    "diastolic": MissingFact(
        "missing.blood_pressure",
        "Blood pressure at screening is not recorded; measure it before deciding.",
    ),
    "allergy_ketamine": MissingFact(
        "missing.allergy_ketamine",
        "Allergy to ketamine or esketamine is not recorded; ask before deciding.",
    ),
    "aneurysm_or_avm": MissingFact(
        "missing.aneurysm_or_avm",
        "Aneurysm or arteriovenous malformation is not recorded; ask before deciding.",
    ),
    "intracranial_bleeding": MissingFact(
        "missing.intracranial_bleeding",
        "History of intracranial bleeding is not recorded; ask before deciding.",
    ),
    "heart_disease": MissingFact(
        "missing.heart_disease",
        "Heart disease (and whether it is controlled) is not recorded; ask before deciding.",
    ),
    "substance_use_disorder": MissingFact(
        "missing.substance_use_disorder",
        "Substance use disorder (active or in remission) is not recorded; ask before deciding.",
    ),
    "ketamine_misuse_history": MissingFact(
        "missing.ketamine_misuse_history",
        "Past ketamine misuse is not recorded; ask before deciding.",
    ),
    "current_psychosis_or_mania": MissingFact(
        "missing.current_psychosis_or_mania",
        "Current psychosis or mania is not recorded; assess before deciding.",
    ),
    "history_psychosis_schizophrenia_or_bipolar": MissingFact(
        "missing.psychiatric_history",
        "History of psychosis, schizophrenia or bipolar disorder is not recorded; "
        "ask before deciding.",
    ),
    "liver_disease": MissingFact(
        "missing.liver_disease",
        "Liver disease (and its severity) is not recorded; ask before deciding.",
    ),
    "raised_icp_or_iop": MissingFact(
        "missing.raised_icp_or_iop",
        "Raised intracranial or intraocular pressure is not recorded; ask before deciding.",
    ),
    "maoi": MissingFact(
        "missing.maoi", "Whether the patient takes an MAOI is not recorded; ask before deciding."
    ),
    "benzodiazepine_lorazepam_mg": MissingFact(
        "missing.benzodiazepine_dose",
        "Daily benzodiazepine dose (lorazepam-equivalent) is not recorded; "
        "record 0 if none is taken.",
    ),
    "lamotrigine": MissingFact(
        "missing.lamotrigine",
        "Whether the patient takes lamotrigine is not recorded; ask before deciding.",
    ),
    "other_cns_depressants": MissingFact(
        "missing.other_cns_depressants",
        "Other CNS depressants (opioids, sedatives, alcohol) are not recorded; "
        "ask before deciding.",
    ),
    "stimulants": MissingFact(
        "missing.stimulants",
        "Whether the patient takes stimulants is not recorded; ask before deciding.",
    ),
    "phq9_item9": MissingFact(
        "missing.phq9_item9",
        "PHQ-9 item 9 (thoughts of death or self-harm) is not answered; ask before deciding.",
    ),
}


# --- Rules ----------------------------------------------------------------------------


class Hit(NamedTuple):
    """What a rule's check returns when it triggers."""

    value: str
    reason: str


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
    return Hit(
        value,
        f"Benzodiazepines at {value} is above {_decimal_text(t.benzo_review_lorazepam_mg)} mg: "
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
        check=_is_true(
            "maoi",
            "Takes an MAOI: together with ketamine it may raise blood pressure; "
            "physician to decide.",
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
        check=_is_true("lamotrigine", "Takes lamotrigine: it may reduce the effect of ketamine."),
        criterion=_text("Currently taken"),
    ),
    Rule(
        id="meds.cns_depressant",
        severity=Severity.NOTE,
        title="Takes other CNS depressants",
        source="Clinic default; added sedation",
        needs=("other_cns_depressants",),
        check=_is_true(
            "other_cns_depressants",
            "Takes other CNS depressants: expect more sedation; plan monitoring.",
        ),
        criterion=_text("Currently taken"),
    ),
    Rule(
        id="meds.stimulant",
        severity=Severity.NOTE,
        title="Takes stimulants",
        source="Clinic default; may add to the rise in blood pressure and heart rate",
        needs=("stimulants",),
        check=_is_true(
            "stimulants",
            "Takes stimulants: they may add to the rise in blood pressure and heart rate.",
        ),
        criterion=_text("Currently taken"),
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


# --- Screening ------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreeningResult:
    """The outcome of one screening and everything that led to it.

    ``findings`` are sorted most severe first, then in rule order. ``thresholds`` is
    ``Thresholds.to_dict()`` of the numbers used, so a stored result explains itself.
    """

    outcome: Outcome
    findings: tuple[Finding, ...]
    ruleset_version: str
    thresholds: dict[str, int | str]

    @property
    def has_urgent(self) -> bool:
        return any(finding.urgent for finding in self.findings)

    def to_dict(self) -> dict[str, Any]:
        return {
            "outcome": str(self.outcome),
            "findings": [finding.to_dict() for finding in self.findings],
            "ruleset_version": self.ruleset_version,
            "thresholds": dict(self.thresholds),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScreeningResult:
        return cls(
            outcome=Outcome(data["outcome"]),
            findings=tuple(Finding.from_dict(item) for item in data["findings"]),
            ruleset_version=str(data["ruleset_version"]),
            thresholds=dict(data["thresholds"]),
        )


def screen(facts: ScreeningFacts, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> ScreeningResult:
    """Screen one patient's facts against ``RULES``. Pure and deterministic."""
    findings: list[Finding] = []
    reported_missing: set[str] = set()
    for rule in RULES:
        hit = rule.check(facts, thresholds)
        if hit is not None:
            findings.append(
                Finding(
                    rule_id=rule.id,
                    severity=rule.severity,
                    reason=hit.reason,
                    value=hit.value,
                    urgent=rule.urgent,
                )
            )
        if rule.not_needed_when is not None and rule.not_needed_when(facts):
            continue
        for name in rule.needs:
            if getattr(facts, name) is not None:
                continue
            missing = MISSING_FACTS[name]
            if missing.rule_id in reported_missing:
                continue
            reported_missing.add(missing.rule_id)
            findings.append(
                Finding(
                    rule_id=missing.rule_id,
                    severity=Severity.REVIEW,
                    reason=missing.reason,
                    value=NOT_RECORDED,
                    missing=True,
                )
            )
    # sorted() is stable, so findings of equal severity keep rule order.
    ordered = tuple(sorted(findings, key=lambda finding: -finding.severity.rank))
    return ScreeningResult(
        outcome=outcome_for(finding.severity for finding in ordered),
        findings=ordered,
        ruleset_version=RULESET_VERSION,
        thresholds=thresholds.to_dict(),
    )


# --- For staff and for the version pin ------------------------------------------------


class RuleRow(NamedTuple):
    """One line of the rules table shown to staff."""

    id: str
    severity: Severity
    title: str
    source: str
    threshold: str


def rules_table(thresholds: Thresholds = DEFAULT_THRESHOLDS) -> list[RuleRow]:
    """Every rule, in order, with when it triggers under these thresholds."""
    return [
        RuleRow(rule.id, rule.severity, rule.title, rule.source, rule.criterion(thresholds))
        for rule in RULES
    ]


def ruleset_fingerprint() -> str:
    """A hash of what the rules do: ids, severities, needs, urgency, default thresholds
    and the rules' criteria under them, and the missing-fact ids.

    Reasons and titles are left out so wording can be polished without a new version.
    """
    payload = {
        "rules": [
            [
                rule.id,
                str(rule.severity),
                list(rule.needs),
                rule.urgent,
                rule.not_needed_when is not None,
                rule.criterion(DEFAULT_THRESHOLDS),
            ]
            for rule in RULES
        ],
        "thresholds": DEFAULT_THRESHOLDS.to_dict(),
        "missing": {name: missing.rule_id for name, missing in MISSING_FACTS.items()},
    }
    encoded = json.dumps(payload, sort_keys=True, ensure_ascii=True).encode()
    return hashlib.sha256(encoded).hexdigest()
