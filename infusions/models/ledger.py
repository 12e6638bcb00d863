"""The controlled-substance ledger: ketamine stock by lot, and every movement of it.

Ketamine is Schedule III in the US. Every receipt, dose, waste, adjustment and count is a
``LedgerEntry``; entries are never edited or deleted (corrections are new entries that
point at the entry they correct through ``corrects``). The database holds the line itself:

- a trigger (migration 0002) refuses UPDATE and DELETE on ledger entries, and on lots any
  change other than ``balance_mg`` and any DELETE;
- CHECK constraints keep every balance at or above zero, give each kind of entry its sign,
  and make waste need a witness who is not the person recording it.

``Lot.balance_mg`` is a running total kept by ``infusions.ledger`` in the same transaction
as each entry (the lot row locked); it always equals the sum of the lot's ``amount_mg``.
Amounts are in mg with three decimals.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Mod
from django.db.models.lookups import Exact
from django.utils import timezone

from clinic.models import Location, User
from infusions.models.dea import DEA_NUMBER_PATTERN
from patients.models import Patient

MG = {"max_digits": 12, "decimal_places": 3}


class LotProduct(models.TextChoices):
    """What a lot holds. Ketamine is counted in mg from mL; Spravato (esketamine) nasal spray
    comes in single-use devices of 28 mg each (``mg_per_device``): its lots are booked in mg
    like the rest of the ledger, always whole devices, and shown as devices."""

    KETAMINE = "ketamine", "Ketamine"
    ESKETAMINE = "esketamine", "Spravato (esketamine) nasal spray"


ESKETAMINE_MG_PER_DEVICE = 28


class Lot(models.Model):
    """One delivery of one product and lot number to one location."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="ketamine_lots")
    product_name = models.CharField(
        max_length=120, help_text="As on the label, e.g. Ketamine HCl injection 50 mg/mL."
    )
    concentration_mg_per_ml = models.DecimalField("concentration (mg/mL)", **MG)
    volume_ml = models.DecimalField("volume received (mL)", max_digits=10, decimal_places=2)
    lot_number = models.CharField(max_length=60)
    expiry_date = models.DateField()
    supplier = models.CharField(max_length=150)
    invoice_number = models.CharField(max_length=60)
    # What 21 CFR 1304.22(c) asks of a receipt, besides the above: the supplier's address
    # and DEA number, and the containers (how many, of what size: volume_ml is their
    # product). Empty on lots received before these were recorded (migration 0009); a
    # trigger refuses a new lot without them.
    supplier_address = models.CharField(max_length=300, null=True, blank=True)  # noqa: DJ001
    supplier_dea_number = models.CharField(  # noqa: DJ001
        "supplier's DEA number", max_length=9, null=True, blank=True
    )
    container_volume_ml = models.DecimalField(
        "container size (mL)", max_digits=10, decimal_places=2, null=True, blank=True
    )
    containers_received = models.PositiveIntegerField(null=True, blank=True)
    received_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)
    # The only column that ever changes, by infusions.ledger with the row locked.
    balance_mg = models.DecimalField(**MG)
    product = models.CharField(max_length=20, choices=LotProduct.choices, default="ketamine")
    mg_per_device = models.PositiveSmallIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["expiry_date", "received_at"]
        constraints = [
            models.CheckConstraint(condition=Q(balance_mg__gte=0), name="lot_balance_not_negative"),
            models.CheckConstraint(
                condition=Q(concentration_mg_per_ml__gt=0), name="lot_concentration_positive"
            ),
            models.CheckConstraint(condition=Q(volume_ml__gt=0), name="lot_volume_positive"),
            models.CheckConstraint(
                condition=(
                    Q(
                        supplier_address__isnull=True,
                        supplier_dea_number__isnull=True,
                        container_volume_ml__isnull=True,
                        containers_received__isnull=True,
                    )
                    | (
                        # Spelt out: a CHECK passes when it is NULL.
                        Q(
                            supplier_address__isnull=False,
                            supplier_dea_number__isnull=False,
                            container_volume_ml__isnull=False,
                            containers_received__isnull=False,
                        )
                        & Q(
                            supplier_dea_number__regex=DEA_NUMBER_PATTERN,
                            container_volume_ml__gt=0,
                            containers_received__gt=0,
                            volume_ml=models.F("container_volume_ml")
                            * models.F("containers_received"),
                        )
                        & ~Q(supplier_address="")
                    )
                ),
                name="lot_receipt_details_complete",
            ),
            models.CheckConstraint(
                condition=Q(product=LotProduct.KETAMINE, mg_per_device__isnull=True)
                | (
                    Q(product=LotProduct.ESKETAMINE, mg_per_device=ESKETAMINE_MG_PER_DEVICE)
                    & Exact(Mod(F("balance_mg"), ESKETAMINE_MG_PER_DEVICE), 0)
                ),
                name="lot_devices_whole",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.product_name} lot {self.lot_number}"

    @property
    def is_devices(self) -> bool:
        return self.product == LotProduct.ESKETAMINE

    @property
    def devices_left(self) -> int | None:
        """Whole devices left in an esketamine lot; None for ketamine."""
        if not self.mg_per_device:
            return None
        return int(self.balance_mg // self.mg_per_device)


class LedgerEntryKind(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    ADMINISTERED = "administered", "Administered"
    WASTED = "wasted", "Wasted"
    # Stock destroyed or handed to a reverse distributor (DEA Form 41): infusions.destruction.
    DESTROYED = "destroyed", "Destroyed"
    ADJUSTMENT = "adjustment", "Adjustment"
    COUNT = "count", "Count"


class LedgerEntry(models.Model):
    """One movement of drug into or out of a lot, or a count of what is there.

    ``amount_mg`` is signed: receipts add, doses and waste take away, adjustments go either
    way, counts change nothing (they record ``counted_mg`` and ``discrepancy_mg`` = counted
    minus expected; a non-zero discrepancy is then booked by an adjustment that ``corrects`` the
    count). ``balance_after_mg`` is the lot's balance once this entry is applied.

    ``session`` is the infusion session a dose or waste belongs to (None for stock moves).
    """

    Kind = LedgerEntryKind

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="entries")
    kind = models.CharField(max_length=20, choices=LedgerEntryKind.choices)
    amount_mg = models.DecimalField(**MG)
    balance_after_mg = models.DecimalField(**MG)
    counted_mg = models.DecimalField(null=True, blank=True, **MG)
    discrepancy_mg = models.DecimalField(null=True, blank=True, **MG)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField(blank=True)
    patient = models.ForeignKey(
        Patient, null=True, blank=True, on_delete=models.PROTECT, related_name="ketamine_entries"
    )
    session = models.ForeignKey(
        "InfusionSession",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
    )
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections"
    )
    # The inventory (infusions.models.dea) a count was taken in, if any.
    inventory = models.ForeignKey(
        "Inventory", null=True, blank=True, on_delete=models.PROTECT, related_name="counts"
    )
    occurred_at = models.DateTimeField(db_index=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        verbose_name_plural = "ledger entries"
        ordering = ["occurred_at", "created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(balance_after_mg__gte=0), name="entry_balance_not_negative"
            ),
            models.CheckConstraint(
                condition=(
                    Q(kind=LedgerEntryKind.RECEIPT, amount_mg__gt=0)
                    | Q(kind=LedgerEntryKind.ADMINISTERED, amount_mg__lt=0)
                    | Q(kind=LedgerEntryKind.WASTED, amount_mg__lt=0)
                    | Q(kind=LedgerEntryKind.DESTROYED, amount_mg__lt=0)
                    | (Q(kind=LedgerEntryKind.ADJUSTMENT) & ~Q(amount_mg=0))
                    | Q(kind=LedgerEntryKind.COUNT, amount_mg=0)
                ),
                name="entry_amount_sign_fits_kind",
            ),
            models.CheckConstraint(
                condition=(
                    Q(
                        kind=LedgerEntryKind.COUNT,
                        counted_mg__isnull=False,
                        counted_mg__gte=0,
                        discrepancy_mg__isnull=False,
                    )
                    | (
                        ~Q(kind=LedgerEntryKind.COUNT)
                        & Q(counted_mg__isnull=True, discrepancy_mg__isnull=True)
                    )
                ),
                name="entry_count_fields_only_on_counts",
            ),
            models.CheckConstraint(
                condition=~Q(kind__in=[LedgerEntryKind.WASTED, LedgerEntryKind.DESTROYED])
                | Q(witness__isnull=False),
                name="entry_waste_witnessed",
            ),
            models.CheckConstraint(
                condition=Q(witness__isnull=True) | ~Q(witness=models.F("recorded_by")),
                name="entry_witness_not_recorder",
            ),
            models.CheckConstraint(
                condition=~Q(kind=LedgerEntryKind.ADMINISTERED) | Q(patient__isnull=False),
                name="entry_dose_has_patient",
            ),
            models.CheckConstraint(
                condition=Q(inventory__isnull=True) | Q(kind=LedgerEntryKind.COUNT),
                name="entry_inventory_only_on_counts",
            ),
            models.CheckConstraint(
                condition=~Q(kind=LedgerEntryKind.ADJUSTMENT) | ~Q(reason=""),
                name="entry_adjustment_has_reason",
            ),
            models.CheckConstraint(
                condition=~Q(kind=LedgerEntryKind.COUNT) | Q(discrepancy_mg=0) | ~Q(reason=""),
                name="entry_count_discrepancy_explained",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_mg} mg"
