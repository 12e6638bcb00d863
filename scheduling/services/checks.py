"""What every appointment service checks with: who may act (``actor=None`` is the patient or
the system), whether a type is an infusion, and the pieces refusals are written with (the
``Errors`` dict keyed by field, status labels, days and times on the location's clock)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from clinic.models import Location, User
from clinic.permissions import Capability, require
from scheduling.models import INFUSION_KINDS, AppointmentStatus, AppointmentType

Errors = dict[str, list[str]]
Status = AppointmentStatus


def require_if_staff(actor: User | None, capability: Capability) -> None:
    """``actor=None`` is the patient or the system, which the caller vouches for."""
    if actor is not None:
        require(actor, capability)


def is_infusion(appointment_type: AppointmentType) -> bool:
    return appointment_type.kind in INFUSION_KINDS


def add_error(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def label(status: Any) -> str:
    return Status(status).label.lower()


def with_article(appointment_type: AppointmentType) -> str:
    """The type's name with "A" or "An", to start a sentence: "An infusion"."""
    name = appointment_type.name.lower()
    return f"{'An' if name[:1] in 'aeiou' else 'A'} {name}"


def day_label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def when_label(moment: datetime, location: Location) -> str:
    local = moment.astimezone(location.tz)
    return f"{local:%H:%M} on {day_label(local.date())}"
