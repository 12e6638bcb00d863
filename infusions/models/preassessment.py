"""The checks before an infusion starts (``PreAssessment``), as ``infusions.preassessment``
records them."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.models import User


class PregnancyStatus(models.TextChoices):
    NOT_APPLICABLE = "not_applicable", "Not applicable: cannot become pregnant"
    NOT_PREGNANT = "not_pregnant", "Not pregnant, by the patient's account"
    TEST_NEGATIVE = "test_negative", "Pregnancy test today: negative"
    TEST_POSITIVE = "test_positive", "Pregnancy test today: positive"
    PREGNANT = "pregnant", "Pregnant, by the patient's account"


class BloodPressureStatus(models.TextChoices):
    """``infusions.vitals.PreInfusionStatus``, stored."""

    OK = "ok", "Within limits"
    CAUTION = "caution", "Caution: needs a physician's acknowledgement"
    HOLD = "hold", "Hold: no infusion today"


class PreAssessment(models.Model):
    """The checks before an infusion starts, filled in by a nurse at the chair.

    One per session; it may be saved part-done and completed step by step until the session
    passes the pre-assessment (``infusions.preassessment``), after which it is frozen. The
    pre-infusion vitals are a ``VitalsReading`` of phase "pre"; ``bp_status`` is what
    ``vitals.pre_infusion_status`` said about them. A caution needs a physician's
    acknowledgement (``caution_acknowledged_*``); a hold means no infusion that day.
    """

    session = models.OneToOneField(
        "InfusionSession", on_delete=models.PROTECT, related_name="pre_assessment"
    )
    identity_confirmed = models.BooleanField(
        "identity confirmed", default=False, help_text="Name and date of birth, asked and checked."
    )
    weight_kg = models.DecimalField(
        "weight today (kg)", max_digits=5, decimal_places=1, null=True, blank=True
    )
    weighed_at = models.DateTimeField(null=True, blank=True)
    pregnancy_status = models.CharField(max_length=20, choices=PregnancyStatus.choices, blank=True)
    escort_confirmed = models.BooleanField("escort for the ride home confirmed", default=False)
    escort_name = models.CharField(max_length=120, blank=True)
    escort_phone = models.CharField(max_length=20, blank=True)
    last_ate_at = models.DateTimeField(
        "last ate or drank (other than water)", null=True, blank=True
    )
    vitals = models.OneToOneField(
        "VitalsReading", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    bp_status = models.CharField(max_length=10, choices=BloodPressureStatus.choices, blank=True)
    caution_acknowledged_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    caution_acknowledged_at = models.DateTimeField(null=True, blank=True)
    caution_note = models.TextField(blank=True)
    questionnaires = models.ManyToManyField(
        "patients.QuestionnaireResponse", blank=True, related_name="pre_assessments"
    )
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(weight_kg__isnull=True) | Q(weight_kg__gt=0),
                name="preassessment_weight_positive",
            ),
            models.CheckConstraint(
                condition=Q(weight_kg__isnull=True) | Q(weighed_at__isnull=False),
                name="preassessment_weight_has_time",
            ),
            models.CheckConstraint(
                condition=Q(caution_acknowledged_by__isnull=True)
                | Q(caution_acknowledged_at__isnull=False),
                name="preassessment_acknowledgement_has_time",
            ),
        ]

    def __str__(self) -> str:
        return "pre-infusion assessment"
