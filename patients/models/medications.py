"""The medicines a patient takes (or took), as a list with each intake version, and the
clinic's confirmation of that list (medication reconciliation).

Each intake version carries its own list, so a list is never overwritten: a change is a
new intake version, which makes any decision on the older one stale the way every new
fact does (``patients.services.screening.decision_is_stale``). The patient's list is
the one on their latest intake.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.models import User
from patients.medicines import drug_by_key
from patients.medicines.doses import FREQUENCIES, FREQUENCY_BY_KEY
from patients.models.records import IntakeSubmission


class MedicationStatus(models.TextChoices):
    CURRENT = "current", "Taking it now"
    STOPPED = "stopped", "Stopped"


class Medication(models.Model):
    """One medicine on one intake version's list: a drug from the clinic's list
    (``drug_key``, see ``patients.medicines``) or, when it is not listed, its name as
    written (``other_name``); never both, never neither."""

    intake = models.ForeignKey(
        IntakeSubmission, on_delete=models.CASCADE, related_name="medications"
    )
    position = models.PositiveSmallIntegerField()
    drug_key = models.CharField(max_length=40, blank=True)
    other_name = models.CharField(max_length=120, blank=True)
    strength_mg = models.DecimalField(
        "strength (mg per tablet or dose)", max_digits=9, decimal_places=3, null=True, blank=True
    )
    units_each_time = models.DecimalField(
        "tablets or doses each time", max_digits=5, decimal_places=2, null=True, blank=True
    )
    frequency = models.CharField(
        "how often",
        max_length=20,
        blank=True,
        choices=[(frequency.key, frequency.label) for frequency in FREQUENCIES],
    )
    since = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=10, choices=MedicationStatus.choices, default=MedicationStatus.CURRENT
    )

    class Meta:
        ordering = ["intake", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["intake", "position"], name="medication_position_unique"
            ),
            models.CheckConstraint(
                condition=(Q(drug_key="") & ~Q(other_name=""))
                | (~Q(drug_key="") & Q(other_name="")),
                name="medication_listed_drug_or_other_name",
            ),
            models.CheckConstraint(
                condition=Q(strength_mg__isnull=True) | Q(strength_mg__gt=0),
                name="medication_strength_positive",
            ),
            models.CheckConstraint(
                condition=Q(units_each_time__isnull=True) | Q(units_each_time__gt=0),
                name="medication_units_positive",
            ),
            models.CheckConstraint(
                condition=Q(frequency="") | Q(frequency__in=list(FREQUENCY_BY_KEY)),
                name="medication_frequency_known",
            ),
            models.CheckConstraint(
                condition=Q(status__in=MedicationStatus.values), name="medication_status_known"
            ),
        ]

    def __str__(self) -> str:
        return f"medication {self.position} of intake {self.intake_id}"

    @property
    def name(self) -> str:
        """As staff and patients read it: "alprazolam (Xanax)", or the name as written."""
        drug = drug_by_key(self.drug_key) if self.drug_key else None
        if drug is not None:
            return drug.name
        return self.other_name or self.drug_key

    @property
    def class_label(self) -> str:
        drug = drug_by_key(self.drug_key) if self.drug_key else None
        return drug.class_label if drug is not None else "Not on the clinic's list"


class MedicationReconciliation(models.Model):
    """Staff confirmed, with the patient, the medication list of one intake version."""

    intake = models.ForeignKey(
        IntakeSubmission, on_delete=models.PROTECT, related_name="reconciliations"
    )
    confirmed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    confirmed_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True, help_text="Anything said when checking the list.")

    class Meta:
        ordering = ["-confirmed_at", "-id"]

    def __str__(self) -> str:
        return f"medication list of intake {self.intake_id} confirmed"
