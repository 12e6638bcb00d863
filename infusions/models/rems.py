"""Spravato (esketamine) nasal spray under its REMS (``infusions.esketamine`` and
``infusions.rems`` write these):

- ``RemsPatientEnrolment``: the patient's enrolment in the REMS, needed before the first dose;
- ``RemsSettingCertification``: the location's certification as a REMS healthcare setting;
- ``EsketamineDose`` and ``EsketamineDevice``: the dose (56 mg in 2 devices or 84 mg in 3, 28
  mg each) and each device's lot, taken from the ledger as an administration entry;
- ``RemsAssessment``: sedation, dissociation and respiratory depression, assessed while the
  patient is watched after the dose;
- ``RemsMonitoringForm``: the Patient Monitoring Form of the session, due within 7 days of the
  dose, until a clinician marks it submitted.

The database holds the line: a dose is 56 or 84 mg with the matching number of devices, each
device from an esketamine lot of the session's location (a deferred trigger checks the count
at commit, migration 0015), and none of these records is changed or deleted once written
except the form's submission, filled in once.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.models import Location, User
from infusions.models.ledger import LedgerEntry, Lot
from patients.models import Patient

# The doses the label allows, by the number of 28 mg devices.
ESKETAMINE_DOSES_MG = {2: 56, 3: 84}
# The label's advice before the dose (nausea and vomiting): no food for 2 hours, nothing to
# drink for 30 minutes. The checks before the dose ask when the patient last ate.
ESKETAMINE_NO_FOOD_MINUTES = 120
ESKETAMINE_NO_DRINK_MINUTES = 30


class RemsPatientEnrolment(models.Model):
    """The patient's enrolment in the Spravato REMS, as a clinician recorded it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.OneToOneField(Patient, on_delete=models.PROTECT, related_name="rems_enrolment")
    rems_patient_id = models.CharField("REMS patient ID", max_length=40)
    enrolled_on = models.DateField()
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=~Q(rems_patient_id=""), name="rems_enrolment_has_id"),
        ]

    def __str__(self) -> str:
        return "REMS enrolment"


class RemsSettingCertification(models.Model):
    """A location's certification as a Spravato REMS healthcare setting."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    location = models.OneToOneField(
        Location, on_delete=models.PROTECT, related_name="rems_certification"
    )
    certification_id = models.CharField("REMS setting certification ID", max_length=40)
    certified_on = models.DateField()
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(certification_id=""), name="rems_certification_has_id"
            ),
        ]

    def __str__(self) -> str:
        return f"REMS certification {self.certification_id}"


class EsketamineDose(models.Model):
    """The esketamine given in a session: 56 mg (2 devices) or 84 mg (3 devices), under the
    patient's enrolment at a certified setting. ``given_at`` is when the last device was
    used: the 2 hours of monitoring count from it."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.OneToOneField(
        "InfusionSession", on_delete=models.PROTECT, related_name="esketamine_dose"
    )
    dose_mg = models.PositiveSmallIntegerField("dose (mg)")
    devices = models.PositiveSmallIntegerField()
    enrolment = models.ForeignKey(RemsPatientEnrolment, on_delete=models.PROTECT, related_name="+")
    certification = models.ForeignKey(
        RemsSettingCertification, on_delete=models.PROTECT, related_name="+"
    )
    given_at = models.DateTimeField()
    given_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(dose_mg=56, devices=2) | Q(dose_mg=84, devices=3),
                name="esketamine_dose_56_or_84",
            ),
        ]

    def __str__(self) -> str:
        return f"esketamine {self.dose_mg} mg ({self.devices} devices)"


class EsketamineDevice(models.Model):
    """One 28 mg device of a dose: its lot, and the ledger entry that took it from the lot."""

    dose = models.ForeignKey(EsketamineDose, on_delete=models.PROTECT, related_name="device_uses")
    position = models.PositiveSmallIntegerField()
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    ledger_entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["dose", "position"]
        constraints = [
            models.UniqueConstraint(fields=["dose", "position"], name="esketamine_device_once"),
            models.CheckConstraint(
                condition=Q(position__gte=1, position__lte=3), name="esketamine_device_position"
            ),
        ]

    def __str__(self) -> str:
        return f"device {self.position}"


class Presence(models.TextChoices):
    ABSENT = "absent", "Not present"
    PRESENT = "present", "Present"


class RemsAssessment(models.Model):
    """Sedation, dissociation and respiratory depression at one moment after the dose."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey(
        "InfusionSession", on_delete=models.PROTECT, related_name="rems_assessments"
    )
    assessed_at = models.DateTimeField()
    sedation = models.CharField(max_length=10, choices=Presence.choices)
    dissociation = models.CharField(max_length=10, choices=Presence.choices)
    respiratory_depression = models.CharField(max_length=10, choices=Presence.choices)
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["assessed_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(sedation__in=Presence.values)
                & Q(dissociation__in=Presence.values)
                & Q(respiratory_depression__in=Presence.values),
                name="rems_assessment_values_known",
            ),
        ]

    def __str__(self) -> str:
        return f"REMS assessment at {self.assessed_at:%H:%M}"

    @property
    def all_resolved(self) -> bool:
        return (
            self.sedation == Presence.ABSENT
            and self.dissociation == Presence.ABSENT
            and self.respiratory_depression == Presence.ABSENT
        )


class RemsMonitoringForm(models.Model):
    """The session's Patient Monitoring Form: opened with the dose (due ``due_on``, 7 days
    after the dose's local date), filled from the session when shown, completed at discharge
    (``could_have_left_at``), and marked submitted once by a clinician."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.OneToOneField(
        "InfusionSession", on_delete=models.PROTECT, related_name="rems_form"
    )
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField()
    could_have_left_at = models.DateTimeField(null=True, blank=True)
    submitted_on = models.DateField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    submitted_recorded_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(
                fields=["location", "due_on"],
                condition=Q(submitted_on__isnull=True),
                name="rems_form_unsubmitted_idx",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    submitted_on__isnull=True,
                    submitted_by__isnull=True,
                    submitted_recorded_at__isnull=True,
                )
                | Q(
                    submitted_on__isnull=False,
                    submitted_by__isnull=False,
                    submitted_recorded_at__isnull=False,
                ),
                name="rems_form_submitted_by_whom_and_when",
            ),
        ]

    def __str__(self) -> str:
        return "Patient Monitoring Form"
