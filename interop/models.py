"""Bulk exports in the FHIR Bulk Data style: one job per request of a clinic admin, and the
NDJSON file it wrote for each resource type (``interop.fhir.bulk`` runs them)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.models import User


class ExportStatus(models.TextChoices):
    QUEUED = "queued", "Waiting to start"
    RUNNING = "running", "Running"
    COMPLETED = "completed", "Ready to download"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# A job in one of these is still to finish: at most one at a time (a constraint below).
EXPORT_UNDER_WAY = (ExportStatus.QUEUED, ExportStatus.RUNNING)


class ExportJob(models.Model):
    """One bulk export of every patient's record. ``progress`` is the share of the source
    rows written (0-100), set after each batch; the files are ``ExportFile`` rows, written
    under ``settings.FHIR_EXPORT_DIR / <public_id>`` and removed when the job is cancelled."""

    Status = ExportStatus

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    requested_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField(default=timezone.now)
    # The resource types asked for (``_type``); empty: every type the export writes.
    resource_types = models.JSONField(default=list, blank=True)
    status = models.CharField(
        max_length=12, choices=ExportStatus.choices, default=ExportStatus.QUEUED
    )
    progress = models.PositiveSmallIntegerField(default=0)
    # What the job is writing, for the X-Progress header and the page ("Observation").
    current_step = models.CharField(max_length=40, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # When the job last moved (queued, started, or wrote a batch): a job under way that has
    # not moved for FHIR_EXPORT_STALL_MINUTES lost its worker (``export_fail_stalled``).
    moved_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    # What went wrong, in words for the admin; never patient data.
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__gte=0, progress__lte=100), name="export_progress_range"
            ),
            models.CheckConstraint(
                condition=Q(status__in=ExportStatus.values), name="export_status_known"
            ),
            models.CheckConstraint(
                condition=~Q(status=ExportStatus.COMPLETED)
                | Q(progress=100, finished_at__isnull=False, started_at__isnull=False),
                name="export_completed_has_times_and_all_progress",
            ),
            models.CheckConstraint(
                condition=~Q(status=ExportStatus.FAILED) | ~Q(error=""),
                name="export_failed_says_why",
            ),
            # One export under way at a time, clinic-wide: each reads the whole database.
            # A unique index on a constant, over the rows under way: a second one is refused.
            models.UniqueConstraint(
                models.Value(True),
                condition=Q(status__in=EXPORT_UNDER_WAY),
                name="export_one_under_way",
            ),
        ]

    def __str__(self) -> str:
        return f"FHIR export {self.public_id} ({self.get_status_display()})"

    @property
    def under_way(self) -> bool:
        return self.status in EXPORT_UNDER_WAY


class ExportFile(models.Model):
    """The NDJSON file of one resource type written by a job: one resource per line."""

    job = models.ForeignKey(ExportJob, on_delete=models.CASCADE, related_name="files")
    resource_type = models.CharField(max_length=40)
    count = models.PositiveIntegerField()

    class Meta:
        ordering = ["job", "resource_type"]
        constraints = [
            models.UniqueConstraint(fields=["job", "resource_type"], name="export_file_per_type")
        ]

    def __str__(self) -> str:
        return f"{self.resource_type}.ndjson ({self.count})"

    @property
    def file_name(self) -> str:
        return f"{self.resource_type}.ndjson"
