"""Writes to clinic-wide records: locations, their opening hours and closures, and chairs.

Every service checks its input before it writes: bad input raises ``ValidationError``
with messages keyed by field name and changes nothing. Every change is recorded with
``audit_record``, whose summary names the fields that changed, never their values.
Who may call a service is decided by the caller (views and API views check
``clinic.permissions`` through ``clinic.selectors``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date, time
from typing import TypedDict, Unpack

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from clinic.audit import Action, audit_record, changed_fields_summary, created_fields_summary
from clinic.models import Chair, Closure, Location, OpeningHours, User

Errors = dict[str, list[str]]


# --- Locations ---------------------------------------------------------------------------


class LocationDetails(TypedDict, total=False):
    name: str
    address_line1: str
    address_line2: str
    city: str
    region: str
    postal_code: str
    country: str
    phone: str
    email: str
    on_call_email: str
    time_zone: str


LOCATION_FIELDS = frozenset(LocationDetails.__annotations__)


@transaction.atomic
def location_create(
    *,
    actor: User | None,
    name: str,
    address_line1: str,
    city: str,
    phone: str,
    time_zone: str,
    address_line2: str = "",
    region: str = "",
    postal_code: str = "",
    country: str = "US",
    email: str = "",
    on_call_email: str = "",
    request: HttpRequest | None = None,
) -> Location:
    location = Location(
        name=name.strip(),
        address_line1=address_line1.strip(),
        address_line2=address_line2.strip(),
        city=city.strip(),
        region=region.strip(),
        postal_code=postal_code.strip(),
        country=country.strip().upper(),
        phone=phone.strip(),
        email=email.strip(),
        on_call_email=on_call_email.strip(),
        time_zone=time_zone.strip(),
    )
    _validate_location(location)
    _save_location(location)
    filled = [field for field in sorted(LOCATION_FIELDS) if getattr(location, field)]
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=location,
        summary=created_fields_summary(filled),
        request=request,
    )
    return location


@transaction.atomic
def location_update(
    *,
    actor: User | None,
    location: Location,
    request: HttpRequest | None = None,
    **changes: Unpack[LocationDetails],
) -> Location:
    """Change some of a location's details; returns the saved location.

    The caller's ``location`` object is left as it was if validation fails.
    """
    unknown = set(changes) - LOCATION_FIELDS
    if unknown:
        raise TypeError(f"location_update() got unexpected fields: {', '.join(sorted(unknown))}")
    current = Location.objects.select_for_update().get(pk=location.pk)
    changed = []
    for field, value in changes.items():
        value = value.strip()
        if field == "country":
            value = value.upper()
        if getattr(current, field) != value:
            setattr(current, field, value)
            changed.append(field)
    if not changed:
        return current
    _validate_location(current)
    _save_location(current, update_fields=changed)
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=current,
        summary=changed_fields_summary(changed),
        request=request,
    )
    return current


@transaction.atomic
def location_set_active(
    *,
    actor: User | None,
    location: Location,
    is_active: bool,
    request: HttpRequest | None = None,
) -> Location:
    """Deactivate a location (it disappears for everyone but clinic admins) or bring it back.

    Locations are never deleted: chairs, and later appointments, point at them.
    """
    current = Location.objects.select_for_update().get(pk=location.pk)
    if current.is_active == is_active:
        return current
    _active_save(actor=actor, row=current, is_active=is_active, request=request)
    return current


def _active_save(
    *, actor: User | None, row: Location | Chair, is_active: bool, request: HttpRequest | None
) -> None:
    """Save the location's or chair's new ``is_active``, and audit it."""
    row.is_active = is_active
    row.save(update_fields=["is_active"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=row,
        summary=("reactivated" if is_active else "deactivated") + ": changed is_active",
        request=request,
    )


def _validate_location(location: Location) -> None:
    errors: Errors = {}
    try:
        # Uniqueness is checked below, case-blind and with a clearer message.
        location.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        errors = exc.message_dict
    if "name" not in errors and _location_name_taken(location):
        errors["name"] = [
            f"There is already a location called {location.name}. Choose a different name."
        ]
    if "country" not in errors and not re.fullmatch(r"[A-Z]{2}", location.country):
        errors["country"] = ["Enter the two-letter country code, e.g. US or CA."]
    if errors:
        raise ValidationError(errors)


def _location_name_taken(location: Location) -> bool:
    others = Location.objects.filter(name__iexact=location.name)
    if location.pk is not None:
        others = others.exclude(pk=location.pk)
    return others.exists()


def _save_location(location: Location, update_fields: list[str] | None = None) -> None:
    # Two admins saving the same new name at once: the unique constraint decides, and the
    # loser gets the same message as if the check above had caught it.
    try:
        with transaction.atomic():
            location.save(update_fields=update_fields)
    except IntegrityError as exc:
        raise ValidationError(
            {"name": f"There is already a location called {location.name}. Choose another name."}
        ) from exc


# --- Opening hours ------------------------------------------------------------------------

# For each weekday (0 = Monday), the opening and closing time, or None when closed all day.
WeeklyHours = Mapping[int, tuple[time, time] | None]


@transaction.atomic
def location_set_opening_hours(
    *,
    actor: User | None,
    location: Location,
    hours: WeeklyHours,
    request: HttpRequest | None = None,
) -> list[OpeningHours]:
    """Set the opening hours of the weekdays in ``hours``; other weekdays stay as they are.

    Validation errors are keyed by the weekday's lower-case English name ("monday").
    Returns the location's opening hours for the whole week after the change.
    """
    errors: Errors = {}
    for weekday, times in hours.items():
        label = OpeningHours.Weekday(weekday).label
        if times is None:
            continue
        opens_at, closes_at = times
        if closes_at <= opens_at:
            errors[label.lower()] = [
                f"On {label} the closing time ({closes_at:%H:%M}) is not after the opening "
                f"time ({opens_at:%H:%M}). Enter a closing time later than the opening time, "
                f"or mark {label} as closed."
            ]
    if errors:
        raise ValidationError(errors)

    locked = Location.objects.select_for_update().get(pk=location.pk)
    existing = {row.weekday: row for row in locked.opening_hours.all()}
    changed_days = []
    for weekday, times in sorted(hours.items()):
        row = existing.get(weekday)
        if times is None:
            if row is not None:
                row.delete()
                del existing[weekday]
                changed_days.append(weekday)
            continue
        opens_at, closes_at = times
        if row is None:
            existing[weekday] = OpeningHours.objects.create(
                location=locked, weekday=weekday, opens_at=opens_at, closes_at=closes_at
            )
            changed_days.append(weekday)
        elif (row.opens_at, row.closes_at) != (opens_at, closes_at):
            row.opens_at, row.closes_at = opens_at, closes_at
            row.save(update_fields=["opens_at", "closes_at"])
            changed_days.append(weekday)
    if changed_days:
        days = ", ".join(OpeningHours.Weekday(day).label.lower() for day in changed_days)
        audit_record(
            actor=actor,
            action=Action.UPDATE,
            target=locked,
            summary=f"changed opening hours: {days}",
            request=request,
        )
    return [existing[day] for day in sorted(existing)]


# --- Closures -----------------------------------------------------------------------------


@transaction.atomic
def closure_add(
    *,
    actor: User | None,
    location: Location,
    starts_on: date,
    ends_on: date,
    reason: str,
    request: HttpRequest | None = None,
) -> Closure:
    """Close a location for whole days, ``starts_on`` to ``ends_on`` inclusive."""
    locked = Location.objects.select_for_update().get(pk=location.pk)
    closure = Closure(location=locked, starts_on=starts_on, ends_on=ends_on, reason=reason.strip())
    errors: Errors = {}
    try:
        # The date order is checked below with a message people can act on.
        closure.full_clean(validate_constraints=False)
    except ValidationError as exc:
        errors = exc.message_dict
    if not errors and ends_on < starts_on:
        errors["ends_on"] = [
            f"The closure ends on {ends_on:%b %d, %Y}, before it starts on "
            f"{starts_on:%b %d, %Y}. Enter an end date on or after the start date."
        ]
    if not errors:
        overlapping = locked.closures.filter(starts_on__lte=ends_on, ends_on__gte=starts_on).first()
        if overlapping is not None:
            errors["starts_on"] = [
                f"{locked.name} is already closed then ({overlapping}). Choose other dates, "
                "or remove that closure first."
            ]
    if errors:
        raise ValidationError(errors)
    closure.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=closure,
        summary="created with starts_on, ends_on, reason",
        request=request,
    )
    return closure


@transaction.atomic
def closure_remove(
    *, actor: User | None, closure: Closure, request: HttpRequest | None = None
) -> None:
    # Recorded first: after the delete the closure no longer has an id to record.
    audit_record(
        actor=actor, action=Action.DELETE, target=closure, summary="removed", request=request
    )
    Closure.objects.filter(pk=closure.pk).delete()


# --- Chairs -------------------------------------------------------------------------------


@transaction.atomic
def chair_create(
    *, actor: User | None, location: Location, name: str, request: HttpRequest | None = None
) -> Chair:
    # Locking the location makes the name check and the insert one step for each location.
    locked = Location.objects.select_for_update().get(pk=location.pk)
    chair = Chair(location=locked, name=name.strip())
    _validate_chair(chair)
    chair.save()
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=chair,
        summary="created with name, location",
        request=request,
    )
    return chair


@transaction.atomic
def chair_update(
    *, actor: User | None, chair: Chair, name: str, request: HttpRequest | None = None
) -> Chair:
    """Rename a chair. The caller's ``chair`` object is left as it was if validation fails."""
    Location.objects.select_for_update().get(pk=chair.location_id)
    current = Chair.objects.select_related("location").get(pk=chair.pk)
    name = name.strip()
    if current.name == name:
        return current
    current.name = name
    _validate_chair(current)
    current.save(update_fields=["name"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=current,
        summary=changed_fields_summary(["name"]),
        request=request,
    )
    return current


@transaction.atomic
def chair_set_active(
    *, actor: User | None, chair: Chair, is_active: bool, request: HttpRequest | None = None
) -> Chair:
    """Take a chair out of use or bring it back. Chairs are never deleted: appointments
    and infusion records point at them."""
    current = Chair.objects.select_for_update().select_related("location").get(pk=chair.pk)
    if current.is_active == is_active:
        return current
    if is_active and not current.location.is_active:
        raise ValidationError(
            {
                NON_FIELD_ERRORS: [
                    f"{current.location.name} is deactivated. Reactivate the location before "
                    "bringing its chairs back into use."
                ]
            }
        )
    _active_save(actor=actor, row=current, is_active=is_active, request=request)
    return current


def _validate_chair(chair: Chair) -> None:
    errors: Errors = {}
    try:
        # The per-location name rule is checked below, case-blind and with a clearer message.
        chair.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        errors = exc.message_dict
    location = chair.location
    if not location.is_active:
        errors.setdefault(NON_FIELD_ERRORS, []).append(
            f"{location.name} is deactivated. Reactivate the location before adding or "
            "renaming its chairs."
        )
    if "name" not in errors:
        same_name = location.chairs.filter(name__iexact=chair.name)
        if chair.pk is not None:
            same_name = same_name.exclude(pk=chair.pk)
        clash = same_name.first()
        if clash is not None:
            status = "" if clash.is_active else " (deactivated)"
            errors["name"] = [
                f"{location.name} already has a chair called {clash.name}{status}. Choose a "
                "different name" + ("." if clash.is_active else ", or reactivate that chair.")
            ]
    if errors:
        raise ValidationError(errors)
