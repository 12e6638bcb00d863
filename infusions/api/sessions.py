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
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.errors import (
    ERRORS_400,
    ERRORS_403,
    ERRORS_404,
    LIST_ERRORS,
    READ_ERRORS,
    WRITE_ERRORS,
    field_errors,
    refused,
)
from clinic.api.pagination import KeysetPagination
from clinic.api.permissions import capability_permission
from clinic.models import User
from clinic.permissions import Capability
from infusions.api.session_serializers import (
    AdministrationInputSerializer,
    DoseAdministrationSerializer,
    DoseOrderInputSerializer,
    DoseOrderSerializer,
    PreAssessmentInputSerializer,
    SessionFilterSerializer,
    SessionSerializer,
    TransitionSerializer,
)
from infusions.models import DoseOrder, InfusionSession
from infusions.orders import current_order, dose_administer, dose_order_sign
from infusions.preassessment import (
    pre_assessment_acknowledge_caution,
    pre_assessment_record,
    pre_assessment_vitals,
)
from infusions.readings import ReadingInput
from infusions.selectors import lots_visible_to, session_for, sessions_visible_to
from infusions.sessions import session_for_appointment, session_transition
from scheduling.api.common import (
    ScheduleAPIView,
    location_named,
)
from scheduling.selectors import appointment_for

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
    pagination_class = KeysetPagination

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
