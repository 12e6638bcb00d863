"""Treatment course pages: plan and book an induction series, follow it, book boosters,
complete or discontinue it.

Planning is a read, so the settings form is a GET and its proposal can be bookmarked or
planned again; "Confirm and book all" is the one POST that books, all or nothing.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from clinic.forms import show_service_errors
from clinic.models import Location
from clinic.permissions import Capability, capability_required, user_can
from patients.models import Patient
from patients.selectors import patient_for
from patients.views.records import audit_patient_view
from scheduling.availability import Slot
from scheduling.courses.boosters_and_end import (
    course_book_booster,
    course_booster_interval_days,
    course_booster_suggestions,
    course_complete,
    course_discontinue,
    course_last_infusion,
    course_suggested_booster_date,
)
from scheduling.courses.planner import CoursePlan, course_plan
from scheduling.courses.reads import (
    ACTIVE_STATES,
    course_active,
    course_appointments,
    course_for,
    course_future_appointments,
    course_progress,
    course_refusals,
)
from scheduling.courses.series_booking import CourseNotBooked, course_create
from scheduling.forms_courses import (
    BoosterForm,
    CourseConfirmForm,
    CourseSettingsForm,
    DiscontinueForm,
    local_instant,
)
from scheduling.models import TreatmentCourse
from scheduling.services.free_time import SlotTaken

SETTINGS_FIELDS = list(CourseSettingsForm.base_fields)


def _patient_from_query(request: HttpRequest) -> Patient:
    """The patient named by ``?patient=<uuid>``; 404 when missing or not a patient."""
    raw = request.GET.get("patient", "")
    try:
        public_id = uuid.UUID(raw)
    except ValueError:
        raise Http404("Open a patient's chart and plan the course from there.") from None
    return patient_for(request.user, public_id, clinical=True)


def _local(moment: datetime, location: Location) -> str:
    local = moment.astimezone(location.tz)
    return f"{local:%a} {local.day} {local:%b} at {local:%H:%M}"


def _default_location(patient: Patient) -> Location | None:
    preferred = patient.preferred_location
    if preferred is not None and preferred.is_active:
        return preferred
    return Location.objects.filter(is_active=True).order_by("name").first()


# --- Planning and booking a course ------------------------------------------------------------


@capability_required(Capability.MANAGE_COURSES)
def course_new(request: HttpRequest) -> HttpResponse:
    patient = _patient_from_query(request)
    refusals = course_refusals(patient)
    context: dict[str, Any] = {
        "patient": patient,
        "refusals": refusals,
        "active_course": course_active(patient) if refusals else None,
    }
    if refusals:
        if request.method != "POST":
            audit_patient_view(request, patient, "opened course planning (refused)")
        return render(request, "scheduling/courses/new.html", context)
    if request.method == "POST":
        return _course_confirm(request, patient, context)
    audit_patient_view(request, patient, "opened course planning")
    location = _default_location(patient)
    today = location.local_now().date() if location else timezone.localdate()
    tomorrow = today + timedelta(days=1)
    planning = "location" in request.GET
    settings_form = CourseSettingsForm(
        request.GET if planning else None,
        initial=CourseSettingsForm.defaults(location=location, tomorrow=tomorrow),
    )
    context["settings_form"] = settings_form
    if planning and settings_form.is_valid():
        try:
            plan = course_plan(patient=patient, **settings_form.plan_arguments())
        except ValidationError as error:
            show_service_errors(settings_form, error)
        else:
            context |= _proposal_context(settings_form, plan=plan, patient=patient)
    return render(request, "scheduling/courses/new.html", context)


def _course_confirm(
    request: HttpRequest, patient: Patient, context: dict[str, Any]
) -> HttpResponse:
    """The POST of "Confirm and book all" (or of "use this time" on an alternative)."""
    data = request.POST
    settings_form = CourseSettingsForm(data)
    context["settings_form"] = settings_form
    if not settings_form.is_valid():
        messages.error(request, "The course settings were incomplete: plan the course again.")
        return render(request, "scheduling/courses/new.html", context)
    location = settings_form.cleaned_data["location"]
    count = settings_form.cleaned_data["planned_infusions"]
    use = data.get("use", "")
    if use:
        data = _with_alternative(data, use)
    confirm = CourseConfirmForm(data, count=count)
    alternatives: dict[int, list[Slot]] = {}
    if not use and confirm.is_valid():
        starts = confirm.starts(location)
        if starts is not None:
            try:
                course = course_create(
                    actor=request.user,
                    patient=patient,
                    location=location,
                    starts=starts,
                    planned_infusions=count,
                    window_days=settings_form.cleaned_data["window_days"],
                    min_gap_hours=settings_form.cleaned_data["min_gap_hours"],
                    request=request,
                )
            except CourseNotBooked as error:
                alternatives = error.alternatives
                show_service_errors(confirm, error)
            except ValidationError as error:
                show_service_errors(confirm, error)
            else:
                messages.success(
                    request,
                    f"Course booked: {count} infusions at {location.name}, the first on "
                    f"{_local(min(starts), location)}.",
                )
                return redirect("scheduling:course-detail", course_id=course.public_id)
    context |= _proposal_context(
        settings_form, confirm=confirm, alternatives=alternatives, patient=patient
    )
    return render(request, "scheduling/courses/new.html", context)


def _with_alternative(data: QueryDict, use: str) -> QueryDict:
    """``data`` with one infusion's date and time replaced: ``use`` is "<n>|<date>|<time>"."""
    try:
        number, day, at = use.split("|")
        int(number)
        date.fromisoformat(day)
        time.fromisoformat(at)
    except ValueError:
        return data
    data = data.copy()
    data[f"infusion_{number}_0"] = day
    data[f"infusion_{number}_1"] = at
    return data


def _proposal_context(
    settings_form: CourseSettingsForm,
    *,
    patient: Patient,
    plan: CoursePlan | None = None,
    confirm: CourseConfirmForm | None = None,
    alternatives: dict[int, list[Slot]] | None = None,
) -> dict[str, Any]:
    """The editable list of infusions: from a fresh ``plan``, or the ``confirm`` form as
    posted (with its errors and any ``alternatives``)."""
    location = settings_form.cleaned_data["location"]
    count = settings_form.cleaned_data["planned_infusions"]
    if confirm is None:
        initial = {}
        for number, slot in enumerate(plan.slots if plan else [], start=1):
            local = slot.local_start
            initial[f"infusion_{number}"] = local.replace(tzinfo=None)
        confirm = CourseConfirmForm(count=count, initial=initial)
    rows = []
    for number, field in enumerate(confirm.infusion_fields(), start=1):
        slot = plan.slots[number - 1] if plan and number <= len(plan.slots) else None
        rows.append(
            {
                "number": number,
                "field": field,
                "slot": slot,
                "outside_preferences": bool(slot and plan and not plan.fits_preferences(slot)),
                "missing": plan is not None and slot is None,
                "alternatives": sorted(
                    (alternatives or {}).get(number, []), key=lambda slot: slot.starts_at
                ),
            }
        )
    hidden = CourseSettingsForm(settings_form.data, auto_id=False)
    query = QueryDict(mutable=True)
    query["patient"] = str(patient.public_id)
    for name in SETTINGS_FIELDS:
        values = settings_form.data.getlist(name) if settings_form.data else []
        if values:
            query.setlist(name, values)
    return {
        "plan": plan,
        "confirm": confirm,
        "rows": rows,
        "hidden_settings": hidden,
        "location": location,
        "replan_url": f"{reverse('scheduling:course-new')}?{query.urlencode()}",
    }


# --- A course -------------------------------------------------------------------------------


@capability_required(Capability.VIEW_SCHEDULE)
def course_detail(request: HttpRequest, course_id: uuid.UUID) -> HttpResponse:
    course = course_for(request.user, course_id)
    audit_patient_view(request, course.patient, "opened a treatment course")
    can_manage = user_can(request.user, Capability.MANAGE_COURSES)
    appointments = course_appointments(course)
    active = course.state in ACTIVE_STATES
    context: dict[str, Any] = {
        "course": course,
        "patient": course.patient,
        "progress": course_progress(course),
        "appointments": appointments,
        "can_manage": can_manage and active,
        "can_see_reason": user_can(request.user, Capability.VIEW_CLINICAL),
        "booster_date": None,
    }
    if can_manage and course.state in (
        TreatmentCourse.State.INDUCTION,
        TreatmentCourse.State.MAINTENANCE,
    ):
        context["booster_date"] = course_suggested_booster_date(course)
        context["booster_interval"] = course_booster_interval_days()
    return render(request, "scheduling/courses/detail.html", context)


@capability_required(Capability.MANAGE_COURSES)
def course_booster(request: HttpRequest, course_id: uuid.UUID) -> HttpResponse:
    course = course_for(request.user, course_id)
    location = course.location
    form = BoosterForm(request.POST or None)
    alternatives: list[Slot] = []
    if request.method == "POST" and form.is_valid():
        starts_at = local_instant(form, "when", location)
        if starts_at is not None:
            try:
                appointment = course_book_booster(
                    actor=request.user, course=course, starts_at=starts_at, request=request
                )
            except SlotTaken as error:
                form.add_error("when", error.message)
                alternatives = error.alternatives
            except ValidationError as error:
                show_service_errors(form, error, field_for=lambda key: "when")
            else:
                messages.success(
                    request, f"Booster booked for {_local(appointment.starts_at, location)}."
                )
                return redirect("scheduling:course-detail", course_id=course.public_id)
    suggestions = course_booster_suggestions(course)
    if request.method != "POST":
        audit_patient_view(request, course.patient, "opened booster booking")
        if suggestions:
            first = suggestions[0].local_start
            form = BoosterForm(initial={"when": first.replace(tzinfo=None)})
    last = course_last_infusion(course)
    return render(
        request,
        "scheduling/courses/booster.html",
        {
            "course": course,
            "patient": course.patient,
            "form": form,
            "suggestions": suggestions,
            "alternatives": alternatives,
            "suggested_date": course_suggested_booster_date(course),
            "interval_days": course_booster_interval_days(),
            "last": last,
        },
    )


@capability_required(Capability.MANAGE_COURSES)
def course_discontinue_view(request: HttpRequest, course_id: uuid.UUID) -> HttpResponse:
    course = course_for(request.user, course_id)
    form = DiscontinueForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            course_discontinue(
                actor=request.user,
                course=course,
                reason=form.cleaned_data["reason"],
                request=request,
            )
        except ValidationError as error:
            show_service_errors(form, error, field_for=lambda key: "reason")
        else:
            messages.success(
                request, "Course discontinued; its appointments still to come are cancelled."
            )
            return redirect("scheduling:course-detail", course_id=course.public_id)
    elif request.method != "POST":
        audit_patient_view(request, course.patient, "opened course discontinuation")
    return render(
        request,
        "scheduling/courses/discontinue.html",
        {
            "course": course,
            "patient": course.patient,
            "form": form,
            "future": course_future_appointments(course),
            "active": course.state in ACTIVE_STATES,
        },
    )


@require_POST
@capability_required(Capability.MANAGE_COURSES)
def course_complete_view(request: HttpRequest, course_id: uuid.UUID) -> HttpResponse:
    course = course_for(request.user, course_id)
    try:
        course_complete(actor=request.user, course=course, request=request)
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, "Course marked completed.")
    return redirect("scheduling:course-detail", course_id=course.public_id)
