"""Rate limits on online booking: attempts counted per IP address and per email or mobile in
Django's cache, so a flood of bookings from one place or for one contact is refused with
what to do instead."""

from __future__ import annotations

import hashlib
import time as clock

from django.conf import settings
from django.core.cache import cache

from clinic.models import Location

_HOUR_SECONDS = 60 * 60
_DAY_SECONDS = 24 * _HOUR_SECONDS


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
    cache). Read and write are not atomic, so a burst of parallel requests may pass a
    request or two over the limit: good enough to stop abuse, which is its purpose."""
    per_ip = getattr(settings, "BOOKING_LIMIT_PER_IP_PER_HOUR", 5)
    per_contact = getattr(settings, "BOOKING_LIMIT_PER_CONTACT_PER_DAY", 3)
    now = clock.time()
    checks = [("ip", ip or "unknown", per_ip, _HOUR_SECONDS)]
    checks += [("contact", value, per_contact, _DAY_SECONDS) for value in (email, mobile) if value]
    counted = []
    for kind, value, limit, window in checks:
        key = _rate_key(kind, value)
        recent = sorted(hit for hit in cache.get(key, []) if hit > now - window)
        if len(recent) >= limit:
            # When enough of these hits have aged out of the window to allow one more.
            retry_after = max(int(recent[-limit] + window - now) + 1, 1)
            raise RateLimited(
                _rate_message(kind, limit, retry_after, location), retry_after=retry_after
            )
        counted.append((key, recent, window))
    for key, recent, window in counted:
        cache.set(key, [*recent, now], timeout=window)


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
