"""The shapes of the session API (``infusions.api.sessions``): what it answers (a session
with its checks, current dose order and what was given) and what it takes (shapes only; the
services check the values)."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from clinic.api.fields import UtcDateTimeField, date_field, id_field
from clinic.api.serializers import cosigner_code_field
from infusions.models import DoseAdministration, DoseOrder, InfusionSession, PreAssessment
from infusions.models.orders import DoseRoute
from infusions.models.preassessment import PregnancyStatus
from infusions.models.sessions import InfusionSessionState
from infusions.orders import current_order
from infusions.sessions import session_next_states
from scheduling.api.common import LocationRefSerializer, PatientRefSerializer

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
        return self._nested(PreAssessmentSerializer).to_representation(assessment)

    @extend_schema_field(DoseOrderSerializer(allow_null=True))
    def get_current_order(self, session: InfusionSession) -> dict[str, Any] | None:
        order = _current_order(session)
        if order is None:
            return None
        return self._nested(DoseOrderSerializer).to_representation(order)

    @extend_schema_field(DoseAdministrationSerializer(allow_null=True))
    def get_administration(self, session: InfusionSession) -> dict[str, Any] | None:
        order = _current_order(session)
        if order is None:
            return None
        try:
            administration = order.administration
        except DoseAdministration.DoesNotExist:
            return None
        return self._nested(DoseAdministrationSerializer).to_representation(administration)

    def _nested(self, serializer_class: type[serializers.Serializer]) -> serializers.Serializer:
        """One ``serializer_class`` for every session of a list: building a serializer's
        fields anew for each row was most of a 50-session page's time."""
        made = self.__dict__.setdefault("_nested_serializers", {})
        if serializer_class not in made:
            made[serializer_class] = serializer_class(context=self.context)
        return made[serializer_class]


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
