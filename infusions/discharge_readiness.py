"""Whether a session may be discharged, and what the discharge checklist shows.

``discharge_problems`` is what ``infusions.sessions.session_transition`` asks before a
session moves to discharged (the checklist must be signed). ``discharge_blockers`` says what
must happen before the checklist can be signed at all: the session is recovering (or
stopped early), every alert is acknowledged, and when the infusion started, what was given
and wasted of the current dose order is recorded (and, when an IV infusion ended early,
what was really given of it: ``infusions.dose_corrections``). An alert that is still unresolved (its
value is still outside the alert thresholds in the latest reading of that value), or less
recovery than ``MIN_RECOVERY_MINUTES`` so far, needs a physician's note
(``physician_review_reasons``). Signing is ``infusions.discharge``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from clinic.models import User
from clinic.permissions import ROLE_CAPABILITIES, Capability
from infusions import rems, vitals
from infusions.dose_corrections import correction_needed
from infusions.models import (
    Discharge,
    DoseAdministration,
    InfusionSession,
    PreAssessment,
    SessionAlert,
    VitalsReading,
)
from infusions.models.sessions import InfusionSessionState, SessionKind
from infusions.orders import current_order

State = InfusionSessionState

# The states in which the patient is watched and then sent home.
DISCHARGE_STATES = frozenset({State.RECOVERING, State.STOPPED_EARLY})


def discharge_problems(session: InfusionSession) -> list[str]:
    """What stops ``session`` moving to discharged; empty once the checklist is signed.

    ``session_transition`` asks this: the checklist itself (``discharge_sign``) is where
    each criterion is checked."""
    if not Discharge.objects.filter(session=session).exists():
        return ["Complete and sign the discharge checklist."]
    return []


# --- What stands in the way ---------------------------------------------------------------


@dataclass(frozen=True)
class UnresolvedAlert:
    """An alert whose value is still outside the alert limits in the latest reading of it."""

    alert: SessionAlert  # the latest alert that listed this value and direction
    parameter: str  # the value, e.g. "systolic"
    direction: str  # "high" or "low"
    reading: VitalsReading  # the latest reading of the value, still outside the limits
    message: str  # what the latest reading says, e.g. "The systolic pressure of 185 mmHg …"


def open_alerts(session: InfusionSession) -> QuerySet[SessionAlert]:
    """Alerts nobody has acknowledged yet (a reading entered in error raises none)."""
    return SessionAlert.objects.filter(
        session=session,
        acknowledged_at__isnull=True,
        reading__entered_in_error_at__isnull=True,
    )


def unresolved_alerts(session: InfusionSession) -> list[UnresolvedAlert]:
    """Each value (and direction) listed in an alert that is still outside the alert
    limits in the latest reading that has it (readings entered in error left out): one
    item per value, though one alert may list several.

    Two queries: the alerts and the session's valid readings."""
    alerts = list(
        SessionAlert.objects.filter(
            session=session, reading__entered_in_error_at__isnull=True
        ).order_by("raised_at", "id")
    )
    if not alerts:
        return []
    readings = list(
        VitalsReading.objects.filter(session=session, entered_in_error_at__isnull=True).order_by(
            "taken_at", "id"
        )
    )
    thresholds = vitals.alert_thresholds_from_settings()
    latest_alert: dict[tuple[str, str], SessionAlert] = {}
    for alert in alerts:
        for finding in alert.findings:
            latest_alert[(finding["parameter"], finding["direction"])] = alert
    unresolved = []
    for (parameter, direction), alert in latest_alert.items():
        latest = next(
            (r for r in reversed(readings) if getattr(r, parameter, None) is not None), None
        )
        if latest is None:
            continue
        still = [
            found
            for found in vitals.alerts_for(_as_reading(latest), thresholds)
            if found.parameter == parameter and found.kind.value == direction
        ]
        if still:
            unresolved.append(
                UnresolvedAlert(
                    alert=alert,
                    parameter=parameter,
                    direction=direction,
                    reading=latest,
                    message=still[0].message,
                )
            )
    return unresolved


def discharge_blockers(session: InfusionSession) -> list[str]:
    """What must happen before the discharge checklist can be signed, each as a sentence
    saying what to do; empty when it may be signed."""
    state = State(session.state)
    if Discharge.objects.filter(session=session).exists():
        return ["The discharge checklist is signed already: the patient has gone home."]
    if state == State.NOT_STARTED:
        return ["The infusion was not started, so there is no discharge to record."]
    if state == State.DISCHARGED:
        return ["The session is discharged already."]
    if state not in DISCHARGE_STATES:
        return [
            f"The session is {state.label.lower()}: end the infusion (recovery) first, then "
            "sign the discharge checklist when the patient is ready to go home."
        ]
    blockers = []
    count = open_alerts(session).count()
    if count:
        blockers.append(
            f"Acknowledge the {count} open alert{'s' if count != 1 else ''} on the flowsheet "
            "first, saying what was done."
        )
    if session.started_at is not None:
        order = current_order(session)
        if order is not None and not DoseAdministration.objects.filter(order=order).exists():
            blockers.append(
                "Record what was given and wasted of the dose first (with the witness for "
                "any waste)."
            )
    needed = correction_needed(session)
    if needed is not None:
        blockers.append(needed.sentence)
    if session.kind == SessionKind.ESKETAMINE:
        # The REMS: 2 hours and until the effects resolve, with no physician override.
        blockers.extend(rems.discharge_blockers(session))
    return blockers


def physicians() -> QuerySet[User]:
    """Active staff who may write the physician's note (``SIGN_MEDICAL_ORDERS``)."""
    roles = [
        role for role, caps in ROLE_CAPABILITIES.items() if Capability.SIGN_MEDICAL_ORDERS in caps
    ]
    return User.objects.filter(is_active=True, roles__overlap=roles).order_by("full_name")


def baseline_reading(session: InfusionSession) -> VitalsReading | None:
    """The pre-infusion reading the pre-assessment recorded, if any."""
    try:
        return session.pre_assessment.vitals
    except PreAssessment.DoesNotExist:
        return None


def latest_reading(session: InfusionSession) -> VitalsReading | None:
    """The session's latest reading that was not entered in error."""
    return (
        VitalsReading.objects.filter(session=session, entered_in_error_at__isnull=True)
        .order_by("-taken_at", "-id")
        .first()
    )


def default_escort_name(session: InfusionSession) -> str:
    """The escort named at the pre-assessment, or ""."""
    try:
        return session.pre_assessment.escort_name.strip()
    except PreAssessment.DoesNotExist:
        return ""


def physician_review_reasons(session: InfusionSession) -> list[str]:
    """Why discharge needs a physician's note now, each a sentence; empty when it doesn't:
    an alert still unresolved in the latest reading, or less recovery than
    ``MIN_RECOVERY_MINUTES`` so far."""
    reasons = [item.message for item in unresolved_alerts(session)]
    shortfall = recovery_shortfall(session)
    if shortfall:
        reasons.append(shortfall)
    return reasons


def recovery_started_at(session: InfusionSession) -> datetime | None:
    """When the patient went into recovery (or the infusion was stopped early), or None."""
    change = (
        session.state_changes.filter(to_state__in=DISCHARGE_STATES).order_by("at", "id").first()
    )
    return change.at if change else None


def recovery_shortfall(session: InfusionSession, now: datetime | None = None) -> str:
    """ "" once the patient has been in recovery for ``MIN_RECOVERY_MINUTES``; otherwise a
    sentence saying how long so far and until when."""
    if session.kind == SessionKind.ESKETAMINE:
        # The REMS minimum is a blocker (``rems.discharge_blockers``), never a shortfall a
        # physician's note may accept.
        return ""
    minimum = settings.MIN_RECOVERY_MINUTES
    started = recovery_started_at(session)
    if started is None or minimum == 0:
        return ""
    now = now or timezone.now()
    ready_at = started + timedelta(minutes=minimum)
    if now >= ready_at:
        return ""
    minutes = int((now - started).total_seconds() // 60)
    tz = session.appointment.location.tz
    return (
        f"The patient has been in recovery for {minutes} of the {minimum} minutes the clinic "
        f"asks for (until {ready_at.astimezone(tz):%H:%M})."
    )


def _as_reading(reading: VitalsReading) -> vitals.Reading:
    return vitals.Reading(**{name: getattr(reading, name) for name in vitals.PHYSIOLOGICAL_LIMITS})
