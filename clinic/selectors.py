"""Reads of clinic-wide records, and the access checks that go with them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import Count, Prefetch, Q, QuerySet
from django.utils import timezone

from clinic.models import Closure, Heartbeat, Location, OpeningHours


def locations_public() -> QuerySet[Location]:
    """Active locations with their hours, upcoming closures and number of chairs in use."""
    return (
        Location.objects.filter(is_active=True)
        .annotate(active_chair_count=Count("chairs", filter=Q(chairs__is_active=True)))
        .prefetch_related(
            "opening_hours",
            Prefetch(
                "closures",
                queryset=Closure.objects.filter(
                    ends_on__gte=timezone.now().date() - timedelta(days=1)
                ),
            ),
        )
    )


@dataclass(frozen=True)
class DayHours:
    day: date
    opens_at: time | None
    closes_at: time | None
    closure: Closure | None

    @property
    def is_open(self) -> bool:
        return self.opens_at is not None and self.closure is None


def location_hours_on(location: Location, day: date) -> DayHours:
    """Opening hours on a local calendar day. Uses prefetched hours and closures when present."""
    closure = next((c for c in location.closures.all() if c.covers(day)), None)
    hours: OpeningHours | None = next(
        (h for h in location.opening_hours.all() if h.weekday == day.weekday()), None
    )
    if hours is None:
        return DayHours(day, None, None, closure)
    return DayHours(day, hours.opens_at, hours.closes_at, closure)


def location_today(location: Location) -> DayHours:
    return location_hours_on(location, location.local_now().date())


def heartbeat_status(
    name: str = "worker", *, stale_after: timedelta = timedelta(minutes=3)
) -> dict[str, Any]:
    """Whether the Celery beat + worker pair has run the heartbeat task lately."""
    beat = Heartbeat.objects.filter(name=name).first()
    seen_at: datetime | None = beat.seen_at if beat else None
    healthy = seen_at is not None and timezone.now() - seen_at <= stale_after
    return {"seen_at": seen_at, "healthy": healthy}
