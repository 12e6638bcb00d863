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
from django.db.models import CharField, F, Func, Q
from django.db.models.lookups import Exact
from django.utils import timezone

from clinic.models import Location, User
from infusions.vitals import finding_text
from patients.models import Patient, SideEffect

MG = {"max_digits": 12, "decimal_places": 3}


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
    received_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    received_at = models.DateTimeField(default=timezone.now)
    # The only column that ever changes, by infusions.ledger with the row locked.
    balance_mg = models.DecimalField(**MG)

    class Meta:
        ordering = ["expiry_date", "received_at"]
        constraints = [
            models.CheckConstraint(condition=Q(balance_mg__gte=0), name="lot_balance_not_negative"),
            models.CheckConstraint(
                condition=Q(concentration_mg_per_ml__gt=0), name="lot_concentration_positive"
            ),
            models.CheckConstraint(condition=Q(volume_ml__gt=0), name="lot_volume_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.product_name} lot {self.lot_number}"


class LedgerEntryKind(models.TextChoices):
    RECEIPT = "receipt", "Receipt"
    ADMINISTERED = "administered", "Administered"
    WASTED = "wasted", "Wasted"
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
                condition=~Q(kind=LedgerEntryKind.WASTED) | Q(witness__isnull=False),
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


class InfusionSessionState(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    CHECKED_IN = "checked_in", "Checked in"
    PRE_ASSESSMENT_PASSED = "pre_assessment_passed", "Pre-assessment passed"
    INFUSING = "infusing", "Infusing"
    PAUSED = "paused", "Paused"
    RECOVERING = "recovering", "Recovering"
    DISCHARGED = "discharged", "Discharged"
    STOPPED_EARLY = "stopped_early", "Stopped early"
    NOT_STARTED = "not_started", "Not started"


# The states a session ends in; each of the last two needs a ``stop_reason``.
SESSION_FINAL_STATES = frozenset(
    {
        InfusionSessionState.DISCHARGED,
        InfusionSessionState.STOPPED_EARLY,
        InfusionSessionState.NOT_STARTED,
    }
)
SESSION_STATES_NEEDING_REASON = frozenset(
    {InfusionSessionState.STOPPED_EARLY, InfusionSessionState.NOT_STARTED}
)
# Where a session stands, as a sentence that reads naturally for every state (the labels
# are for badges: "The session is pre-assessment passed" is not English).
SESSION_STATE_SENTENCES: dict[str, str] = {
    InfusionSessionState.SCHEDULED: "Not checked in yet.",
    InfusionSessionState.CHECKED_IN: "Checked in: the pre-infusion checks come next.",
    InfusionSessionState.PRE_ASSESSMENT_PASSED: (
        "Pre-assessment passed: the infusion starts once the dose order is signed."
    ),
    InfusionSessionState.INFUSING: "The infusion is running.",
    InfusionSessionState.PAUSED: "The infusion is paused.",
    InfusionSessionState.RECOVERING: "The infusion has ended: the patient is recovering.",
    InfusionSessionState.DISCHARGED: "The patient has been discharged.",
    InfusionSessionState.STOPPED_EARLY: "The infusion was stopped early.",
    InfusionSessionState.NOT_STARTED: "The infusion was not started.",
}


class InfusionSession(models.Model):
    """The patient's time in the chair for one infusion or booster appointment.

    ``state`` only moves through ``infusions.sessions.session_transition``, which keeps the
    appointment's status in step and writes a ``SessionStateChange`` for every move.
    ``started_at`` is when the infusion first started; ``ended_at`` when the session reached
    a final state (discharged, stopped early or not started).
    """

    State = InfusionSessionState

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    appointment = models.OneToOneField(
        "scheduling.Appointment", on_delete=models.PROTECT, related_name="infusion_session"
    )
    state = models.CharField(
        max_length=30, choices=InfusionSessionState.choices, default=InfusionSessionState.SCHEDULED
    )
    stop_reason = models.TextField(blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state__in=sorted(SESSION_STATES_NEEDING_REASON)) | ~Q(stop_reason=""),
                name="session_stop_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(state__in=sorted(SESSION_FINAL_STATES)),
                name="session_ended_only_when_final",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_state_display()} infusion session"

    @property
    def state_sentence(self) -> str:
        """Where the session stands, e.g. "The infusion is running."
        (``SESSION_STATE_SENTENCES``)."""
        return SESSION_STATE_SENTENCES[self.state]


class SessionStateChange(models.Model):
    """One move of an infusion session from one state to another, by whom and why.

    Append-only: ``infusions.sessions`` creates these, and a trigger (migration 0004) refuses
    UPDATE and DELETE.
    """

    session = models.ForeignKey(
        InfusionSession, on_delete=models.PROTECT, related_name="state_changes"
    )
    from_state = models.CharField(max_length=30, choices=InfusionSessionState.choices)
    to_state = models.CharField(max_length=30, choices=InfusionSessionState.choices)
    at = models.DateTimeField(default=timezone.now, db_index=True)
    by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.from_state} → {self.to_state}"


# --- Before the infusion -----------------------------------------------------------------


class PregnancyStatus(models.TextChoices):
    NOT_APPLICABLE = "not_applicable", "Not applicable: cannot become pregnant"
    NOT_PREGNANT = "not_pregnant", "Not pregnant, by the patient's account"
    TEST_NEGATIVE = "test_negative", "Pregnancy test today: negative"
    TEST_POSITIVE = "test_positive", "Pregnancy test today: positive"
    PREGNANT = "pregnant", "Pregnant, by the patient's account"


class BloodPressureStatus(models.TextChoices):
    """``infusions.vitals.PreInfusionStatus``, stored."""

    OK = "ok", "Within limits"
    CAUTION = "caution", "Caution: needs a physician's acknowledgement"
    HOLD = "hold", "Hold: no infusion today"


class PreAssessment(models.Model):
    """The checks before an infusion starts, filled in by a nurse at the chair.

    One per session; it may be saved part-done and completed step by step until the session
    passes the pre-assessment (``infusions.preassessment``), after which it is frozen. The
    pre-infusion vitals are a ``VitalsReading`` of phase "pre"; ``bp_status`` is what
    ``vitals.pre_infusion_status`` said about them. A caution needs a physician's
    acknowledgement (``caution_acknowledged_*``); a hold means no infusion that day.
    """

    session = models.OneToOneField(
        "InfusionSession", on_delete=models.PROTECT, related_name="pre_assessment"
    )
    identity_confirmed = models.BooleanField(
        "identity confirmed", default=False, help_text="Name and date of birth, asked and checked."
    )
    weight_kg = models.DecimalField(
        "weight today (kg)", max_digits=5, decimal_places=1, null=True, blank=True
    )
    weighed_at = models.DateTimeField(null=True, blank=True)
    pregnancy_status = models.CharField(max_length=20, choices=PregnancyStatus.choices, blank=True)
    escort_confirmed = models.BooleanField("escort for the ride home confirmed", default=False)
    escort_name = models.CharField(max_length=120, blank=True)
    escort_phone = models.CharField(max_length=20, blank=True)
    last_ate_at = models.DateTimeField(
        "last ate or drank (other than water)", null=True, blank=True
    )
    vitals = models.OneToOneField(
        "VitalsReading", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    bp_status = models.CharField(max_length=10, choices=BloodPressureStatus.choices, blank=True)
    caution_acknowledged_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    caution_acknowledged_at = models.DateTimeField(null=True, blank=True)
    caution_note = models.TextField(blank=True)
    questionnaires = models.ManyToManyField(
        "patients.QuestionnaireResponse", blank=True, related_name="pre_assessments"
    )
    notes = models.TextField(blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(weight_kg__isnull=True) | Q(weight_kg__gt=0),
                name="preassessment_weight_positive",
            ),
            models.CheckConstraint(
                condition=Q(weight_kg__isnull=True) | Q(weighed_at__isnull=False),
                name="preassessment_weight_has_time",
            ),
            models.CheckConstraint(
                condition=Q(caution_acknowledged_by__isnull=True)
                | Q(caution_acknowledged_at__isnull=False),
                name="preassessment_acknowledgement_has_time",
            ),
        ]

    def __str__(self) -> str:
        return "pre-infusion assessment"


# --- The dose --------------------------------------------------------------------------------


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


# --- Vitals and alerts -------------------------------------------------------------------


class VitalsPhase(models.TextChoices):
    PRE = "pre", "Before the infusion"
    INFUSING = "infusing", "Infusing"
    PAUSED = "paused", "Paused"
    RECOVERING = "recovering", "Recovering"


class ReadingSource(models.TextChoices):
    MANUAL = "manual", "Entered by staff"
    MONITOR = "monitor", "From a monitor"


def _between(field: str, low: int, high: int) -> Q:
    return Q(**{f"{field}__isnull": True}) | Q(**{f"{field}__gte": low, f"{field}__lte": high})


class VitalsReading(models.Model):
    """One set of vital signs in a session. The limits mirror ``vitals.PHYSIOLOGICAL_LIMITS``
    as CHECK constraints; readings are never edited (a wrong one is marked entered in error,
    with who and why, and drops out of the flowsheet's alerts and picture)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey(
        "InfusionSession", on_delete=models.PROTECT, related_name="readings"
    )
    phase = models.CharField(max_length=12, choices=VitalsPhase.choices)
    taken_at = models.DateTimeField(db_index=True)
    systolic = models.PositiveSmallIntegerField(null=True, blank=True)
    diastolic = models.PositiveSmallIntegerField(null=True, blank=True)
    heart_rate = models.PositiveSmallIntegerField(null=True, blank=True)
    spo2 = models.PositiveSmallIntegerField("SpO2", null=True, blank=True)
    respiratory_rate = models.PositiveSmallIntegerField(null=True, blank=True)
    consciousness = models.PositiveSmallIntegerField(null=True, blank=True)
    pain = models.PositiveSmallIntegerField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=ReadingSource.choices)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    entered_in_error_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["taken_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=_between("systolic", 60, 260)
                & _between("diastolic", 30, 160)
                & _between("heart_rate", 25, 250)
                & _between("spo2", 50, 100)
                & _between("respiratory_rate", 4, 60)
                & _between("consciousness", 1, 5)
                & _between("pain", 0, 10),
                name="reading_within_physiological_limits",
            ),
            models.CheckConstraint(
                condition=Q(systolic__isnull=True)
                | Q(diastolic__isnull=True)
                | Q(diastolic__lt=models.F("systolic")),
                name="reading_diastolic_below_systolic",
            ),
            models.CheckConstraint(
                condition=Q(entered_in_error_at__isnull=True)
                | (Q(entered_in_error_by__isnull=False) & ~Q(entered_in_error_reason="")),
                name="reading_error_has_who_and_why",
            ),
        ]

    def __str__(self) -> str:
        return f"vitals at {self.taken_at:%H:%M}"


class AlertAction(models.TextChoices):
    CONTINUE = "continue", "Continue and watch"
    SLOW = "slow", "Slow the infusion"
    PAUSE = "pause", "Pause the infusion"
    STOP = "stop", "Stop the infusion"
    MEDICATION = "medication", "Medication given"


class SessionAlert(models.Model):
    """A reading outside the alert thresholds (``vitals.alerts_for``): one alert per reading,
    listing every value out of range in ``findings``, until a named person acknowledges it,
    once, with the action taken.

    ``findings`` is a list, in ``alerts_for``'s order, of
    ``{"parameter", "direction", "value", "threshold", "message"}`` (``parameter`` a
    ``vitals.Reading`` field, ``direction`` "high" or "low"); ``message`` is their messages
    joined, for the places that show one sentence. Like the rest of the alert, the findings
    never change (the append-only trigger of migration 0005 lets only the acknowledgement
    columns be filled in, once)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey("InfusionSession", on_delete=models.PROTECT, related_name="alerts")
    reading = models.ForeignKey(VitalsReading, on_delete=models.PROTECT, related_name="alerts")
    findings = models.JSONField()
    message = models.TextField()
    raised_at = models.DateTimeField(default=timezone.now)
    acknowledged_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    action = models.CharField(max_length=12, choices=AlertAction.choices, blank=True)
    action_note = models.TextField(blank=True)

    class Meta:
        ordering = ["raised_at", "id"]
        indexes = [
            models.Index(
                fields=["session"],
                condition=Q(acknowledged_at__isnull=True),
                name="alert_open_idx",
            )
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(acknowledged_at__isnull=True, acknowledged_by__isnull=True, action="")
                | (Q(acknowledged_at__isnull=False, acknowledged_by__isnull=False) & ~Q(action="")),
                name="alert_acknowledged_with_who_when_and_action",
            ),
            models.UniqueConstraint(fields=["reading"], name="alert_one_per_reading"),
            models.CheckConstraint(
                condition=Q(
                    Exact(
                        Func(F("findings"), function="jsonb_typeof", output_field=CharField()),
                        "array",
                    )
                )
                & ~Q(findings=[]),
                name="alert_findings_not_empty",
            ),
        ]

    def __str__(self) -> str:
        return self.message

    @property
    def parameters(self) -> list[str]:
        """The parameters out of range, e.g. ["systolic", "diastolic", "heart_rate"]."""
        return [finding["parameter"] for finding in self.findings]

    @property
    def summary(self) -> str:
        """The values out of range in a few words, e.g. "systolic 186 mmHg high, diastolic
        112 mmHg high, heart rate 124/min high"."""
        return ", ".join(
            finding_text(finding["parameter"], finding["value"], finding["direction"])
            for finding in self.findings
        )


# --- Side effects and interventions --------------------------------------------------------


class Severity(models.TextChoices):
    MILD = "mild", "Mild"
    MODERATE = "moderate", "Moderate"
    SEVERE = "severe", "Severe"


class MedicationRoute(models.TextChoices):
    ORAL = "oral", "By mouth"
    SUBLINGUAL = "sublingual", "Under the tongue"
    IV = "iv", "IV"
    IM = "im", "IM"
    OTHER = "other", "Other"


class SessionEvent(models.Model):
    """A side effect, an intervention (a medication given), or both, at a time.

    Either ``side_effect`` (with a severity; "other" with a description) or a medication
    (name, dose and route together) or both. Never edited; a wrong one is marked entered in
    error like a reading.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey("InfusionSession", on_delete=models.PROTECT, related_name="events")
    occurred_at = models.DateTimeField()
    side_effect = models.CharField(max_length=20, choices=SideEffect.choices, blank=True)
    description = models.CharField(max_length=200, blank=True)
    severity = models.CharField(max_length=10, choices=Severity.choices, blank=True)
    medication_name = models.CharField(max_length=100, blank=True)
    medication_dose = models.CharField(max_length=50, blank=True, help_text="e.g. 4 mg")
    medication_route = models.CharField(max_length=12, choices=MedicationRoute.choices, blank=True)
    alert = models.ForeignKey(
        SessionAlert, null=True, blank=True, on_delete=models.PROTECT, related_name="events"
    )
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    entered_in_error_at = models.DateTimeField(null=True, blank=True)
    entered_in_error_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    entered_in_error_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(side_effect="") | ~Q(medication_name=""),
                name="event_side_effect_or_medication",
            ),
            models.CheckConstraint(
                condition=Q(side_effect="", severity="") | (~Q(side_effect="") & ~Q(severity="")),
                name="event_side_effect_has_severity",
            ),
            models.CheckConstraint(
                condition=~Q(side_effect=SideEffect.OTHER) | ~Q(description=""),
                name="event_other_is_described",
            ),
            models.CheckConstraint(
                condition=Q(medication_name="", medication_dose="", medication_route="")
                | (~Q(medication_name="") & ~Q(medication_dose="") & ~Q(medication_route="")),
                name="event_medication_complete",
            ),
            models.CheckConstraint(
                condition=Q(entered_in_error_at__isnull=True)
                | (Q(entered_in_error_by__isnull=False) & ~Q(entered_in_error_reason="")),
                name="event_error_has_who_and_why",
            ),
        ]

    def __str__(self) -> str:
        return self.get_side_effect_display() or self.medication_name


# --- Discharge -----------------------------------------------------------------------------


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
