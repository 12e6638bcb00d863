"""The board's cards: one appointment as staff see it on the day and week boards, the
appointment page and the patient chart (``board_entry``), with the moves it offers
(``ACTIONS``). Which status an appointment may take next comes from
``scheduling.services.status_rules``, and who may make each move from the same check the
service makes, so a button is only shown when pressing it would be allowed."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils import timezone

from clinic.contributions import Refinements
from clinic.permissions import Capability, user_can
from patients.models import Patient
from scheduling.models import INFUSION_KINDS, NON_BLOCKING_STATUSES, Appointment, AppointmentStatus
from scheduling.selectors import (
    BookingNote,
    appointments_visible_to,
    booking_note_for,
    with_booking_note_alerted,
)
from scheduling.services.status_rules import (
    appointment_next_statuses,
    clock_refuses,
    require_status_permission,
)
from scheduling.services.undo import (
    UNDOABLE_STATUSES,
    last_status_change,
    undo_deadline,
    undo_refusal,
    with_last_status_change,
)

Status = AppointmentStatus


@dataclass(frozen=True)
class BoardAction:
    """A button that moves an appointment to ``status``: POSTed to
    ``scheduling:appointment-action`` with ``slug``."""

    slug: str
    label: str
    status: Status
    style: str  # Bootstrap button colour


# The moves the board offers, by the slug in the URL. Cancelling has its own page (it needs
# a reason) and is not one of them.
ACTIONS: dict[str, BoardAction] = {
    action.slug: action
    for action in (
        BoardAction("check-in", "Check in", Status.CHECKED_IN, "primary"),
        BoardAction("no-show", "No-show…", Status.NO_SHOW, "outline-secondary"),
        BoardAction("start-infusion", "Start infusion", Status.INFUSING, "primary"),
        BoardAction("recovery", "Move to recovery", Status.RECOVERING, "primary"),
        BoardAction("discharge", "End the visit…", Status.DISCHARGED, "success"),
    )
}
_ACTION_FOR_STATUS = {action.status: action for action in ACTIONS.values()}
# What the board says of an infusion session in each state: where it is and the next step.
SESSION_STEP = {
    "scheduled": "Next: check in",
    "checked_in": "Next: pre-infusion checks",
    "pre_assessment_passed": "Checks passed · next: the dose order",
    "infusing": "Infusion running · next: recovery",
    "paused": "Infusion paused",
    "recovering": "Recovering · next: discharge checklist",
    "stopped_early": "Stopped early · next: discharge checklist",
    "discharged": "Gone home",
    "not_started": "Not started",
}
# A session stopped early stays so when its discharge checklist is signed; the appointment
# is then discharged.
STOPPED_EARLY_GONE_HOME = "Stopped early · gone home"
READY_TO_START = "Checks passed · ready to start"


# --- One appointment -----------------------------------------------------------------------


@dataclass(frozen=True)
class BoardEntry:
    """An appointment as the board shows it: local times, and what ``user`` may do next."""

    appointment: Appointment
    local_start: datetime
    local_end: datetime  # end of the procedure
    local_blocks_until: datetime  # end of recovery
    actions: tuple[BoardAction, ...]
    can_cancel: bool
    can_reschedule: bool
    # Unacknowledged vitals alerts of the appointment's infusion session (0 unless the
    # appointments came through ``for_the_board``), and whether ``user`` may see clinical
    # detail: clinicians get the count and a link to the session, everyone else a neutral
    # "needs attention".
    open_alerts: int = 0
    session_id: uuid.UUID | None = None
    sees_clinical: bool = False
    # The infusion session's state and next step, in words (infusions only).
    session_step: str = ""
    # Until when ``user`` may undo the last check-in, no-show or cancellation (None: not).
    undo_until: datetime | None = None

    @property
    def attending(self) -> bool:
        return self.appointment.status not in NON_BLOCKING_STATUSES

    @property
    def is_infusion(self) -> bool:
        """An infusion or booster: it has an infusion session."""
        return self.appointment.appointment_type.kind in INFUSION_KINDS

    @property
    def has_recovery(self) -> bool:
        return self.appointment.blocks_until > self.appointment.ends_at

    @property
    def procedure_percent(self) -> int:
        """How much of the chair time is the procedure itself (the rest is recovery)."""
        occupied = self.appointment.blocks_until - self.appointment.starts_at
        procedure = self.appointment.ends_at - self.appointment.starts_at
        return round(100 * procedure / occupied) if occupied else 100


class _Asker:
    """What ``user`` may do, asked once per board rather than once per card: the
    capabilities, and the service's own permission check per status and appointment type
    (all it depends on)."""

    def __init__(self, user: Any) -> None:
        self.user = user
        self.can_book = user_can(user, Capability.BOOK_APPOINTMENTS)
        self.sees_clinical = user_can(user, Capability.VIEW_CLINICAL)
        self._may_set: dict[tuple[Status, int], bool] = {}

    def may_set(self, appointment: Appointment, status: Status) -> bool:
        key = (status, appointment.appointment_type_id)
        allowed = self._may_set.get(key)
        if allowed is None:
            allowed = self._may_set[key] = _may_set(self.user, appointment, status)
        return allowed


def board_entry(appointment: Appointment, user: Any) -> BoardEntry:
    """``appointment`` as the board shows it to ``user``. Runs no query when the location
    and appointment type are joined in (``appointments_visible_to`` does)."""
    return _board_entry(appointment, _Asker(user), timezone.now())


def board_entries(appointments: Iterable[Appointment], user: Any) -> list[BoardEntry]:
    """``board_entry`` of each of ``appointments`` (a board's), with what depends on
    ``user`` alone worked out once."""
    asker = _Asker(user)
    now = timezone.now()
    return [_board_entry(appointment, asker, now) for appointment in appointments]


def _board_entry(appointment: Appointment, asker: _Asker, now: datetime) -> BoardEntry:
    user = asker.user
    tz = appointment.location.tz
    next_statuses = appointment_next_statuses(appointment)
    can_book = asker.can_book
    infusion = appointment.appointment_type.kind in INFUSION_KINDS
    session_state = getattr(appointment, "session_state", None) or "scheduled"
    undo_until = None
    # A check-in is undone through the session, and only while nothing else has happened.
    undoable = (
        not infusion or appointment.status != Status.CHECKED_IN or (session_state == "checked_in")
    )
    if can_book and undoable and appointment.status in UNDOABLE_STATUSES:
        change = last_status_change(appointment)
        if change is not None and not undo_refusal(user, appointment, change):
            undo_until = undo_deadline(change).astimezone(tz)
    return BoardEntry(
        appointment=appointment,
        local_start=appointment.starts_at.astimezone(tz),
        local_end=appointment.ends_at.astimezone(tz),
        local_blocks_until=appointment.blocks_until.astimezone(tz),
        actions=tuple(
            _ACTION_FOR_STATUS[status]
            for status in next_statuses
            if status in _ACTION_FOR_STATUS
            and asker.may_set(appointment, status)
            and _offered(appointment, status, infusion, session_state, now)
        ),
        can_cancel=can_book and Status.CANCELLED in next_statuses,
        can_reschedule=can_book and appointment.status == Status.BOOKED,
        open_alerts=getattr(appointment, "open_alert_count", 0),
        session_id=getattr(appointment, "session_public_id", None),
        sees_clinical=asker.sees_clinical,
        session_step=_session_step(appointment, session_state, now) if infusion else "",
        undo_until=undo_until,
    )


def _offered(
    appointment: Appointment, status: Status, infusion: bool, session_state: str, now: datetime
) -> bool:
    """Whether the board offers the move at all: a no-show only once the grace period after
    the start is over, a consultation's discharge only once it has started; for an infusion,
    "Start infusion" only when its session may start (checks passed, a signed dose order)
    and no discharge button (the checklist is on the session)."""
    if status in (Status.CHECKED_IN, Status.NO_SHOW) or (
        status == Status.DISCHARGED and not infusion
    ):
        # Check-in on the day (not too early), a no-show after the grace period: the clock's
        # rules, so the board never offers a press that can only be refused.
        return not clock_refuses(appointment, status, now=now)
    if not infusion:
        return True
    if status == Status.INFUSING:
        return session_state == "pre_assessment_passed" and bool(
            getattr(appointment, "session_has_order", False)
        )
    if status == Status.RECOVERING:
        return session_state == "infusing"
    return status != Status.DISCHARGED


def _session_step(appointment: Appointment, session_state: str, now: datetime) -> str:
    if session_state == "pre_assessment_passed" and getattr(
        appointment, "session_has_order", False
    ):
        return READY_TO_START
    if appointment.status in NON_BLOCKING_STATUSES and session_state == "scheduled":
        return ""
    if session_state == "stopped_early" and appointment.status == Status.DISCHARGED:
        return STOPPED_EARLY_GONE_HOME
    if session_state == "scheduled" and clock_refuses(appointment, Status.CHECKED_IN, now=now):
        # Not the day, or before the check-in window: like the "Check in" button (see
        # ``_offered``), "Next: check in" waits until pressing it would be allowed.
        return ""
    return SESSION_STEP.get(session_state, "")


def _may_set(user: Any, appointment: Appointment, status: Status) -> bool:
    try:
        require_status_permission(user, appointment, status)
    except PermissionDenied:
        return False
    return True


board_cards = Refinements("board cards")
"""What the cards show of the infusion session, annotated onto the board's appointments in
the same query by ``infusions`` (a layer above, registered from its ``AppConfig.ready``):
``open_alert_count``, ``session_state``, ``session_public_id``, ``session_has_order``.
Without them a card shows the appointment alone."""


def for_the_board(appointments: QuerySet[Appointment]) -> QuerySet[Appointment]:
    """``appointments`` with what their cards show, in the same query: open alerts and the
    infusion session's state (``board_cards``), the latest status change (for "Undo")."""
    return with_last_status_change(board_cards.apply(appointments))


# --- A patient's appointments (for the chart) ------------------------------------------------


@dataclass(frozen=True)
class PatientAppointment:
    """An appointment as the chart lists it: when, what and where, its status, and what the
    patient wrote when booking it online. No actions: the chart links to the appointment."""

    appointment: Appointment
    booking_note: BookingNote | None = None

    @property
    def attending(self) -> bool:
        return self.appointment.status not in NON_BLOCKING_STATUSES


def patient_appointments(
    user: Any, patient: Patient, *, limit: int = 10
) -> list[PatientAppointment]:
    """The patient's appointments still to come or under way (any location, cancelled ones
    included), soonest first: for the "Appointments" section of the patient chart, with what
    the patient wrote when booking each one online (``booking_note_for``). One query."""
    appointments = list(
        with_booking_note_alerted(
            appointments_visible_to(user)
            # What the chart's list shows (the patient is the chart's own): planning the
            # seven-table join took PostgreSQL ~7 ms, running it under 1 ms.
            .select_related(None)
            .select_related("location", "appointment_type")
            .filter(patient=patient, blocks_until__gte=timezone.now()),
            user,
        ).order_by("starts_at", "id")[:limit]
    )
    for appointment in appointments:
        appointment.patient = patient
    return [
        PatientAppointment(appointment, booking_note=booking_note_for(user, appointment))
        for appointment in appointments
    ]
