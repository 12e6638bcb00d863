"""How often a medicine is taken, and what a medicine line comes to in mg a day.

``FREQUENCIES`` are the answers the intake offers ("how often"), each with how many times a
day it means. "When needed" has no fixed count: a daily amount cannot be computed from it,
so the screening reports it as a missing fact for a drug whose amount matters.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple


class Frequency(NamedTuple):
    key: str
    label: str
    times_a_day: Decimal | None


FREQUENCIES: tuple[Frequency, ...] = (
    Frequency("once_daily", "Once a day", Decimal(1)),
    Frequency("at_night", "At night only", Decimal(1)),
    Frequency("twice_daily", "Twice a day", Decimal(2)),
    Frequency("three_times_daily", "Three times a day", Decimal(3)),
    Frequency("four_times_daily", "Four times a day", Decimal(4)),
    Frequency("when_needed", "Only when needed", None),
)
FREQUENCY_BY_KEY = {frequency.key: frequency for frequency in FREQUENCIES}


def daily_mg(
    strength_mg: Decimal | None, units_each_time: Decimal | None, frequency: str
) -> Decimal | None:
    """mg a day from the strength of one tablet (or dose unit), how many are taken each
    time and how often; None when any of the three is not known."""
    found = FREQUENCY_BY_KEY.get(frequency)
    if strength_mg is None or units_each_time is None or found is None:
        return None
    if found.times_a_day is None:
        return None
    return strength_mg * units_each_time * found.times_a_day
