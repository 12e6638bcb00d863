"""The discharge checklist of a session (``Discharge``), signed once by
``infusions.discharge``."""

from __future__ import annotations

from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.models import User


class Discharge(models.Model):
    """The discharge checklist a nurse signs, and a physician's note when an alert was still
    unresolved. Written once, by ``infusions.discharge``, in the transaction that moves the
    session to discharged; never changed."""

    session = models.OneToOneField(
        "InfusionSession", on_delete=models.PROTECT, related_name="discharge"
    )
    vitals_near_baseline = models.BooleanField()
    alert_and_oriented = models.BooleanField()
    aldrete_score = models.PositiveSmallIntegerField("modified Aldrete score")
    escort_present = models.BooleanField()
    escort_name = models.CharField(max_length=120)
    instructions_given = models.BooleanField(
        help_text="No driving, machinery or important decisions until the next day."
    )
    physician_note = models.TextField(blank=True)
    physician = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    signed_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(aldrete_score__gte=0, aldrete_score__lte=10),
                name="discharge_aldrete_0_to_10",
            ),
            models.CheckConstraint(
                condition=Q(
                    vitals_near_baseline=True,
                    alert_and_oriented=True,
                    escort_present=True,
                    instructions_given=True,
                )
                & ~Q(escort_name=""),
                name="discharge_checklist_complete",
            ),
            models.CheckConstraint(
                condition=Q(physician_note="", physician__isnull=True)
                | (~Q(physician_note="") & Q(physician__isnull=False)),
                name="discharge_physician_note_is_signed",
            ),
        ]

    def __str__(self) -> str:
        return "discharge"
