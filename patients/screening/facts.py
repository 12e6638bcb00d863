"""What the screening rules look at and what they report.

Severities and outcomes, findings, the clinic's thresholds, one patient's facts, and
the finding raised for each fact that is not recorded. Plain data with validation: no
rules here (those are in ``rules.py``) and no Django at import time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any, NamedTuple

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


class Hit(NamedTuple):
    """What a rule's check returns when it triggers."""

    value: str
    reason: str


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
    # Women of reproductive age, as WHO counts them (15 to 49): a pregnancy "not sure"
    # then needs a test result.
    childbearing_age_from: int = 15
    childbearing_age_to: int = 49

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
        if self.childbearing_age_to < self.childbearing_age_from:
            raise ValueError(
                f"childbearing_age_to ({self.childbearing_age_to}) must not be below "
                f"childbearing_age_from ({self.childbearing_age_from})."
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

    The only place the screening package reads Django; importing it does not.
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
    "depression_reported",
    "bipolar_reported",
    "pregnancy_unsure",
)
_INT_FACTS = {
    # name: (lowest, highest) accepted
    "age_years": (0, 150),
    "systolic": (1, 400),
    "diastolic": (1, 300),
    "phq9_item9": (0, 3),
    "phq9_total": (0, 27),
    "antidepressant_trials": (0, 200),
}
PREGNANCY_TEST_VALUES = ("negative", "positive")


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
    # Which medicines a medicine fact comes from (fact name -> the medicines, as staff read
    # them), so a finding can name them; for the benzodiazepine load, also why it could
    # not be computed. Empty when the facts came from yes/no answers.
    medicines: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # For the consistency checks: what the record says against what the patient says.
    referral_conditions: tuple[str, ...] = ()  # clinic.conditions.Condition values
    antidepressant_trials: int | None = None  # the most of the intake's count and the list's
    depression_reported: bool | None = None  # intake: "diagnosed with depression?"
    bipolar_reported: bool | None = None  # intake: "ever diagnosed with bipolar disorder?"
    phq9_total: int | None = None  # latest baseline PHQ-9
    pregnancy_unsure: bool | None = None  # answered "I'm not sure"
    pregnancy_test: str | None = None  # PREGNANCY_TEST_VALUES; None when none was done

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
        if not isinstance(self.referral_conditions, tuple) or not all(
            isinstance(c, str) for c in self.referral_conditions
        ):
            raise ValueError(
                f"referral_conditions must be a tuple of text, not {self.referral_conditions!r}."
            )
        if self.pregnancy_test == "":
            object.__setattr__(self, "pregnancy_test", None)
        elif self.pregnancy_test is not None and self.pregnancy_test not in PREGNANCY_TEST_VALUES:
            raise ValueError(
                f"pregnancy_test must be one of {', '.join(PREGNANCY_TEST_VALUES)}, "
                f"not {self.pregnancy_test!r}."
            )
        if not isinstance(self.medicines, Mapping):
            raise ValueError(f"medicines must be a mapping, not {self.medicines!r}.")
        for name, names in self.medicines.items():
            if name not in MEDICINE_FACTS:
                raise ValueError(
                    f"medicines names a fact that no medicine raises: {name!r}. "
                    f"Medicine facts are: {', '.join(MEDICINE_FACTS)}."
                )
            if not isinstance(names, tuple) or not all(isinstance(n, str) for n in names):
                raise ValueError(f"medicines[{name!r}] must be a tuple of text, not {names!r}.")


MEDICINE_FACTS = (
    "maoi",
    "benzodiazepine_lorazepam_mg",
    "lamotrigine",
    "other_cns_depressants",
    "stimulants",
)

FACT_NAMES: tuple[str, ...] = tuple(f.name for f in fields(ScreeningFacts))
# Facts that explain or add to others but that no rule needs: not having them is no finding.
CONTEXT_FACTS: tuple[str, ...] = (
    "medicines",
    "referral_conditions",
    "antidepressant_trials",
    "depression_reported",
    "bipolar_reported",
    "phq9_total",
    "pregnancy_unsure",
    "pregnancy_test",
)


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
