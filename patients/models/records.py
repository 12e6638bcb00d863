"""What the clinic records about a patient before and between infusions: intakes,
measurements, questionnaire scores and next-day check-ins."""

from __future__ import annotations

import uuid

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.models import User
from patients.models.patient import Patient, PatientLink


class IntakeSubmission(models.Model):
    """One submitted version of the intake questionnaire; a change is a new version."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="intakes")
    version = models.PositiveIntegerField()
    answers = models.JSONField()
    submitted_at = models.DateTimeField(default=timezone.now)
    entered_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    via_link = models.ForeignKey(
        PatientLink, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["patient", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["patient", "version"], name="intake_version_unique"),
        ]

    def __str__(self) -> str:
        return f"intake v{self.version}"


class Measurement(models.Model):
    """Vital signs and weight taken at a consultation (the baseline screening uses the latest)."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="measurements")
    taken_at = models.DateTimeField(default=timezone.now)
    taken_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    systolic = models.PositiveSmallIntegerField(
        "systolic BP (mmHg)", validators=[MinValueValidator(60), MaxValueValidator(260)]
    )
    diastolic = models.PositiveSmallIntegerField(
        "diastolic BP (mmHg)", validators=[MinValueValidator(30), MaxValueValidator(160)]
    )
    heart_rate = models.PositiveSmallIntegerField(
        "heart rate (bpm)", validators=[MinValueValidator(25), MaxValueValidator(250)]
    )
    spo2 = models.PositiveSmallIntegerField(
        "SpO₂ (%)", validators=[MinValueValidator(50), MaxValueValidator(100)]
    )
    weight_kg = models.DecimalField(
        "weight (kg)",
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(30), MaxValueValidator(300)],
    )

    class Meta:
        ordering = ["-taken_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(systolic__gte=60, systolic__lte=260), name="measurement_systolic_range"
            ),
            models.CheckConstraint(
                condition=Q(diastolic__gte=30, diastolic__lte=160),
                name="measurement_diastolic_range",
            ),
            models.CheckConstraint(
                condition=Q(diastolic__lt=models.F("systolic")),
                name="measurement_diastolic_below_systolic",
            ),
            models.CheckConstraint(
                condition=Q(heart_rate__gte=25, heart_rate__lte=250), name="measurement_hr_range"
            ),
            models.CheckConstraint(
                condition=Q(spo2__gte=50, spo2__lte=100), name="measurement_spo2_range"
            ),
            models.CheckConstraint(
                condition=Q(weight_kg__isnull=True) | Q(weight_kg__gte=30, weight_kg__lte=300),
                name="measurement_weight_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.systolic}/{self.diastolic} mmHg, HR {self.heart_rate}, SpO2 {self.spo2}%"


class QuestionnaireResponse(models.Model):
    """A completed, scored questionnaire (PHQ-9, GAD-7, PCL-5, pain NRS)."""

    class Context(models.TextChoices):
        BASELINE = "baseline", "Baseline (before treatment)"
        PRE_SESSION = "pre_session", "Before an infusion"
        FOLLOW_UP = "follow_up", "Follow-up"

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="questionnaires")
    instrument = models.CharField(max_length=20)
    context = models.CharField(max_length=20, choices=Context.choices, default=Context.BASELINE)
    answers = models.JSONField()
    total = models.PositiveSmallIntegerField()
    band = models.CharField(max_length=40)
    item9_positive = models.BooleanField(default=False)
    completed_at = models.DateTimeField(default=timezone.now)
    entered_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    via_link = models.ForeignKey(
        PatientLink, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-completed_at", "-id"]
        indexes = [
            models.Index(
                fields=["patient", "instrument", "-completed_at"], name="questionnaire_latest_idx"
            )
        ]

    def __str__(self) -> str:
        return f"{self.instrument} {self.total} ({self.band})"


class SideEffect(models.TextChoices):
    """The side effects of ketamine a patient tells at the next-day check-in (``CheckIn``)
    or a nurse records at the chair (``infusions.models.SessionEvent``)."""

    NAUSEA = "nausea", "Nausea"
    VOMITING = "vomiting", "Vomiting"
    DIZZINESS = "dizziness", "Dizziness"
    HEADACHE = "headache", "Headache"
    VISION = "vision", "Blurred or double vision"
    RAISED_BP = "raised_bp", "Raised blood pressure"
    RAISED_HR = "raised_hr", "Raised heart rate"
    ANXIETY = "anxiety", "Anxiety or dysphoria"
    HALLUCINATIONS = "hallucinations", "Hallucinations"
    SEDATION = "sedation", "Sedation"
    OTHER = "other", "Other"


class CheckIn(models.Model):
    """A patient's answers to the next-day check-in after an infusion (patients.followups)."""

    class Wellbeing(models.IntegerChoices):
        VERY_BAD = 1, "Very bad"
        BAD = 2, "Not so good"
        OKAY = 3, "Okay"
        GOOD = 4, "Good"
        VERY_GOOD = 5, "Very good"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="check_ins")
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    via_link = models.ForeignKey(
        PatientLink, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    wellbeing = models.PositiveSmallIntegerField(choices=Wellbeing.choices)
    # SideEffect values; "other" comes with the patient's own words.
    side_effects = ArrayField(models.CharField(max_length=20), default=list, blank=True)
    side_effects_other = models.CharField(max_length=300, blank=True)
    self_harm_thoughts = models.BooleanField()
    completed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-completed_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(wellbeing__gte=1, wellbeing__lte=5), name="check_in_wellbeing_range"
            ),
        ]

    def __str__(self) -> str:
        return f"check-in {self.completed_at:%Y-%m-%d}"
