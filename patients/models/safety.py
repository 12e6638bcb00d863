"""Safety alerts: a patient reported thoughts of self-harm, and a clinician follows up."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.models import Location, User
from patients.models.patient import Patient
from patients.models.records import CheckIn, QuestionnaireResponse


class SafetyAlertQuerySet(models.QuerySet["SafetyAlert"]):
    def open(self) -> SafetyAlertQuerySet:
        """Alerts no clinician has recorded a follow-up for yet, oldest first."""
        return (
            self.filter(resolved_at__isnull=True)
            .select_related("location")
            .order_by("created_at", "id")
        )

    def for_chart(self) -> ChartSafetyAlerts:
        """The open alerts and the five latest followed up, in one query (for the chart:
        ``patient.safety_alerts.for_chart``)."""
        latest_closed = (
            self.filter(resolved_at__isnull=False).order_by("-resolved_at", "-id").values("pk")[:5]
        )
        alerts = list(
            self.filter(Q(resolved_at__isnull=True) | Q(pk__in=latest_closed))
            .select_related("location", "resolved_by")
            .order_by("created_at", "id")
        )
        closed = [alert for alert in alerts if not alert.is_open]
        closed.sort(key=lambda alert: alert.resolved_at, reverse=True)
        return ChartSafetyAlerts(
            open=[alert for alert in alerts if alert.is_open], followed_up=closed
        )


class SafetyAlert(models.Model):
    """A patient reported thoughts of self-harm: PHQ-9 question 9 above 0, "yes" at the
    next-day check-in, or a consultation booked online for a reason that mentions suicide
    or self-harm. Raised in the same transaction as the answers or the booking
    (``patients.services.safety``); open until a clinician records the follow-up."""

    class Source(models.TextChoices):
        PHQ9_ITEM9 = "phq9_item9", "PHQ-9 question 9 answered above 0"
        CHECK_IN = "check_in", "Next-day check-in: thoughts of harming themselves"
        BOOKING_REASON = (
            "booking_reason",
            "Consultation booked online: the reason mentions suicide or self-harm",
        )

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="safety_alerts")
    source = models.CharField(max_length=20, choices=Source.choices)
    questionnaire = models.ForeignKey(
        QuestionnaireResponse, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    check_in = models.ForeignKey(
        CheckIn, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # The booking whose reason raised it (BOOKING_REASON).
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    # What the patient wrote, for the clinician on the chart (BOOKING_REASON): clinical
    # detail, so never in an email, a log line or the audit log.
    reported_text = models.TextField(blank=True)
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    resolved_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    follow_up_note = models.TextField(blank=True)

    objects = SafetyAlertQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=Q(resolved_at__isnull=True),
                name="safety_alert_open_idx",
            ),
        ]
        constraints = [
            # Open, or resolved by someone, at a time, with a note: never half of it.
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True, resolved_by__isnull=True, follow_up_note="")
                | (Q(resolved_at__isnull=False, resolved_by__isnull=False) & ~Q(follow_up_note="")),
                name="safety_alert_resolved_with_note",
            ),
        ]

    def __str__(self) -> str:
        state = "resolved" if self.resolved_at else "open"
        return f"safety alert ({self.source}, {state})"

    @property
    def is_open(self) -> bool:
        return self.resolved_at is None

    @property
    def local_created_at(self) -> datetime:
        """When it was raised, on the clock of its location (the clinic's default zone
        without one)."""
        if self.location is not None:
            return self.created_at.astimezone(self.location.tz)
        return timezone.localtime(self.created_at)


@dataclass(frozen=True)
class ChartSafetyAlerts:
    open: list[SafetyAlert]
    followed_up: list[SafetyAlert]
