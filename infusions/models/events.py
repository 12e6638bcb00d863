"""Side effects and interventions of a session (``SessionEvent``), with the choices they
are recorded with (the side effects are ``patients.models.SideEffect``, which the next-day
check-in shares)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.models import User
from infusions.models.readings import SessionAlert
from patients.models import SideEffect


class Severity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class MedicationRoute(models.TextChoices):
    ORAL = "oral", "By mouth"
    SUBLINGUAL = "sublingual", "Under the tongue"
    IV = "iv", "IV"
    IM = "im", "IM"
    OTHER = "other", "Other"


class SessionEvent(models.Model):
    """A side effect, an intervention (a medication given), or both, at a time.

    Either ``side_effect`` (with a severity; "other" with a description) or a medication
    (name, dose and route together) or both. Never edited; a wrong one is marked entered in
    error like a reading.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey("InfusionSession", on_delete=models.PROTECT, related_name="events")
    occurred_at = models.DateTimeField()
    side_effect = models.CharField(max_length=20, choices=SideEffect.choices, blank=True)
    description = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, blank=True)
    medication_name = models.CharField(max_length=100, blank=True)
    medication_dose = models.CharField(max_length=50, blank=True, help_text="e.g. 4 mg")
    medication_route = models.CharField(max_length=12, choices=MedicationRoute.choices, blank=True)
    alert = models.ForeignKey(
        SessionAlert, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    entered_in_error_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(side_effect="") | ~Q(medication_name=""),
                name="event_side_effect_or_medication",
            ),
            models.CheckConstraint(
                condition=Q(side_effect="", severity="") | (~Q(side_effect="") & ~Q(severity="")),
                name="event_side_effect_has_severity",
            ),
            models.CheckConstraint(
                condition=~Q(side_effect=SideEffect.OTHER) | ~Q(description=""),
                name="event_other_is_described",
            ),
            models.CheckConstraint(
                condition=Q(medication_name="", medication_dose="", medication_route="")
                | (~Q(medication_name="") & ~Q(medication_dose="") & ~Q(medication_route="")),
                name="event_medication_complete",
            ),
            models.CheckConstraint(
                condition=Q(entered_in_error_at__isnull=True)
                | (Q(entered_in_error_by__isnull=False) & ~Q(entered_in_error_reason="")),
                name="event_error_has_who_and_why",
            ),
        ]

    def __str__(self) -> str:
        return self.get_side_effect_display() or self.medication_name
