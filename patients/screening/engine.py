"""Screening one patient against the rules, and the views of the rules for staff and tests.

``screen``, ``rules_table`` and ``ruleset_fingerprint`` look up ``RULES``,
``RULESET_VERSION``, ``MISSING_FACTS`` and ``DEFAULT_THRESHOLDS`` as globals of *this*
module each time they run (only the ``thresholds`` defaults of ``screen`` and
``rules_table`` are fixed when the module loads). To try the engine with other rules or
defaults, as the version-pin tests do, monkeypatch them here
(``patients.screening.engine``): patching the package or the module that defines them
changes nothing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from patients.screening.facts import (
    DEFAULT_THRESHOLDS,
    MISSING_FACTS,
    NOT_RECORDED,
    Finding,
    Outcome,
    ScreeningFacts,
    Severity,
    Thresholds,
    outcome_for,
)
from patients.screening.rules import RULES, RULESET_VERSION

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
            # A medicine fact that could not be computed says why (which medicine).
            why = facts.medicines.get(name, ())
            findings.append(
                Finding(
                    rule_id=missing.rule_id,
                    severity=Severity.REVIEW,
                    reason=f"{missing.reason} {' '.join(why)}" if why else missing.reason,
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
    Reads ``RULES``, ``DEFAULT_THRESHOLDS`` and ``MISSING_FACTS`` from this module's
    globals when called, so a test swaps them with ``monkeypatch.setattr(engine, ...)``.
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
