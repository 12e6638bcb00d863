"""The session's pre-infusion blood pressure: sticky for the day.

``PreAssessment.bp_status`` is the session's status, not the latest reading's: the worst of
every pre-infusion reading of the session (phase "pre", not entered in error) against the
caution and hold limits (``vitals.caution_hold_from_settings``). The README says a hold
"stops the infusion that day", and DOMAIN.md ("Session") gives the limits as settings with
no rule that a repeat reading after rest counts instead, so a lower reading afterwards lifts
nothing:

- once any reading is at or above the hold limit, the pre-assessment cannot pass and the
  infusion cannot start that day; the way out is to mark the session not started;
- once any reading is at or above the caution limit, a physician's acknowledgement is needed
  even after a lower reading; an acknowledgement covers the readings taken before it, so a
  caution reading recorded after it needs a new one.

Only a reading marked entered in error (who and why kept, ``readings.reading_mark_in_error``)
drops out. ``pre_bp_refresh`` recomputes the status after any pre-infusion reading is
recorded or marked in error, whichever way it came in (the checks' own vitals form, the
flowsheet, a monitor through the API); a database trigger refuses a session passing its
pre-assessment or starting against the status it leaves (migration 0008)."""

from __future__ import annotations

from infusions import vitals
from infusions.models import InfusionSession, PreAssessment, VitalsReading
from infusions.models.preassessment import BloodPressureStatus
from infusions.models.readings import VitalsPhase

_RANK = {BloodPressureStatus.OK: 0, BloodPressureStatus.CAUTION: 1, BloodPressureStatus.HOLD: 2}


def reading_bp_status(
    systolic: int | None, diastolic: int | None, limits: vitals.CautionHold
) -> BloodPressureStatus | None:
    """One reading's status against the limits, from whichever pressures it has (a monitor
    may send only one); None when it has neither."""
    if systolic is None and diastolic is None:
        return None
    status = BloodPressureStatus.OK
    for value, caution, hold in (
        (systolic, limits.caution_systolic, limits.hold_systolic),
        (diastolic, limits.caution_diastolic, limits.hold_diastolic),
    ):
        if value is None:
            continue
        if value >= hold:
            return BloodPressureStatus.HOLD
        if value >= caution:
            status = BloodPressureStatus.CAUTION
    return status


def pre_readings(session: InfusionSession) -> list[VitalsReading]:
    """The session's pre-infusion readings that count (not entered in error), oldest first."""
    return list(
        VitalsReading.objects.filter(
            session=session, phase=VitalsPhase.PRE, entered_in_error_at__isnull=True
        ).order_by("taken_at", "id")
    )


def worst_pre_reading(
    session: InfusionSession, status: str
) -> tuple[VitalsReading | None, tuple[str, ...]]:
    """The first reading that brought the session to ``status``, and why (for the hold and
    caution boxes); (None, ()) when none did."""
    limits = vitals.caution_hold_from_settings()
    for reading in pre_readings(session):
        if reading_bp_status(reading.systolic, reading.diastolic, limits) == status:
            return reading, _reasons(reading, limits)
    return None, ()


def pre_bp_refresh(session: InfusionSession) -> PreAssessment | None:
    """Bring the session's pre-assessment ``bp_status`` to the worst of its counting
    readings, and drop an acknowledgement that a caution reading recorded after it no longer
    covers. Call it holding the session's row lock. None when there are no checks yet."""
    assessment = PreAssessment.objects.select_for_update().filter(session=session).first()
    if assessment is None:
        return None
    limits = vitals.caution_hold_from_settings()
    worst: BloodPressureStatus | None = None
    latest_caution = None
    for reading in pre_readings(session):
        status = reading_bp_status(reading.systolic, reading.diastolic, limits)
        if status is None:
            continue
        if worst is None or _RANK[status] > _RANK[worst]:
            worst = status
        if status != BloodPressureStatus.OK:
            latest_caution = max(latest_caution or reading.created_at, reading.created_at)
    fields = []
    new_status = worst.value if worst is not None else ""
    if assessment.bp_status != new_status:
        assessment.bp_status = new_status
        fields.append("bp_status")
    acknowledged_at = assessment.caution_acknowledged_at
    if acknowledged_at is not None and (
        worst != BloodPressureStatus.CAUTION
        or (latest_caution is not None and latest_caution >= acknowledged_at)
    ):
        assessment.caution_acknowledged_by = None
        assessment.caution_acknowledged_at = None
        assessment.caution_note = ""
        fields += ["caution_acknowledged_by", "caution_acknowledged_at", "caution_note"]
    if fields:
        assessment.save(update_fields=fields)
    return assessment


def _reasons(reading: VitalsReading, limits: vitals.CautionHold) -> tuple[str, ...]:
    # A pressure not measured is below every limit (0): the reasons name only the others.
    values = vitals.Reading(
        systolic=reading.systolic or 0,
        diastolic=reading.diastolic or 0,
        heart_rate=None,
        spo2=None,
        respiratory_rate=None,
        consciousness=None,
    )
    return vitals.pre_infusion_status(values, limits).reasons
