"""Discharge: /api/v1/sessions/<id>/discharge/.

GET (VIEW_CLINICAL) says what still stands in the way of signing the checklist, which alerts
are unresolved (they need a physician's note), and the signed checklist once there is one.
POST (RECORD_CLINICAL) signs it through ``infusions.discharge.discharge_sign``, the same
service as the session screen: 400 with messages keyed by field and nothing saved when a
criterion is not met. Sessions are fetched through ``infusions.selectors.session_for``; every
read is in the audit log, the signature is logged by the service.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.errors import (
    READ_ERRORS,
    WRITE_ERRORS,
    field_errors,
    refused,
)
from clinic.api.fields import (
    UtcDateTimeField,
    id_field,
)
from clinic.api.serializers import cosigner_code_field
from clinic.models import User
from clinic.permissions import Capability
from infusions.discharge import discharge_sign
from infusions.discharge_readiness import (
    DISCHARGE_STATES,
    UnresolvedAlert,
    default_escort_name,
    discharge_blockers,
    unresolved_alerts,
)
from infusions.models import Discharge, InfusionSession
from infusions.selectors import session_for
from scheduling.api.common import (
    ClinicianRefSerializer,
    ScheduleAPIView,
)


class UnresolvedAlertSerializer(serializers.Serializer):
    alert = serializers.UUIDField(source="alert.public_id", read_only=True)
    parameter = serializers.CharField(read_only=True, help_text="The value, e.g. systolic.")
    direction = serializers.CharField(read_only=True, help_text="high or low.")
    value = serializers.SerializerMethodField(help_text="The value in the latest reading.")
    taken_at = UtcDateTimeField(
        source="reading.taken_at", read_only=True, help_text="When the latest reading was taken."
    )
    message = serializers.CharField(read_only=True)

    def get_value(self, item: UnresolvedAlert) -> int:
        return getattr(item.reading, item.parameter)


class DischargeRecordSerializer(serializers.ModelSerializer):
    signed_by = ClinicianRefSerializer(read_only=True)
    physician = ClinicianRefSerializer(read_only=True, allow_null=True)
    signed_at = UtcDateTimeField(read_only=True)

    class Meta:
        model = Discharge
        fields = [
            "vitals_near_baseline",
            "alert_and_oriented",
            "aldrete_score",
            "escort_present",
            "escort_name",
            "instructions_given",
            "physician",
            "physician_note",
            "signed_by",
            "signed_at",
        ]
        read_only_fields = fields


class DischargeStatusSerializer(serializers.Serializer):
    """Where the session stands on discharge."""

    session = serializers.UUIDField(read_only=True)
    state = serializers.CharField(read_only=True, help_text="The session's state.")
    may_sign = serializers.BooleanField(
        read_only=True,
        help_text="Whether the checklist may be signed now (no blockers, not signed yet).",
    )
    blockers = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="What must happen first, each as a sentence saying what to do.",
    )
    unresolved_alerts = UnresolvedAlertSerializer(
        many=True,
        read_only=True,
        help_text="Values still outside the alert limits: signing needs a physician's note.",
    )
    min_aldrete = serializers.IntegerField(
        read_only=True, help_text="The lowest modified Aldrete score the clinic discharges at."
    )
    escort_name = serializers.CharField(
        read_only=True, help_text="The escort named at the pre-assessment, the default."
    )
    discharge = DischargeRecordSerializer(
        read_only=True, allow_null=True, help_text="The signed checklist, once signed."
    )


def _flag(what: str) -> serializers.BooleanField:
    return serializers.BooleanField(
        help_text=f"{what}: must be true to discharge.",
        error_messages={
            "required": f"Say whether {what.lower()} (true or false).",
            "invalid": f"Say whether {what.lower()} with true or false.",
        },
    )


class DischargeSignSerializer(serializers.Serializer):
    """The checklist. The service checks each value and says what to fix."""

    vitals_near_baseline = _flag("The vital signs are back near baseline")
    alert_and_oriented = _flag("The patient is alert and oriented")
    aldrete_score = serializers.IntegerField(
        help_text="The modified Aldrete score, 0 to 10 (at least DISCHARGE_MIN_ALDRETE).",
        error_messages={
            "required": "Give the modified Aldrete score (0 to 10).",
            "invalid": "Give the modified Aldrete score as a whole number from 0 to 10.",
            "null": "Give the modified Aldrete score (0 to 10).",
        },
    )
    escort_present = _flag("An adult escort is present")
    escort_name = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Who takes the patient home; the escort named at the pre-assessment if left out.",
    )
    instructions_given = _flag("The after-care instructions were given")
    physician = id_field(
        "physician",
        "/api/v1/me/ or the staff list",
        required=False,
        allow_null=True,
        help_text="Only with unresolved alerts: the physician who reviewed them.",
    )
    physician_password = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        write_only=True,
        style={"input_type": "password"},
        help_text="The physician's own password, unless the physician is the one signing.",
    )
    physician_otp = cosigner_code_field("physician")
    physician_note = serializers.CharField(
        required=False,
        allow_blank=True,
        default="",
        help_text="Only with unresolved alerts: the physician's note. Ignored otherwise.",
    )


def discharge_status(session: InfusionSession) -> dict[str, Any]:
    discharge = (
        Discharge.objects.filter(session=session).select_related("signed_by", "physician").first()
    )
    blockers = discharge_blockers(session)
    waiting = discharge is None and session.state in DISCHARGE_STATES
    return {
        "session": session.public_id,
        "state": session.state,
        "may_sign": waiting and not blockers,
        "blockers": blockers,
        "unresolved_alerts": unresolved_alerts(session) if waiting else [],
        "min_aldrete": settings.DISCHARGE_MIN_ALDRETE,
        "escort_name": default_escort_name(session),
        "discharge": discharge,
    }


class SessionDischarge(ScheduleAPIView):
    read_capability = Capability.VIEW_CLINICAL
    write_capability = Capability.RECORD_CLINICAL
    serializer_class = DischargeStatusSerializer

    def session(self) -> InfusionSession:
        return session_for(self.request.user, self.kwargs["session_id"])

    @extend_schema(responses={200: DischargeStatusSerializer, **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Where the session stands on discharge: blockers, unresolved alerts, the checklist."""
        session = self.session()
        self.audit_read(
            session.appointment.patient,
            f"read the discharge of infusion session {session.public_id} through the API",
        )
        return Response(DischargeStatusSerializer(discharge_status(session)).data)

    @extend_schema(
        request=DischargeSignSerializer,
        responses={201: DischargeStatusSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Sign the discharge checklist: the session moves to discharged (a session stopped
        early stays so) and the appointment to discharged. An unresolved alert needs
        ``physician`` and ``physician_note`` (and the physician's password unless they sign)."""
        session = self.session()
        data = self.validated(DischargeSignSerializer)
        physician = None
        if data.get("physician") is not None:
            physician = User.objects.filter(public_id=data["physician"], is_active=True).first()
            if physician is None:
                raise refused(
                    "physician", "There is no active member of staff with that id: check it."
                )
        with field_errors():
            discharge_sign(
                actor=request.user,
                session=session,
                vitals_near_baseline=data["vitals_near_baseline"],
                alert_and_oriented=data["alert_and_oriented"],
                aldrete_score=data["aldrete_score"],
                escort_present=data["escort_present"],
                escort_name=data["escort_name"],
                instructions_given=data["instructions_given"],
                physician=physician,
                physician_password=data["physician_password"],
                physician_otp=data["physician_otp"],
                physician_note=data["physician_note"],
                request=request,
            )
        return Response(
            DischargeStatusSerializer(discharge_status(session)).data,
            status=status.HTTP_201_CREATED,
        )


urlpatterns = [
    path(
        "sessions/<uuid:session_id>/discharge/",
        SessionDischarge.as_view(),
        name="session-discharge",
    ),
]
