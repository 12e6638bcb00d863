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


class InventoryTime(models.TextChoices):
    """21 CFR 1304.11(a): an inventory is taken either as of the opening or as of the close
    of business on its date, and says which."""

    OPENING = "opening", "At opening of business"
    CLOSE_OF_BUSINESS = "close_of_business", "At close of business"


class Inventory(models.Model):
    """A count of every ketamine lot at a location on one date and time, signed by the
    person counting and a witness: the initial inventory when the location starts, then at
    least every two years (21 CFR 1304.11(b), (c)). Each lot's count is a ledger COUNT entry
    pointing here (``LedgerEntry.inventory``); a discrepancy is booked as an adjustment
    correcting that count, as any count's is."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    location = models.ForeignKey(
        Location, on_delete=models.PROTECT, related_name="ketamine_inventories"
    )
    is_initial = models.BooleanField(default=False)
    taken_at = models.DateTimeField()
    time_of_day = models.CharField(max_length=20, choices=InventoryTime.choices)
    counted_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "inventories"
        ordering = ["location", "-taken_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(witness=models.F("counted_by")),
                name="inventory_witness_not_counter",
            ),
            models.UniqueConstraint(
                fields=["location"],
                condition=Q(is_initial=True),
                name="inventory_one_initial_per_location",
            ),
        ]

    def __str__(self) -> str:
        return f"Inventory of {self.taken_at:%Y-%m-%d}"


class LossKind(models.TextChoices):
    THEFT = "theft", "Theft"
    SIGNIFICANT_LOSS = "significant_loss", "Significant loss"
    IN_TRANSIT = "in_transit", "Lost in transit"


class LossIncident(models.Model):
    """A theft or significant loss of ketamine, from its discovery (21 CFR 1301.76(b)): the
    registrant notifies the DEA field office in writing within one business day, then files
    DEA Form 106. The incident stays open until the Form 106 step is recorded
    (``LossIncidentStep``); nothing is edited."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=LossKind.choices)
    discovered_at = models.DateTimeField()
    description = models.TextField()
    lot = models.ForeignKey("Lot", null=True, blank=True, on_delete=models.PROTECT)
    amount_mg = models.DecimalField(
        "amount missing (mg)", max_digits=12, decimal_places=3, null=True, blank=True
    )
    reported_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-discovered_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount_mg__isnull=True) | Q(amount_mg__gt=0),
                name="loss_amount_positive",
            ),
            models.CheckConstraint(condition=~Q(description=""), name="loss_described"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} discovered {self.discovered_at:%Y-%m-%d}"


class LossStep(models.TextChoices):
    FIELD_OFFICE_NOTIFIED = "field_office_notified", "DEA field office notified in writing"
    FORM_106_FILED = "form_106_filed", "DEA Form 106 filed"


class LossIncidentStep(models.Model):
    """One of the two reports an incident needs, when it was done and its reference."""

    incident = models.ForeignKey(LossIncident, on_delete=models.PROTECT, related_name="steps")
    step = models.CharField(max_length=30, choices=LossStep.choices)
    done_at = models.DateTimeField()
    reference = models.CharField(max_length=200)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["done_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "step"], name="loss_step_once"),
            models.CheckConstraint(condition=~Q(reference=""), name="loss_step_reference"),
        ]

    def __str__(self) -> str:
        return self.get_step_display()


class DestructionMethod(models.TextChoices):
    REVERSE_DISTRIBUTOR = "reverse_distributor", "Handed to a reverse distributor"
    ON_SITE = "on_site", "Destroyed on site"


class Destruction(models.Model):
    """Expired or unusable stock taken out of a lot to be destroyed, with what DEA Form 41
    asks: the drug (product, strength, lot), the quantity (containers and mg), the reason,
    the date, the method (a reverse distributor's name, address and DEA number, or how it
    was made non-retrievable on site) and two witnesses. Its ledger entry
    (kind ``destroyed``) takes the amount out of the lot."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    entry = models.OneToOneField(
        "LedgerEntry", on_delete=models.PROTECT, related_name="destruction"
    )
    method = models.CharField(max_length=30, choices=DestructionMethod.choices)
    reason = models.CharField(max_length=300)
    containers = models.PositiveIntegerField("containers (whole or partial)")
    reverse_distributor = models.CharField(max_length=150, blank=True)
    reverse_distributor_address = models.CharField(max_length=300, blank=True)
    reverse_distributor_dea_number = models.CharField(max_length=9, blank=True)
    on_site_method = models.CharField("how it was destroyed", max_length=300, blank=True)
    second_witness = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        method=DestructionMethod.REVERSE_DISTRIBUTOR,
                        reverse_distributor_dea_number__regex=DEA_NUMBER_PATTERN,
                    )
                    & ~Q(reverse_distributor="")
                    & ~Q(reverse_distributor_address="")
                )
                | (Q(method=DestructionMethod.ON_SITE) & ~Q(on_site_method="")),
                name="destruction_method_details",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="destruction_has_reason"),
            models.CheckConstraint(condition=Q(containers__gt=0), name="destruction_containers"),
        ]

    def __str__(self) -> str:
        return f"Destruction {self.get_method_display().lower()}"
