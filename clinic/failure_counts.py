"""Wrong passwords and codes typed outside django-axes, counted per person in the cache.

A witness's password on someone else's tablet (``clinic.cosign``) and the second factor at
sign-in (``clinic.second_factor``) keep the sign-in lockout's numbers: ``AXES_FAILURE_LIMIT``
failures pause that kind of attempt for ``AXES_COOLOFF_TIME`` after the last one. The count
lives in the cache, not a table, because the services that check run in transactions that a
refusal rolls back. ``kind`` keeps the counts apart (a wrong cosigning password does not pause
someone's own sign-in).
"""

from __future__ import annotations

from django.conf import settings
from django.core.cache import cache

from clinic.models import User


def _key(kind: str, user: User) -> str:
    return f"{kind}-failures:{user.public_id}"


def failures_of(kind: str, user: User) -> int:
    return cache.get(_key(kind, user), 0)


def failures_exhausted(kind: str, user: User) -> bool:
    return failures_of(kind, user) >= settings.AXES_FAILURE_LIMIT


def failure_count(kind: str, user: User) -> None:
    """Count one more failure; the pause runs from this one, as django-axes's does."""
    key = _key(kind, user)
    timeout = int(settings.AXES_COOLOFF_TIME.total_seconds())
    cache.add(key, 0, timeout=timeout)
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=timeout)
    # The file and database caches' incr also resets the expiry to their default timeout:
    # this puts it back to the cool-off.
    cache.touch(key, timeout=timeout)


def failures_forget(kind: str, user: User) -> None:
    cache.delete(_key(kind, user))
