"""Free slots and appointments: /api/v1/slots/ and /api/v1/appointments/.

Reading needs VIEW_SCHEDULE; booking, moving, cancelling and moving a visit along need
BOOK_APPOINTMENTS (``scheduling.services`` keeps an infusion's clinical steps for nurses and
physicians). Appointments are fetched through ``scheduling.selectors.appointment_for``;
every read is in the audit log, every write is logged by the service that makes it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db.models import DateField, DateTimeField, F, Func, QuerySet
from django.db.models.functions import Cast
from drf_spectacular.types import OpenApiTypes
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
    field_errors,
    refused,
)
from clinic.api.fields import (
    TIME_EXAMPLE,
    UtcDateTimeField,
    date_field,
    id_field,
)
from clinic.api.pagination import KeysetPagination
from clinic.models import Location
from scheduling.api.appointment_rows import appointment_rows, appointments_json
from scheduling.api.common import (
    ERRORS_409,
    ChairRefSerializer,
    ClinicianRefSerializer,
    LocationRefSerializer,
    PatientRefSerializer,
    ScheduleAPIView,
    SlotSerializer,
    appointment_type_named,
    chair_named,
    clinician_named,
    filtered,
    kind_field,
    local_time,
    location_named,
    patient_named,
    slot_taken_response,
    state_filter_field,
)
from scheduling.availability import free_slots
from scheduling.models import Appointment, AppointmentKind, AppointmentStatus
from scheduling.selectors import (
    appointment_for,
    appointments_visible_to,
    booking_note_for,
    with_booking_note_alerted,
)
from scheduling.services.book_and_reschedule import appointment_book, appointment_reschedule
from scheduling.services.free_time import SlotTaken
from scheduling.services.status_changes import appointment_cancel, appointment_set_status
from scheduling.services.status_rules import appointment_next_statuses
from scheduling.services.undo import appointment_undo

# Where a status change may lead: never back to booked.
TARGET_STATUSES = [
    (value, label)
    for value, label in AppointmentStatus.choices
    if value != AppointmentStatus.BOOKED
]


class AppointmentSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = PatientRefSerializer(read_only=True)
    location = LocationRefSerializer(read_only=True)
    type = serializers.ChoiceField(
        source="appointment_type.kind", choices=AppointmentKind.choices, read_only=True
    )
    type_name = serializers.CharField(source="appointment_type.name", read_only=True)
    chair = ChairRefSerializer(read_only=True, allow_null=True)
    clinician = ClinicianRefSerializer(read_only=True, allow_null=True)
    course = serializers.UUIDField(
        source="course.public_id",
        read_only=True,
        allow_null=True,
        help_text="The treatment course this infusion belongs to, if any.",
    )
    starts_at = UtcDateTimeField(read_only=True)
    local_start = serializers.SerializerMethodField(
        help_text="The start on the location's clock, with its offset."
    )
    ends_at = UtcDateTimeField(read_only=True, help_text="The end of the procedure itself.")
    blocks_until = UtcDateTimeField(
        read_only=True,
        help_text="The end of recovery: the chair and the patient are taken until then.",
    )
    next_statuses = serializers.SerializerMethodField(
        help_text="The statuses it may move to next (POST .../status/), in the order of a "
        "visit; empty once it is discharged, a no-show or cancelled."
    )
    booking_note = serializers.SerializerMethodField(
        help_text="What the patient wrote when booking online (“Tell us a little more”), in "
        "their words; empty when they wrote nothing. Empty too when their words raised a "
        "safety alert and you may not see clinical detail: the words are with the alert."
    )
    created_at = UtcDateTimeField(read_only=True)
    updated_at = UtcDateTimeField(read_only=True)

    class Meta:
        model = Appointment
        fields = [
            "id",
            "patient",
            "location",
            "type",
            "type_name",
            "chair",
            "clinician",
            "course",
            "starts_at",
            "local_start",
            "ends_at",
            "blocks_until",
            "status",
            "next_statuses",
            "source",
            "cancel_reason",
            "booking_note",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.DATETIME)
    def get_local_start(self, appointment: Appointment) -> str:
        return local_time(appointment.starts_at, appointment.location)

    @extend_schema_field(OpenApiTypes.STR)
    def get_booking_note(self, appointment: Appointment) -> str:
        # Who may read it is booking_note_for's rule, so it needs the reader: without a
        # request in the context, nothing is shown.
        request = self.context.get("request")
        note = booking_note_for(getattr(request, "user", None), appointment)
        return note.text if note is not None else ""

    # Plain strings: an enum here would give the status choices a second name in the schema.
    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_next_statuses(self, appointment: Appointment) -> list[str]:
        return [str(choice) for choice in appointment_next_statuses(appointment)]


# --- Requests: shapes only; the services check the values -------------------------------------


class SlotQuerySerializer(serializers.Serializer):
    """Which free slots to list: one location and kind, for the location's local days
    ``from`` to ``to`` (inclusive)."""

    location = id_field("location", "/api/v1/locations/")
    type = kind_field()
    from_ = date_field(
        "first day",
        required=False,
        help_text="The first local day, YYYY-MM-DD; today at the location if left out.",
    )
    to = date_field(
        "last day",
        required=False,
        help_text="The last local day, YYYY-MM-DD, at most BOOKING_HORIZON_DAYS days in all "
        "(30 unless the clinic says otherwise); a week from ``from`` if left out.",
    )
    patient = id_field(
        "patient",
        "/api/v1/patients/",
        required=False,
        help_text="Only times this patient is free, from /api/v1/patients/.",
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        # "from" is a Python keyword, so it is declared as from_.
        fields["from"] = fields.pop("from_")
        return fields


class AppointmentFilterSerializer(serializers.Serializer):
    location = id_field("location", "/api/v1/locations/", required=False)
    date = date_field(
        "date", required=False, help_text="A day on the appointment location's clock, YYYY-MM-DD."
    )
    patient = id_field("patient", "/api/v1/patients/", required=False)
    status = state_filter_field(AppointmentStatus, "status")


class AppointmentBookingSerializer(serializers.Serializer):
    """A booking. The chair (infusions) and the clinician are the first free ones unless
    given; free times come from /api/v1/slots/."""

    patient = id_field("patient", "/api/v1/patients/")
    location = id_field("location", "/api/v1/locations/")
    type = kind_field()
    starts_at = UtcDateTimeField(
        help_text=f"The start, ISO 8601 with its UTC offset, e.g. {TIME_EXAMPLE}.",
        error_messages={"required": "Say when: give starts_at, e.g. " + TIME_EXAMPLE + "."},
    )
    chair = id_field(
        "chair",
        "the location's chairs at /api/v1/locations/",
        required=False,
        allow_null=True,
        help_text="A chair of the location, for an infusion; the first free one if left out.",
    )
    clinician = id_field(
        "clinician",
        "a slot from /api/v1/slots/",
        required=False,
        allow_null=True,
        help_text="A physician (consultation, follow-up) or nurse (infusion) on shift; "
        "whoever is free if left out.",
    )


class AppointmentStatusChangeSerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=TARGET_STATUSES,
        help_text="The next status: see the appointment's next_statuses.",
        error_messages={
            "required": "Say which status the appointment moves to (see its next_statuses).",
            "invalid_choice": "“{input}” is not a status an appointment can move to: use one "
            f"of {', '.join(value for value, _label in TARGET_STATUSES)}.",
        },
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Why, when the status is cancelled.",
    )


class AppointmentCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Why it is cancelled, e.g. “patient unwell”. Required.",
    )


class AppointmentRescheduleSerializer(serializers.Serializer):
    starts_at = UtcDateTimeField(
        help_text=f"The new start, ISO 8601 with its UTC offset, e.g. {TIME_EXAMPLE}. The "
        "chair and clinician are picked afresh.",
        error_messages={"required": "Say when to move it to: give starts_at, e.g. " + TIME_EXAMPLE},
    )


class SlotList(ScheduleAPIView):
    """Free start times for one kind of appointment at one location, earliest first, on the
    location's local days ``from`` to ``to``: inside opening hours and a clinician's shift,
    with a free chair for an infusion (recovery included), never in the past. With
    ``patient``, only times that patient is free. At most BOOKING_HORIZON_DAYS days a
    request, so the whole list comes in one answer."""

    serializer_class = SlotSerializer
    pagination_class = None

    @extend_schema(
        parameters=[SlotQuerySerializer],
        responses={200: SlotSerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        query = self.validated(SlotQuerySerializer, data=request.query_params)
        location = location_named(request.user, query["location"])
        appointment_type = appointment_type_named(query["type"])
        patient = patient_named(request.user, query["patient"]) if "patient" in query else None
        start_date, end_date = self.date_range(location, query.get("from"), query.get("to"))
        slots = free_slots(
            location=location,
            appointment_type=appointment_type,
            start_date=start_date,
            end_date=end_date,
            patient=patient,
        )
        return Response(SlotSerializer(slots, many=True).data)

    @staticmethod
    def date_range(location: Location, start: date | None, end: date | None) -> tuple[date, date]:
        horizon = settings.BOOKING_HORIZON_DAYS
        start = start or location.local_now().date()
        end = end or start + timedelta(days=min(6, horizon - 1))
        if end < start:
            raise refused("to", f"The last day is before the first ({start}): swap them.")
        if (end - start).days + 1 > horizon:
            raise refused(
                "to",
                f"Ask for at most {horizon} days at a time: end on "
                f"{start + timedelta(days=horizon - 1)} or earlier, and ask again for the "
                "days after.",
            )
        return start, end


class AppointmentList(ScheduleAPIView, generics.ListAPIView):
    """Appointments in time order, filtered by location, local day, patient and status.

    POST books one (front desk, nurses, physicians, clinic admins): an infusion needs the
    patient's approved screening and signed consent. A time that is not free answers 409
    with the nearest free alternatives."""

    serializer_class = AppointmentSerializer
    pagination_class = KeysetPagination

    def get_queryset(self) -> QuerySet[Appointment]:
        query = self.validated(AppointmentFilterSerializer, data=self.request.query_params)
        appointments = filtered(appointments_visible_to(self.request.user), query, "status")
        if "date" in query:
            appointments = _on_local_day(appointments, query["date"])
        # Whether each booking's note raised a safety alert, in the same query.
        return with_booking_note_alerted(appointments, self.request.user).order_by(
            "starts_at", "id"
        )

    @extend_schema(
        parameters=[AppointmentFilterSerializer],
        responses={200: AppointmentSerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        # The page's rows as plain values, written as AppointmentSerializer writes them.
        page = self.paginate_queryset(appointment_rows(self.get_queryset()))
        # Who comes when: reading the schedule is reading patient data.
        self.audit_list_read(Appointment, "appointment list", len(page))
        return self.get_paginated_response(appointments_json(page, request.user))

    @extend_schema(
        request=AppointmentBookingSerializer,
        responses={
            201: AppointmentSerializer,
            409: ERRORS_409,
            400: ERRORS_400,
            403: ERRORS_403,
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.validated(AppointmentBookingSerializer)
        try:
            with field_errors():
                appointment = appointment_book(
                    actor=request.user,
                    patient=patient_named(request.user, data["patient"]),
                    location=location_named(request.user, data["location"]),
                    appointment_type=appointment_type_named(data["type"]),
                    starts_at=data["starts_at"],
                    chair=chair_named(data.get("chair")),
                    clinician=clinician_named(data.get("clinician")),
                    request=request,
                )
        except SlotTaken as taken:
            return slot_taken_response(taken)
        return Response(
            AppointmentSerializer(appointment, context={"request": request}).data,
            status=status.HTTP_201_CREATED,
        )


def _on_local_day(appointments: QuerySet[Appointment], day: date) -> QuerySet[Appointment]:
    """Appointments starting on ``day`` on their own location's clock."""
    local_day = Cast(
        Func(
            F("location__time_zone"),
            F("starts_at"),
            function="timezone",
            output_field=DateTimeField(),
        ),
        output_field=DateField(),
    )
    # Every zone's ``day`` lies inside these UTC bounds, which the start-time index can use.
    return (
        appointments.filter(
            starts_at__gte=datetime.combine(day - timedelta(days=1), time.min, tzinfo=UTC),
            starts_at__lt=datetime.combine(day + timedelta(days=2), time.min, tzinfo=UTC),
        )
        .alias(local_day=local_day)
        .filter(local_day=day)
    )


class _AppointmentScoped(ScheduleAPIView):
    """Views under /appointments/<id>/: the appointment through the one access function."""

    def appointment(self) -> Appointment:
        return appointment_for(self.request.user, self.kwargs["appointment_id"])


class AppointmentDetail(_AppointmentScoped):
    serializer_class = AppointmentSerializer

    @extend_schema(responses={200: AppointmentSerializer, **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One appointment, with the statuses it may move to next."""
        appointment = self.appointment()
        self.audit_read(
            appointment,
            f"read appointment of patient {appointment.patient.public_id} through the API",
        )
        return Response(AppointmentSerializer(appointment, context={"request": request}).data)


class AppointmentStatusChange(_AppointmentScoped):
    serializer_class = AppointmentSerializer

    @extend_schema(
        request=AppointmentStatusChangeSerializer,
        responses={200: AppointmentSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Move an appointment along: booked → checked in → infusing → recovering →
        discharged (a consultation or follow-up: checked in → discharged), or booked →
        no-show; cancelled (with a reason) from any active status. Only nurses and
        physicians record an infusion's progress; starting one needs consent on file."""
        appointment = self.appointment()
        data = self.validated(AppointmentStatusChangeSerializer)
        with field_errors():
            changed = appointment_set_status(
                actor=request.user,
                appointment=appointment,
                status=data["status"],
                reason=data["reason"],
                request=request,
            )
        return Response(AppointmentSerializer(changed, context={"request": request}).data)


class AppointmentCancel(_AppointmentScoped):
    serializer_class = AppointmentSerializer

    @extend_schema(
        request=AppointmentCancelSerializer,
        responses={200: AppointmentSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Cancel an active appointment, saying why; its time blocks nothing from then on and
        is offered to the first waitlisted patient who fits."""
        appointment = self.appointment()
        data = self.validated(AppointmentCancelSerializer)
        with field_errors():
            cancelled = appointment_cancel(
                actor=request.user, appointment=appointment, reason=data["reason"], request=request
            )
        return Response(AppointmentSerializer(cancelled, context={"request": request}).data)


class AppointmentUndoSerializer(serializers.Serializer):
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Why the change is undone, e.g. “pressed by mistake”. Required.",
    )


class AppointmentUndo(_AppointmentScoped):
    serializer_class = AppointmentSerializer

    @extend_schema(
        request=AppointmentUndoSerializer,
        responses={200: AppointmentSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Undo the appointment's last check-in, no-show or cancellation, with a reason:
        within UNDO_MINUTES of it, by someone in the role of the person who made it. The
        appointment is booked again (a freed time only if it is still free)."""
        appointment = self.appointment()
        data = self.validated(AppointmentUndoSerializer)
        with field_errors():
            undone = appointment_undo(
                actor=request.user, appointment=appointment, reason=data["reason"], request=request
            )
        return Response(AppointmentSerializer(undone, context={"request": request}).data)


class AppointmentReschedule(_AppointmentScoped):
    serializer_class = AppointmentSerializer

    @extend_schema(
        request=AppointmentRescheduleSerializer,
        responses={200: AppointmentSerializer, 409: ERRORS_409, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Move a booked appointment to another time, all or nothing: if the new time is not
        free (409, with alternatives) the appointment stays where it was."""
        appointment = self.appointment()
        data = self.validated(AppointmentRescheduleSerializer)
        try:
            with field_errors():
                moved = appointment_reschedule(
                    actor=request.user,
                    appointment=appointment,
                    starts_at=data["starts_at"],
                    request=request,
                )
        except SlotTaken as taken:
            return slot_taken_response(taken)
        return Response(AppointmentSerializer(moved, context={"request": request}).data)
