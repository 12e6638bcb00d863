"""Appointments, treatment courses and the waitlist.

Times are stored in UTC and computed in each location's time zone. The database itself
refuses two overlapping active appointments for one chair or one patient (exclusion
constraints below), so no race between two requests can double-book; cancelled and
no-show appointments block nothing.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from django.contrib.postgres.constraints import ExclusionConstraint
from django.contrib.postgres.fields import ArrayField, DateTimeRangeField, RangeOperators
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Func, Q, Value
from django.utils import timezone

from clinic.models import Chair, Location, User
from patients.models import Patient


class TsTzRange(Func):
    function = "TSTZRANGE"
    output_field = DateTimeRangeField()


class IdRange(Func):
    """``int8range(id, id, '[]')``: lets a GiST exclusion constraint compare ids for equality
    without the btree_gist extension, which the embedded PostgreSQL does not ship."""

    function = "INT8RANGE"
    template = "%(function)s(%(expressions)s, %(expressions)s, '[]')"

    def __init__(self, expression: str) -> None:
        super().__init__(F(expression))


class AppointmentKind(models.TextChoices):
    CONSULTATION = "consultation", "Consultation"
    INFUSION = "infusion", "Infusion"
    BOOSTER = "booster", "Booster infusion"
    FOLLOW_UP = "follow_up", "Follow-up visit"
    SPRAVATO = "spravato", "Spravato session"


# The kinds of appointment that are an infusion (and so have an infusion session, take a
# chair and count for the gap between infusions). A Spravato session is one: its session is
# an esketamine one, and its chair time covers the dose and the 2 hours of monitoring.
INFUSION_KINDS = frozenset(
    {AppointmentKind.INFUSION, AppointmentKind.BOOSTER, AppointmentKind.SPRAVATO}
)


class AppointmentType(models.Model):
    """What kinds of appointment the clinic offers and what each one needs.

    Seeded with the defaults from DOMAIN.md (migration 0002); clinic admins may change the
    minutes. ``recovery_minutes`` keep the chair (and the patient) after the procedure.
    """

    class Clinician(models.TextChoices):
        PHYSICIAN = "physician", "Physician"
        NURSE = "nurse", "Nurse"

    kind = models.CharField(max_length=20, choices=AppointmentKind.choices, unique=True)
    name = models.CharField(max_length=60)
    duration_minutes = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(5), MaxValueValidator(480)]
    )
    recovery_minutes = models.PositiveSmallIntegerField(
        default=0, validators=[MaxValueValidator(240)]
    )
    needs_chair = models.BooleanField(default=False)
    clinician = models.CharField(max_length=20, choices=Clinician.choices)
    bookable_online = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=5, duration_minutes__lte=480),
                name="appointment_type_duration_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    @property
    def occupied(self) -> timedelta:
        """How long the chair and the patient are taken: the procedure plus recovery."""
        return timedelta(minutes=self.duration_minutes + self.recovery_minutes)


class StaffShift(models.Model):
    """When a clinician works at a location on a weekday, in the location's time zone."""

    staff = models.ForeignKey(User, on_delete=models.CASCADE, related_name="shifts")
    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="shifts")
    weekday = models.PositiveSmallIntegerField(
        choices=[
            (day, name)
            for day, name in enumerate(
                ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
            )
        ]
    )
    starts_at = models.TimeField()
    ends_at = models.TimeField()

    class Meta:
        ordering = ["location", "weekday", "starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="shift_ends_after_start"
            ),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="shift_weekday_range"),
            models.UniqueConstraint(
                fields=["staff", "location", "weekday"], name="one_shift_per_day"
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.staff} {self.get_weekday_display()} {self.starts_at:%H:%M}–{self.ends_at:%H:%M}"
        )


class TreatmentCourse(models.Model):
    class Kind(models.TextChoices):
        INDUCTION = "induction", "Induction series"
        MAINTENANCE = "maintenance", "Maintenance"

    class State(models.TextChoices):
        PLANNED = "planned", "Planned"
        INDUCTION = "induction", "Induction"
        MAINTENANCE = "maintenance", "Maintenance"
        COMPLETED = "completed", "Completed"
        DISCONTINUED = "discontinued", "Discontinued"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="courses")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="courses")
    state = models.CharField(max_length=20, choices=State.choices, default=State.PLANNED)
    planned_infusions = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(4), MaxValueValidator(10)]
    )
    window_days = models.PositiveSmallIntegerField(
        validators=[MinValueValidator(14), MaxValueValidator(28)]
    )
    min_gap_hours = models.PositiveSmallIntegerField(default=24)
    discontinued_reason = models.TextField(blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The API's list, newest first (read backwards), and the admin's.
            models.Index(fields=["created_at", "id"], name="course_created_id_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~Q(state="discontinued") | ~Q(discontinued_reason=""),
                name="course_discontinued_has_reason",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_state_display()} course"


class AppointmentStatus(models.TextChoices):
    BOOKED = "booked", "Booked"
    CHECKED_IN = "checked_in", "Checked in"
    INFUSING = "infusing", "Infusing"
    RECOVERING = "recovering", "Recovering"
    DISCHARGED = "discharged", "Discharged"
    NO_SHOW = "no_show", "No-show"
    CANCELLED = "cancelled", "Cancelled"


# Statuses that hold a chair and a patient's time; the others block nothing.
NON_BLOCKING_STATUSES = (AppointmentStatus.CANCELLED, AppointmentStatus.NO_SHOW)
BLOCKING = ~Q(status__in=NON_BLOCKING_STATUSES)


class Appointment(models.Model):
    class Source(models.TextChoices):
        STAFF = "staff", "Booked by staff"
        ONLINE = "online", "Booked online"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.PROTECT, related_name="appointments")
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="appointments")
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="+"
    )
    chair = models.ForeignKey(
        Chair, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments"
    )
    clinician = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="appointments"
    )
    course = models.ForeignKey(
        TreatmentCourse,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="appointments",
    )
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField(help_text="End of the procedure itself.")
    blocks_until = models.DateTimeField(
        help_text="End of recovery: chair and patient are taken until then."
    )
    status = models.CharField(
        max_length=20, choices=AppointmentStatus.choices, default=AppointmentStatus.BOOKED
    )
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STAFF)
    cancel_reason = models.CharField(max_length=200, blank=True)
    # The clinic cancelled (closed, staff away), not the patient: no late-cancel fee
    # (``billing.fees.fee_due``). Only a cancelled appointment says so.
    cancelled_by_clinic = models.BooleanField(default=False)
    # What the patient wrote in "Tell us a little more" when booking online, in their own
    # words (``scheduling.booking.submit.booking_submit``). Patient data: never in logs, audit
    # summaries or URLs, nor in the admin; staff read it through
    # ``scheduling.selectors.booking_note_for``.
    booking_note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            # The order of the API's list and the admin's: a page is read off this index.
            models.Index(fields=["starts_at", "id"], name="appointment_start_id_idx"),
            # The same list filtered by status (the booked ones are all in the future).
            models.Index(fields=["status", "starts_at", "id"], name="appointment_status_start_idx"),
            models.Index(fields=["location", "starts_at"], name="appointment_location_start_idx"),
            models.Index(fields=["patient", "starts_at"], name="appointment_patient_start_idx"),
            # What could clash with a time from now on (scheduling.availability: the
            # location's and the clinicians' appointments that end after the range starts):
            # by start, every past appointment would be read too.
            models.Index(fields=["location", "blocks_until"], name="appointment_loc_block_idx"),
            models.Index(fields=["clinician", "blocks_until"], name="appointment_clin_block_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="appointment_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(blocks_until__gte=F("ends_at")), name="appointment_recovery_after_end"
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | ~Q(cancel_reason=""),
                name="appointment_cancel_has_reason",
            ),
            models.CheckConstraint(
                condition=Q(status="cancelled") | Q(cancelled_by_clinic=False),
                name="appointment_clinic_cancel_is_cancelled",
            ),
            ExclusionConstraint(
                name="no_overlapping_chair_bookings",
                expressions=[
                    (IdRange("chair"), RangeOperators.OVERLAPS),
                    (TsTzRange("starts_at", "blocks_until", Value("[)")), RangeOperators.OVERLAPS),
                ],
                condition=BLOCKING & Q(chair__isnull=False),
            ),
            ExclusionConstraint(
                name="no_overlapping_patient_bookings",
                expressions=[
                    (IdRange("patient"), RangeOperators.OVERLAPS),
                    (TsTzRange("starts_at", "blocks_until", Value("[)")), RangeOperators.OVERLAPS),
                ],
                condition=BLOCKING,
            ),
        ]

    def __str__(self) -> str:
        return f"{self.appointment_type} {self.starts_at:%Y-%m-%d %H:%M} UTC"

    @property
    def is_blocking(self) -> bool:
        return self.status not in NON_BLOCKING_STATUSES

    @property
    def is_cancelled(self) -> bool:
        return self.status == AppointmentStatus.CANCELLED


class AppointmentStatusChange(models.Model):
    """One move of an appointment's status, by whom (None: the patient online or the
    system) and why: when and by whom a patient was checked in, marked a no-show or
    cancelled, so the move can be undone for a short while (``appointment_undo``).

    Append-only: ``scheduling.services`` creates these; a trigger (migration 0003) refuses
    UPDATE and DELETE. An undo is a new row marked ``undo``.
    """

    appointment = models.ForeignKey(
        Appointment, on_delete=models.PROTECT, related_name="status_changes"
    )
    from_status = models.CharField(max_length=20, choices=AppointmentStatus.choices)
    to_status = models.CharField(max_length=20, choices=AppointmentStatus.choices)
    at = models.DateTimeField(default=timezone.now)
    by = models.ForeignKey(User, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The roles ``by`` held at the time: the undo is for someone in the same role.
    by_roles = ArrayField(models.CharField(max_length=30), default=list, blank=True)
    reason = models.TextField(blank=True)
    undo = models.BooleanField(default=False)

    class Meta:
        ordering = ["at", "id"]
        indexes = [
            models.Index(fields=["appointment", "at"], name="appointment_status_change_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(undo=False) | ~Q(reason=""), name="appointment_undo_has_reason"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_status} → {self.to_status}"


class WaitlistEntry(models.Model):
    """A patient who would take an earlier slot if one frees up."""

    class State(models.TextChoices):
        WAITING = "waiting", "Waiting"
        OFFERED = "offered", "Offered a slot"
        BOOKED = "booked", "Booked"
        REMOVED = "removed", "Removed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="waitlist_entries")
    location = models.ForeignKey(
        Location, on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    appointment_type = models.ForeignKey(
        AppointmentType, on_delete=models.PROTECT, related_name="+"
    )
    earliest_date = models.DateField(null=True, blank=True)
    latest_date = models.DateField(null=True, blank=True)
    preferred_weekdays = models.JSONField(
        default=list, blank=True, help_text="0 = Monday … 6 = Sunday"
    )
    preferred_after = models.TimeField(null=True, blank=True)
    preferred_before = models.TimeField(null=True, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING)
    offered_appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"waitlist {self.get_state_display()}"
