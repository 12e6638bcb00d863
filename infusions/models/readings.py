"""Vital signs readings and the alerts they raise (``infusions.readings`` writes them,
``infusions.session_alerts`` acknowledges the alerts)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import CharField, F, Func, Q
from django.db.models.lookups import Exact
from django.utils import timezone

from clinic.models import User
from infusions.vitals import finding_text


class VitalsPhase(models.TextChoices):
    PRE = "pre", "Before the infusion"
    INFUSING = "infusing", "Infusing"
    PAUSED = "paused", "Paused"
    RECOVERING = "recovering", "Recovering"


class ReadingSource(models.TextChoices):
    MANUAL = "manual", "Entered by staff"
    MONITOR = "monitor", "From a monitor"


def _between(field: str, low: int, high: int) -> Q:
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": low, f"{field}__lte": high})


class VitalsReading(models.Model):
    """One set of vital signs in a session. The limits mirror ``vitals.PHYSIOLOGICAL_LIMITS``
    as CHECK constraints; readings are never edited (a wrong one is marked entered in error,
    with who and why, and drops out of the flowsheet's alerts and picture)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey(
        "InfusionSession", on_delete=models.PROTECT, related_name="readings"
    )
    phase = models.CharField(max_length=12, choices=VitalsPhase.choices)
    taken_at = models.DateTimeField(db_index=True)
    systolic = models.PositiveSmallIntegerField(null=True, blank=True)
    diastolic = models.PositiveSmallIntegerField(null=True, blank=True)
    heart_rate = models.PositiveSmallIntegerField(null=True, blank=True)
    spo2 = models.PositiveSmallIntegerField("SpO2", null=True, blank=True)
    respiratory_rate = models.PositiveSmallIntegerField(null=True, blank=True)
    consciousness = models.PositiveSmallIntegerField(null=True, blank=True)
    pain = models.PositiveSmallIntegerField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=ReadingSource.choices)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    entered_in_error_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["taken_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=_between("systolic", 60, 260)
                & _between("diastolic", 30, 160)
                & _between("heart_rate", 25, 250)
                & _between("spo2", 50, 100)
                & _between("respiratory_rate", 4, 60)
                & _between("consciousness", 1, 5)
                & _between("pain", 0, 10),
                name="reading_within_physiological_limits",
            ),
            models.CheckConstraint(
                condition=Q(systolic__isnull=True)
                | Q(diastolic__isnull=True)
                | Q(diastolic__lt=models.F("systolic")),
                name="reading_diastolic_below_systolic",
            ),
            models.CheckConstraint(
                condition=Q(entered_in_error_at__isnull=True)
                | (Q(entered_in_error_by__isnull=False) & ~Q(entered_in_error_reason="")),
                name="reading_error_has_who_and_why",
            ),
        ]

    def __str__(self) -> str:
        return f"vitals at {self.taken_at:%H:%M}"


class AlertAction(models.TextChoices):
    CONTINUE = "continue", "Continue and watch"
    SLOW = "slow", "Slow the infusion"
    PAUSE = "pause", "Pause the infusion"
    STOP = "stop", "Stop the infusion"
    MEDICATION = "medication", "Medication given"


class SessionAlert(models.Model):
    """A reading outside the alert thresholds (``vitals.alerts_for``): one alert per reading,
    listing every value out of range in ``findings``, until a named person acknowledges it,
    once, with the action taken.

    ``findings`` is a list, in ``alerts_for``'s order, of
    ``{"parameter", "direction", "value", "threshold", "message"}`` (``parameter`` a
    ``vitals.Reading`` field, ``direction`` "high" or "low"); ``message`` is their messages
    joined, for the places that show one sentence. Like the rest of the alert, the findings
    never change (the append-only trigger of migration 0005 lets only the acknowledgement
    columns be filled in, once)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey("InfusionSession", on_delete=models.PROTECT, related_name="alerts")
    reading = models.ForeignKey(VitalsReading, on_delete=models.PROTECT, related_name="alerts")
    findings = models.JSONField()
    message = models.TextField()
    raised_at = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    action = models.CharField(max_length=12, choices=AlertAction.choices, blank=True)
    action_note = models.TextField(blank=True)

    class Meta:
        ordering = ["raised_at", "id"]
        indexes = [
            models.Index(
                fields=["session"],
                condition=Q(acknowledged_at__isnull=True),
                name="alert_open_idx",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True, acknowledged_by__isnull=True, action="")
                | (Q(acknowledged_at__isnull=False, acknowledged_by__isnull=False) & ~Q(action="")),
                name="alert_acknowledged_with_who_when_and_action",
            ),
            models.UniqueConstraint(fields=["reading"], name="alert_one_per_reading"),
            models.CheckConstraint(
                condition=Q(
                    Exact(
                        Func(F("findings"), function="jsonb_typeof", output_field=CharField()),
                        "array",
                    )
                )
                & ~Q(findings=[]),
                name="alert_findings_not_empty",
            ),
        ]

    def __str__(self) -> str:
        return self.message

    @property
    def parameters(self) -> list[str]:
        """The parameters out of range, e.g. ["systolic", "diastolic", "heart_rate"]."""
        return [finding["parameter"] for finding in self.findings]

    @property
    def summary(self) -> str:
        """The values out of range in a few words, e.g. "systolic 186 mmHg high, diastolic
        112 mmHg high, heart rate 124/min high"."""
        return ", ".join(
            finding_text(finding["parameter"], finding["value"], finding["direction"])
            for finding in self.findings
        )
