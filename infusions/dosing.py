"""Ketamine dose arithmetic: mg/kg and weight to total mg, duration to rate.

Pure: no models, and Django only inside ``limits_from_settings()``. Every number is a
``Decimal``; floats are refused (0.1 is not 0.1 in binary). Values are computed from
the unrounded intermediates and only the outputs are rounded, ``ROUND_HALF_UP``:

- total dose to 0.1 mg (``TOTAL_MG_QUANTUM``)
- rates to 0.1 mg/h and 0.1 mL/h (``RATE_MG_PER_H_QUANTUM``, ``RATE_ML_PER_H_QUANTUM``)
- volume to 0.01 mL (``VOLUME_ML_QUANTUM``)
- an escalation (relative increase) to 0.001, i.e. 0.1 % (``ESCALATION_QUANTUM``)

So 83.4 kg x 0.75 mg/kg = 62.55 mg is shown as 62.6 mg, and over 40 minutes the rate
is 62.55 x 60 / 40 = 93.825 → 93.8 mg/h (not 62.6 x 1.5 = 93.9).

Limits are inclusive: a dose of exactly 1.0 mg/kg is allowed when the maximum is 1.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext
from enum import StrEnum
from typing import Any

TOTAL_MG_QUANTUM = Decimal("0.1")
RATE_MG_PER_H_QUANTUM = Decimal("0.1")
RATE_ML_PER_H_QUANTUM = Decimal("0.1")
VOLUME_ML_QUANTUM = Decimal("0.01")
ESCALATION_QUANTUM = Decimal("0.001")

# Enough digits that 28-digit intermediates (a third, a seventh) never matter at 0.01.
_PRECISION = 28


class DoseError(ValueError):
    """A dose order that cannot be calculated. ``errors`` maps field -> what to fix."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors: dict[str, str] = dict(errors)
        super().__init__(" ".join(f"{name}: {message}" for name, message in self.errors.items()))


class Route(StrEnum):
    IV_INFUSION = "iv_infusion"
    IM = "im"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _ROUTE_LABELS[self]


_ROUTE_LABELS = {
    Route.IV_INFUSION: "IV infusion",
    Route.IM: "Intramuscular injection",
    Route.OTHER: "Other",
}


# --- Number parsing -------------------------------------------------------------------


def _parse_decimal(value: object, name: str) -> Decimal:
    """Decimal, int or numeric string to a finite Decimal; anything else is a ValueError."""
    if isinstance(value, float):
        raise ValueError(
            f"{name} must be a Decimal, a whole number or a numeric string, not the float "
            f"{value!r}: pass it as Decimal({str(value)!r}) or the string {str(value)!r}."
        )
    if isinstance(value, bool) or not isinstance(value, Decimal | int | str):
        raise ValueError(f"{name} must be a number, not {value!r}.")
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(f"{name} must be a number such as 0.5, not {value!r}.") from None
    if not number.is_finite():
        raise ValueError(f"{name} must be a finite number, not {value!r}.")
    return number


def _parse_whole(value: object, name: str) -> int:
    number = _parse_decimal(value, name)
    if number != number.to_integral_value():
        raise ValueError(f"{name} must be a whole number, not {value!r}.")
    return int(number)


def _text(value: Decimal) -> str:
    """2 -> "2", 2.50 -> "2.5", 100 -> "100" (never "1E+2")."""
    return f"{value.normalize():f}"


def _round(value: Decimal, quantum: Decimal) -> Decimal:
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


# --- Limits ---------------------------------------------------------------------------

_DECIMAL_LIMITS = (
    "default_mg_per_kg",
    "min_mg_per_kg",
    "max_mg_per_kg",
    "min_weight_kg",
    "max_weight_kg",
)


@dataclass(frozen=True)
class DoseLimits:
    """The clinic's allowed dose, weight and duration (inclusive ranges).

    Defaults from DOMAIN.md (Session): 0.5 mg/kg allowed 0.1-1.0 mg/kg; 40 minutes
    allowed 30-100 minutes (IV infusion only). Weight 30-300 kg catches a weight
    entered in pounds or grams, or a missing digit.
    """

    default_mg_per_kg: Decimal = Decimal("0.5")
    min_mg_per_kg: Decimal = Decimal("0.1")
    max_mg_per_kg: Decimal = Decimal("1.0")
    default_duration_minutes: int = 40
    min_duration_minutes: int = 30
    max_duration_minutes: int = 100
    min_weight_kg: Decimal = Decimal("30")
    max_weight_kg: Decimal = Decimal("300")

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _DECIMAL_LIMITS:
                number = _parse_decimal(value, f.name)
            else:
                number = _parse_whole(value, f.name)
            if number <= 0:
                raise ValueError(f"{f.name} must be above 0, not {value}.")
            object.__setattr__(self, f.name, number)
        for low, default, high in (
            ("min_mg_per_kg", "default_mg_per_kg", "max_mg_per_kg"),
            ("min_duration_minutes", "default_duration_minutes", "max_duration_minutes"),
            ("min_weight_kg", None, "max_weight_kg"),
        ):
            if getattr(self, low) > getattr(self, high):
                raise ValueError(
                    f"{low} ({getattr(self, low)}) must not be above {high} "
                    f"({getattr(self, high)})."
                )
            if default and not getattr(self, low) <= getattr(self, default) <= getattr(self, high):
                raise ValueError(
                    f"{default} ({getattr(self, default)}) must be between {low} "
                    f"({getattr(self, low)}) and {high} ({getattr(self, high)})."
                )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DoseLimits:
        """Build from a (partial) mapping; keys left out keep their defaults."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"Unknown dose limit(s): {', '.join(unknown)}. "
                f"Known limits are: {', '.join(sorted(known))}."
            )
        return cls(**dict(data))


DEFAULT_LIMITS = DoseLimits()


def limits_from_settings() -> DoseLimits:
    """The clinic's limits: defaults overridden by ``settings.DOSE_LIMITS`` (a dict).

    The only place this module reads Django; importing it does not.
    """
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    overrides = getattr(settings, "DOSE_LIMITS", None) or {}
    if not isinstance(overrides, Mapping):
        raise ImproperlyConfigured(
            f"DOSE_LIMITS must be a dict of limit names to numbers, not {type(overrides).__name__}."
        )
    try:
        return DoseLimits.from_dict(overrides)
    except (TypeError, ValueError) as exc:
        raise ImproperlyConfigured(f"DOSE_LIMITS is not valid: {exc}") from None


# --- The calculation ------------------------------------------------------------------


@dataclass(frozen=True)
class DoseOrder:
    """What the physician orders. Numbers as Decimal, int or numeric string (not float).

    ``duration_minutes`` is required for an IV infusion and optional otherwise;
    ``concentration_mg_per_ml`` is the bag's (IV) or vial's concentration, if known.
    """

    dose_mg_per_kg: Decimal | int | str
    weight_kg: Decimal | int | str
    duration_minutes: int | Decimal | str | None
    concentration_mg_per_ml: Decimal | int | str | None
    route: Route | str = Route.IV_INFUSION


@dataclass(frozen=True)
class DoseCalculation:
    """The validated inputs and the rounded results (see the module docstring).

    ``rate_mg_per_h`` is None without a duration; ``rate_ml_per_h`` is None without a
    concentration or for a route other than IV infusion; ``volume_ml`` is None
    without a concentration.
    """

    route: Route
    dose_mg_per_kg: Decimal
    weight_kg: Decimal
    duration_minutes: int | None
    concentration_mg_per_ml: Decimal | None
    total_mg: Decimal
    rate_mg_per_h: Decimal | None
    rate_ml_per_h: Decimal | None
    volume_ml: Decimal | None

    def to_dict(self) -> dict[str, str | int | None]:
        """JSON-safe: Decimals become strings so no precision is lost."""
        data: dict[str, str | int | None] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            data[f.name] = str(value) if isinstance(value, Decimal | Route) else value
        return data


def _validated(
    order: DoseOrder, limits: DoseLimits
) -> tuple[Route, Decimal, Decimal, int | None, Decimal | None]:
    errors: dict[str, str] = {}

    route: Route | None
    try:
        route = Route(order.route)
    except ValueError:
        route = None
        choices = ", ".join(f"{r.value} ({r.label})" for r in Route)
        errors["route"] = f"Choose a route: {choices}; {order.route!r} is not one of them."

    dose: Decimal | None = None
    try:
        dose = _parse_decimal(order.dose_mg_per_kg, "dose_mg_per_kg")
    except ValueError as exc:
        errors["dose_mg_per_kg"] = f"Enter the dose in mg/kg: {exc}"
    if dose is not None and not limits.min_mg_per_kg <= dose <= limits.max_mg_per_kg:
        low, high = _text(limits.min_mg_per_kg), _text(limits.max_mg_per_kg)
        errors["dose_mg_per_kg"] = (
            f"A dose of {_text(dose)} mg/kg is outside the clinic's allowed range: "
            f"enter a dose from {low} to {high} mg/kg."
        )

    weight: Decimal | None = None
    try:
        weight = _parse_decimal(order.weight_kg, "weight_kg")
    except ValueError as exc:
        errors["weight_kg"] = f"Enter today's weight in kg: {exc}"
    if weight is not None and not limits.min_weight_kg <= weight <= limits.max_weight_kg:
        low, high = _text(limits.min_weight_kg), _text(limits.max_weight_kg)
        errors["weight_kg"] = (
            f"A weight of {_text(weight)} kg is outside {low}–{high} kg: check that today's "
            "weight is in kilograms (not pounds) and enter it again."
        )

    duration: int | None = None
    if order.duration_minutes is None:
        if route is Route.IV_INFUSION:
            errors["duration_minutes"] = "Enter the infusion's duration in minutes."
    else:
        try:
            duration = _parse_whole(order.duration_minutes, "duration_minutes")
        except ValueError as exc:
            errors["duration_minutes"] = f"Enter the duration in whole minutes: {exc}"
        if duration is not None and route is Route.IV_INFUSION:
            low_min, high_min = limits.min_duration_minutes, limits.max_duration_minutes
            if not low_min <= duration <= high_min:
                errors["duration_minutes"] = (
                    f"An infusion over {duration} minutes is outside the allowed range: "
                    f"enter a duration from {low_min} to {high_min} minutes."
                )
        elif duration is not None and duration <= 0:
            errors["duration_minutes"] = (
                "The duration must be more than 0 minutes: enter it, or leave it blank."
            )

    concentration: Decimal | None = None
    if order.concentration_mg_per_ml is not None:
        try:
            concentration = _parse_decimal(order.concentration_mg_per_ml, "concentration_mg_per_ml")
        except ValueError as exc:
            errors["concentration_mg_per_ml"] = f"Enter the concentration in mg/mL: {exc}"
        if concentration is not None and concentration <= 0:
            errors["concentration_mg_per_ml"] = (
                f"A concentration of {_text(concentration)} mg/mL is not possible: enter the "
                "bag's or vial's concentration in mg/mL (above 0), or leave it blank."
            )

    if errors:
        raise DoseError(errors)
    assert route is not None and dose is not None and weight is not None  # noqa: S101
    return route, dose, weight, duration, concentration


def calculate(order: DoseOrder, limits: DoseLimits = DEFAULT_LIMITS) -> DoseCalculation:
    """Validate ``order`` against ``limits`` and work out total, rates and volume.

    Raises ``DoseError`` with every problem at once (field -> what to fix).
    """
    route, dose, weight, duration, concentration = _validated(order, limits)
    with localcontext() as context:
        context.prec = _PRECISION
        total = dose * weight
        # Multiply before dividing so the only inexact step is the last one.
        rate_mg = total * 60 / duration if duration else None
        rate_ml = (
            rate_mg / concentration
            if rate_mg is not None and concentration is not None and route is Route.IV_INFUSION
            else None
        )
        volume = total / concentration if concentration is not None else None
        return DoseCalculation(
            route=route,
            dose_mg_per_kg=dose,
            weight_kg=weight,
            duration_minutes=duration,
            concentration_mg_per_ml=concentration,
            total_mg=_round(total, TOTAL_MG_QUANTUM),
            rate_mg_per_h=_round(rate_mg, RATE_MG_PER_H_QUANTUM) if rate_mg is not None else None,
            rate_ml_per_h=_round(rate_ml, RATE_ML_PER_H_QUANTUM) if rate_ml is not None else None,
            volume_ml=_round(volume, VOLUME_ML_QUANTUM) if volume is not None else None,
        )


def escalation(
    previous_mg_per_kg: Decimal | int | str | None, new_mg_per_kg: Decimal | int | str
) -> Decimal | None:
    """The relative increase from the previous dose, e.g. 0.5 → 0.75 is Decimal("0.500").

    None when there is no previous dose or the new dose is not higher (the same or
    lower is not an escalation). Rounded ROUND_HALF_UP to 0.001 (0.1 %).
    """
    errors: dict[str, str] = {}
    previous: Decimal | None = None
    new: Decimal | None = None
    if previous_mg_per_kg is not None:
        try:
            previous = _parse_decimal(previous_mg_per_kg, "previous_mg_per_kg")
        except ValueError as exc:
            errors["previous_mg_per_kg"] = str(exc)
        if previous is not None and previous <= 0:
            errors["previous_mg_per_kg"] = (
                f"The previous dose must be above 0 mg/kg, not {_text(previous)}."
            )
    try:
        new = _parse_decimal(new_mg_per_kg, "new_mg_per_kg")
    except ValueError as exc:
        errors["new_mg_per_kg"] = str(exc)
    if new is not None and new <= 0:
        errors["new_mg_per_kg"] = f"The new dose must be above 0 mg/kg, not {_text(new)}."
    if errors:
        raise DoseError(errors)
    if previous is None or new is None or new <= previous:
        return None
    with localcontext() as context:
        context.prec = _PRECISION
        return _round((new - previous) / previous, ESCALATION_QUANTUM)
