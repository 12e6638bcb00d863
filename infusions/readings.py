"""Vitals readings: recording them, and marking one entered in error.

Writes (each ``@transaction.atomic``, refusing with ``ValidationError`` keyed by field and
changing nothing):

- ``reading_record`` is the one way a reading gets into a session, whether a nurse typed
  it, a monitor sent it through the API, or it is the pre-infusion reading of the
  pre-assessment. It checks the values (``vitals.validate_reading``, the same limits the
  database enforces), the time (within the session, not in the future) and the session's
  state, stores the reading with the phase the session is in, and raises one
  ``SessionAlert`` listing every value outside the alert thresholds (``vitals.alerts_for``)
  in the same transaction: one reading, one alert, one acknowledgement.
  ``readings_record_batch`` does the same for a monitor's batch, all or nothing.
- ``reading_mark_in_error``: records are never edited; a wrong one is marked entered in
  error, once, with who and why. A reading in error takes its open alerts with it: they are
  acknowledged in the same transaction by the person marking it, with the action
  "continue" and the note "Reading entered in error: <why>". So "open alert" stays one
  plain condition (``acknowledged_at IS NULL``, the partial index ``alert_open_idx``) that
  the day board, discharge and the API can all rely on, and the record still shows who
  closed the alert and why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import User
from clinic.permissions import Capability, require
from infusions import vitals
from infusions.flowsheet_rules import (
    OPEN_ALERT,
    PHASE_FOR_STATE,
    clean_text,
    closed_message,
    copy_fields,
    refuse_if_in_error,
    session_patient_id,
    time_in_session,
)
from infusions.models import InfusionSession, SessionAlert, VitalsReading
from infusions.models.readings import AlertAction, ReadingSource, VitalsPhase
from infusions.models.sessions import InfusionSessionState
from infusions.pre_bp import pre_bp_refresh

State = InfusionSessionState

# What each source must send: a nurse enters the full set, a monitor what it measures.
REQUIRED_BY_SOURCE: dict[str, tuple[str, ...]] = {
    ReadingSource.MANUAL: vitals.REQUIRED_FIELDS,
    ReadingSource.MONITOR: (),
}
VALUE_FIELDS = tuple(vitals.PHYSIOLOGICAL_LIMITS)
# The most readings one batch may carry (a monitor sends what it measured since last time).
BATCH_MAX = 100
ERROR_NOTE = "Reading entered in error: "


@dataclass(frozen=True)
class ReadingInput:
    """The values of one reading as entered or sent; None means "not measured"."""

    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    spo2: int | None = None
    respiratory_rate: int | None = None
    consciousness: int | None = None
    pain: int | None = None

    def as_reading(self) -> vitals.Reading:
        return vitals.Reading(**{name: getattr(self, name) for name in VALUE_FIELDS})


def finding_as_dict(alert: vitals.VitalsAlert) -> dict[str, Any]:
    """One value out of range as ``SessionAlert.findings`` stores it."""
    return {
        "parameter": alert.parameter,
        "direction": alert.kind.value,
        "value": alert.value,
        "threshold": alert.threshold,
        "message": alert.message,
    }


# --- Readings ----------------------------------------------------------------------------------


@transaction.atomic
def reading_record(
    *,
    actor: User,
    session: InfusionSession,
    values: ReadingInput,
    taken_at: datetime | None = None,
    source: str = ReadingSource.MANUAL,
    request: HttpRequest | None = None,
) -> VitalsReading:
    """Store one reading and raise its alerts; ``ValidationError`` keyed by field, with
    nothing saved, when the values, the time or the session's state do not allow it."""
    require(actor, Capability.RECORD_CLINICAL)
    locked = InfusionSession.objects.select_for_update().get(pk=session.pk)
    errors: dict[str, list[str]] = {}
    phase = PHASE_FOR_STATE.get(State(locked.state))
    if phase is None:
        raise ValidationError({"session": [closed_message(locked)]})
    try:
        vitals.validate_reading(
            values.as_reading(), required=REQUIRED_BY_SOURCE.get(source, vitals.REQUIRED_FIELDS)
        )
    except vitals.ReadingError as error:
        for field, message in error.errors.items():
            errors.setdefault(field, []).append(message)
    taken_at = time_in_session(locked, taken_at, errors, "taken_at", "the reading was taken")
    if errors:
        raise ValidationError(errors)

    reading = VitalsReading.objects.create(
        session=locked,
        phase=phase,
        taken_at=taken_at,
        source=source,
        recorded_by=actor,
        **{name: getattr(values, name) for name in VALUE_FIELDS},
    )
    found = vitals.alerts_for(values.as_reading(), vitals.alert_thresholds_from_settings())
    if found:
        SessionAlert.objects.create(
            session=locked,
            reading=reading,
            findings=[finding_as_dict(alert) for alert in found],
            message=" ".join(alert.message for alert in found),
            raised_at=taken_at,
        )
    if phase == VitalsPhase.PRE:
        # Whichever way a pre-infusion reading comes in, it counts for the day's hold.
        pre_bp_refresh(locked)
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=reading,
        summary=f"recorded vital signs ({phase.label.lower()}) for patient "
        f"{locked.appointment.patient.public_id}",
        request=request,
    )
    return reading


@transaction.atomic
def readings_record_batch(
    *,
    actor: User,
    session: InfusionSession,
    readings: Sequence[tuple[datetime, ReadingInput]],
    source: str = ReadingSource.MONITOR,
    request: HttpRequest | None = None,
) -> list[VitalsReading]:
    """Store a batch of readings (a monitor's), all or nothing: when any one is refused,
    ``ValidationError({"readings": [...]})`` names each bad one by its index (from 0) and
    says what to fix, and none is saved."""
    require(actor, Capability.RECORD_CLINICAL)
    if not readings:
        raise ValidationError({"readings": ["Send at least one reading."]})
    if len(readings) > BATCH_MAX:
        raise ValidationError(
            {
                "readings": [
                    f"Send at most {BATCH_MAX} readings at a time, not {len(readings)}: split "
                    "the batch."
                ]
            }
        )
    saved: list[VitalsReading] = []
    problems: list[str] = []
    for index, (taken_at, values) in enumerate(readings):
        try:
            # reading_record runs in a savepoint: a refusal leaves the others to be checked.
            saved.append(
                reading_record(
                    actor=actor,
                    session=session,
                    values=values,
                    taken_at=taken_at,
                    source=source,
                    request=request,
                )
            )
        except ValidationError as error:
            for field, messages in error.message_dict.items():
                problems.extend(f"readings[{index}].{field}: {message}" for message in messages)
    if problems:
        # Raising undoes the ones that went in: the batch is all or nothing.
        raise ValidationError({"readings": problems})
    return saved


@transaction.atomic
def reading_mark_in_error(
    *, actor: User, reading: VitalsReading, reason: str, request: HttpRequest | None = None
) -> VitalsReading:
    """Mark ``reading`` entered in error (once), with who and why; it drops out of the
    schedule and its open alerts are acknowledged by ``actor`` with the action "continue"
    and the note "Reading entered in error: <reason>" (see the module's docstring)."""
    require(actor, Capability.RECORD_CLINICAL)
    locked = VitalsReading.objects.select_for_update().get(pk=reading.pk)
    reason = clean_text(reason)
    refuse_if_in_error(locked, "reading")
    if not reason:
        raise ValidationError(
            {"reason": ["Say why the reading is wrong, e.g. “cuff slipped”: it stays on record."]}
        )
    now = timezone.now()
    locked.entered_in_error_at = now
    locked.entered_in_error_by = actor
    locked.entered_in_error_reason = reason
    locked.save(
        update_fields=["entered_in_error_at", "entered_in_error_by", "entered_in_error_reason"]
    )
    SessionAlert.objects.filter(OPEN_ALERT, reading=locked).update(
        acknowledged_by=actor,
        acknowledged_at=now,
        action=AlertAction.CONTINUE,
        action_note=ERROR_NOTE + reason,
    )
    if locked.phase == VitalsPhase.PRE:
        # A reading in error no longer counts for the session's hold or caution.
        pre_bp_refresh(InfusionSession.objects.select_for_update().get(pk=locked.session_id))
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=locked,
        summary="marked vital signs entered in error for patient "
        f"{session_patient_id(locked.session_id)}",
        request=request,
    )
    copy_fields(locked, reading)
    return reading
