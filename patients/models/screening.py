"""Screening: the rules' result for an intake, and the physician's decision."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.models import User
from patients.models.patient import Patient
from patients.models.records import IntakeSubmission, Measurement, QuestionnaireResponse


class ScreeningOutcome(models.TextChoices):
    ELIGIBLE = "eligible", "Eligible"
    REVIEW = "review", "Needs physician review"
    CONTRAINDICATED = "contraindicated", "Contraindicated"


class ScreeningResult(models.Model):
    """One run of the screening rules over what was known at the time, kept as it was."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="screenings")
    intake = models.ForeignKey(
        IntakeSubmission, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    measurement = models.ForeignKey(
        Measurement, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    phq9 = models.ForeignKey(
        QuestionnaireResponse, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    outcome = models.CharField(max_length=20, choices=ScreeningOutcome.choices)
    findings = models.JSONField(default=list)
    facts = models.JSONField(default=dict)
    thresholds = models.JSONField(default=dict)
    ruleset_version = models.CharField(max_length=30)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"screening {self.outcome} ({self.ruleset_version})"


class ScreeningDecision(models.Model):
    """A physician's decision on a screening result. Later decisions supersede earlier ones."""

    class Decision(models.TextChoices):
        APPROVE = "approve", "Approved"
        DEFER = "defer", "Deferred"
        DECLINE = "decline", "Declined"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="decisions")
    screening = models.ForeignKey(
        ScreeningResult, on_delete=models.PROTECT, related_name="decisions"
    )
    ruleset_version = models.CharField(max_length=30)
    decision = models.CharField(max_length=10, choices=Decision.choices)
    decided_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(default=timezone.now)
    reason = models.TextField(blank=True, help_text="Why, in a sentence or two.")
    needed = models.TextField(blank=True, help_text="For a deferral: what is needed first.")
    override_justification = models.TextField(
        blank=True, help_text="Required to approve despite a contraindication."
    )
    # An approval on a result with facts not recorded ("ask before deciding"): the rule ids
    # of those findings the physician acknowledged, and what they learned or why it is safe.
    missing_facts_acknowledged = ArrayField(
        models.CharField(max_length=60), default=list, blank=True
    )
    missing_facts_note = models.TextField(
        blank=True, help_text="Required to approve while facts are not recorded."
    )

    class Meta:
        ordering = ["-decided_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(decision="defer") | ~Q(needed=""),
                name="decision_defer_says_what_is_needed",
            ),
            models.CheckConstraint(
                condition=Q(missing_facts_acknowledged=[]) | ~Q(missing_facts_note=""),
                name="decision_missing_facts_have_a_note",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} {self.decided_at:%Y-%m-%d}"
