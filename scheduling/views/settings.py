"""Scheduling settings for clinic admins: who works when at a location (staff shifts), and
how long each appointment type takes. The rules are ``scheduling.shifts``'; these views pass
input to it and show its messages next to the fields they concern.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from clinic.forms import show_service_errors
from clinic.models import Location, OpeningHours, User
from clinic.permissions import Capability, capability_required
from clinic.roles import Role
from clinic.selectors import location_for
from scheduling.forms_settings import AppointmentTypeForm, ShiftForm, ShiftHoursForm
from scheduling.models import AppointmentType, StaffShift
from scheduling.shifts import (
    CLINICIAN_ROLES,
    ONLINE_KINDS,
    WEEKDAY_NAMES,
    ShiftChange,
    appointment_type_update,
    appointments_outside_hours,
    location_shifts,
    shift_remove,
    shift_set,
)

MANAGE = Capability.MANAGE_LOCATIONS


def _shifts_url(location: Location) -> str:
    return reverse("scheduling:shifts", args=[location.public_id])


# --- The week at a location ------------------------------------------------------------------


@dataclass(frozen=True)
class _Day:
    weekday: int
    name: str
    hours: OpeningHours | None


@dataclass(frozen=True)
class _Cell:
    day: _Day
    shift: StaffShift | None

    @property
    def outside_hours(self) -> bool:
        """Whether part of the shift falls outside the opening hours, when nothing is booked."""
        if self.shift is None:
            return False
        hours = self.day.hours
        return (
            hours is None
            or self.shift.starts_at < hours.opens_at
            or self.shift.ends_at > hours.closes_at
        )


@dataclass(frozen=True)
class _Row:
    staff: User
    cells: list[_Cell]

    @property
    def offered(self) -> bool:
        """Whether appointments are booked into these shifts: only an active clinician's."""
        return self.staff.is_active and any(role in self.staff.roles for role in CLINICIAN_ROLES)


def _week(location: Location) -> tuple[list[_Day], list[_Row], list[str]]:
    """The weekdays with their opening hours, a row of shifts for each person working at
    ``location``, and the open days on which no nurse or no physician works (two queries)."""
    hours = {row.weekday: row for row in location.opening_hours.all()}
    days = [_Day(weekday, name, hours.get(weekday)) for weekday, name in enumerate(WEEKDAY_NAMES)]
    by_staff: dict[int, dict[int, StaffShift]] = {}
    staff: dict[int, User] = {}
    for shift in location_shifts(location):
        staff[shift.staff_id] = shift.staff
        by_staff.setdefault(shift.staff_id, {})[shift.weekday] = shift
    rows = [
        _Row(member, [_Cell(day, by_staff[pk].get(day.weekday)) for day in days])
        for pk, member in staff.items()
    ]
    gaps = []
    for day in days:
        if day.hours is None:
            continue
        working = {
            role
            for row in rows
            if row.offered and row.cells[day.weekday].shift is not None
            for role in row.staff.roles
        }
        missing = [role for role in CLINICIAN_ROLES if role not in working]
        if missing:
            who = " or ".join(Role(role).label.lower() for role in missing)
            gaps.append(f"{day.name}: no {who} works then")
    return days, rows, gaps


def _report(request: HttpRequest, location: Location, staff: User, change: ShiftChange) -> None:
    shift = change.shift
    if shift is None:
        messages.success(
            request,
            f"{staff} no longer works at {location.name} on {WEEKDAY_NAMES[change.weekday]}s.",
        )
    else:
        day = shift.get_weekday_display()
        hours = f"{shift.starts_at:%H:%M}–{shift.ends_at:%H:%M}"
        if change.created:
            text = f"{staff} now works at {location.name} on {day}s, {hours}."
        elif change.changed:
            text = f"{staff}'s {day} hours at {location.name} are now {hours}."
        else:
            text = f"{staff} already works at {location.name} on {day}s, {hours}: nothing changed."
        messages.success(request, text)
    count = change.appointments_outside
    if count:
        hours_now = "hours" if shift is not None else "shifts"
        messages.warning(
            request,
            f"{count} future appointment{'s' if count != 1 else ''} with {staff} at "
            f"{location.name} on {WEEKDAY_NAMES[change.weekday]}s "
            f"{'fall' if count != 1 else 'falls'} outside their {hours_now} now. "
            f"{'They stay' if count != 1 else 'It stays'} booked: reschedule "
            f"{'them' if count != 1 else 'it'} from the schedule, or give {staff} the hours "
            "back.",
        )


@capability_required(MANAGE)
def shifts(request: HttpRequest, location_id: uuid.UUID) -> HttpResponse:
    """The week's shifts at a location, and the form to add one (or change someone's hours
    on a day they already work)."""
    location = location_for(request.user, location_id, to_manage=True)
    form = ShiftForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        staff = form.cleaned_data["staff"]
        try:
            change = shift_set(
                actor=request.user, location=location, request=request, **form.cleaned_data
            )
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            _report(request, location, staff, change)
            return redirect(_shifts_url(location))
    days, rows, gaps = _week(location)
    context = {"location": location, "form": form, "days": days, "rows": rows, "gaps": gaps}
    return render(request, "scheduling/settings/shifts.html", context)


def _shift_for(user: User, location_id: uuid.UUID, staff_id: uuid.UUID, weekday: int) -> StaffShift:
    """One shift at a location the user may manage, or 404."""
    location = location_for(user, location_id, to_manage=True)
    shift = (
        location.shifts.select_related("staff")
        .filter(staff__public_id=staff_id, weekday=weekday)
        .first()
    )
    if shift is None:
        raise Http404("That person has no shift at this location on that day.")
    shift.location = location
    return shift


@capability_required(MANAGE)
def shift_edit(
    request: HttpRequest, location_id: uuid.UUID, staff_id: uuid.UUID, weekday: int
) -> HttpResponse:
    shift = _shift_for(request.user, location_id, staff_id, weekday)
    location = shift.location
    form = ShiftHoursForm(
        request.POST or None, initial={"starts_at": shift.starts_at, "ends_at": shift.ends_at}
    )
    if request.method == "POST" and form.is_valid():
        try:
            change = shift_set(
                actor=request.user,
                location=location,
                staff=shift.staff,
                weekday=shift.weekday,
                request=request,
                **form.cleaned_data,
            )
        except ValidationError as exc:
            show_service_errors(form, exc)
        else:
            _report(request, location, shift.staff, change)
            return redirect(_shifts_url(location))
    return render(
        request,
        "scheduling/settings/shift_edit.html",
        {"form": form, "shift": shift, "location": location},
    )


@capability_required(MANAGE)
def shift_remove_view(
    request: HttpRequest, location_id: uuid.UUID, staff_id: uuid.UUID, weekday: int
) -> HttpResponse:
    """Confirm (saying how many booked appointments the shift still holds), then remove."""
    shift = _shift_for(request.user, location_id, staff_id, weekday)
    location = shift.location
    if request.method == "POST":
        change = shift_remove(actor=request.user, shift=shift, request=request)
        _report(request, location, shift.staff, change)
        return redirect(_shifts_url(location))
    booked = appointments_outside_hours(location=location, staff=shift.staff, weekday=shift.weekday)
    return render(
        request,
        "scheduling/settings/shift_remove.html",
        {"shift": shift, "location": location, "booked": booked},
    )


# --- Appointment types -----------------------------------------------------------------------


@capability_required(MANAGE)
def appointment_types(request: HttpRequest) -> HttpResponse:
    """The appointment types, each with its own small form: minutes, recovery, online."""
    types = list(AppointmentType.objects.order_by("id"))
    posted = request.POST.get("kind") if request.method == "POST" else None
    problem = ""
    if posted is not None and posted not in {kind.kind for kind in types}:
        problem = "That appointment type doesn't exist: change one of the types below."
    entries = []
    for kind in types:
        form = AppointmentTypeForm(
            request.POST if posted == kind.kind else None,
            prefix=kind.kind,
            initial={
                "duration_minutes": kind.duration_minutes,
                "recovery_minutes": kind.recovery_minutes,
                "bookable_online": kind.bookable_online,
            },
        )
        if posted == kind.kind and form.is_valid():
            try:
                saved = appointment_type_update(
                    actor=request.user, appointment_type=kind, request=request, **form.cleaned_data
                )
            except ValidationError as exc:
                show_service_errors(form, exc)
            else:
                messages.success(request, _saved_text(kind, saved))
                return redirect(reverse("scheduling:appointment-types"))
        entries.append((kind, form, kind.kind in ONLINE_KINDS))
    context = {"entries": entries, "problem": problem}
    status = 400 if problem else 200
    return render(request, "scheduling/settings/appointment_types.html", context, status=status)


def _saved_text(before: AppointmentType, after: AppointmentType) -> str:
    if (before.duration_minutes, before.recovery_minutes, before.bookable_online) == (
        after.duration_minutes,
        after.recovery_minutes,
        after.bookable_online,
    ):
        return f"{after.name}: nothing changed."
    recovery = (
        f" and {after.recovery_minutes} minutes of recovery" if after.recovery_minutes else ""
    )
    online = ""
    if before.bookable_online != after.bookable_online:
        online = (
            " Patients can book it online."
            if after.bookable_online
            else " Patients can no longer book it online: the booking page asks them to call."
        )
    return (
        f"{after.name} saved: new bookings take {after.duration_minutes} minutes{recovery}. "
        f"Appointments already booked keep their times.{online}"
    )
