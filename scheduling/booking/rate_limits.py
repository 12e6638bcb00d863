"""Rate limits on online booking: attempts counted per IP address and per email or mobile in
Django's cache, so a flood of bookings from one place or for one contact is refused with
what to do instead. Each count is read and written under a PostgreSQL advisory lock, so
bookings arriving at the same instant (in any process) are counted one after the other."""

from __future__ import annotations

import hashlib
import time as clock
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.core.cache import cache
from django.db import connection

from clinic.models import Location

_HOUR_SECONDS = 60 * 60
_DAY_SECONDS = 24 * _HOUR_SECONDS
# First key of pg_advisory_lock(int, int): "the booking attempts counted under <second key>"
# (the others are listed in ``scheduling.services.locks``).
_COUNT_LOCK = 7_308


class RateLimited(Exception):
    """Too many booking attempts from one place or for one contact; ``str()`` says what to
    do, ``retry_after`` is in seconds."""

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def booking_rate_limit(*, ip: str | None, email: str, mobile: str, location: Location) -> None:
    """Count one booking attempt from ``ip`` for ``email`` and ``mobile``, or raise
    ``RateLimited`` (counting nothing) when one of them has used its share:
    BOOKING_LIMIT_PER_IP_PER_HOUR (5) from one address in an hour, and
    BOOKING_LIMIT_PER_CONTACT_PER_DAY (3) for one email address or mobile number in a day.

    Sliding windows kept in Django's cache (keys are hashes: no contact details in the
    cache). Each window is read and written while holding its advisory lock, so however
    many attempts arrive at once, in however many processes, exactly the limit passes. The
    lock is PostgreSQL's rather than the cache's because the file cache used without Redis
    has no atomic increment across processes (``incr`` there is a read and a write)."""
    per_ip = getattr(settings, "BOOKING_LIMIT_PER_IP_PER_HOUR", 5)
    per_contact = getattr(settings, "BOOKING_LIMIT_PER_CONTACT_PER_DAY", 3)
    now = clock.time()
    checks = [("ip", ip or "unknown", per_ip, _HOUR_SECONDS)]
    checks += [("contact", value, per_contact, _DAY_SECONDS) for value in (email, mobile) if value]
    keys = [_rate_key(kind, value) for kind, value, _limit, _window in checks]
    with _counting(keys):
        # One read and one write a window, however many counts: each is a round trip.
        stored = cache.get_many(keys)
        counted = []
        for key, (kind, _value, limit, window) in zip(keys, checks, strict=True):
            recent = sorted(hit for hit in stored.get(key, []) if hit > now - window)
            if len(recent) >= limit:
                # When enough of these hits have aged out of the window to allow one more.
                retry_after = max(int(recent[-limit] + window - now) + 1, 1)
                raise RateLimited(
                    _rate_message(kind, limit, retry_after, location), retry_after=retry_after
                )
            counted.append((key, recent, window))
        for window in sorted({window for _key, _recent, window in counted}):
            cache.set_many(
                {key: [*recent, now] for key, recent, w in counted if w == window}, timeout=window
            )


@contextmanager
def _counting(keys: list[str]) -> Iterator[None]:
    """Hold every other booking attempt off these counts until the block ends. Session
    locks (not transaction ones), released as soon as the counts are written whatever
    transaction this runs in; always taken in the same order, so two attempts never each
    hold a lock the other is waiting for."""
    second_keys = sorted(
        {int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big") % 2**31 for key in keys}
    )
    with connection.cursor() as cursor:
        # PostgreSQL calls a volatile function in the select list after the ORDER BY.
        cursor.execute(
            "SELECT pg_advisory_lock(%s, k) FROM unnest(%s::int[]) AS k ORDER BY k",
            [_COUNT_LOCK, second_keys],
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_unlock(%s, k) FROM unnest(%s::int[]) AS k",
                [_COUNT_LOCK, second_keys],
            )


def _rate_key(kind: str, value: str) -> str:
    digest = hashlib.sha256(value.strip().lower().encode()).hexdigest()
    return f"chairside:booking:rate:{kind}:{digest}"


def _rate_message(kind: str, limit: int, retry_after: int, location: Location) -> str:
    call = f"call {location.name} on {location.phone}"
    if kind == "ip":
        minutes = max((retry_after + 59) // 60, 1)
        return (
            f"There have been {limit} booking attempts from your internet connection in the "
            f"last hour, which is as many as we accept. Please try again in {minutes} "
            f"minute{'s' if minutes != 1 else ''}, or {call} to book."
        )
    return (
        f"This email address or mobile number has been used for {limit} booking attempts "
        f"in the last 24 hours, which is as many as we accept. Please {call} to book, or try "
        "again tomorrow."
    )
