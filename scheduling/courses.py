"""Treatment courses: planning an induction series, booking it whole, boosters, and the end.

A course is an induction series of ``planned_infusions`` infusions (4 to 10, six by default),
all within ``window_days`` (14 to 28) of the first, at least ``min_gap_hours`` (24 or more)
apart (DOMAIN.md, "The patient's path" 5 and 6), then single booster infusions as needed.

- ``course_plan`` proposes concrete times. It reads availability once for the whole search
  (``scheduling.availability.free_slots``, which already knows opening hours, shifts, chairs,
  nurse capacity and the patient's other appointments) and then only arranges those slots:
  the earliest start, spread at about three a week, the same time of day where it can, and
  on the patient's preferred days and times first. It never silently plans fewer: a plan
  that falls short says so, and one that had to leave the preferences says which infusions.
- ``course_create`` books the whole series through ``scheduling.services.appointment_book``
  in one transaction: all or nothing, each refusal naming its infusion, with alternatives.
- ``course_book_booster``, ``course_complete`` and ``course_discontinue`` move the course on:
  planned → induction (booked) → maintenance (first booster) → completed, or discontinued
  with a reason at any point (the appointments still to come are cancelled).

Booking rules themselves (who may be booked when) live in ``scheduling.services`` and
``scheduling.availability`` only; this module never re-implements them.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.http import Http404, HttpRequest
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import Location, User
from clinic.permissions import Capability, require, user_can
from patients.messages import message_base_url
from patients.models import Patient
from patients.services.consent import infusion_start_allowed
from patients.services.screening import course_scheduling_allowed
from scheduling.availability import Slot, free_slots, nearest_free_slots, wall_clock_instants
from scheduling.message_queue import course_schedule_enqueue
from scheduling.models import (
    BLOCKING,
    Appointment,
    AppointmentKind,
    AppointmentStatus,
    AppointmentType,
    TreatmentCourse,
)
from scheduling.services.book_and_reschedule import appointment_book
from scheduling.services.free_time import SlotTaken
from scheduling.services.status_changes import appointment_cancel

Errors = dict[str, list[str]]
State = TreatmentCourse.State

# The ranges DOMAIN.md allows (the settings' own limits).
INFUSIONS_MIN, INFUSIONS_MAX = 4, 10
WINDOW_MIN, WINDOW_MAX = 14, 28
GAP_MIN, GAP_MAX = 24, 168
# The pace clinics describe for an induction series: three infusions a week.
PACE_DAYS = 7 / 3
# Weeks between boosters when settings.COURSE_BOOSTER_INTERVAL_DAYS is not set.
DEFAULT_BOOSTER_INTERVAL_DAYS = 28
DISCONTINUE_REASON_MAX_LENGTH = Appointment._meta.get_field("cancel_reason").max_length
ALTERNATIVES = 3
ACTIVE_STATES = (State.PLANNED, State.INDUCTION, State.MAINTENANCE)
# An appointment that still lies ahead of the patient (not yet over, not cancelled).
UNDER_WAY = (
    AppointmentStatus.BOOKED,
    AppointmentStatus.CHECKED_IN,
    AppointmentStatus.INFUSING,
    AppointmentStatus.RECOVERING,
)
WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class CourseNotBooked(ValidationError):
    """Booking the series failed for one or more infusions, so nothing was saved.

    A ValidationError keyed ``infusion_<n>`` (n from 1, in time order) for each infusion
    that could not be booked, plus a summary under ``__all__``. ``alternatives`` maps an
    infusion's number to free times that keep the course's gaps and window; ``taken`` holds
    the numbers refused only because their time was not free (an API answers 409 then)."""

    def __init__(
        self,
        errors: Errors,
        *,
        alternatives: dict[int, list[Slot]] | None = None,
        taken: Iterable[int] = (),
    ) -> None:
        super().__init__(errors)
        self.alternatives = alternatives or {}
        self.taken = frozenset(taken)


# --- Reads ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CourseProgress:
    """How far the induction series is: discharged infusions of the planned number."""

    done: int
    planned: int

    def __str__(self) -> str:
        return f"{self.done} of {self.planned}"


def courses_visible_to(user: Any) -> QuerySet[TreatmentCourse]:
    """Courses ``user`` may see (everyone who may view the schedule), newest first, with
    patient and location joined in and ``infusions_done`` counted, in one query."""
    if not user_can(user, Capability.VIEW_SCHEDULE):
        return TreatmentCourse.objects.none()
    return (
        TreatmentCourse.objects.select_related("patient", "location", "created_by")
        .annotate(
            infusions_done=Count(
                "appointments",
                filter=Q(
                    appointments__status=AppointmentStatus.DISCHARGED,
                    appointments__appointment_type__kind=AppointmentKind.INFUSION,
                ),
            )
        )
        .order_by("-created_at", "-id")
    )


def course_for(user: Any, public_id: uuid.UUID | str) -> TreatmentCourse:
    """The course ``user`` may see; 403 without ``VIEW_SCHEDULE``, 404 if there is none."""
    require(user, Capability.VIEW_SCHEDULE)
    try:
        return courses_visible_to(user).get(public_id=public_id)
    except (TreatmentCourse.DoesNotExist, ValueError, ValidationError):
        raise Http404("No such treatment course.") from None


def courses_of_patient(user: Any, patient: Patient) -> QuerySet[TreatmentCourse]:
    """``patient``'s courses for their chart, newest first; ``course_progress`` of each
    needs no further query."""
    return courses_visible_to(user).filter(patient=patient)


def course_progress(course: TreatmentCourse) -> CourseProgress:
    """Discharged induction infusions of the planned number ("3 of 6"); boosters do not
    count. Runs a query unless the course came from ``courses_visible_to``."""
    done = getattr(course, "infusions_done", None)
    if done is None:
        done = course.appointments.filter(
            status=AppointmentStatus.DISCHARGED,
            appointment_type__kind=AppointmentKind.INFUSION,
        ).count()
    return CourseProgress(done=done, planned=course.planned_infusions)


def course_appointments(course: TreatmentCourse) -> list[Appointment]:
    """Every appointment of the course in time order, cancelled ones included, with type,
    chair and clinician joined in (one query)."""
    return list(
        course.appointments.select_related("appointment_type", "chair", "clinician").order_by(
            "starts_at", "id"
        )
    )


def course_future_appointments(course: TreatmentCourse) -> list[Appointment]:
    """The course's booked appointments still to come: what discontinuing it cancels."""
    return list(
        course.appointments.filter(status=AppointmentStatus.BOOKED, starts_at__gt=timezone.now())
        .select_related("appointment_type", "location", "patient")
        .order_by("starts_at", "id")
    )


def course_refusals(patient: Patient) -> list[str]:
    """Why no course may be planned for ``patient`` now (empty when one may): a current,
    approved screening decision and the current consent form signed are both needed
    (ARCHITECTURE.md invariant 2), and one course at a time."""
    refusals = []
    allowed, reason = course_scheduling_allowed(patient)
    if not allowed:
        refusals.append(f"Screening: {reason}")
    allowed, reason = infusion_start_allowed(patient)
    if not allowed:
        refusals.append(f"Consent: {reason}")
    active = course_active(patient)
    if active is not None:
        refusals.append(
            f"The patient already has a course ({active.get_state_display().lower()}, "
            f"started {_day(active.created_at.astimezone(active.location.tz).date())}): open "
            "it, and complete or discontinue it before planning another."
        )
    return refusals


def course_active(patient: Patient) -> TreatmentCourse | None:
    """The patient's course that is still going (planned, induction or maintenance)."""
    return (
        TreatmentCourse.objects.filter(patient=patient, state__in=ACTIVE_STATES)
        .select_related("location")
        .order_by("-created_at")
        .first()
    )


# --- The planner -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CoursePlan:
    """Proposed infusion times for a course, earliest first.

    ``shortfall`` says why fewer than ``planned_infusions`` are proposed (empty when all of
    them are); ``notice`` says when some times had to leave the patient's preferences, and
    ``outside_preferences`` holds those start times."""

    slots: list[Slot]
    planned_infusions: int
    window_days: int
    min_gap_hours: int
    start_date: date
    shortfall: str = ""
    notice: str = ""
    outside_preferences: frozenset[datetime] = frozenset()

    @property
    def is_complete(self) -> bool:
        return len(self.slots) == self.planned_infusions

    def fits_preferences(self, slot: Slot) -> bool:
        return slot.starts_at not in self.outside_preferences


@dataclass(frozen=True)
class _Preferences:
    weekdays: frozenset[int]
    after: time | None
    before: time | None

    @property
    def given(self) -> bool:
        return bool(self.weekdays) or self.after is not None or self.before is not None

    def allow(self, slot: Slot) -> bool:
        local = slot.local_start
        if self.weekdays and local.weekday() not in self.weekdays:
            return False
        if self.after is not None and local.time() < self.after:
            return False
        return self.before is None or local.time() < self.before


def course_plan(
    *,
    patient: Patient,
    location: Location,
    planned_infusions: int | None = None,
    window_days: int | None = None,
    min_gap_hours: int | None = None,
    start_date: date | None = None,
    preferred_weekdays: Sequence[int] = (),
    preferred_after: time | None = None,
    preferred_before: time | None = None,
    strict_preferences: bool = False,
) -> CoursePlan:
    """Propose ``planned_infusions`` infusion times at ``location`` for ``patient``, the
    first on or after ``start_date`` (the location's tomorrow by default) and within its
    first ``window_days`` days, all within ``window_days`` of the first, at least
    ``min_gap_hours`` apart. Defaults come from the COURSE_* settings.

    Preferred weekdays (0 = Monday) and start times (at or after ``preferred_after``, before
    ``preferred_before``, local) are kept if the whole course fits them; otherwise the plan
    uses other times too and says so in ``notice`` (or, with ``strict_preferences``, stops
    at what fits and says so in ``shortfall``). Raises ValidationError for settings out of
    range. A read: about five queries, whatever the number of appointments."""
    planned_infusions = _or_setting(planned_infusions, "COURSE_DEFAULT_INFUSIONS")
    window_days = _or_setting(window_days, "COURSE_WINDOW_DAYS")
    min_gap_hours = _or_setting(min_gap_hours, "COURSE_MIN_GAP_HOURS")
    tomorrow = location.local_now().date() + timedelta(days=1)
    start_date = start_date or tomorrow
    errors = _settings_errors(planned_infusions, window_days, min_gap_hours)
    if start_date < location.local_now().date():
        _add(errors, "start_date", "That date has passed: start today or later.")
    weekdays = list(preferred_weekdays)
    if not all(isinstance(day, int) and 0 <= day <= 6 for day in weekdays):
        _add(errors, "preferred_weekdays", "Weekdays go from 0 (Monday) to 6 (Sunday).")
    if preferred_after and preferred_before and preferred_before <= preferred_after:
        _add(
            errors,
            "preferred_before",
            f"“Before {preferred_before:%H:%M}” must be later than “from "
            f"{preferred_after:%H:%M}”: widen the times.",
        )
    if errors:
        raise ValidationError(errors)
    preferences = _Preferences(frozenset(weekdays), preferred_after, preferred_before)
    # The first infusion may fall anywhere in the first window, and the course then runs a
    # window from it: read every slot that could be used, once.
    slots = free_slots(
        location=location,
        appointment_type=_infusion_type(AppointmentKind.INFUSION),
        start_date=start_date,
        end_date=start_date + timedelta(days=2 * window_days - 2),
        patient=patient,
    )
    search = _Search(
        count=planned_infusions,
        window_days=window_days,
        gap=timedelta(hours=min_gap_hours),
        last_first_day=start_date + timedelta(days=window_days - 1),
    )
    plan = CoursePlan(
        slots=[],
        planned_infusions=planned_infusions,
        window_days=window_days,
        min_gap_hours=min_gap_hours,
        start_date=start_date,
    )

    def only(found: int) -> str:
        return _how_many_fit(found, planned_infusions, window_days)

    if preferences.given:
        preferred = search.run([slot for slot in slots if preferences.allow(slot)])
        if len(preferred) == planned_infusions:
            return _replace(plan, slots=preferred)
        shortfall = f"{only(len(preferred))} with these preferences: widen the days or times."
        if strict_preferences:
            return _replace(plan, slots=preferred, shortfall=shortfall)
        anything = search.run(slots)
        if len(anything) <= len(preferred):
            return _replace(plan, slots=preferred, shortfall=shortfall)
        outside = frozenset(slot.starts_at for slot in anything if not preferences.allow(slot))
        notice = (
            f"{only(len(preferred))} with these preferences, so this plan also uses "
            f"other days or times ({len(outside)} marked “outside preferences”): change them "
            "below, or widen the preferences and plan again."
        )
        plan = _replace(plan, slots=anything, notice=notice, outside_preferences=outside)
    else:
        plan = _replace(plan, slots=search.run(slots))
    if not plan.is_complete:
        found = len(plan.slots)
        plan = _replace(
            plan,
            shortfall=(
                f"{only(found)} at {location.name} "
                f"from {_day(start_date)}: choose a later start date, a longer window or "
                "fewer infusions, or another location."
            ),
        )
    return plan


@dataclass(frozen=True)
class _Search:
    """Arranges free slots into a course: the earliest first day that can hold the whole
    course, at the widest spacing that fits (about three a week, down to the minimum gap)."""

    count: int
    window_days: int
    gap: timedelta
    last_first_day: date

    def run(self, slots: list[Slot]) -> list[Slot]:
        """The best sequence: complete if any is, else the longest (earliest on a tie)."""
        by_day: dict[date, list[Slot]] = defaultdict(list)
        for slot in slots:
            by_day[slot.local_start.date()].append(slot)
        best: list[Slot] = []
        for first_day in sorted(day for day in by_day if day <= self.last_first_day):
            first = by_day[first_day][0]
            for spacing in self._spacings():
                chosen = self._sequence(by_day, first, spacing)
                if len(chosen) == self.count:
                    return chosen
                if len(chosen) > len(best):
                    best = chosen
        return best

    def _spacings(self) -> list[float]:
        """Days between infusions to try, widest first. Three a week unless the window is
        too short for it; the minimum gap, and then back to back, only when needed."""
        gap_days = self.gap / timedelta(days=1)
        target = max(min(PACE_DAYS, (self.window_days - 1) / max(self.count - 1, 1)), gap_days)
        steps = [target, (2 * target + gap_days) / 3, (target + 2 * gap_days) / 3, gap_days, 0]
        return sorted(set(steps), reverse=True)

    def _sequence(self, by_day: dict[date, list[Slot]], first: Slot, spacing: float) -> list[Slot]:
        """From ``first``, each next infusion on the first day it can have that is no
        earlier than its place on the ``spacing`` grid nor ``spacing`` days after the one
        before, at least the minimum gap later, at the time of day nearest the first's."""
        first_day = first.local_start.date()
        last_day = first_day + timedelta(days=self.window_days - 1)
        wanted = _minutes(first.local_start.time())
        chosen = [first]
        for number in range(1, self.count):
            previous = chosen[-1]
            day = max(
                first_day + timedelta(days=math.floor(number * spacing + 0.5)),
                previous.local_start.date() + timedelta(days=math.floor(spacing)),
            )
            not_before = previous.starts_at + self.gap
            found = None
            while found is None and day <= last_day:
                options = [slot for slot in by_day.get(day, ()) if slot.starts_at >= not_before]
                if options:
                    found = min(
                        options,
                        key=lambda slot: (
                            abs(_minutes(slot.local_start.time()) - wanted),
                            slot.starts_at,
                        ),
                    )
                day += timedelta(days=1)
            if found is None:
                break
            chosen.append(found)
        return chosen


# --- Booking a course ---------------------------------------------------------------------


@transaction.atomic
def course_create(
    *,
    actor: User,
    patient: Patient,
    location: Location,
    starts: Sequence[datetime],
    planned_infusions: int,
    window_days: int,
    min_gap_hours: int,
    request: HttpRequest | None = None,
) -> TreatmentCourse:
    """Create a course and book every one of its infusions at ``starts`` (aware; numbered in
    time order), all or nothing.

    Refused (ValidationError, nothing saved) without a current approved screening decision
    or a signed consent, while the patient has another course going, for settings out of
    range, or for times that are not ``planned_infusions`` future times within the window
    and at least the minimum gap apart. If any infusion cannot be booked, raises
    ``CourseNotBooked`` naming each one, with alternatives, and nothing is saved."""
    require(actor, Capability.MANAGE_COURSES)
    errors = _settings_errors(planned_infusions, window_days, min_gap_hours)
    for refusal in course_refusals(patient):
        _add(errors, "patient", refusal)
    if not location.is_active:
        _add(errors, "location", f"{location.name} is not taking bookings: choose another one.")
    ordered = sorted(starts, key=_sort_key)
    if not errors:
        errors.update(
            _starts_errors(
                ordered,
                location=location,
                planned_infusions=planned_infusions,
                window_days=window_days,
                min_gap_hours=min_gap_hours,
            )
        )
    if errors:
        raise ValidationError(errors)
    # One course at a time per patient: a second request for the same patient waits here,
    # then sees the first one's course and is refused.
    Patient.objects.select_for_update().only("pk").get(pk=patient.pk)
    if course_active(patient) is not None:
        raise ValidationError({"patient": course_refusals(patient)})
    infusion = _infusion_type(AppointmentKind.INFUSION)
    course = TreatmentCourse.objects.create(
        patient=patient,
        location=location,
        state=State.PLANNED,
        planned_infusions=planned_infusions,
        window_days=window_days,
        min_gap_hours=min_gap_hours,
        created_by=actor,
    )
    audit_record(
        actor=actor,
        action=Action.CREATE,
        target=course,
        summary=f"created a course of {planned_infusions} infusions for patient "
        f"{patient.public_id}",
        request=request,
    )
    failed: Errors = {}
    alternatives: dict[int, list[Slot]] = {}
    taken: list[int] = []
    for number, starts_at in enumerate(ordered, start=1):
        label = f"Infusion {number} on {_when(starts_at, location)}"
        try:
            # Each booking runs in its own savepoint: a refusal undoes only that one, so
            # every infusion is tried and all the problems are reported at once.
            appointment_book(
                actor=actor,
                patient=patient,
                location=location,
                appointment_type=infusion,
                starts_at=starts_at,
                course=course,
                request=request,
            )
        except SlotTaken as error:
            # "10:00 on Mon 7 Dec 2026 is not free…" names the time itself.
            said = f"Infusion {number}" if error.message[:1].isdigit() else label
            failed[f"infusion_{number}"] = [f"{said}: {_lower_first(error.message)}"]
            taken.append(number)
            alternatives[number] = _course_alternatives(
                course=course, ordered=ordered, number=number, infusion=infusion
            )
        except ValidationError as error:
            failed[f"infusion_{number}"] = [
                f"{label}: {_lower_first(message)}" for message in error.messages
            ]
    if failed:
        count = len(failed)
        failed[NON_FIELD_ERRORS] = [
            f"Nothing was booked: {count} of the {planned_infusions} infusions could not be "
            f"booked. Change the {'time' if count == 1 else 'times'} marked below and confirm "
            "again."
        ]
        # Raising undoes the course and every booking made above.
        raise CourseNotBooked(failed, alternatives=alternatives, taken=taken)
    course.state = State.INDUCTION
    course.save(update_fields=["state"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=course,
        summary=f"booked {planned_infusions} infusions for patient {patient.public_id}: "
        "changed state",
        request=request,
    )
    # One message with every date (and an .ics of them all), in this transaction.
    course_schedule_enqueue(course, base_url=message_base_url(request))
    return course


def _starts_errors(
    ordered: list[datetime],
    *,
    location: Location,
    planned_infusions: int,
    window_days: int,
    min_gap_hours: int,
) -> Errors:
    errors: Errors = {}
    if len(ordered) != planned_infusions:
        _add(
            errors,
            "starts",
            f"The course has {planned_infusions} infusions but {len(ordered)} times were "
            f"given: give a time for each of the {planned_infusions}.",
        )
        return errors
    if any(not isinstance(s, datetime) or timezone.is_naive(s) for s in ordered):
        _add(errors, "starts", "Give every infusion's date and time with a time zone.")
        return errors
    now = timezone.now()
    gap = timedelta(hours=min_gap_hours)
    first_day = ordered[0].astimezone(location.tz).date()
    for number, starts_at in enumerate(ordered, start=1):
        key = f"infusion_{number}"
        label = f"Infusion {number} on {_when(starts_at, location)}"
        if starts_at <= now:
            _add(errors, key, f"{label}: that time has passed. Choose a later one.")
            continue
        if number > 1:
            previous = ordered[number - 2]
            if starts_at - previous < gap:
                hours = (starts_at - previous) / timedelta(hours=1)
                _add(
                    errors,
                    key,
                    f"{label} is {_hours(hours)} after infusion {number - 1} "
                    f"({_when(previous, location)}): infusions must be at least "
                    f"{min_gap_hours} hours apart. Choose a later time.",
                )
        days = (starts_at.astimezone(location.tz).date() - first_day).days
        if days >= window_days:
            _add(
                errors,
                key,
                f"{label} is on day {days + 1} of the course: all {planned_infusions} "
                f"infusions must fit within {window_days} days of the first "
                f"({_day(first_day)}). Choose an earlier time or lengthen the window.",
            )
    return errors


def _course_alternatives(
    *, course: TreatmentCourse, ordered: list[datetime], number: int, infusion: AppointmentType
) -> list[Slot]:
    """Free times near infusion ``number``'s that keep the minimum gap to its neighbours and
    the course within its window."""
    location = course.location
    gap = timedelta(hours=course.min_gap_hours)
    others = [starts_at for index, starts_at in enumerate(ordered, start=1) if index != number]
    nearby = nearest_free_slots(
        location=location,
        appointment_type=infusion,
        around=ordered[number - 1],
        patient=course.patient,
        count=4 * ALTERNATIVES,
    )
    fitting = []
    for slot in nearby:
        if any(abs(slot.starts_at - other) < gap for other in others):
            continue
        days = [s.astimezone(location.tz).date() for s in [*others, slot.starts_at]]
        if (max(days) - min(days)).days >= course.window_days:
            continue
        fitting.append(slot)
    return fitting[:ALTERNATIVES]


# --- Boosters and the end of a course --------------------------------------------------------


def course_booster_interval_days() -> int:
    """Days from the last infusion to a suggested booster (COURSE_BOOSTER_INTERVAL_DAYS,
    four weeks when not set)."""
    return int(getattr(settings, "COURSE_BOOSTER_INTERVAL_DAYS", DEFAULT_BOOSTER_INTERVAL_DAYS))


def course_last_infusion(course: TreatmentCourse) -> Appointment | None:
    """The course's latest infusion or booster that happened or is booked."""
    return (
        course.appointments.filter(BLOCKING)
        .select_related("appointment_type")
        .order_by("-starts_at", "-id")
        .first()
    )


def course_suggested_booster_date(course: TreatmentCourse) -> date | None:
    """The local date a booster would suit: the booster interval after the last infusion
    (not before tomorrow); None when the course has no infusion yet."""
    last = course_last_infusion(course)
    if last is None:
        return None
    tz = course.location.tz
    suggested = last.starts_at.astimezone(tz).date() + timedelta(
        days=course_booster_interval_days()
    )
    return max(suggested, course.location.local_now().date() + timedelta(days=1))


def course_booster_suggestions(course: TreatmentCourse, count: int = ALTERNATIVES) -> list[Slot]:
    """Free booster times nearest the suggested date, at the last infusion's time of day."""
    last = course_last_infusion(course)
    suggested = course_suggested_booster_date(course)
    if last is None or suggested is None:
        return []
    at = last.starts_at.astimezone(course.location.tz).time()
    instants = wall_clock_instants(location=course.location, day=suggested, at=at)
    if not instants:  # that time is skipped when the clocks go forward: an hour later
        later = (datetime.combine(suggested, at) + timedelta(hours=1)).time()
        instants = wall_clock_instants(location=course.location, day=suggested, at=later)
    if not instants:
        return []
    return nearest_free_slots(
        location=course.location,
        appointment_type=_infusion_type(AppointmentKind.BOOSTER),
        around=instants[0],
        patient=course.patient,
        count=count,
    )


@transaction.atomic
def course_book_booster(
    *,
    actor: User,
    course: TreatmentCourse,
    starts_at: datetime,
    request: HttpRequest | None = None,
) -> Appointment:
    """Book one booster infusion of ``course`` at ``starts_at`` (aware), once the induction
    series is over; the course is in maintenance from then on. Raises ValidationError or
    SlotTaken (with alternatives) like ``appointment_book``; nothing is saved then."""
    require(actor, Capability.MANAGE_COURSES)
    current = _locked(course)
    if current.state not in (State.INDUCTION, State.MAINTENANCE):
        raise ValidationError(
            {
                "course": [
                    f"This course is {current.get_state_display().lower()}: boosters are "
                    "booked for a course in induction or maintenance. Plan a new course instead."
                ]
            }
        )
    pending = (
        current.appointments.filter(
            status__in=UNDER_WAY, appointment_type__kind=AppointmentKind.INFUSION
        )
        .order_by("starts_at")
        .first()
    )
    if pending is not None:
        raise ValidationError(
            {
                "course": [
                    f"The induction series is not over: the infusion on "
                    f"{_when(pending.starts_at, current.location)} is still "
                    f"{AppointmentStatus(pending.status).label.lower()}. Book boosters once "
                    "every induction infusion has happened or been cancelled."
                ]
            }
        )
    if isinstance(starts_at, datetime) and timezone.is_aware(starts_at):
        gap = timedelta(hours=current.min_gap_hours)
        near = (
            current.appointments.filter(
                BLOCKING, starts_at__gt=starts_at - gap, starts_at__lt=starts_at + gap
            )
            .order_by("starts_at")
            .first()
        )
        if near is not None:
            raise ValidationError(
                {
                    "starts_at": [
                        f"The course has an infusion at {_when(near.starts_at, current.location)}"
                        f": a booster must be at least {current.min_gap_hours} hours from it. "
                        "Choose another time."
                    ]
                }
            )
    appointment = appointment_book(
        actor=actor,
        patient=current.patient,
        location=current.location,
        appointment_type=_infusion_type(AppointmentKind.BOOSTER),
        starts_at=starts_at,
        course=current,
        request=request,
    )
    if current.state == State.INDUCTION:
        _set_state(current, State.MAINTENANCE, actor=actor, request=request, why="booster booked")
        course.state = current.state
    return appointment


@transaction.atomic
def course_complete(
    *, actor: User, course: TreatmentCourse, request: HttpRequest | None = None
) -> TreatmentCourse:
    """Mark a course in induction or maintenance completed. Refused while any of its
    appointments is still to come: cancel those first, or discontinue the course."""
    require(actor, Capability.MANAGE_COURSES)
    current = _locked(course)
    if current.state not in (State.INDUCTION, State.MAINTENANCE):
        raise ValidationError(
            {
                "course": [
                    f"This course is {current.get_state_display().lower()}: only a course in "
                    "induction or maintenance can be completed."
                ]
            }
        )
    pending = current.appointments.filter(status__in=UNDER_WAY).order_by("starts_at").first()
    if pending is not None:
        raise ValidationError(
            {
                "course": [
                    f"The course still has {pending.appointment_type.name.lower()} on "
                    f"{_when(pending.starts_at, current.location)} "
                    f"({AppointmentStatus(pending.status).label.lower()}): wait until it is "
                    "over, cancel it, or discontinue the course instead."
                ]
            }
        )
    _set_state(current, State.COMPLETED, actor=actor, request=request, why="completed")
    course.state = current.state
    return current


@transaction.atomic
def course_discontinue(
    *,
    actor: User,
    course: TreatmentCourse,
    reason: str,
    request: HttpRequest | None = None,
) -> TreatmentCourse:
    """Stop a course, saying why: every booked appointment of it still to come is cancelled
    with that reason (and its time offered to the waitlist)."""
    require(actor, Capability.MANAGE_COURSES)
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError(
            {"reason": ["Say why the course stops, for example “patient moved away”."]}
        )
    if len(reason) > DISCONTINUE_REASON_MAX_LENGTH:
        raise ValidationError(
            {
                "reason": [
                    f"Keep the reason to {DISCONTINUE_REASON_MAX_LENGTH} characters (it has "
                    f"{len(reason)}): the cancelled appointments carry it too."
                ]
            }
        )
    current = _locked(course)
    if current.state not in ACTIVE_STATES:
        raise ValidationError(
            {"course": [f"This course is {current.get_state_display().lower()} already."]}
        )
    cancelled = 0
    for appointment in course_future_appointments(current):
        appointment_cancel(actor=actor, appointment=appointment, reason=reason, request=request)
        cancelled += 1
    current.state = State.DISCONTINUED
    current.discontinued_reason = reason
    current.save(update_fields=["state", "discontinued_reason"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=current,
        summary=f"discontinued the course of patient {current.patient.public_id}, cancelling "
        f"{cancelled} appointments: changed state, discontinued_reason",
        request=request,
    )
    course.state = current.state
    course.discontinued_reason = current.discontinued_reason
    return current


# --- Helpers ---------------------------------------------------------------------------------


def _settings_errors(planned_infusions: Any, window_days: Any, min_gap_hours: Any) -> Errors:
    errors: Errors = {}
    if not _int_between(planned_infusions, INFUSIONS_MIN, INFUSIONS_MAX):
        _add(
            errors,
            "planned_infusions",
            f"A course has {INFUSIONS_MIN} to {INFUSIONS_MAX} infusions: choose a number in "
            "that range.",
        )
    if not _int_between(window_days, WINDOW_MIN, WINDOW_MAX):
        _add(
            errors,
            "window_days",
            f"The infusions must fit within {WINDOW_MIN} to {WINDOW_MAX} days: choose a "
            "window in that range.",
        )
    if not _int_between(min_gap_hours, GAP_MIN, GAP_MAX):
        _add(
            errors,
            "min_gap_hours",
            f"Infusions are at least {GAP_MIN} hours apart (at most {GAP_MAX} can be asked "
            "for): choose a gap in that range.",
        )
    if not errors and (planned_infusions - 1) * min_gap_hours > (window_days - 1) * 24:
        needed = math.ceil((planned_infusions - 1) * min_gap_hours / 24) + 1
        _add(
            errors,
            "window_days",
            f"{planned_infusions} infusions at least {min_gap_hours} hours apart need at "
            f"least {needed} days: lengthen the window, shorten the gap or plan fewer.",
        )
    return errors


def _int_between(value: Any, low: int, high: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _or_setting(value: int | None, name: str) -> int:
    return getattr(settings, name) if value is None else value


def _infusion_type(kind: str) -> AppointmentType:
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


def _locked(course: TreatmentCourse) -> TreatmentCourse:
    return (
        TreatmentCourse.objects.select_for_update(of=("self",))
        .select_related("patient", "location")
        .get(pk=course.pk)
    )


def _set_state(
    course: TreatmentCourse, state: str, *, actor: User, request: HttpRequest | None, why: str
) -> None:
    course.state = state
    course.save(update_fields=["state"])
    audit_record(
        actor=actor,
        action=Action.UPDATE,
        target=course,
        summary=f"{why} for patient {course.patient.public_id}: changed state",
        request=request,
    )


def _replace(plan: CoursePlan, **changes: Any) -> CoursePlan:
    return replace(plan, **changes)


def _sort_key(value: Any) -> Any:
    # Naive or odd values sort somewhere harmless; ``_starts_errors`` refuses them.
    return (0, value) if isinstance(value, datetime) and timezone.is_aware(value) else (1, 0)


def _how_many_fit(found: int, planned: int, window_days: int) -> str:
    """For example "Only 4 of 6 infusions fit within 21 days" (or "None of …")."""
    count = f"Only {found}" if found else "None"
    return f"{count} of {planned} infusions fit within {window_days} days"


def _minutes(at: time) -> int:
    return at.hour * 60 + at.minute


def _hours(hours: float) -> str:
    if hours < 1:
        return "less than an hour"
    return f"{round(hours, 1):g} hour{'' if hours == 1 else 's'}"


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:2] != text[:2].upper() else text


def _add(errors: Errors, field: str, message: str) -> None:
    errors.setdefault(field, []).append(message)


def _day(day: date) -> str:
    return f"{WEEKDAY_NAMES[day.weekday()]} {day.day} {day:%b}"


def _when(moment: datetime, location: Location) -> str:
    local = moment.astimezone(location.tz)
    return f"{_day(local.date())} {local:%H:%M}"
