"""Treatment courses: /api/v1/courses/.

Everyone who may view the schedule reads courses, with their progress ("3 of 6") and
appointments; planning, creating, boosters, completing and discontinuing need
MANAGE_COURSES (nurses and physicians). Courses are fetched through
``scheduling.courses.reads.course_for``, patients and locations through their selectors; reads are
in the audit log, writes are logged by ``scheduling.courses``.

Creating a course books every infusion or none: a refusal names each infusion
(``infusion_1`` … in time order). When every refused infusion was refused only because its
time is not free, the answer is 409 with alternatives for each of them; otherwise a 400.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db.models import Prefetch, QuerySet, prefetch_related_objects
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.errors import (
    ERRORS_400,
    ERRORS_403,
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    api_errors,
    field_errors,
)
from clinic.api.fields import (
    TIME_EXAMPLE,
    UtcDateTimeField,
    clock_field,
    date_field,
    id_field,
)
from clinic.api.pagination import KeysetPagination
from clinic.models import Location
from clinic.permissions import Capability
from scheduling.api.appointments import AppointmentSerializer
from scheduling.api.common import (
    ERRORS_409,
    LocationRefSerializer,
    PatientRefSerializer,
    ScheduleAPIView,
    SlotSerializer,
    filtered,
    location_named,
    patient_named,
    slot_taken_response,
    state_filter_field,
)
from scheduling.availability import Slot
from scheduling.courses.boosters_and_end import (
    course_book_booster,
    course_booster_interval_days,
    course_booster_suggestions,
    course_complete,
    course_discontinue,
    course_suggested_booster_date,
)
from scheduling.courses.planner import CoursePlan, course_plan
from scheduling.courses.reads import (
    course_for,
    course_progress,
    course_refusals,
    courses_visible_to,
)
from scheduling.courses.series_booking import CourseNotBooked, course_create
from scheduling.models import TreatmentCourse
from scheduling.selectors import appointments_visible_to
from scheduling.services.free_time import SlotTaken


def _number(what: str, example: str, **kwargs: Any) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False,
        allow_null=True,
        error_messages={"invalid": f"Enter the {what} as a whole number, e.g. {example}."},
        **kwargs,
    )


def _appointments_prefetch(user: Any) -> Prefetch:
    """A course's appointments in time order, in one query for any number of courses,
    through the appointments' own access function."""
    return Prefetch(
        "appointments", queryset=appointments_visible_to(user).order_by("starts_at", "id")
    )


# --- Responses -----------------------------------------------------------------------------------


class CourseProgressSerializer(serializers.Serializer):
    done = serializers.IntegerField(read_only=True, help_text="Infusions discharged.")
    planned = serializers.IntegerField(read_only=True)
    text = serializers.CharField(read_only=True, help_text="For people, e.g. “3 of 6”.")


class CourseSerializer(serializers.ModelSerializer):
    """A treatment course: its settings, state, progress and appointments (infusions and
    boosters, cancelled ones included) in time order."""

    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = PatientRefSerializer(read_only=True)
    location = LocationRefSerializer(read_only=True)
    progress = serializers.SerializerMethodField()
    appointments = AppointmentSerializer(many=True, read_only=True)
    created_at = UtcDateTimeField(read_only=True)

    class Meta:
        model = TreatmentCourse
        fields = [
            "id",
            "patient",
            "location",
            "state",
            "planned_infusions",
            "window_days",
            "min_gap_hours",
            "progress",
            "discontinued_reason",
            "created_at",
            "appointments",
        ]
        read_only_fields = fields

    @extend_schema_field(CourseProgressSerializer)
    def get_progress(self, course: TreatmentCourse) -> dict[str, Any]:
        progress = course_progress(course)
        return {"done": progress.done, "planned": progress.planned, "text": str(progress)}


class PlannedSlotSerializer(SlotSerializer):
    fits_preferences = serializers.SerializerMethodField(
        help_text="False for a time outside the patient's preferred days or times."
    )

    def get_fits_preferences(self, slot: Slot) -> bool:
        return self.context["plan"].fits_preferences(slot)


class CoursePlanSerializer(serializers.Serializer):
    """Proposed infusion times. To book them, POST /api/v1/courses/ with these ``starts``
    (changed as needed) and the same settings."""

    patient = serializers.UUIDField(read_only=True)
    location = LocationRefSerializer(read_only=True)
    planned_infusions = serializers.IntegerField(read_only=True)
    window_days = serializers.IntegerField(read_only=True)
    min_gap_hours = serializers.IntegerField(read_only=True)
    start_date = serializers.DateField(read_only=True)
    complete = serializers.BooleanField(
        read_only=True, help_text="Whether a time was found for every infusion."
    )
    shortfall = serializers.CharField(
        read_only=True, help_text="Why fewer times than infusions are proposed, if they are."
    )
    notice = serializers.CharField(
        read_only=True, help_text="Which times had to leave the patient's preferences, if any."
    )
    slots = PlannedSlotSerializer(many=True, read_only=True)
    refusals = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Why the course can't be created for this patient now (screening, consent, "
        "a course already going); empty when it can.",
    )


class BoosterSuggestionSerializer(serializers.Serializer):
    suggested_date = serializers.DateField(
        read_only=True,
        allow_null=True,
        help_text="The interval after the last infusion, on the location's calendar; null "
        "before the course has any infusion.",
    )
    interval_days = serializers.IntegerField(read_only=True)
    slots = SlotSerializer(
        many=True, read_only=True, help_text="Free booster times nearest that date."
    )


class CourseNotBookedSerializer(serializers.Serializer):
    """Nothing was booked: the times of one or more infusions are not free."""

    detail = serializers.CharField(read_only=True)
    infusions = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        read_only=True,
        help_text='What went wrong with each infusion, keyed "infusion_1", "infusion_2", … in '
        "time order.",
    )
    alternatives = serializers.DictField(
        child=SlotSerializer(many=True),
        read_only=True,
        help_text="Free times for each refused infusion that keep the course's gaps and "
        "window, keyed like ``infusions``.",
    )


# --- Requests: shapes only; the services check the values ----------------------------------------


class CourseFilterSerializer(serializers.Serializer):
    patient = id_field("patient", "/api/v1/patients/", required=False)
    location = id_field("location", "/api/v1/locations/", required=False)
    state = state_filter_field(TreatmentCourse.State, "state")


class _CourseSettingsSerializer(serializers.Serializer):
    patient = id_field("patient", "/api/v1/patients/")
    location = id_field("location", "/api/v1/locations/")
    planned_infusions = _number(
        "number of infusions", "6", help_text="4 to 10; COURSE_DEFAULT_INFUSIONS if left out."
    )
    window_days = _number(
        "window in days", "21", help_text="14 to 28; COURSE_WINDOW_DAYS if left out."
    )
    min_gap_hours = _number(
        "minimum gap in hours", "24", help_text="24 or more; COURSE_MIN_GAP_HOURS if left out."
    )


class CoursePlanRequestSerializer(_CourseSettingsSerializer):
    """What to plan: the course's settings, when to start, and the patient's preferences
    (local days and start times, all optional)."""

    start_date = date_field(
        "start date",
        required=False,
        allow_null=True,
        help_text="The first day the course may start; the location's tomorrow if left out.",
    )
    preferred_weekdays = serializers.ListField(
        child=serializers.IntegerField(
            error_messages={"invalid": "Weekdays are numbers from 0 (Monday) to 6 (Sunday)."}
        ),
        required=False,
        help_text="0 = Monday … 6 = Sunday; any day if left out.",
    )
    preferred_after = clock_field(
        "earliest start", required=False, allow_null=True, help_text="Starting at or after."
    )
    preferred_before = clock_field(
        "latest start", required=False, allow_null=True, help_text="Starting before."
    )
    strict_preferences = serializers.BooleanField(
        required=False,
        default=False,
        help_text="Propose only times inside the preferences, even if fewer fit.",
    )


class CourseCreateSerializer(_CourseSettingsSerializer):
    """A course and the start of each of its infusions, booked together or not at all."""

    starts = serializers.ListField(
        child=UtcDateTimeField(),
        help_text=f"Each infusion's start, ISO 8601 with its UTC offset (e.g. {TIME_EXAMPLE}): "
        "one per planned infusion, as proposed by /api/v1/courses/plan/.",
        error_messages={
            "required": "Give each infusion's start time (POST /api/v1/courses/plan/ proposes "
            "them).",
            "not_a_list": "Give the start times as a list.",
        },
    )


class BoosterRequestSerializer(serializers.Serializer):
    starts_at = UtcDateTimeField(
        help_text=f"The booster's start, ISO 8601 with its UTC offset, e.g. {TIME_EXAMPLE}.",
        error_messages={"required": "Say when: give starts_at, e.g. " + TIME_EXAMPLE + "."},
    )


class DiscontinueRequestSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Why the course stops; the appointments still to come are cancelled with it.",
    )


# --- Views ---------------------------------------------------------------------------------------


class _CourseAPIView(ScheduleAPIView):
    write_capability = Capability.MANAGE_COURSES

    def settings_from(self, data: dict[str, Any]) -> dict[str, int]:
        """The course settings asked for, the clinic's defaults for any left out."""
        defaults = {
            "planned_infusions": settings.COURSE_DEFAULT_INFUSIONS,
            "window_days": settings.COURSE_WINDOW_DAYS,
            "min_gap_hours": settings.COURSE_MIN_GAP_HOURS,
        }
        return {
            name: default if data.get(name) is None else data[name]
            for name, default in defaults.items()
        }


class CourseList(_CourseAPIView, generics.ListAPIView):
    """Treatment courses, newest first, with progress and appointments; filter by patient,
    location and state.

    POST creates a course and books every one of its infusions, all or nothing (nurses and
    physicians). It needs the patient's approved screening and signed consent, and no other
    course going. POST /api/v1/courses/plan/ proposes the times."""

    serializer_class = CourseSerializer
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet[TreatmentCourse]:
        query = self.validated(CourseFilterSerializer, data=self.request.query_params)
        courses = filtered(courses_visible_to(self.request.user), query, "state")
        # Newest first (courses_visible_to), which the keyset pages follow.
        return courses.prefetch_related(_appointments_prefetch(self.request.user))

    @extend_schema(
        parameters=[CourseFilterSerializer],
        responses={200: CourseSerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_page(TreatmentCourse, "course list")

    @extend_schema(
        request=CourseCreateSerializer,
        responses={
            201: CourseSerializer,
            400: ERRORS_400,
            403: ERRORS_403,
            409: CourseNotBookedSerializer,
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.validated(CourseCreateSerializer)
        try:
            course = course_create(
                actor=request.user,
                patient=patient_named(request.user, data["patient"]),
                location=location_named(request.user, data["location"]),
                starts=data["starts"],
                request=request,
                **self.settings_from(data),
            )
        except CourseNotBooked as not_booked:
            return _not_booked(not_booked)
        except DjangoValidationError as exc:
            raise api_errors(exc) from None
        return Response(
            _course_data(course, request.user, fresh=True), status=status.HTTP_201_CREATED
        )


def _not_booked(not_booked: CourseNotBooked) -> Response:
    """409 when every refused infusion was refused only because its time is not free (the
    caller picks other times); a 400 with every message when something else is wrong."""
    errors = not_booked.message_dict
    refused = {key for key in errors if key.startswith("infusion_")}
    if not refused or refused != {f"infusion_{number}" for number in not_booked.taken}:
        raise api_errors(not_booked)
    body = {
        "detail": " ".join(errors.get(NON_FIELD_ERRORS, [])),
        "infusions": {key: errors[key] for key in sorted(refused, key=_infusion_number)},
        "alternatives": {
            f"infusion_{number}": slots for number, slots in sorted(not_booked.alternatives.items())
        },
    }
    return Response(CourseNotBookedSerializer(body).data, status=status.HTTP_409_CONFLICT)


def _infusion_number(key: str) -> int:
    return int(key.removeprefix("infusion_"))


def _course_data(course: TreatmentCourse, user: Any, *, fresh: bool = False) -> dict[str, Any]:
    """``course`` as CourseSerializer shows it; ``fresh`` re-reads it (with its progress)
    after a write."""
    if fresh:
        course = course_for(user, course.public_id)
    prefetch_related_objects([course], _appointments_prefetch(user))
    return CourseSerializer(course).data


class CoursePlanProposal(_CourseAPIView):
    serializer_class = CoursePlanSerializer

    @extend_schema(
        request=CoursePlanRequestSerializer,
        responses={200: CoursePlanSerializer, 400: ERRORS_400, 403: ERRORS_403},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Propose infusion times for a course at a location: inside opening hours, with a
        free chair and nurse, at least the minimum gap apart, within the window, on the
        patient's preferred days and times where possible. Saves nothing; ``refusals`` says
        if the course could not be created yet."""
        data = self.validated(CoursePlanRequestSerializer)
        patient = patient_named(request.user, data["patient"])
        location = location_named(request.user, data["location"])
        with field_errors():
            plan = course_plan(
                patient=patient,
                location=location,
                start_date=data.get("start_date"),
                preferred_weekdays=data.get("preferred_weekdays") or (),
                preferred_after=data.get("preferred_after"),
                preferred_before=data.get("preferred_before"),
                strict_preferences=data["strict_preferences"],
                **self.settings_from(data),
            )
        return Response(_plan_data(plan, patient.public_id, location, course_refusals(patient)))


def _plan_data(
    plan: CoursePlan, patient_id: uuid.UUID, location: Location, refusals: list[str]
) -> Any:
    body = {
        "patient": patient_id,
        "location": location,
        "planned_infusions": plan.planned_infusions,
        "window_days": plan.window_days,
        "min_gap_hours": plan.min_gap_hours,
        "start_date": plan.start_date,
        "complete": plan.is_complete,
        "shortfall": plan.shortfall,
        "notice": plan.notice,
        "slots": plan.slots,
        "refusals": refusals,
    }
    return CoursePlanSerializer(body, context={"plan": plan}).data


class _CourseScoped(_CourseAPIView):
    """Views under /courses/<id>/: the course through the one access function."""

    def course(self) -> TreatmentCourse:
        return course_for(self.request.user, self.kwargs["course_id"])


class CourseDetail(_CourseScoped):
    serializer_class = CourseSerializer

    @extend_schema(responses={200: CourseSerializer, **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One course, with its progress and every appointment in time order."""
        course = self.course()
        self.audit_read(
            course, f"read course of patient {course.patient.public_id} through the API"
        )
        return Response(_course_data(course, request.user))


class CourseBooster(_CourseScoped):
    serializer_class = AppointmentSerializer

    @extend_schema(responses={200: BoosterSuggestionSerializer, **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """When a booster would suit: the booster interval after the last infusion, and the
        free times nearest it."""
        course = self.course()
        body = {
            "suggested_date": course_suggested_booster_date(course),
            "interval_days": course_booster_interval_days(),
            "slots": course_booster_suggestions(course),
        }
        return Response(BoosterSuggestionSerializer(body).data)

    @extend_schema(
        request=BoosterRequestSerializer,
        responses={201: AppointmentSerializer, 409: ERRORS_409, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Book one booster infusion once the induction series is over; the course is in
        maintenance from then on. A time that is not free answers 409 with alternatives."""
        course = self.course()
        data = self.validated(BoosterRequestSerializer)
        try:
            with field_errors():
                booster = course_book_booster(
                    actor=request.user, course=course, starts_at=data["starts_at"], request=request
                )
        except SlotTaken as taken:
            return slot_taken_response(taken)
        return Response(
            AppointmentSerializer(booster, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


class CourseComplete(_CourseScoped):
    serializer_class = CourseSerializer

    @extend_schema(request=None, responses={200: CourseSerializer, **WRITE_ERRORS})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Mark a course in induction or maintenance completed, once none of its
        appointments is still to come."""
        course = self.course()
        with field_errors():
            course_complete(actor=request.user, course=course, request=request)
        return Response(_course_data(course, request.user, fresh=True))


class CourseDiscontinue(_CourseScoped):
    serializer_class = CourseSerializer

    @extend_schema(
        request=DiscontinueRequestSerializer,
        responses={200: CourseSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Stop a course, saying why: every booked appointment of it still to come is
        cancelled with that reason (and its time offered to the waitlist)."""
        course = self.course()
        data = self.validated(DiscontinueRequestSerializer)
        with field_errors():
            course_discontinue(
                actor=request.user, course=course, reason=data["reason"], request=request
            )
        return Response(_course_data(course, request.user, fresh=True))
