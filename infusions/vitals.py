"""Vital signs during a session: validation, alerts, pre-infusion checks, due readings.

Pure: no models, and Django only inside the ``*_from_settings()`` functions.

- ``validate_reading()`` refuses readings outside physiological limits (a typo or a
  monitor artefact, not a patient) and a diastolic at or above the systolic.
- ``alerts_for()`` compares a reading with the clinic's alert thresholds (DOMAIN.md:
  SBP ≥ 180 or DBP ≥ 110, HR > 120 or < 50, SpO2 < 92 %, RR < 10; settings).
- ``pre_infusion_status()`` decides whether the infusion may start: blood pressure at
  or above the caution limits needs a physician's acknowledgement, at or above the
  hold limits there is no infusion that day.
- ``readings_due()`` says when the next reading is due and whether it is overdue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Any

# --- Errors and the scales ------------------------------------------------------------


class ReadingError(ValueError):
    """A reading that cannot be saved. ``errors`` maps field -> what to fix."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors: dict[str, str] = dict(errors)
        super().__init__(" ".join(f"{name}: {message}" for name, message in self.errors.items()))


class Consciousness(IntEnum):
    """Level of consciousness / dissociation, a simple 1-5 scale (1 is best)."""

    ALERT = 1
    MILDLY_DISSOCIATED = 2
    DISSOCIATED = 3
    DEEPLY_DISSOCIATED = 4
    UNRESPONSIVE = 5

    @property
    def label(self) -> str:
        return CONSCIOUSNESS_LABELS[self]


CONSCIOUSNESS_LABELS: dict[Consciousness, str] = {
    Consciousness.ALERT: "Alert and oriented",
    Consciousness.MILDLY_DISSOCIATED: "Relaxed or mildly dissociated, answers a normal voice",
    Consciousness.DISSOCIATED: "Dissociated or drowsy, answers a loud voice or a light touch",
    Consciousness.DEEPLY_DISSOCIATED: "Deeply dissociated, responds only to a firm touch",
    Consciousness.UNRESPONSIVE: "Unresponsive",
}

# For form fields: [(1, "1 - Alert and oriented"), ...].
CONSCIOUSNESS_CHOICES: list[tuple[int, str]] = [
    (int(level), f"{int(level)} – {level.label}") for level in Consciousness
]


# --- The reading and its validation ---------------------------------------------------


@dataclass(frozen=True)
class Reading:
    """One set of vital signs. Whole numbers; None means "not entered"."""

    systolic: int | None
    diastolic: int | None
    heart_rate: int | None
    spo2: int | None
    respiratory_rate: int | None
    consciousness: int | None
    pain: int | None = None


# Inclusive limits; outside them the value is a typo or an artefact, not a patient.
PHYSIOLOGICAL_LIMITS: dict[str, tuple[int, int]] = {
    "systolic": (60, 260),
    "diastolic": (30, 160),
    "heart_rate": (25, 250),
    "spo2": (50, 100),
    "respiratory_rate": (4, 60),
    "consciousness": (1, 5),
    "pain": (0, 10),
}

REQUIRED_FIELDS: tuple[str, ...] = (
    "systolic",
    "diastolic",
    "heart_rate",
    "spo2",
    "respiratory_rate",
    "consciousness",
)

_NAMES: dict[str, tuple[str, str]] = {
    # field: (what it is, unit after a number)
    "systolic": ("the systolic pressure", " mmHg"),
    "diastolic": ("the diastolic pressure", " mmHg"),
    "heart_rate": ("the heart rate", "/min"),
    "spo2": ("the oxygen saturation (SpO2)", " %"),
    "respiratory_rate": ("the respiratory rate", "/min"),
    "consciousness": ("the level of consciousness", ""),
    "pain": ("the pain score", "/10"),
}


# Short names for lists of values, e.g. "systolic 186 mmHg high, heart rate 124/min high".
SHORT_NAMES: dict[str, str] = {
    "systolic": "systolic",
    "diastolic": "diastolic",
    "heart_rate": "heart rate",
    "spo2": "SpO2",
    "respiratory_rate": "respiratory rate",
    "consciousness": "consciousness",
    "pain": "pain",
}


def finding_text(parameter: str, value: int, direction: str) -> str:
    """One value out of range in a few words, e.g. "systolic 186 mmHg high"."""
    return f"{SHORT_NAMES.get(parameter, parameter)} {value}{_NAMES[parameter][1]} {direction}"


def _label(name: str) -> str:
    what = _NAMES[name][0]
    return what[4].upper() + what[5:] if what.startswith("the ") else what


def validate_reading(reading: Reading, required: Iterable[str] = REQUIRED_FIELDS) -> None:
    """Raise ``ReadingError`` with every problem at once; return None when it is valid.

    ``required`` names the values that must be there (a monitor sends fewer than a nurse
    enters); blood pressure is always both pressures or neither, and a reading has at least
    one value."""
    errors: dict[str, str] = {}
    required = frozenset(required)
    for name, (low, high) in PHYSIOLOGICAL_LIMITS.items():
        value = getattr(reading, name)
        what, unit = _NAMES[name]
        if value is None:
            if name in required:
                errors[name] = f"Enter {what}."
        elif isinstance(value, bool) or not isinstance(value, int):
            errors[name] = f"Enter {what} as a whole number, not {value!r}."
        elif not low <= value <= high:
            errors[name] = (
                f"{_label(name)} of {value}{unit} is outside {low}–{high}{unit}: "
                "check the reading and enter it again."
            )
    systolic, diastolic = reading.systolic, reading.diastolic
    if (systolic is None) != (diastolic is None):
        missing = "diastolic" if diastolic is None else "systolic"
        errors.setdefault(missing, f"Enter {_NAMES[missing][0]} too: blood pressure is both.")
    if all(getattr(reading, name) is None for name in PHYSIOLOGICAL_LIMITS):
        errors.setdefault("systolic", "Enter at least one vital sign.")
    both_valid = "systolic" not in errors and "diastolic" not in errors
    if both_valid and systolic and diastolic and diastolic >= systolic:
        errors["diastolic"] = (
            f"The diastolic pressure ({diastolic} mmHg) must be below the systolic "
            f"({systolic} mmHg): check that they are not swapped and enter them again."
        )
    if errors:
        raise ReadingError(errors)


# --- Settings helpers -----------------------------------------------------------------


def _check_positive_whole_numbers(obj: object) -> None:
    for f in fields(obj):  # type: ignore[arg-type]
        value = getattr(obj, f.name)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{f.name} must be a whole number above 0, not {value!r}.")


def _from_dict(cls: type, data: Mapping[str, Any], what: str) -> Any:
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(
            f"Unknown {what}(s): {', '.join(unknown)}. "
            f"Known {what}s are: {', '.join(sorted(known))}."
        )
    return cls(**dict(data))


def _from_settings(cls: type, setting: str, what: str) -> Any:
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    overrides = getattr(settings, setting, None) or {}
    if not isinstance(overrides, Mapping):
        raise ImproperlyConfigured(
            f"{setting} must be a dict of {what} names to whole numbers, "
            f"not {type(overrides).__name__}."
        )
    try:
        return _from_dict(cls, overrides, what)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"{setting} is not valid: {exc}") from None


# --- Alerts during the session --------------------------------------------------------


@dataclass(frozen=True)
class AlertThresholds:
    """When a reading raises an alert. The field name says which side is included:
    ``*_at_or_above`` alerts at the value itself, ``*_above``/``*_below`` do not.

    Defaults from DOMAIN.md (Session); override with ``settings.VITALS_ALERT_THRESHOLDS``.
    """

    systolic_at_or_above: int = 180
    diastolic_at_or_above: int = 110
    heart_rate_above: int = 120
    heart_rate_below: int = 50
    spo2_below: int = 92
    respiratory_rate_below: int = 10

    def __post_init__(self) -> None:
        _check_positive_whole_numbers(self)
        if self.heart_rate_below >= self.heart_rate_above:
            raise ValueError(
                f"heart_rate_below ({self.heart_rate_below}) must be below "
                f"heart_rate_above ({self.heart_rate_above})."
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AlertThresholds:
        """Build from a (partial) mapping; keys left out keep their defaults."""
        return _from_dict(cls, data, "alert threshold")


DEFAULT_ALERT_THRESHOLDS = AlertThresholds()


def alert_thresholds_from_settings() -> AlertThresholds:
    """Defaults overridden by ``settings.VITALS_ALERT_THRESHOLDS`` (a dict)."""
    return _from_settings(AlertThresholds, "VITALS_ALERT_THRESHOLDS", "alert threshold")


class AlertKind(StrEnum):
    HIGH = "high"
    LOW = "low"


@dataclass(frozen=True)
class VitalsAlert:
    parameter: str  # a Reading field name
    value: int
    threshold: int
    kind: AlertKind
    message: str


def alerts_for(
    reading: Reading, thresholds: AlertThresholds = DEFAULT_ALERT_THRESHOLDS
) -> list[VitalsAlert]:
    """The alerts a (validated) reading raises, in a fixed order; values left None are
    skipped. An empty list means no alert."""
    t = thresholds
    checks: list[tuple[str, AlertKind, int, bool, str]] = []
    if reading.systolic is not None:
        checks.append(
            (
                "systolic",
                AlertKind.HIGH,
                t.systolic_at_or_above,
                reading.systolic >= t.systolic_at_or_above,
                "at or above",
            )
        )
    if reading.diastolic is not None:
        checks.append(
            (
                "diastolic",
                AlertKind.HIGH,
                t.diastolic_at_or_above,
                reading.diastolic >= t.diastolic_at_or_above,
                "at or above",
            )
        )
    if reading.heart_rate is not None:
        checks.append(
            (
                "heart_rate",
                AlertKind.HIGH,
                t.heart_rate_above,
                reading.heart_rate > t.heart_rate_above,
                "above",
            )
        )
        checks.append(
            (
                "heart_rate",
                AlertKind.LOW,
                t.heart_rate_below,
                reading.heart_rate < t.heart_rate_below,
                "below",
            )
        )
    if reading.spo2 is not None:
        checks.append(("spo2", AlertKind.LOW, t.spo2_below, reading.spo2 < t.spo2_below, "below"))
    if reading.respiratory_rate is not None:
        checks.append(
            (
                "respiratory_rate",
                AlertKind.LOW,
                t.respiratory_rate_below,
                reading.respiratory_rate < t.respiratory_rate_below,
                "below",
            )
        )
    alerts = []
    for name, kind, threshold, triggered, relation in checks:
        if not triggered:
            continue
        value = getattr(reading, name)
        unit = _NAMES[name][1]
        alerts.append(
            VitalsAlert(
                parameter=name,
                value=value,
                threshold=threshold,
                kind=kind,
                message=(
                    f"{_label(name)} of {value}{unit} is {relation} the alert limit of "
                    f"{threshold}{unit}."
                ),
            )
        )
    return alerts


# --- Before the infusion starts -------------------------------------------------------


@dataclass(frozen=True)
class CautionHold:
    """Blood pressure limits before starting (inclusive: at the limit counts).

    Clinic defaults, consistent with DOMAIN.md: caution at 160/100 (the screening
    "contraindicated until controlled" level) needs a physician's acknowledgement;
    hold at 180/110 (the alert level during the infusion, which ketamine raises by
    about 16/11 mmHg) means no infusion today. Override with
    ``settings.PRE_INFUSION_BP_LIMITS``.
    """

    caution_systolic: int = 160
    caution_diastolic: int = 100
    hold_systolic: int = 180
    hold_diastolic: int = 110

    def __post_init__(self) -> None:
        _check_positive_whole_numbers(self)
        for part in ("systolic", "diastolic"):
            caution, hold = getattr(self, f"caution_{part}"), getattr(self, f"hold_{part}")
            if caution > hold:
                raise ValueError(
                    f"caution_{part} ({caution}) must not be above hold_{part} ({hold})."
                )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CautionHold:
        """Build from a (partial) mapping; keys left out keep their defaults."""
        return _from_dict(cls, data, "pre-infusion limit")


DEFAULT_CAUTION_HOLD = CautionHold()


def caution_hold_from_settings() -> CautionHold:
    """Defaults overridden by ``settings.PRE_INFUSION_BP_LIMITS`` (a dict)."""
    return _from_settings(CautionHold, "PRE_INFUSION_BP_LIMITS", "pre-infusion limit")


class PreInfusionStatus(StrEnum):
    OK = "ok"
    CAUTION = "caution"  # a physician must acknowledge before the infusion starts
    HOLD = "hold"  # no infusion today


@dataclass(frozen=True)
class PreInfusionCheck:
    status: PreInfusionStatus
    reasons: tuple[str, ...]  # one per value at or above a limit; empty when ok


def pre_infusion_status(
    reading: Reading, caution_hold: CautionHold = DEFAULT_CAUTION_HOLD
) -> PreInfusionCheck:
    """The worst of systolic and diastolic against the caution and hold limits.

    Needs both pressures: call ``validate_reading()`` first.
    """
    if reading.systolic is None or reading.diastolic is None:
        raise ReadingError(
            {
                name: f"Enter {_NAMES[name][0]} before the infusion starts."
                for name in ("systolic", "diastolic")
                if getattr(reading, name) is None
            }
        )
    status = PreInfusionStatus.OK
    reasons: list[str] = []
    for name, value in (("systolic", reading.systolic), ("diastolic", reading.diastolic)):
        hold = getattr(caution_hold, f"hold_{name}")
        caution = getattr(caution_hold, f"caution_{name}")
        if value >= hold:
            status = PreInfusionStatus.HOLD
            reasons.append(
                f"{_label(name)} of {value} mmHg is at or above the hold limit of "
                f"{hold} mmHg: no infusion today."
            )
        elif value >= caution:
            if status is PreInfusionStatus.OK:
                status = PreInfusionStatus.CAUTION
            reasons.append(
                f"{_label(name)} of {value} mmHg is at or above the caution limit of "
                f"{caution} mmHg: a physician must acknowledge it before the infusion starts."
            )
    return PreInfusionCheck(status=status, reasons=tuple(reasons))


# --- The schedule of readings ---------------------------------------------------------


class Phase(StrEnum):
    INFUSING = "infusing"
    RECOVERING = "recovering"


def readings_due(
    *,
    started_at: datetime,
    now: datetime,
    phase: Phase | str,
    last_reading_at: datetime | None,
    interval_infusing: int = 10,
    interval_recovering: int = 15,
) -> tuple[datetime, bool]:
    """When the next reading is due and whether it is overdue now.

    ``started_at`` is when the current phase began. The next reading is due one
    interval (minutes) after the later of the phase start and the last reading, so a
    reading taken before the phase began does not count towards it. Overdue means
    strictly after the due time: at the due time itself the reading is due, not late.
    Datetimes must be timezone-aware (use ``timezone.now()``).
    """
    try:
        current = Phase(phase)
    except ValueError:
        raise ValueError(
            f"phase must be one of {', '.join(p.value for p in Phase)}, not {phase!r}."
        ) from None
    for name, value in (
        ("interval_infusing", interval_infusing),
        ("interval_recovering", interval_recovering),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ValueError(f"{name} must be a whole number of minutes above 0, not {value!r}.")
    for name, moment in (
        ("started_at", started_at),
        ("now", now),
        ("last_reading_at", last_reading_at),
    ):
        if moment is not None and moment.utcoffset() is None:
            raise ValueError(f"{name} must be timezone-aware; use django.utils.timezone.now().")
    interval = interval_infusing if current is Phase.INFUSING else interval_recovering
    anchor = started_at if last_reading_at is None else max(started_at, last_reading_at)
    next_due_at = anchor + timedelta(minutes=interval)
    return next_due_at, now > next_due_at
