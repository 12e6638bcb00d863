"""Infusion sessions: /api/v1/sessions/ and /api/v1/appointments/<id>/session/.

Everything here is clinical, so every endpoint needs VIEW_CLINICAL (nurses and
physicians); the services decide the rest (recording needs RECORD_CLINICAL, a dose order
SIGN_MEDICAL_ORDERS, the drug HANDLE_CONTROLLED_SUBSTANCES) and their refusals answer 400
with messages keyed by field, or 403. Sessions are fetched through
``infusions.selectors.session_for``; every read is in the audit log and every write is
logged by the service that makes it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.db import transaction
from django.db.models import DateField, DateTimeField, F, Func, Prefetch, QuerySet
from django.db.models.functions import Cast
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.permissions import capability_permission
from clinic.api.serializers import cosigner_code_field
from clinic.models import User
from clinic.permissions import Capability
from infusions.models import DoseAdministration, DoseOrder, InfusionSession, PreAssessment
from infusions.models.orders import DoseRoute
from infusions.models.preassessment import PregnancyStatus
from infusions.models.sessions import InfusionSessionState
from infusions.orders import current_order, dose_administer, dose_order_sign
from infusions.preassessment import (
    pre_assessment_acknowledge_caution,
    pre_assessment_record,
    pre_assessment_vitals,
)
from infusions.readings import ReadingInput
from infusions.selectors import lots_visible_to, session_for, sessions_visible_to
from infusions.sessions import session_for_appointment, session_next_states, session_transition
from scheduling.api.common import (
    ERRORS_400,
    ERRORS_403,
    ERRORS_404,
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    LocationRefSerializer,
    PatientRefSerializer,
    ScheduleAPIView,
    UtcDateTimeField,
    date_field,
    field_errors,
    id_field,
    location_named,
    refused,
)
from scheduling.selectors import appointment_for

# --- Responses -----------------------------------------------------------------------------------


class VitalsSummarySerializer(serializers.Serializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    taken_at = UtcDateTimeField(read_only=True)
    systolic = serializers.IntegerField(read_only=True, allow_null=True)
    diastolic = serializers.IntegerField(read_only=True, allow_null=True)
    heart_rate = serializers.IntegerField(read_only=True, allow_null=True)
    spo2 = serializers.IntegerField(read_only=True, allow_null=True)
    respiratory_rate = serializers.IntegerField(read_only=True, allow_null=True)
    consciousness = serializers.IntegerField(read_only=True, allow_null=True)
    pain = serializers.IntegerField(read_only=True, allow_null=True)


class PreAssessmentSerializer(serializers.ModelSerializer):
    weighed_at = UtcDateTimeField(read_only=True, allow_null=True)
    last_ate_at = UtcDateTimeField(read_only=True, allow_null=True)
    vitals = VitalsSummarySerializer(read_only=True, allow_null=True)
    caution_acknowledged_by = serializers.CharField(
        source="caution_acknowledged_by.full_name", read_only=True, allow_null=True, default=None
    )
    caution_acknowledged_at = UtcDateTimeField(read_only=True, allow_null=True)
    questionnaires = serializers.SerializerMethodField(
        help_text="The questionnaire responses linked to the checks (their instruments)."
    )
    updated_at = UtcDateTimeField(read_only=True)

    class Meta:
        model = PreAssessment
        fields = [
            "identity_confirmed",
            "weight_kg",
            "weighed_at",
            "pregnancy_status",
            "escort_confirmed",
            "escort_name",
            "escort_phone",
            "last_ate_at",
            "vitals",
            "bp_status",
            "caution_acknowledged_by",
            "caution_acknowledged_at",
            "caution_note",
            "questionnaires",
            "notes",
            "updated_at",
        ]
        read_only_fields = fields

    def get_questionnaires(self, assessment: PreAssessment) -> list[str]:
        return [response.instrument for response in assessment.questionnaires.all()]


class DoseOrderSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    ordered_by = serializers.CharField(source="ordered_by.full_name", read_only=True)
    signed_at = UtcDateTimeField(read_only=True)
    replaces = serializers.UUIDField(
        source="replaces.public_id", read_only=True, allow_null=True, default=None
    )

    class Meta:
        model = DoseOrder
        fields = [
            "id",
            "route",
            "dose_mg_per_kg",
            "weight_kg",
            "duration_minutes",
            "concentration_mg_per_ml",
            "total_mg",
            "rate_mg_per_h",
            "rate_ml_per_h",
            "volume_ml",
            "note",
            "ordered_by",
            "signed_at",
            "replaces",
        ]
        read_only_fields = fields


class DoseAdministrationSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    order = serializers.UUIDField(source="order.public_id", read_only=True)
    lot = serializers.UUIDField(source="lot.public_id", read_only=True)
    lot_number = serializers.CharField(source="lot.lot_number", read_only=True)
    given_by = serializers.CharField(source="given_by.full_name", read_only=True)
    witness = serializers.CharField(
        source="witness.full_name", read_only=True, allow_null=True, default=None
    )
    recorded_at = UtcDateTimeField(read_only=True)

    class Meta:
        model = DoseAdministration
        fields = [
            "id",
            "order",
            "lot",
            "lot_number",
            "drawn_mg",
            "administered_mg",
            "wasted_mg",
            "given_by",
            "witness",
            "recorded_at",
            "note",
        ]
        read_only_fields = fields


class SessionSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    appointment = serializers.UUIDField(source="appointment.public_id", read_only=True)
    patient = PatientRefSerializer(source="appointment.patient", read_only=True)
    location = LocationRefSerializer(source="appointment.location", read_only=True)
    starts_at = UtcDateTimeField(source="appointment.starts_at", read_only=True)
    # A plain string: the states' enum belongs to the transition request.
    state = serializers.CharField(
        read_only=True, help_text=f"One of {', '.join(InfusionSessionState.values)}."
    )
    next_states = serializers.SerializerMethodField(
        help_text="Where the session may go next (POST .../transition/); empty once it ended."
    )
    started_at = UtcDateTimeField(read_only=True, allow_null=True)
    ended_at = UtcDateTimeField(read_only=True, allow_null=True)
    pre_assessment = serializers.SerializerMethodField()
    current_order = serializers.SerializerMethodField(
        help_text="The signed order no later order replaces, or null."
    )
    administration = serializers.SerializerMethodField(
        help_text="What was given against the current order, or null."
    )

    class Meta:
        model = InfusionSession
        fields = [
            "id",
            "appointment",
            "patient",
            "location",
            "starts_at",
            "state",
            "next_states",
            "stop_reason",
            "started_at",
            "ended_at",
            "pre_assessment",
            "current_order",
            "administration",
        ]
        read_only_fields = fields

    # Plain strings: an enum here would give the states a second name in the schema.
    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_next_states(self, session: InfusionSession) -> list[str]:
        return [str(state) for state in session_next_states(session)]

    @extend_schema_field(PreAssessmentSerializer(allow_null=True))
    def get_pre_assessment(self, session: InfusionSession) -> dict[str, Any] | None:
        try:
            assessment = session.pre_assessment
        except PreAssessment.DoesNotExist:
            return None
        return PreAssessmentSerializer(assessment).data

    @extend_schema_field(DoseOrderSerializer(allow_null=True))
    def get_current_order(self, session: InfusionSession) -> dict[str, Any] | None:
        order = _current_order(session)
        return DoseOrderSerializer(order).data if order is not None else None

    @extend_schema_field(DoseAdministrationSerializer(allow_null=True))
    def get_administration(self, session: InfusionSession) -> dict[str, Any] | None:
        order = _current_order(session)
        if order is None:
            return None
        try:
            administration = order.administration
        except DoseAdministration.DoesNotExist:
            return None
        return DoseAdministrationSerializer(administration).data


def _current_order(session: InfusionSession) -> DoseOrder | None:
    """The prefetched current order (lists), else one query."""
    prefetched = getattr(session, "current_orders", None)
    if prefetched is not None:
        return prefetched[0] if prefetched else None
    return current_order(session)


# --- Requests: shapes only; the services check the values ----------------------------------------


def _decimal_field(what: str, **kwargs: Any) -> serializers.DecimalField:
    """A number sent as a JSON number or a string; the service checks its range and places."""
    return serializers.DecimalField(
        max_digits=None,
        decimal_places=None,
        error_messages={"invalid": f"Enter {what} as a number, e.g. 0.5."},
        **kwargs,
    )


class SessionFilterSerializer(serializers.Serializer):
    day = date_field("day", required=False, help_text="A day on the location's clock, YYYY-MM-DD.")
    location = id_field("location", "/api/v1/locations/", required=False)


class TransitionSerializer(serializers.Serializer):
    to_state = serializers.ChoiceField(
        choices=InfusionSessionState.choices,
        help_text="The next state: see the session's next_states.",
        error_messages={
            "required": "Say which state the session moves to (see its next_states).",
            "invalid_choice": "“{input}” is not a session state: use one of "
            f"{', '.join(InfusionSessionState.values)}.",
        },
    )
    reason = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Why, when the session stops early or is not started.",
    )


class VitalsInputSerializer(serializers.Serializer):
    systolic = serializers.IntegerField(required=False, allow_null=True)
    diastolic = serializers.IntegerField(required=False, allow_null=True)
    heart_rate = serializers.IntegerField(required=False, allow_null=True)
    spo2 = serializers.IntegerField(required=False, allow_null=True)
    respiratory_rate = serializers.IntegerField(required=False, allow_null=True)
    consciousness = serializers.IntegerField(required=False, allow_null=True)
    pain = serializers.IntegerField(required=False, allow_null=True)


class PreAssessmentInputSerializer(serializers.Serializer):
    """The checks. PATCH sends only what changed; PUT sends the checks in full. ``vitals``
    (the pre-infusion reading) and ``caution_acknowledgement`` (a physician's note) are
    optional; everything in one request is saved together or not at all."""

    identity_confirmed = serializers.BooleanField()
    weight_kg = _decimal_field("the weight in kg", allow_null=True)
    pregnancy_status = serializers.ChoiceField(
        choices=PregnancyStatus.choices,
        allow_blank=True,
        error_messages={
            "invalid_choice": "Choose a pregnancy status: one of "
            f"{', '.join(PregnancyStatus.values)}."
        },
    )
    escort_confirmed = serializers.BooleanField()
    escort_name = serializers.CharField(allow_blank=True, max_length=120)
    escort_phone = serializers.CharField(allow_blank=True, max_length=20)
    last_ate_at = UtcDateTimeField(allow_null=True)
    notes = serializers.CharField(allow_blank=True, required=False)
    vitals = VitalsInputSerializer(required=False, help_text="The pre-infusion vital signs.")
    caution_acknowledgement = serializers.CharField(
        required=False,
        help_text="A physician's note acknowledging a blood pressure caution.",
    )


class DoseOrderInputSerializer(serializers.Serializer):
    route = serializers.ChoiceField(
        choices=DoseRoute.choices,
        error_messages={"invalid_choice": f"Choose a route: one of {', '.join(DoseRoute.values)}."},
    )
    dose_mg_per_kg = _decimal_field("the dose in mg/kg")
    duration_minutes = serializers.IntegerField(
        required=False, allow_null=True, help_text="Required for an IV infusion."
    )
    concentration_mg_per_ml = _decimal_field(
        "the concentration in mg/mL", required=False, allow_null=True
    )
    note = serializers.CharField(required=False, allow_blank=True, default="")


class AdministrationInputSerializer(serializers.Serializer):
    lot = id_field("lot", "the ledger")
    drawn_mg = _decimal_field("the amount drawn in mg")
    administered_mg = _decimal_field("the amount given in mg")
    witness = id_field(
        "witness",
        "the staff list",
        required=False,
        allow_null=True,
        help_text="The second nurse or physician who saw the rest wasted (when drawn > given).",
    )
    witness_password = serializers.CharField(
        required=False, allow_blank=True, default="", style={"input_type": "password"}
    )
    witness_otp = cosigner_code_field("witness")
    note = serializers.CharField(required=False, allow_blank=True, default="")


# --- Views ---------------------------------------------------------------------------------------


class SessionAPIView(ScheduleAPIView):
    """Every session endpoint needs VIEW_CLINICAL; the services check the rest."""

    read_capability = Capability.VIEW_CLINICAL
    write_capability = Capability.VIEW_CLINICAL

    def get_permissions(self) -> list[BasePermission]:
        return [capability_permission(Capability.VIEW_CLINICAL)()]

    def session(self) -> InfusionSession:
        return session_for(self.request.user, self.kwargs["session_id"])

    def answer(self, session: InfusionSession, code: int = status.HTTP_200_OK) -> Response:
        fresh = _with_records(InfusionSession.objects.filter(pk=session.pk)).get()
        return Response(SessionSerializer(fresh).data, status=code)


def _with_records(sessions: QuerySet[InfusionSession]) -> QuerySet[InfusionSession]:
    """Each session with its place, checks, current order and administration joined in."""
    return sessions.select_related(
        "appointment__patient",
        "appointment__location",
        "pre_assessment__vitals",
        "pre_assessment__caution_acknowledged_by",
    ).prefetch_related(
        "pre_assessment__questionnaires",
        Prefetch(
            "dose_orders",
            queryset=DoseOrder.objects.filter(replaced_by__isnull=True)
            .select_related(
                "ordered_by",
                "replaces",
                "administration__lot",
                "administration__given_by",
                "administration__witness",
            )
            .order_by("-signed_at"),
            to_attr="current_orders",
        ),
    )


class SessionList(SessionAPIView, generics.ListAPIView):
    """Infusion sessions, by appointment time: filter by the location's local ``day`` and by
    ``location``."""

    serializer_class = SessionSerializer

    def get_queryset(self) -> QuerySet[InfusionSession]:
        query = self.validated(SessionFilterSerializer, data=self.request.query_params)
        sessions = sessions_visible_to(self.request.user)
        if "location" in query:
            location = location_named(self.request.user, query["location"])
            sessions = sessions.filter(appointment__location=location)
        if "day" in query:
            sessions = _on_local_day(sessions, query["day"])
        return _with_records(sessions).order_by("appointment__starts_at", "id")

    @extend_schema(
        parameters=[SessionFilterSerializer],
        responses={200: SessionSerializer(many=True), **LIST_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        self.audit_list_read(InfusionSession, "infusion session list", len(page))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class SessionDetail(SessionAPIView):
    serializer_class = SessionSerializer

    @extend_schema(responses={200: SessionSerializer, **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """One session: its state and times, the pre-infusion checks, the current dose
        order and what was given."""
        session = self.session()
        self.audit_read(
            session.appointment.patient,
            "read an infusion session through the API",
        )
        return self.answer(session)


class SessionOpen(SessionAPIView):
    serializer_class = SessionSerializer

    @extend_schema(
        request=None,
        responses={200: SessionSerializer, 201: SessionSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Open the session of an infusion or booster appointment (201), or return the one
        already open (200)."""
        appointment = appointment_for(request.user, kwargs["appointment_id"])
        existed = InfusionSession.objects.filter(appointment=appointment).exists()
        with field_errors():
            session = session_for_appointment(
                appointment=appointment, actor=request.user, request=request
            )
        return self.answer(session, status.HTTP_200_OK if existed else status.HTTP_201_CREATED)


class SessionTransition(SessionAPIView):
    serializer_class = SessionSerializer

    @extend_schema(request=TransitionSerializer, responses={200: SessionSerializer, **WRITE_ERRORS})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Move the session along: checked in → pre-assessment passed → infusing ⇄ paused →
        recovering → discharged; stopped early or not started with a reason. A refused
        move answers 400 saying what is possible next or what is missing."""
        session = self.session()
        data = self.validated(TransitionSerializer)
        with field_errors():
            session_transition(
                actor=request.user,
                session=session,
                to_state=data["to_state"],
                reason=data["reason"],
                request=request,
            )
        return self.answer(session)


class SessionPreAssessment(SessionAPIView):
    serializer_class = SessionSerializer

    @extend_schema(
        request=PreAssessmentInputSerializer, responses={200: SessionSerializer, **WRITE_ERRORS}
    )
    def put(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record the pre-infusion checks in full (while the patient is checked in)."""
        return self.save(partial=False)

    @extend_schema(
        request=PreAssessmentInputSerializer, responses={200: SessionSerializer, **WRITE_ERRORS}
    )
    def patch(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record some of the pre-infusion checks; what is left out stays as it was."""
        return self.save(partial=True)

    def save(self, *, partial: bool) -> Response:
        session = self.session()
        serializer = PreAssessmentInputSerializer(data=self.request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        vitals = data.pop("vitals", None)
        note = data.pop("caution_acknowledgement", None)
        with field_errors(), transaction.atomic():
            pre_assessment_record(
                actor=self.request.user, session=session, request=self.request, **data
            )
            if vitals is not None:
                pre_assessment_vitals(
                    actor=self.request.user,
                    session=session,
                    values=ReadingInput(**vitals),
                    request=self.request,
                )
            if note is not None:
                pre_assessment_acknowledge_caution(
                    actor=self.request.user, session=session, note=note, request=self.request
                )
        return self.answer(session)


class SessionDoseOrders(SessionAPIView):
    serializer_class = DoseOrderSerializer

    @extend_schema(
        request=DoseOrderInputSerializer, responses={201: DoseOrderSerializer, **WRITE_ERRORS}
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A physician signs the dose order for today's weight (the server works out the
        total, the rates and the volume); it replaces the current order until the drug is
        given."""
        session = self.session()
        data = self.validated(DoseOrderInputSerializer)
        with field_errors():
            order = dose_order_sign(
                actor=request.user,
                session=session,
                route=data["route"],
                dose_mg_per_kg=data["dose_mg_per_kg"],
                duration_minutes=data.get("duration_minutes"),
                concentration_mg_per_ml=data.get("concentration_mg_per_ml"),
                note=data["note"],
                request=request,
            )
        return Response(DoseOrderSerializer(order).data, status=status.HTTP_201_CREATED)


class SessionAdministration(SessionAPIView):
    serializer_class = DoseAdministrationSerializer

    @extend_schema(
        request=AdministrationInputSerializer,
        responses={
            201: DoseAdministrationSerializer,
            400: ERRORS_400,
            403: ERRORS_403,
            404: ERRORS_404,
        },
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record the dose given against the current order: drawn from a lot of the
        session's location, given, and the rest wasted in front of a witness who sends
        their own password. The ledger entries are booked in the same transaction."""
        session = self.session()
        data = self.validated(AdministrationInputSerializer)
        order = current_order(session)
        if order is None:
            raise refused("order", "A physician must sign the dose order first.")
        lot = lots_visible_to(request.user).filter(public_id=data["lot"]).first()
        if lot is None:
            raise refused("lot", "There is no lot with that id: pick one from the ledger.")
        witness = None
        if data.get("witness"):
            witness = User.objects.filter(public_id=data["witness"], is_active=True).first()
            if witness is None:
                raise refused("witness", "There is no active member of staff with that id.")
        with field_errors():
            administration = dose_administer(
                actor=request.user,
                order=order,
                lot=lot,
                drawn_mg=data["drawn_mg"],
                administered_mg=data["administered_mg"],
                witness=witness,
                witness_password=data["witness_password"],
                witness_otp=data["witness_otp"],
                note=data["note"],
                request=request,
            )
        return Response(
            DoseAdministrationSerializer(administration).data, status=status.HTTP_201_CREATED
        )


def _on_local_day(sessions: QuerySet[InfusionSession], day: date) -> QuerySet[InfusionSession]:
    """Sessions whose appointment starts on ``day`` on its own location's clock."""
    local_day = Cast(
        Func(
            F("appointment__location__time_zone"),
            F("appointment__starts_at"),
            function="timezone",
            output_field=DateTimeField(),
        ),
        output_field=DateField(),
    )
    return (
        sessions.filter(
            appointment__starts_at__gte=datetime.combine(
                day - timedelta(days=1), time.min, tzinfo=UTC
            ),
            appointment__starts_at__lt=datetime.combine(
                day + timedelta(days=2), time.min, tzinfo=UTC
            ),
        )
        .alias(local_day=local_day)
        .filter(local_day=day)
    )


urlpatterns = [
    path("sessions/", SessionList.as_view(), name="session-list"),
    path("sessions/<uuid:session_id>/", SessionDetail.as_view(), name="session-detail"),
    path(
        "appointments/<uuid:appointment_id>/session/",
        SessionOpen.as_view(),
        name="infusion-session-open",
    ),
    path(
        "sessions/<uuid:session_id>/transition/",
        SessionTransition.as_view(),
        name="session-transition",
    ),
    path(
        "sessions/<uuid:session_id>/pre-assessment/",
        SessionPreAssessment.as_view(),
        name="session-pre-assessment",
    ),
    path(
        "sessions/<uuid:session_id>/dose-orders/",
        SessionDoseOrders.as_view(),
        name="session-dose-orders",
    ),
    path(
        "sessions/<uuid:session_id>/administration/",
        SessionAdministration.as_view(),
        name="session-administration",
    ),
]
