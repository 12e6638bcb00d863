"""What a course may be: DOMAIN.md's ranges for the number of infusions, the window and the
gap, checked the same way when planning and when booking (``settings_errors``); the COURSE_*
defaults; and the appointment types a course books."""

from __future__ import annotations

import math
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError

from scheduling.courses.wording import Errors, add_error
from scheduling.models import AppointmentKind, AppointmentType

# The ranges DOMAIN.md allows (the settings' own limits).
INFUSIONS_MIN, INFUSIONS_MAX = 4, 10
WINDOW_MIN, WINDOW_MAX = 14, 28
GAP_MIN, GAP_MAX = 24, 168
# How many other free times a refusal offers.
ALTERNATIVES = 3


def settings_errors(planned_infusions: Any, window_days: Any, min_gap_hours: Any) -> Errors:
    errors: Errors = {}
    if not int_between(planned_infusions, INFUSIONS_MIN, INFUSIONS_MAX):
        add_error(
            errors,
            "planned_infusions",
            f"A course has {INFUSIONS_MIN} to {INFUSIONS_MAX} infusions: choose a number in "
            "that range.",
        )
    if not int_between(window_days, WINDOW_MIN, WINDOW_MAX):
        add_error(
            errors,
            "window_days",
            f"The infusions must fit within {WINDOW_MIN} to {WINDOW_MAX} days: choose a "
            "window in that range.",
        )
    if not int_between(min_gap_hours, GAP_MIN, GAP_MAX):
        add_error(
            errors,
            "min_gap_hours",
            f"Infusions are at least {GAP_MIN} hours apart (at most {GAP_MAX} can be asked "
            "for): choose a gap in that range.",
        )
    if not errors and (planned_infusions - 1) * min_gap_hours > (window_days - 1) * 24:
        needed = math.ceil((planned_infusions - 1) * min_gap_hours / 24) + 1
        add_error(
            errors,
            "window_days",
            f"{planned_infusions} infusions at least {min_gap_hours} hours apart need at "
            f"least {needed} days: lengthen the window, shorten the gap or plan fewer.",
        )
    return errors


def int_between(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def or_setting(value: int | None, name: str) -> int:
    return getattr(settings, name) if value is None else value


def infusion_type(kind: str) -> AppointmentType:
    try:
        return AppointmentType.objects.get(kind=kind)
    except AppointmentType.DoesNotExist:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: [
                    f"No “{AppointmentKind(kind).label}” appointment type is set up: a clinic "
                    "admin must add one before courses can be booked."
                ]
            }
        ) from None
