"""Candidacy screening: which patients may start ketamine treatment, and why not.

A pure package: it takes plain facts about one patient (``ScreeningFacts``) and the
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

Layout: ``facts`` (severities, outcomes, findings, thresholds, the facts and the
missing-fact findings), ``rules`` (``RULES`` and ``RULESET_VERSION``), ``engine``
(``screen``, the rules table and the fingerprint). Import from ``patients.screening``;
everything public is re-exported here.
"""

from patients.screening.engine import (
    RuleRow,
    ScreeningResult,
    rules_table,
    ruleset_fingerprint,
    screen,
)
from patients.screening.facts import (
    CONTEXT_FACTS,
    DEFAULT_THRESHOLDS,
    FACT_NAMES,
    HEART_DISEASE_VALUES,
    LIVER_DISEASE_VALUES,
    MISSING_FACTS,
    NOT_RECORDED,
    SUBSTANCE_USE_VALUES,
    Finding,
    MissingFact,
    Outcome,
    ScreeningFacts,
    Severity,
    Thresholds,
    outcome_for,
    thresholds_from_settings,
)
from patients.screening.rules import RULES, RULESET_VERSION, Check, Hit, Rule

__all__ = [
    "CONTEXT_FACTS",
    "DEFAULT_THRESHOLDS",
    "FACT_NAMES",
    "HEART_DISEASE_VALUES",
    "LIVER_DISEASE_VALUES",
    "MISSING_FACTS",
    "NOT_RECORDED",
    "RULES",
    "RULESET_VERSION",
    "SUBSTANCE_USE_VALUES",
    "Check",
    "Finding",
    "Hit",
    "MissingFact",
    "Outcome",
    "Rule",
    "RuleRow",
    "ScreeningFacts",
    "ScreeningResult",
    "Severity",
    "Thresholds",
    "outcome_for",
    "rules_table",
    "ruleset_fingerprint",
    "screen",
    "thresholds_from_settings",
]
