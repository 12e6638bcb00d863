"""Treatment consent: the documents patients sign, and each signature."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from clinic.models import User
from patients.models.patient import Patient, PatientLink


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
