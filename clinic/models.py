"""Clinic-wide records: staff accounts, locations and chairs, the audit log, the outbox of
messages to patients and staff."""

from __future__ import annotations

import uuid
import zoneinfo
from datetime import date, datetime
from typing import Any

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from clinic.roles import Role
from clinic.user_agents import browser_summary


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(
            "%(value)s is not a known time zone. Use an IANA name such as America/New_York.",
            params={"value": value},
        )


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: Any) -> User:
        if not email:
            raise ValueError("A staff account needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email: str, password: str | None = None, **fields: Any) -> User:
        fields.setdefault("roles", [Role.CLINIC_ADMIN])
        if Role.CLINIC_ADMIN not in fields["roles"]:
            raise ValueError("A superuser must hold the clinic admin role.")
        return self.create_user(email, password, **fields)

    def get_by_natural_key(self, username: str | None) -> User:
        return self.get(email__iexact=username)


class User(AbstractBaseUser):
    """A member of staff. One account per person; a person may hold several roles.

    Email addresses are stored in lower case, so uniqueness is case-blind.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField("email address", max_length=254, unique=True)
    full_name = models.CharField(max_length=150)
    roles = ArrayField(
        models.CharField(max_length=20, choices=Role.choices),
        default=list,
        blank=True,
        help_text="What this person does at the clinic; access follows from the roles.",
    )
    is_active = models.BooleanField(
        default=True, help_text="Deactivate instead of deleting: the records they made stay theirs."
    )
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    EMAIL_FIELD = "email"
    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["full_name", "email"]

    def __str__(self) -> str:
        return self.full_name or self.email

    def clean(self) -> None:
        super().clean()
        self.email = self.__class__.objects.normalize_email(self.email).lower()

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name.split(" ")[0] if self.full_name else self.email

    def has_role(self, role: Role) -> bool:
        return role in self.roles

    @property
    def role_labels(self) -> list[str]:
        return [Role(role).label for role in self.roles]

    # Django admin asks these; clinic admins may use it, nobody else.
    @property
    def is_staff(self) -> bool:
        return self.is_active and Role.CLINIC_ADMIN in self.roles

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return self.is_staff

    def has_perms(self, perm_list: Any, obj: Any = None) -> bool:
        return self.is_staff

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_staff


class Location(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=120, unique=True)
    address_line1 = models.CharField("address", max_length=200)
    address_line2 = models.CharField("address (line 2)", max_length=200, blank=True)
    city = models.CharField(max_length=100)
    region = models.CharField("state or region", max_length=100, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = models.CharField(max_length=2, default="US", help_text="Two-letter country code.")
    phone = models.CharField(
        max_length=32, help_text="The number patients call, e.g. +1 555 010 0100."
    )
    email = models.EmailField(blank=True)
    on_call_email = models.EmailField(
        "on-call email",
        blank=True,
        help_text="Who is told at once when a patient reports thoughts of self-harm.",
    )
    time_zone = models.CharField(
        max_length=64,
        validators=[validate_time_zone],
        help_text="IANA time zone, e.g. America/Chicago. Times at this location are shown in it.",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def address_lines(self) -> list[str]:
        city_line = " ".join(part for part in [self.city, self.region, self.postal_code] if part)
        return [line for line in [self.address_line1, self.address_line2, city_line] if line]

    def local_now(self) -> datetime:
        return timezone.now().astimezone(self.tz)


class OpeningHours(models.Model):
    """When a location is open on a weekday, in its own time zone."""

    class Weekday(models.IntegerChoices):
        MONDAY = 0, "Monday"
        TUESDAY = 1, "Tuesday"
        WEDNESDAY = 2, "Wednesday"
        THURSDAY = 3, "Thursday"
        FRIDAY = 4, "Friday"
        SATURDAY = 5, "Saturday"
        SUNDAY = 6, "Sunday"

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="opening_hours")
    weekday = models.PositiveSmallIntegerField(choices=Weekday.choices)
    opens_at = models.TimeField()
    closes_at = models.TimeField()

    class Meta:
        ordering = ["location", "weekday"]
        verbose_name_plural = "opening hours"
        constraints = [
            models.UniqueConstraint(fields=["location", "weekday"], name="one_opening_per_weekday"),
            models.CheckConstraint(
                condition=models.Q(closes_at__gt=models.F("opens_at")),
                name="opening_closes_after_opens",
            ),
            models.CheckConstraint(
                condition=models.Q(weekday__lte=6), name="opening_weekday_range"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.opens_at:%H:%M}–{self.closes_at:%H:%M}"


class Closure(models.Model):
    """Days a location is shut (holidays, training days), inclusive of both ends."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="closures")
    starts_on = models.DateField()
    ends_on = models.DateField()
    reason = models.CharField(max_length=200, help_text="Shown to staff, e.g. Thanksgiving.")

    class Meta:
        ordering = ["starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__gte=models.F("starts_on")),
                name="closure_ends_on_or_after_start",
            ),
        ]

    def __str__(self) -> str:
        if self.starts_on == self.ends_on:
            return f"{self.starts_on:%b %d, %Y}: {self.reason}"
        return f"{self.starts_on:%b %d}–{self.ends_on:%b %d, %Y}: {self.reason}"

    def covers(self, day: date) -> bool:
        return self.starts_on <= day <= self.ends_on


class Chair(models.Model):
    """An infusion chair: the unit of capacity at a location."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    location = models.ForeignKey(Location, on_delete=models.PROTECT, related_name="chairs")
    name = models.CharField(
        max_length=60, help_text="What staff call it, e.g. Chair 2 or Window bay."
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["location", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["location", "name"], name="chair_name_unique_per_location"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.location.name})"


class AuditEvent(models.Model):
    """Who did what to which record, when, from where.

    Rows are written by ``clinic.audit.audit_record`` and never changed: a database
    trigger (migration 0002) rejects UPDATE and DELETE for every role. ``summary``
    names fields and actions, never their values, so no patient data lands here.
    """

    class Action(models.TextChoices):
        VIEW = "view", "Viewed"
        CREATE = "create", "Created"
        UPDATE = "update", "Changed"
        DELETE = "delete", "Deleted"
        EXPORT = "export", "Exported"
        LOGIN = "login", "Signed in"
        LOGOUT = "logout", "Signed out"
        LOGIN_FAILED = "login_failed", "Failed sign-in"

    occurred_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.PROTECT, related_name="audit_events"
    )
    action = models.CharField(max_length=20, choices=Action.choices)
    object_type = models.CharField(max_length=100, blank=True)
    object_id = models.CharField(max_length=64, blank=True)
    object_label = models.CharField(max_length=200, blank=True)
    summary = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%d %H:%M} {self.actor} {self.action} {self.object_type}"


class Heartbeat(models.Model):
    """When a background process last proved it was alive (shown on the admin home)."""

    name = models.CharField(max_length=40, primary_key=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} at {self.seen_at:%Y-%m-%d %H:%M:%S}"


# --- The outbox ------------------------------------------------------------------------------


class OutboxChannel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "Text message (SMS)"


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Sent"
    SKIPPED = "skipped", "Not sent"
    FAILED = "failed", "Failed"


OUTBOX_OPEN_STATUSES = (OutboxStatus.PENDING, OutboxStatus.SENDING)


class OutboxMessage(models.Model):
    """One email or text message to send, written in the same transaction as the change that
    causes it (``clinic.messaging.outbox``).

    ``idempotency_key`` names the message so that it exists once, e.g.
    ``appointment:<public_id>:reminder-48h:sms``; it is also handed to the provider, so a
    send retried after a crash is not delivered twice. A worker claims a due row by setting
    ``claim_token`` and ``claimed_until`` (the lease); a claim whose lease has run out is
    taken over. What was sent (``subject``, ``body``, ``recipient``) is kept for the staff
    view; why a message was not sent is ``skip_reason``.
    """

    Channel = OutboxChannel
    Status = OutboxStatus

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    idempotency_key = models.CharField(max_length=200, unique=True)
    channel = models.CharField(max_length=10, choices=OutboxChannel.choices)
    kind = models.CharField(
        max_length=60, help_text="Which message this is: clinic.messaging.registry's name."
    )
    patient = models.ForeignKey(
        "patients.Patient",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="messages",
    )
    appointment = models.ForeignKey(
        "scheduling.Appointment",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="messages",
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Staff messages (an on-call alert) name their recipient; a patient's is looked up when
    # the message is sent, so a corrected address or number is used.
    recipient = models.CharField(max_length=254, blank=True)
    context = models.JSONField(default=dict, blank=True)
    urgent = models.BooleanField(
        default=False, help_text="Not held by quiet hours or the daily and weekly caps."
    )
    not_before = models.DateTimeField(default=timezone.now)
    status = models.CharField(
        max_length=10, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    claim_token = models.UUIDField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    subject = models.CharField(max_length=200, blank=True)
    body = models.TextField(blank=True)
    provider_reference = models.CharField(max_length=100, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=30, blank=True)
    skip_detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(
                fields=["not_before"],
                condition=models.Q(status__in=OUTBOX_OPEN_STATUSES),
                name="outbox_due_idx",
            ),
            models.Index(fields=["patient", "-created_at"], name="outbox_patient_idx"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=~models.Q(status=OutboxStatus.SENT) | models.Q(sent_at__isnull=False),
                name="outbox_sent_has_time",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=OutboxStatus.SKIPPED) | ~models.Q(skip_reason=""),
                name="outbox_skip_has_reason",
            ),
            models.CheckConstraint(
                condition=~models.Q(status=OutboxStatus.SENDING)
                | models.Q(claim_token__isnull=False, claimed_until__isnull=False),
                name="outbox_sending_is_claimed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.channel} ({self.status})"


class ApiToken(models.Model):
    """A personal API token, sent as ``Authorization: Token <secret>``.

    Only a SHA-256 digest of the secret is stored, so a copy of the database (a backup, a
    read-only replica) holds nothing that opens the API; the secret is shown once, when the
    token is made. The secret is 256 random bits, so an unsalted fast hash is enough: there
    is nothing to guess. A token does what its owner's roles allow *when it is used*
    (``clinic.api.authentication``). Revoking deletes the row; the audit log keeps the story.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=80, help_text="What it is for, e.g. 'EHR sync'.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    # The secret's first characters, to tell tokens apart in the list (too few to use).
    prefix = models.CharField(max_length=12, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()


class StaffSession(models.Model):
    """A signed-in session of a staff member, so they and a clinic admin can see and end it.

    Written at sign-in and removed at sign-out (``clinic.staff_sessions``). ``session_key`` is the
    key of the row in Django's session store, needed to end the session; it is as secret
    as that store's own keys and never shown: pages name a session by ``public_id``.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="staff_sessions")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(default=timezone.now)
    user_agent = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    class Meta:
        ordering = ["-last_seen_at", "-id"]

    def __str__(self) -> str:
        return f"session of {self.user} since {self.created_at:%Y-%m-%d %H:%M}"

    @property
    def browser(self) -> str:
        """The user agent in short, e.g. "Firefox on Windows"."""
        return browser_summary(self.user_agent)


class SecondFactorPolicy(models.Model):
    """Whether staff holding ``role`` must sign in with a second factor; one row per role.

    A role with no row follows ``clinic.second_factor.DEFAULT_REQUIRED_ROLES``. Clinic admins
    change it on the policy page (``second_factor_policy_set``), which audits each change.
    """

    role = models.CharField(max_length=20, choices=Role.choices, unique=True)
    required = models.BooleanField()
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "second-factor policy"
        verbose_name_plural = "second-factor policy"

    def __str__(self) -> str:
        label = Role(self.role).label
        return f"{label}: {'required' if self.required else 'optional'}"


class TableWrite(models.Model):
    """A note that a transaction wrote to a table (``clinic.table_writes``): a kept fragment
    drawn from a whole large table (every patient, say) is keyed by the notes of that table,
    where reading a version of each of its rows would cost a scan. The notes are written by
    a trigger on the table, by every path (services, the admin, SQL by hand), and nothing
    else writes here."""

    table_name = models.CharField(max_length=63)

    class Meta:
        indexes = [models.Index(fields=["table_name", "id"], name="table_write_idx")]

    def __str__(self) -> str:
        return f"a write to {self.table_name}"
