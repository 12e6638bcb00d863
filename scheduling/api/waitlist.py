"""The waitlist: /api/v1/waitlist/. Reading needs VIEW_SCHEDULE, adding and removing
BOOK_APPOINTMENTS; entries are fetched through ``scheduling.selectors.waitlist_entry_for``.
When a time frees up, ``scheduling.services`` offers it to the first waiting patient who
fits."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
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
)
from clinic.api.fields import (
    UtcDateTimeField,
    clock_field,
    date_field,
    id_field,
)
from scheduling.api.common import (
    LocationRefSerializer,
    PatientRefSerializer,
    ScheduleAPIView,
    appointment_type_named,
    filtered,
    kind_field,
    location_named,
    patient_named,
    state_filter_field,
)
from scheduling.models import AppointmentKind, WaitlistEntry
from scheduling.selectors import waitlist_entry_for, waitlist_visible_to
from scheduling.services.waitlist import waitlist_add, waitlist_remove


class WaitlistEntrySerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    patient = PatientRefSerializer(read_only=True)
    location = LocationRefSerializer(read_only=True)
    type = serializers.ChoiceField(
        source="appointment_type.kind", choices=AppointmentKind.choices, read_only=True
    )
    offered_appointment = serializers.UUIDField(
        source="offered_appointment.public_id",
        read_only=True,
        allow_null=True,
        help_text="The freed appointment time offered to the patient, once there is one.",
    )
    created_at = UtcDateTimeField(read_only=True)

    class Meta:
        model = WaitlistEntry
        fields = [
            "id",
            "patient",
            "location",
            "type",
            "earliest_date",
            "latest_date",
            "preferred_weekdays",
            "preferred_after",
            "preferred_before",
            "state",
            "offered_appointment",
            "created_at",
        ]
        read_only_fields = fields


class WaitlistFilterSerializer(serializers.Serializer):
    location = id_field("location", "/api/v1/locations/", required=False)
    patient = id_field("patient", "/api/v1/patients/", required=False)
    state = state_filter_field(WaitlistEntry.State, "state")


class WaitlistEntryWriteSerializer(serializers.Serializer):
    """Put a patient on the waitlist for an earlier time: the dates, weekdays and start times
    they would take (all optional, all local to the location)."""

    patient = id_field("patient", "/api/v1/patients/")
    location = id_field("location", "/api/v1/locations/")
    type = kind_field()
    earliest_date = date_field("earliest date", required=False, allow_null=True)
    latest_date = date_field("latest date", required=False, allow_null=True)
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


class WaitlistList(ScheduleAPIView, generics.ListAPIView):
    """Patients waiting for an earlier time, first come first, filtered by location, patient
    and state. POST puts a patient on the waitlist; when a time frees up, the first one who
    fits is offered it."""

    serializer_class = WaitlistEntrySerializer

    def get_queryset(self) -> QuerySet[WaitlistEntry]:
        query = self.validated(WaitlistFilterSerializer, data=self.request.query_params)
        return filtered(waitlist_visible_to(self.request.user), query, "state")

    @extend_schema(
        parameters=[WaitlistFilterSerializer],
        responses={200: WaitlistEntrySerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return self.audited_page(WaitlistEntry, "waitlist")

    @extend_schema(
        request=WaitlistEntryWriteSerializer,
        responses={201: WaitlistEntrySerializer, 400: ERRORS_400, 403: ERRORS_403},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = self.validated(WaitlistEntryWriteSerializer)
        with field_errors():
            entry = waitlist_add(
                actor=request.user,
                patient=patient_named(request.user, data["patient"]),
                location=location_named(request.user, data["location"]),
                appointment_type=appointment_type_named(data["type"]),
                earliest_date=data.get("earliest_date"),
                latest_date=data.get("latest_date"),
                preferred_weekdays=data.get("preferred_weekdays") or (),
                preferred_after=data.get("preferred_after"),
                preferred_before=data.get("preferred_before"),
                request=request,
            )
        return Response(WaitlistEntrySerializer(entry).data, status=status.HTTP_201_CREATED)


class WaitlistDetail(ScheduleAPIView):
    serializer_class = WaitlistEntrySerializer

    def entry(self) -> WaitlistEntry:
        return waitlist_entry_for(self.request.user, self.kwargs["entry_id"])

    @extend_schema(responses={200: WaitlistEntrySerializer, **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One waitlist entry."""
        entry = self.entry()
        self.audit_read(
            entry, f"read waitlist entry of patient {entry.patient.public_id} through the API"
        )
        return Response(WaitlistEntrySerializer(entry).data)

    @extend_schema(responses={204: None, **WRITE_ERRORS})
    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Take a waiting (or offered) patient off the waitlist. The entry stays, removed."""
        entry = self.entry()
        with field_errors():
            waitlist_remove(actor=request.user, entry=entry, request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)
