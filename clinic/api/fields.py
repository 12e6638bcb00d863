"""Request and response fields the API's modules share: times with their UTC offset, dates,
clock times and public ids, each with error messages that say what to send instead.

Times are sent as ISO 8601 with their UTC offset (a time without one is refused: which
clock it was read on would be a guess) and returned in UTC. Ids are public ids.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from rest_framework import serializers

TIME_EXAMPLE = "2026-03-27T14:30:00-05:00"
# The dates a request may name: far wider than any booking, narrow enough that a day or a
# time zone either side of them is still a date.
EARLIEST, LATEST = date(2000, 1, 1), date(2199, 12, 31)


class UtcDateTimeField(serializers.DateTimeField):
    """ISO 8601 with a UTC offset in, UTC out."""

    default_error_messages = {
        "invalid": f"Enter the time as ISO 8601 with its UTC offset, e.g. {TIME_EXAMPLE}.",
        "naive": (
            f"Give the time with its UTC offset, e.g. {TIME_EXAMPLE} (or Z for UTC): "
            "without one it is ambiguous."
        ),
        "overflow": f"Enter a time between {EARLIEST} and {LATEST}.",
    }

    def enforce_timezone(self, value: datetime) -> datetime:
        if value.tzinfo is None or value.utcoffset() is None:
            self.fail("naive")
        try:
            value = value.astimezone(UTC)
        except OverflowError:
            self.fail("overflow")
        if not EARLIEST <= value.date() <= LATEST:
            self.fail("overflow")
        return value


class _DateField(serializers.DateField):
    """A calendar date within the years anyone books in (a date near the ends of the
    calendar would overflow the arithmetic on either side of it)."""

    def to_internal_value(self, value: Any) -> date:
        day = super().to_internal_value(value)
        if not EARLIEST <= day <= LATEST:
            raise serializers.ValidationError(f"Enter a date between {EARLIEST} and {LATEST}.")
        return day


def id_field(what: str, where: str, **kwargs: Any) -> serializers.UUIDField:
    """A public id of ``what`` (``where`` lists them)."""
    return serializers.UUIDField(
        help_text=kwargs.pop("help_text", f"The {what}'s id, from {where}."),
        error_messages={
            "required": f"Say which {what}: give its id, from {where}.",
            "null": f"Say which {what}: give its id, from {where}.",
            "invalid": f"That is not an id. Give the {what}'s id, from {where}.",
        },
        **kwargs,
    )


def date_field(what: str, **kwargs: Any) -> serializers.DateField:
    return _DateField(
        error_messages={"invalid": f"Enter the {what} as YYYY-MM-DD, e.g. 2026-03-27."},
        **kwargs,
    )


def clock_field(what: str, **kwargs: Any) -> serializers.TimeField:
    return serializers.TimeField(
        error_messages={
            "invalid": f"Enter the {what} as HH:MM on the location's clock, e.g. 09:30."
        },
        **kwargs,
    )
