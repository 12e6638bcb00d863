"""The patient record: who the patient is, how to reach them (with their consent to each
channel), and the signed links they are sent."""

from __future__ import annotations

import uuid
from datetime import date

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Collate, Reverse
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


class SearchDocument(models.Func):
    """The words a patient is found by: the legal and preferred names and the email
    address, its ``@`` and dots read as spaces so "example.org" and "rivera" find
    "jordan.rivera@example.org".

    PostgreSQL's built-in full-text search with the ``simple`` configuration: lower-cased
    words, no stemming and no stop words. A trigram index (pg_trgm) would keep "any part of
    a name" matching, but the embedded PostgreSQL (the pgserver wheel) ships no contrib
    extensions and every database runs the same code path; a GIN index over this
    expression (patient_search_idx) needs no extension. ``patients.selectors`` matches
    each searched word against the start of these words, through this very expression so
    that the index is used.

    The SQL function ``patient_search_document`` (patients migration 0004) holds the
    expression, declared as costly as it is (a text search parse per row): otherwise the
    planner, to fill a page in name order, would rather walk the name index and parse every
    patient until it found 25 matches, which for a name late in the alphabet is most of
    the table (140 ms at 20,000 patients for "Smith", against 0.7 ms through this index).
    """

    function = "patient_search_document"
    output_field = SearchVectorField()


def patient_search_document() -> SearchDocument:
    return SearchDocument("legal_first_name", "legal_last_name", "preferred_name", "email")


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
            # The list's order, to the last column, so a page is read off the index.
            models.Index(
                fields=["legal_last_name", "legal_first_name", "id"], name="patient_name_idx"
            ),
            GinIndex(patient_search_document(), name="patient_search_idx"),
            models.Index(fields=["date_of_birth"], name="patient_dob_idx"),
            models.Index(fields=["status"], name="patient_status_idx"),
            # Phone search (patients.selectors): a number from its start, with the country
            # code, and from its end (the last digits, or the number without the country
            # code), each a prefix match through its index instead of reading every patient.
            models.Index(
                fields=["mobile"], opclasses=["text_pattern_ops"], name="patient_mobile_start_idx"
            ),
            # (The "C" collation lets LIKE 'x%' use the index, as text_pattern_ops does.)
            models.Index(Collate(Reverse("mobile"), "C"), name="patient_mobile_end_idx"),
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
        return display_name_of(self.preferred_name, self.legal_first_name, self.legal_last_name)

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


def display_name_of(preferred_name: str, legal_first_name: str, legal_last_name: str) -> str:
    """The name staff call a patient by (``Patient.display_name``), from the three names:
    for lists that read plain rows instead of patients."""
    return f"{preferred_name or legal_first_name} {legal_last_name}"
