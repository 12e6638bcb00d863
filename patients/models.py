"""Patients and what the clinic learns about them before treatment.

Clinical records here are never overwritten: a new intake is a new version, a new
screening run is a new result, a decision is followed by another decision. Identifiers
in URLs are ``public_id`` UUIDs; no name or date of birth ever appears in a URL or log.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from django.contrib.postgres.fields import ArrayField
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.conditions import Condition
from clinic.models import Location, User

E164_VALIDATOR = RegexValidator(
    r"^\+[1-9]\d{6,14}$",
    "Enter the mobile number in international format: + then country code and number, "
    "e.g. +12125550142.",
)


class SexAtBirth(models.TextChoices):
    FEMALE = "female", "Female"
    MALE = "male", "Male"
    INTERSEX = "intersex", "Intersex"


class PatientStatus(models.TextChoices):
    CONSULTATION_REQUESTED = "consultation_requested", "Consultation requested"
    INTAKE_IN_PROGRESS = "intake_in_progress", "Intake in progress"
    AWAITING_DECISION = "awaiting_decision", "Awaiting screening decision"
    APPROVED = "approved", "Approved"
    DEFERRED = "deferred", "Deferred"
    DECLINED = "declined", "Declined"
    IN_TREATMENT = "in_treatment", "In treatment"
    DISCHARGED = "discharged", "Discharged from care"


class Patient(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    legal_first_name = models.CharField(max_length=100)
    legal_last_name = models.CharField(max_length=100)
    preferred_name = models.CharField(max_length=100, blank=True)
    date_of_birth = models.DateField()
    sex_at_birth = models.CharField(max_length=10, choices=SexAtBirth.choices)
    email = models.EmailField(blank=True)
    mobile = models.CharField(max_length=16, blank=True, validators=[E164_VALIDATOR])
    address_line1 = models.CharField("address", max_length=200, blank=True)
    address_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100, blank=True)
    region = models.CharField("state or region", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, default="US")
    emergency_contact_name = models.CharField(max_length=150, blank=True)
    emergency_contact_relationship = models.CharField(max_length=60, blank=True)
    emergency_contact_phone = models.CharField(
        max_length=16, blank=True, validators=[E164_VALIDATOR]
    )
    preferred_location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="patients"
    )
    referring_clinician = models.CharField(max_length=200, blank=True)
    conditions = ArrayField(
        models.CharField(max_length=30, choices=Condition.choices), default=list, blank=True
    )
    weight_kg = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(30), MaxValueValidator(300)],
    )
    height_cm = models.DecimalField(
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(100), MaxValueValidator(250)],
    )
    status = models.CharField(
        max_length=30, choices=PatientStatus.choices, default=PatientStatus.CONSULTATION_REQUESTED
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["legal_last_name", "legal_first_name", "id"]
        indexes = [
            models.Index(fields=["legal_last_name", "legal_first_name"], name="patient_name_idx"),
            models.Index(fields=["date_of_birth"], name="patient_dob_idx"),
            models.Index(fields=["status"], name="patient_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(weight_kg__isnull=True) | Q(weight_kg__gte=30, weight_kg__lte=300),
                name="patient_weight_range",
            ),
            models.CheckConstraint(
                condition=Q(height_cm__isnull=True) | Q(height_cm__gte=100, height_cm__lte=250),
                name="patient_height_range",
            ),
        ]

    def __str__(self) -> str:
        # Never used in logs or the audit trail (clinic.audit leaves patient labels out).
        return self.display_name

    @property
    def display_name(self) -> str:
        first = self.preferred_name or self.legal_first_name
        return f"{first} {self.legal_last_name}"

    @property
    def legal_name(self) -> str:
        return f"{self.legal_first_name} {self.legal_last_name}"

    def age_on(self, day: date) -> int:
        born = self.date_of_birth
        return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message (SMS)"


class CommunicationConsent(models.Model):
    """One change to a patient's consent to be contacted on a channel; the latest wins."""

    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="contact_consents")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    granted = models.BooleanField()
    recorded_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(
        max_length=120, help_text="How it was given or withdrawn, e.g. 'online booking form'."
    )
    wording = models.TextField(blank=True, help_text="The consent text the patient saw, if any.")
    recorded_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-recorded_at", "-id"]
        indexes = [
            models.Index(fields=["patient", "channel", "-recorded_at"], name="consent_latest_idx")
        ]

    def __str__(self) -> str:
        state = "granted" if self.granted else "withdrawn"
        return f"{self.channel} {state} {self.recorded_at:%Y-%m-%d}"


class PatientLink(models.Model):
    """A signed, expiring, single-use link that lets a patient do one thing without an account.

    The URL carries a signature of ``public_id`` (``patients.links``); this row makes the
    link single-use (``used_at``), revocable, and holds a patient's unsubmitted progress.
    """

    class Purpose(models.TextChoices):
        INTAKE = "intake", "Intake questionnaire"
        CONSENT = "consent", "Informed consent"
        QUESTIONNAIRE = "questionnaire", "Symptom questionnaire"
        CHECK_IN = "check_in", "Next-day check-in"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="links")
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    draft = models.JSONField(default=dict, blank=True)
    # What the link is for, when the purpose needs it.
    consent_document = models.ForeignKey(
        "ConsentDocument", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    instrument = models.CharField(max_length=20, blank=True)
    # A questionnaire link asks these instruments ("phq9", ...), for this context
    # (QuestionnaireResponse.Context); a pre-session questionnaire or a check-in names its
    # appointment. See patients.followups.
    instruments = ArrayField(models.CharField(max_length=20), default=list, blank=True)
    questionnaire_context = models.CharField(max_length=20, blank=True)
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.get_purpose_display()} link {self.public_id}"


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

    class Meta:
        ordering = ["-decided_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(decision="defer") | ~Q(needed=""),
                name="decision_defer_says_what_is_needed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_decision_display()} {self.decided_at:%Y-%m-%d}"


class ConsentDocument(models.Model):
    """A version of the informed-consent document. Published versions are never edited."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(max_length=200)
    version = models.PositiveIntegerField(unique=True)
    introduction = models.TextField(blank=True)
    sections = models.JSONField(
        default=list, help_text="A list of {heading, text}; the patient ticks each one."
    )
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-version"]

    def __str__(self) -> str:
        return f"{self.title} (version {self.version})"


class ConsentSignature(models.Model):
    """A patient's signature of one consent document version, with exactly what they saw."""

    class Method(models.TextChoices):
        LINK = "link", "Signed through a link"
        TABLET = "tablet", "Signed on a clinic tablet"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        Patient, on_delete=models.CASCADE, related_name="consent_signatures"
    )
    document = models.ForeignKey(
        ConsentDocument, on_delete=models.PROTECT, related_name="signatures"
    )
    signed_name = models.CharField(max_length=200)
    sections_acknowledged = models.JSONField(default=list)
    document_snapshot = models.JSONField(
        help_text="Title, version, introduction and sections as shown."
    )
    signed_at = models.DateTimeField(default=timezone.now)
    method = models.CharField(max_length=10, choices=Method.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    witnessed_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    via_link = models.ForeignKey(
        PatientLink, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-signed_at", "-id"]

    def __str__(self) -> str:
        return f"consent v{self.document.version} signed {self.signed_at:%Y-%m-%d}"
