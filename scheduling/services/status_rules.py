"""Where an appointment may go next, and when: the status graph of an infusion and of a visit,
the clock's guards (check-in on the day, a no-show only after a grace period), who may move
it (an infusion's clinical steps are for nurses and physicians), and a cancellation's reason.
The day board asks the same functions to show only the moves that would be allowed."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from clinic.models import User
from clinic.permissions import Capability, require, user_can
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services.checks import (
    day_label,
    is_infusion,
    label,
    when_label,
    with_article,
)

Status = AppointmentStatus

CANCEL_REASON_MAX_LENGTH = Appointment._meta.get_field("cancel_reason").max_length

TERMINAL_STATUSES = frozenset({Status.DISCHARGED, Status.NO_SHOW, Status.CANCELLED})
# What an infusion's session moves (``scheduling.session_owner``), not the booking.
SESSION_OWNED_STATUSES = frozenset(
    {Status.CHECKED_IN, Status.INFUSING, Status.RECOVERING, Status.DISCHARGED}
)
# Where an appointment may go next. Every active appointment may also be cancelled (with a
# reason, through ``appointment_cancel``).
_INFUSION_FLOW: dict[str, tuple[Status, ...]] = {
    Status.BOOKED: (Status.CHECKED_IN, Status.NO_SHOW),
    Status.CHECKED_IN: (Status.INFUSING,),
    Status.INFUSING: (Status.RECOVERING,),
    Status.RECOVERING: (Status.DISCHARGED,),
}
_VISIT_FLOW: dict[str, tuple[Status, ...]] = {
    Status.BOOKED: (Status.CHECKED_IN, Status.NO_SHOW),
    Status.CHECKED_IN: (Status.DISCHARGED,),
}
# Moving an infusion along (to infusing, recovering, discharged) is clinical work; the front
# desk checks in, marks no-shows, cancels and ends consultations.
_CLINICAL_STATUSES = frozenset({Status.INFUSING, Status.RECOVERING})


def appointment_next_statuses(appointment: Appointment) -> list[AppointmentStatus]:
    """The statuses ``appointment`` may move to next, in the order of a visit (cancelled
    last); empty once it is discharged, a no-show or cancelled. For the day board's
    actions."""
    if appointment.status in TERMINAL_STATUSES:
        return []
    if not is_infusion(appointment.appointment_type):
        return [*_VISIT_FLOW.get(appointment.status, ()), Status.CANCELLED]
    # Once an infusion's patient has checked in, its session decides how the visit ends.
    cancel = (Status.CANCELLED,) if appointment.status == Status.BOOKED else ()
    return [*_INFUSION_FLOW.get(appointment.status, ()), *cancel]


def appointment_move_problems(appointment: Appointment, status: str) -> list[str]:
    """Why ``appointment`` may not move to ``status`` now (empty when it may): the status
    graph and the clock. The session asks before it moves, so a refusal changes nothing."""
    status = parse_status(status)
    if status not in appointment_next_statuses(appointment) and status != appointment.status:
        return [transition_refusal(appointment, status)]
    refusal = untimely_refusal(appointment, status)
    return [refusal] if refusal else []


def require_status_permission(actor: User | None, appointment: Appointment, status: Status) -> None:
    """Who may move an appointment to ``status``: PermissionDenied with the reason if not.

    The day board asks it too, to show only the buttons a person may press.
    """
    if actor is None:
        return
    require(actor, Capability.BOOK_APPOINTMENTS)
    clinical = status in _CLINICAL_STATUSES or (
        status == Status.DISCHARGED and is_infusion(appointment.appointment_type)
    )
    if clinical and not user_can(actor, Capability.RECORD_CLINICAL):
        raise PermissionDenied(
            "Only nurses and physicians record an infusion's progress: ask one of them."
        )


def parse_status(value: str) -> Status:
    try:
        return Status(value)
    except ValueError:
        choices = ", ".join(label(choice) for choice in Status)
        raise ValidationError(
            {"status": [f"“{value}” is not an appointment status: use one of {choices}."]}
        ) from None


def clean_cancel_reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError(
            {"reason": ["Say why the appointment is cancelled, for example “patient unwell”."]}
        )
    if len(reason) > CANCEL_REASON_MAX_LENGTH:
        raise ValidationError(
            {
                "reason": [
                    f"Keep the reason to {CANCEL_REASON_MAX_LENGTH} characters "
                    f"(it has {len(reason)})."
                ]
            }
        )
    return reason


def refuse_untimely(appointment: Appointment, status: Status) -> None:
    refusal = untimely_refusal(appointment, status)
    if refusal:
        raise ValidationError({"status": [refusal]})


def untimely_refusal(appointment: Appointment, status: Status) -> str:
    """Why the clock says no to moving ``appointment`` to ``status`` now ("" if it doesn't):
    check-in on the appointment's local day, ``CHECK_IN_EARLY_MINUTES`` before the start at
    the earliest; a no-show from ``NO_SHOW_GRACE_MINUTES`` after the start; a consultation or
    follow-up discharged (done) not before its start."""
    return _clock_refusal(appointment, status, timezone.now(), explain=True)


def clock_refuses(appointment: Appointment, status: Status, *, now: datetime | None = None) -> bool:
    """Whether ``untimely_refusal`` would refuse (without putting the reason into words: the
    board asks it of every card twice)."""
    return bool(_clock_refusal(appointment, status, now or timezone.now(), explain=False))


def _clock_refusal(
    appointment: Appointment, status: Status, now: datetime, *, explain: bool
) -> str:
    location = appointment.location
    if status == Status.CHECKED_IN:
        tz = location.tz
        local_day = appointment.starts_at.astimezone(tz).date()
        today = now.astimezone(tz).date()
        if today != local_day:
            if not explain:
                return "not the day"
            when = "is on" if today < local_day else "was on"
            return (
                f"The appointment {when} {day_label(local_day)}: patients check in on the day of "
                f"their appointment (today is {day_label(today)} at {location.name})."
            )
        earliest = appointment.starts_at - timedelta(minutes=settings.CHECK_IN_EARLY_MINUTES)
        if now < earliest:
            if not explain:
                return "too early"
            return (
                f"It's too early to check in: the appointment starts at "
                f"{when_label(appointment.starts_at, location)}, and check-in opens "
                f"{settings.CHECK_IN_EARLY_MINUTES} minutes before, at "
                f"{earliest.astimezone(location.tz):%H:%M}."
            )
    if (
        status == Status.DISCHARGED
        and not is_infusion(appointment.appointment_type)
        and now < appointment.starts_at
    ):
        # A consultation or follow-up ends once it has begun: never "done" hours before.
        if not explain:
            return "too early"
        return (
            "It's too early to mark the visit done: it starts at "
            f"{when_label(appointment.starts_at, location)}. Discharge the patient once it has "
            "taken place."
        )
    if status == Status.NO_SHOW:
        earliest = appointment.starts_at + timedelta(minutes=settings.NO_SHOW_GRACE_MINUTES)
        if now < earliest:
            if not explain:
                return "too early"
            return (
                "It's too early to mark a no-show: the patient may still come. From "
                f"{when_label(earliest, location)} ({settings.NO_SHOW_GRACE_MINUTES} minutes after "
                "the start) they can be marked one."
            )
    return ""


def refuse_transition(appointment: Appointment, status: Status) -> None:
    if status in appointment_next_statuses(appointment):
        return
    raise ValidationError({"status": [transition_refusal(appointment, status)]})


def transition_refusal(appointment: Appointment, status: Status) -> str:
    current = Status(appointment.status)
    infusion = is_infusion(appointment.appointment_type)
    if status == current:
        return f"This appointment is {label(current)} already."
    if current in TERMINAL_STATUSES:
        return (
            f"This appointment is {label(current)}, which is final: it can't become "
            f"{label(status)}. Book a new appointment if the patient needs one."
        )
    if status == Status.BOOKED:
        return (
            f"The patient is {label(current)}: an appointment can't go back to booked. Undo "
            "the check-in within a few minutes of it, or cancel with a reason and book again."
        )
    if status == Status.CANCELLED and infusion:
        return (
            f"The patient is {label(current)}, so the infusion session decides how the visit "
            "ends: undo the check-in if it was a mistake, or mark the session not started "
            "with a reason."
        )
    if status == Status.NO_SHOW:
        return (
            f"The patient is {label(current)}, so they came: they can't be a no-show. Cancel "
            "with a reason if the visit ends early."
        )
    if status in (Status.INFUSING, Status.RECOVERING) and not infusion:
        return (
            f"{with_article(appointment.appointment_type)} has no infusion: mark the patient "
            "discharged when the visit ends."
        )
    if current == Status.BOOKED:
        return "The patient hasn't checked in yet: check them in first."
    if status == Status.CHECKED_IN:
        return f"The patient checked in already: they are {label(current)}."
    if current == Status.CHECKED_IN:
        return "The infusion hasn't started: mark the patient infusing first."
    if current == Status.INFUSING:
        return "The patient must recover before going home: mark them recovering first."
    options = " or ".join(label(choice) for choice in appointment_next_statuses(appointment))
    return (
        f"An appointment that is {label(current)} can't become {label(status)}: next it can "
        f"be {options}."
    )
