"""The dose: a physician's signed order and what a nurse gave against it
(``infusions.orders`` writes both)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist
from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.models import User
from infusions.models.ledger import MG, LedgerEntry, Lot


class DoseRoute(models.TextChoices):
    """``infusions.dosing.Route``, stored."""

    IV_INFUSION = "iv_infusion", "IV infusion"
    IM = "im", "Intramuscular injection"
    OTHER = "other", "Other"


DOSE = {"max_digits": 6, "decimal_places": 3}


class DoseOrder(models.Model):
    """A physician's signed order for one session's dose, with the server's arithmetic.

    The inputs are what the physician entered; ``total_mg`` and the rates are
    ``infusions.dosing.calculate``'s rounded results. A signed order is never changed: a new
    order ``replaces`` it (before the drug is given), and the current order is the one that
    nothing replaces.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey(
        "InfusionSession", on_delete=models.PROTECT, related_name="dose_orders"
    )
    route = models.CharField(max_length=20, choices=DoseRoute.choices)
    dose_mg_per_kg = models.DecimalField("dose (mg/kg)", **DOSE)
    weight_kg = models.DecimalField("weight (kg)", max_digits=5, decimal_places=1)
    duration_minutes = models.PositiveSmallIntegerField(null=True, blank=True)
    concentration_mg_per_ml = models.DecimalField(
        "concentration (mg/mL)", null=True, blank=True, **MG
    )
    total_mg = models.DecimalField("total dose (mg)", max_digits=8, decimal_places=1)
    rate_mg_per_h = models.DecimalField(
        "rate (mg/h)", max_digits=8, decimal_places=1, null=True, blank=True
    )
    rate_ml_per_h = models.DecimalField(
        "rate (mL/h)", max_digits=8, decimal_places=1, null=True, blank=True
    )
    volume_ml = models.DecimalField(
        "volume (mL)", max_digits=8, decimal_places=2, null=True, blank=True
    )
    note = models.TextField(blank=True)
    ordered_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    signed_at = models.DateTimeField(default=timezone.now)
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )

    class Meta:
        ordering = ["signed_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(dose_mg_per_kg__gt=0) & Q(weight_kg__gt=0) & Q(total_mg__gt=0),
                name="doseorder_positive",
            ),
            models.CheckConstraint(
                condition=~Q(route=DoseRoute.IV_INFUSION) | Q(duration_minutes__isnull=False),
                name="doseorder_infusion_has_duration",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.dose_mg_per_kg} mg/kg ({self.total_mg} mg) {self.get_route_display()}"


class DoseAdministration(models.Model):
    """What a nurse gave against an order: drawn from a lot, given, and the rest wasted.

    ``drawn_mg`` = ``administered_mg`` + ``wasted_mg``. The ledger entries for the dose and
    the waste are booked in the same transaction (``infusions.ledger``); waste is witnessed
    by a second member of staff who confirms with their own password.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    order = models.OneToOneField(DoseOrder, on_delete=models.PROTECT, related_name="administration")
    lot = models.ForeignKey(Lot, on_delete=models.PROTECT, related_name="+")
    drawn_mg = models.DecimalField(**MG)
    administered_mg = models.DecimalField(**MG)
    wasted_mg = models.DecimalField(**MG)
    given_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    administered_entry = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    wasted_entry = models.OneToOneField(
        LedgerEntry, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    recorded_at = models.DateTimeField(default=timezone.now)
    note = models.TextField(blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(drawn_mg=models.F("administered_mg") + models.F("wasted_mg")),
                name="administration_drawn_is_given_plus_wasted",
            ),
            models.CheckConstraint(
                condition=Q(administered_mg__gte=0) & Q(wasted_mg__gte=0) & Q(drawn_mg__gt=0),
                name="administration_amounts_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(wasted_mg=0)
                | (Q(witness__isnull=False) & ~Q(witness=models.F("given_by"))),
                name="administration_waste_witnessed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.administered_mg} mg given, {self.wasted_mg} mg wasted"

    @property
    def given_mg(self) -> Decimal:
        """What the patient received: the correction's figure when the infusion stopped
        early and it is recorded (``DoseCorrection``), else what was recorded at the start.
        The one reader of "mg given" (pages, exports, billing): select ``correction`` with
        the row, or this costs a query."""
        try:
            return self.correction.given_mg
        except ObjectDoesNotExist:
            return self.administered_mg

    @property
    def given_text(self) -> str:
        """``given_mg`` in plain figures: 3.100 -> "3.1", 40.000 -> "40"."""
        return f"{self.given_mg.normalize():f}"

    @property
    def corrected(self) -> bool:
        """Whether what was given was corrected after an early stop (``given_mg`` says
        how much); reads ``correction`` like ``given_mg``."""
        return hasattr(self, "correction")


class DoseCorrection(models.Model):
    """What was really given of a dose recorded in full when the infusion then stopped early
    (``infusions.dose_corrections``), and the rest, wasted in front of a witness.

    The dose's own record and its ledger entry stay as they were (append-only): the
    correction is booked as two new ledger entries, an adjustment that ``corrects`` the
    dose's entry by giving back what was not given (``correction_entry``), and the witnessed
    waste of that amount (``wasted_entry``), so the lot's balance does not move and the
    patient's administration record says what they received. ``given_mg`` + ``wasted_mg``
    = the administration's ``administered_mg``; one correction per dose.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    administration = models.OneToOneField(
        DoseAdministration, on_delete=models.PROTECT, related_name="correction"
    )
    given_mg = models.DecimalField(**MG)
    wasted_mg = models.DecimalField(**MG)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    witness = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    correction_entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="+")
    wasted_entry = models.OneToOneField(LedgerEntry, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField()
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(given_mg__gte=0) & Q(wasted_mg__gt=0),
                name="dose_correction_amounts",
            ),
            models.CheckConstraint(
                condition=~Q(witness=models.F("recorded_by")),
                name="dose_correction_witness_not_recorder",
            ),
            models.CheckConstraint(condition=~Q(reason=""), name="dose_correction_has_reason"),
        ]

    def __str__(self) -> str:
        return f"{self.given_mg} mg given, {self.wasted_mg} mg not given and wasted"

    @property
    def given_text(self) -> str:
        """3.100 -> "3.1", 40.000 -> "40"."""
        return f"{self.given_mg.normalize():f}"

    @property
    def wasted_text(self) -> str:
        return f"{self.wasted_mg.normalize():f}"
