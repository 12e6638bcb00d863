"""Reads of clinic-wide records, and the access checks that go with them."""

from __future__ import annotations

import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from axes.models import AccessAttempt
from django.conf import settings
from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    ExpressionWrapper,
    Func,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.utils import timezone

from clinic.models import AuditEvent, Chair, Closure, Heartbeat, Location, OpeningHours, User
from clinic.permissions import Capability, require, user_can
from clinic.second_factor import with_second_factor_status


def locations_public() -> QuerySet[Location]:
    """Active locations by name, with their hours, upcoming closures and number of chairs in
    use. (The count makes it a GROUP BY query, where Django leaves out ``Meta.ordering``:
    the order is asked for here.)"""
    return (
        Location.objects.filter(is_active=True)
        .annotate(active_chair_count=Count("chairs", filter=Q(chairs__is_active=True)))
        .order_by("name", "id")
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


@dataclass(frozen=True)
class LocationDay:
    """An active location as the staff home shows it: its name, time zone and chairs in
    use, and its hours today on its own clock."""

    pk: int
    public_id: uuid.UUID
    name: str
    time_zone: str
    active_chair_count: int
    today: DayHours


# Each active location with its chairs in use, the hours of every weekday and the closures
# not over by yesterday (UTC: no location's today is earlier), by name as locations_public().
_LOCATIONS_TODAY = """
SELECT l.id, l.public_id, l.name, l.time_zone,
  (SELECT count(*) FROM clinic_chair c WHERE c.location_id = l.id AND c.is_active),
  (SELECT json_agg(json_build_array(h.weekday, h.opens_at, h.closes_at))
     FROM clinic_openinghours h WHERE h.location_id = l.id),
  (SELECT json_agg(json_build_array(c.starts_on, c.ends_on, c.reason) ORDER BY c.starts_on)
     FROM clinic_closure c WHERE c.location_id = l.id AND c.ends_on >= %s)
FROM clinic_location l WHERE l.is_active ORDER BY l.name, l.id
"""


def locations_today() -> list[LocationDay]:
    """What ``locations_public()`` and ``location_today`` say of each active location, as
    plain rows in one query (they take three, and build a model for every hour and
    closure): for a page that shows every location's today and nothing else of them."""
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(_LOCATIONS_TODAY, [now.date() - timedelta(days=1)])
        rows = cursor.fetchall()
    days = []
    for pk, public_id, name, time_zone, chairs, hours, closures in rows:
        day = now.astimezone(zoneinfo.ZoneInfo(time_zone)).date()
        closure = next(
            (
                Closure(location_id=pk, starts_on=starts, ends_on=ends, reason=reason)
                for starts, ends, reason in (
                    (date.fromisoformat(starts), date.fromisoformat(ends), reason)
                    for starts, ends, reason in closures or ()
                )
                if starts <= day <= ends
            ),
            None,
        )
        opens_at = closes_at = None
        for weekday, opens, closes in hours or ():
            if weekday == day.weekday():
                opens_at, closes_at = time.fromisoformat(opens), time.fromisoformat(closes)
        days.append(
            LocationDay(
                pk=pk,
                public_id=public_id,
                name=name,
                time_zone=time_zone,
                active_chair_count=chairs,
                today=DayHours(day, opens_at, closes_at, closure),
            )
        )
    return days


def heartbeat_status(
    name: str = "worker", *, stale_after: timedelta = timedelta(minutes=3)
) -> dict[str, Any]:
    """Whether the Celery beat + worker pair has run the heartbeat task lately."""
    beat = Heartbeat.objects.filter(name=name).first()
    seen_at: datetime | None = beat.seen_at if beat else None
    healthy = seen_at is not None and timezone.now() - seen_at <= stale_after
    return {"seen_at": seen_at, "healthy": healthy}


def staff_visible_to(
    user: Any, *, search: str = "", role: str = "", status: str = ""
) -> QuerySet[User]:
    """Staff accounts ``user`` may manage: all of them for a clinic admin, none otherwise.

    Each account carries ``failed_sign_ins`` (recent failures counted by django-axes) and
    ``is_locked_out``, computed in the same query, and what second factor it has set up
    (``clinic.second_factor.with_second_factor_status``). ``status`` is "active",
    "inactive" or "".
    """
    if not user_can(user, Capability.MANAGE_STAFF):
        return User.objects.none()
    accounts = (
        with_second_factor_status(User.objects.all())
        .annotate(
            failed_sign_ins=Coalesce(
                Subquery(
                    # Axes keeps the address as typed, one row per address, IP and browser.
                    _recent_failed_attempts()
                    .filter(username__iexact=OuterRef("email"))
                    .order_by()
                    .annotate(total=Func("failures_since_start", function="SUM"))
                    .values("total"),
                    output_field=IntegerField(),
                ),
                0,
            )
        )
        .annotate(
            is_locked_out=ExpressionWrapper(
                Q(failed_sign_ins__gte=settings.AXES_FAILURE_LIMIT), output_field=BooleanField()
            )
        )
    )
    if search:
        accounts = accounts.filter(Q(full_name__icontains=search) | Q(email__icontains=search))
    if role:
        accounts = accounts.filter(roles__contains=[role])
    if status == "active":
        accounts = accounts.filter(is_active=True)
    if status == "inactive":
        accounts = accounts.filter(is_active=False)
    return accounts.order_by("full_name", "email")


def _recent_failed_attempts() -> QuerySet[AccessAttempt]:
    cooloff = settings.AXES_COOLOFF_TIME
    attempts = AccessAttempt.objects.all()
    if isinstance(cooloff, timedelta):
        attempts = attempts.filter(attempt_time__gte=timezone.now() - cooloff)
    return attempts


def staff_member_for(user: Any, public_id: Any) -> User:
    """One account ``user`` may manage, or 404."""
    return get_object_or_404(staff_visible_to(user), public_id=public_id)


def audit_events_visible_to(
    user: Any,
    *,
    action: str = "",
    actor: User | None = None,
    occurred_from: date | None = None,
    occurred_to: date | None = None,
    object_id: str = "",
) -> QuerySet[AuditEvent]:
    """Audit events, newest first, for those allowed to read the log; none for anyone else.

    The date range is inclusive and read as calendar days in the clinic's default time zone.
    """
    if not user_can(user, Capability.VIEW_AUDIT_LOG):
        return AuditEvent.objects.none()
    events = AuditEvent.objects.select_related("actor").order_by("-occurred_at", "-id")
    if action:
        events = events.filter(action=action)
    if actor is not None:
        events = events.filter(actor=actor)
    clinic_tz = zoneinfo.ZoneInfo(settings.TIME_ZONE)
    if occurred_from is not None:
        events = events.filter(
            occurred_at__gte=datetime.combine(occurred_from, time.min, clinic_tz)
        )
    if occurred_to is not None:
        day_after = occurred_to + timedelta(days=1)
        events = events.filter(occurred_at__lt=datetime.combine(day_after, time.min, clinic_tz))
    if object_id:
        events = events.filter(object_id=object_id.strip().lower())
    return events


# --- Locations in the staff area and the API ------------------------------------------


def locations_visible_to(user: Any) -> QuerySet[Location]:
    """The locations ``user`` may see: every one for those who manage locations, the active
    ones for other staff with VIEW_LOCATIONS; none for anyone else."""
    if not user_can(user, Capability.VIEW_LOCATIONS):
        return Location.objects.none()
    locations = Location.objects.all()
    if not user_can(user, Capability.MANAGE_LOCATIONS):
        locations = locations.filter(is_active=True)
    return locations


def location_for(user: Any, public_id: uuid.UUID, *, to_manage: bool = False) -> Location:
    """One location by its public id, if ``user`` may see it (or change it, with
    ``to_manage``). Raises PermissionDenied or Http404."""
    require(user, Capability.MANAGE_LOCATIONS if to_manage else Capability.VIEW_LOCATIONS)
    location = locations_visible_to(user).filter(public_id=public_id).first()
    if location is None:
        raise Http404("No location has that id.")
    return location


def chair_for(
    user: Any, location_id: uuid.UUID, chair_id: uuid.UUID, *, to_manage: bool = False
) -> Chair:
    """One chair of a location the user may see (or change). Raises PermissionDenied or Http404."""
    location = location_for(user, location_id, to_manage=to_manage)
    chair = location.chairs.filter(public_id=chair_id).first()
    if chair is None:
        raise Http404("That location has no chair with that id.")
    return chair


def closure_for(
    user: Any, location_id: uuid.UUID, closure_id: int, *, to_manage: bool = False
) -> Closure:
    """One closure of a location the user may see (or change). Raises PermissionDenied or
    Http404. Closures have no public id yet, so the id is only looked up inside the location."""
    location = location_for(user, location_id, to_manage=to_manage)
    closure = location.closures.filter(pk=closure_id).first()
    if closure is None:
        raise Http404("That location has no closure with that id.")
    return closure


def _earliest_local_today() -> date:
    # No IANA zone is more than a day behind UTC, so this date is "today or earlier"
    # everywhere: closures ending before it cannot cover any location's today.
    return timezone.now().date() - timedelta(days=1)


def with_hours_closures_and_chairs(locations: QuerySet[Location]) -> QuerySet[Location]:
    """Add what lists of locations show, in a fixed number of queries however many rows:
    ``active_chair_count``, ``opening_hours``, ``closures`` that have not ended (give or take
    a day, see ``location_upcoming_closures``) and ``active_chairs`` (a list)."""
    return locations.annotate(
        active_chair_count=Count("chairs", filter=Q(chairs__is_active=True))
    ).prefetch_related(
        "opening_hours",
        Prefetch("closures", queryset=Closure.objects.filter(ends_on__gte=_earliest_local_today())),
        Prefetch(
            "chairs",
            queryset=Chair.objects.filter(is_active=True).order_by("name"),
            to_attr="active_chairs",
        ),
    )


def location_summaries(user: Any, *, search: str = "") -> QuerySet[Location]:
    """The staff list of locations, optionally narrowed by name or city; active ones first."""
    locations = locations_visible_to(user)
    search = search.strip()
    if search:
        locations = locations.filter(Q(name__icontains=search) | Q(city__icontains=search))
    return with_hours_closures_and_chairs(locations).order_by("-is_active", "name")


def location_upcoming_closures(location: Location) -> list[Closure]:
    """Closures that end today or later in the location's own time zone.

    Runs a query unless ``closures`` was prefetched (``with_hours_closures_and_chairs``)."""
    today = location.local_now().date()
    return [closure for closure in location.closures.all() if closure.ends_on >= today]


@dataclass(frozen=True)
class WeekdayHours:
    weekday: int
    label: str
    opens_at: time | None
    closes_at: time | None
    is_today: bool


@dataclass(frozen=True)
class LocationOverview:
    """Everything the location page shows, read in a few queries."""

    location: Location
    local_now: datetime
    today: DayHours
    week: list[WeekdayHours]
    upcoming_closures: list[Closure]
    past_closure_count: int
    active_chairs: list[Chair]
    inactive_chairs: list[Chair]


def location_overview(location: Location) -> LocationOverview:
    local_now = location.local_now()
    local_today = local_now.date()
    hours = {row.weekday: row for row in location.opening_hours.all()}
    week = [
        WeekdayHours(
            weekday=weekday,
            label=label,
            opens_at=hours[weekday].opens_at if weekday in hours else None,
            closes_at=hours[weekday].closes_at if weekday in hours else None,
            is_today=weekday == local_today.weekday(),
        )
        for weekday, label in OpeningHours.Weekday.choices
    ]
    upcoming = list(location.closures.filter(ends_on__gte=local_today).order_by("starts_on"))
    closure_today = next((c for c in upcoming if c.covers(local_today)), None)
    today_hours = hours.get(local_today.weekday())
    chairs = list(location.chairs.order_by("name"))
    return LocationOverview(
        location=location,
        local_now=local_now,
        today=DayHours(
            local_today,
            today_hours.opens_at if today_hours else None,
            today_hours.closes_at if today_hours else None,
            closure_today,
        ),
        week=week,
        upcoming_closures=upcoming,
        past_closure_count=location.closures.filter(ends_on__lt=local_today).count(),
        active_chairs=[chair for chair in chairs if chair.is_active],
        inactive_chairs=[chair for chair in chairs if not chair.is_active],
    )
