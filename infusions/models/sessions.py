"""Infusion sessions: the states a session moves through and every move it made
(``infusions.sessions`` makes the moves)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db import models
from django.db.models import Q
from django.utils import timezone

from clinic.models import User


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
# The same for a Spravato (esketamine) session: a nasal spray dose, then monitoring.
ESKETAMINE_STATE_SENTENCES: dict[str, str] = SESSION_STATE_SENTENCES | {
    InfusionSessionState.CHECKED_IN: "Checked in: the checks before the dose come next.",
    InfusionSessionState.PRE_ASSESSMENT_PASSED: (
        "Pre-assessment passed: record the Spravato dose once the patient has taken it."
    ),
    InfusionSessionState.INFUSING: "The dose is being given.",
    InfusionSessionState.PAUSED: "The dose is being given.",
    InfusionSessionState.RECOVERING: "Dose given: the patient is being monitored.",
    InfusionSessionState.STOPPED_EARLY: "The session ended before discharge.",
    InfusionSessionState.NOT_STARTED: "No dose was given: the session did not go ahead.",
}


class SessionKind(models.TextChoices):
    """What is given in the session: IV ketamine, or Spravato (esketamine) nasal spray under
    its REMS (``infusions.esketamine``)."""

    IV_KETAMINE = "iv_ketamine", "Ketamine"
    ESKETAMINE = "esketamine", "Spravato (esketamine) nasal spray"


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
    # Chosen before the dose (``infusions.esketamine.session_kind_set``); esketamine sessions
    # have their own dose, monitoring and discharge rules.
    kind = models.CharField(
        max_length=20, choices=SessionKind.choices, default=SessionKind.IV_KETAMINE
    )
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
            models.CheckConstraint(
                condition=Q(kind__in=SessionKind.values), name="session_kind_known"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_state_display()} infusion session"

    @property
    def is_esketamine(self) -> bool:
        return self.kind == SessionKind.ESKETAMINE

    @property
    def state_sentence(self) -> str:
        """Where the session stands, e.g. "The infusion is running."
        (``SESSION_STATE_SENTENCES``; ``ESKETAMINE_STATE_SENTENCES`` for Spravato)."""
        if self.is_esketamine:
            return ESKETAMINE_STATE_SENTENCES[self.state]
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


def minutes_infusing(changes: list[tuple[str, datetime]], now: datetime | None = None) -> int:
    """Whole minutes spent infusing in ``changes`` (each move's state and time, in order)."""
    now = now or timezone.now()
    running = timedelta()
    since: datetime | None = None
    for to_state, at in changes:
        if to_state == InfusionSessionState.INFUSING and since is None:
            since = at
        elif to_state != InfusionSessionState.INFUSING and since is not None:
            running += at - since
            since = None
    if since is not None:
        running += now - since
    return int(running.total_seconds() // 60)
