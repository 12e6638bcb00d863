"""DEA records kept beside the ketamine ledger (21 CFR 1301 and 1304).

A location's DEA registration lives here, in the app that owns the controlled-substance
ledger, keyed by location: ``clinic`` stays free of DEA concepts (it knows places and
people; the drug and the rules around it belong to ``infusions``).

Like the ledger, these records are append-only (a trigger, migration 0008): a renewal or
a corrected number is a new registration, and the latest recorded one for a location is
the one that counts. ``DeaRegistration.number`` is format-checked by a CHECK constraint
and its check digit by another (``infusions.dea`` says the rule).
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.models import Location, User

# Two characters and seven digits. First: the registrant type (A, B, F or G for a
# practitioner, hospital or clinic; P or R for a manufacturer, distributor or reverse
# distributor); second: the initial of the registrant's last or business name, or 9 when
# that starts with a digit. ``infusions.dea`` cites the source.
DEA_NUMBER_PATTERN = r"^[A-Z][A-Z9][0-9]{7}$"
PRACTITIONER_NUMBER_PATTERN = r"^[ABFG][A-Z9][0-9]{7}$"


class DeaRegistration(models.Model):
    """A location's DEA registration: the number on its certificate, who holds it (the
    registrant, a physician) and when it expires."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="dea_registrations"
    )
    number = models.CharField("DEA registration number", max_length=9)
    registrant = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    expires_on = models.DateField("expiry date")
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name = "DEA registration"
        ordering = ["location", "-recorded_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(number__regex=PRACTITIONER_NUMBER_PATTERN),
                name="dea_registration_number_format",
            ),
        ]

    def __str__(self) -> str:
        return f"DEA {self.number}"
