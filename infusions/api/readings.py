"""The flowsheet API: a session's readings, alerts and events, under /api/v1/sessions/<id>/.

- ``readings/``: GET every reading (those entered in error too, marked), POST one reading.
- ``readings/batch/``: POST a monitor's batch (source "monitor"), all or nothing; answers
  the readings made and the alerts they raised.
- ``alerts/``: GET the session's alerts (``?open=true``: only unacknowledged ones);
  ``alerts/<alert_id>/acknowledge/``: POST what was done, by the caller.
- ``events/``: GET the side effects and interventions, POST one.

Reading needs VIEW_CLINICAL, writing RECORD_CLINICAL (nurses and physicians; the front
desk gets 403). The session is fetched through ``infusions.selectors.session_for`` and its
readings, alerts and events only through it (404 otherwise). Times are ISO 8601 with their
UTC offset (a time without one is refused) and come back in UTC. Every write goes through
``infusions.readings``, ``infusions.session_alerts`` or ``infusions.session_events``; bad
input answers 400 with messages keyed by field, nothing saved.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from clinic.api.errors import (
    READ_ERRORS,
    WRITE_ERRORS,
    field_errors,
)
from clinic.api.fields import (
    TIME_EXAMPLE,
    UtcDateTimeField,
)
from clinic.permissions import Capability
from infusions.flowsheet_rules import OPEN_ALERT
from infusions.models import InfusionSession, SessionAlert, SessionEvent, VitalsReading
from infusions.models.events import MedicationRoute, Severity
from infusions.models.readings import AlertAction, ReadingSource
from infusions.readings import (
    BATCH_MAX,
    VALUE_FIELDS,
    ReadingInput,
    reading_record,
    readings_record_batch,
)
from infusions.selectors import session_for
from infusions.session_alerts import alert_acknowledge
from infusions.session_events import event_record, events_for
from patients.models import SideEffect
from scheduling.api.common import (
    ClinicianRefSerializer,
    ScheduleAPIView,
)

# --- Fields ------------------------------------------------------------------------------------


def _choice(choices: Any, **kwargs: Any) -> serializers.ChoiceField:
    """A choice field whose values are written into the schema where it is used. "source"
    and "severity" name other choice sets elsewhere in the API, and the schema's enum
    components are named after the field; wrapped in ``allOf`` the values stay here."""
    values = [value for value, _label in choices]
    if kwargs.get("allow_blank"):
        values.append("")

    @extend_schema_field({"allOf": [{"type": "string", "enum": values}]})
    class InlineChoiceField(serializers.ChoiceField):
        pass

    return InlineChoiceField(choices=choices, **kwargs)


# --- Responses ---------------------------------------------------------------------------------


class AlertFindingSerializer(serializers.Serializer):
    parameter = serializers.CharField(
        read_only=True,
        help_text="The value out of range: systolic, diastolic, heart_rate, spo2 or "
        "respiratory_rate.",
    )
    direction = serializers.ChoiceField(choices=[("high", "High"), ("low", "Low")], read_only=True)
    value = serializers.IntegerField(read_only=True)
    threshold = serializers.IntegerField(read_only=True, help_text="The alert limit it crossed.")
    message = serializers.CharField(read_only=True)


class AlertSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    reading = serializers.UUIDField(source="reading.public_id", read_only=True)
    findings = AlertFindingSerializer(
        many=True,
        read_only=True,
        help_text="Every value of the reading out of range, in a fixed order: one reading "
        "raises one alert, acknowledged once.",
    )
    raised_at = UtcDateTimeField(read_only=True)
    acknowledged = serializers.SerializerMethodField(help_text="Whether someone acknowledged it.")
    acknowledged_by = ClinicianRefSerializer(read_only=True, allow_null=True)
    acknowledged_at = UtcDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = SessionAlert
        fields = [
            "id",
            "reading",
            "findings",
            "message",
            "raised_at",
            "acknowledged",
            "acknowledged_by",
            "acknowledged_at",
            "action",
            "action_note",
        ]
        read_only_fields = fields

    def get_acknowledged(self, alert: SessionAlert) -> bool:
        return alert.acknowledged_at is not None


class ReadingSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    taken_at = UtcDateTimeField(read_only=True)
    source = _choice(ReadingSource.choices, read_only=True)
    recorded_by = ClinicianRefSerializer(read_only=True)
    entered_in_error = serializers.SerializerMethodField(
        help_text="A reading marked entered in error stays on record but raises nothing."
    )
    entered_in_error_at = UtcDateTimeField(read_only=True, allow_null=True)
    alerts = AlertSerializer(many=True, read_only=True)

    class Meta:
        model = VitalsReading
        fields = [
            "id",
            "taken_at",
            "phase",
            "source",
            "systolic",
            "diastolic",
            "heart_rate",
            "spo2",
            "respiratory_rate",
            "consciousness",
            "pain",
            "recorded_by",
            "entered_in_error",
            "entered_in_error_at",
            "entered_in_error_reason",
            "alerts",
        ]
        read_only_fields = fields

    def get_entered_in_error(self, reading: VitalsReading) -> bool:
        return reading.entered_in_error_at is not None


class BatchResultSerializer(serializers.Serializer):
    readings = ReadingSerializer(many=True, read_only=True)
    alerts = AlertSerializer(
        many=True, read_only=True, help_text="The alerts the batch raised, oldest first."
    )


class EventSerializer(serializers.ModelSerializer):
    id = serializers.UUIDField(source="public_id", read_only=True)
    occurred_at = UtcDateTimeField(read_only=True)
    severity = _choice(Severity.choices, read_only=True, allow_blank=True)
    alert = serializers.UUIDField(
        source="alert.public_id",
        read_only=True,
        allow_null=True,
        help_text="The alert this was done for, if any.",
    )
    recorded_by = ClinicianRefSerializer(read_only=True)
    entered_in_error = serializers.SerializerMethodField()
    entered_in_error_at = UtcDateTimeField(read_only=True, allow_null=True)

    class Meta:
        model = SessionEvent
        fields = [
            "id",
            "occurred_at",
            "side_effect",
            "severity",
            "description",
            "medication_name",
            "medication_dose",
            "medication_route",
            "alert",
            "note",
            "recorded_by",
            "entered_in_error",
            "entered_in_error_at",
            "entered_in_error_reason",
        ]
        read_only_fields = fields

    def get_entered_in_error(self, event: SessionEvent) -> bool:
        return event.entered_in_error_at is not None


# --- Requests: shapes only; the services check the values --------------------------------------


def _value(what: str) -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False,
        allow_null=True,
        default=None,
        help_text=f"{what}; leave out or null when not measured.",
        error_messages={"invalid": f"Send {what.lower()} as a whole number."},
    )


class ReadingInputSerializer(serializers.Serializer):
    """One set of vital signs. A nurse's reading (source "manual") needs BP, HR, SpO2, RR
    and consciousness; a monitor's what it measured."""

    taken_at = UtcDateTimeField(
        required=False,
        help_text=f"When it was taken, ISO 8601 with its UTC offset, e.g. {TIME_EXAMPLE}; "
        "now if left out. Not before check-in, not in the future.",
    )
    systolic = _value("Systolic pressure (mmHg)")
    diastolic = _value("Diastolic pressure (mmHg), below the systolic")
    heart_rate = _value("Heart rate (/min)")
    spo2 = _value("Oxygen saturation (%)")
    respiratory_rate = _value("Respiratory rate (/min)")
    consciousness = _value("Level of consciousness, 1 (alert) to 5 (unresponsive)")
    pain = _value("Pain, 0 to 10")
    source = _choice(
        ReadingSource.choices,
        default=ReadingSource.MANUAL,
        help_text="Who measured it: manual (entered by staff, the default) or monitor.",
        error_messages={"invalid_choice": "Send the source as manual or monitor."},
    )

    def values(self, data: dict[str, Any]) -> ReadingInput:
        return ReadingInput(**{name: data.get(name) for name in VALUE_FIELDS})


class BatchReadingSerializer(ReadingInputSerializer):
    taken_at = UtcDateTimeField(
        help_text=f"When it was taken, ISO 8601 with its UTC offset, e.g. {TIME_EXAMPLE}.",
        error_messages={"required": "Say when each reading was taken: give taken_at."},
    )

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        fields.pop("source")  # a batch is a monitor's
        return fields


class BatchSerializer(serializers.Serializer):
    readings = BatchReadingSerializer(
        many=True,
        allow_empty=False,
        max_length=BATCH_MAX,
        help_text=f"The readings, at most {BATCH_MAX}; all are saved or none.",
    )


class AcknowledgeSerializer(serializers.Serializer):
    action = serializers.ChoiceField(
        choices=AlertAction.choices,
        help_text="What was done. pause and stop also move an infusing (stop: or paused) "
        "session; medication needs the medication.",
        error_messages={
            "required": f"Say what was done: one of {', '.join(AlertAction.values)}.",
            "invalid_choice": f"Say what was done: one of {', '.join(AlertAction.values)}.",
        },
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)
    medication_name = serializers.CharField(required=False, allow_blank=True, default="")
    medication_dose = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="e.g. 4 mg"
    )
    medication_route = serializers.ChoiceField(
        choices=MedicationRoute.choices, required=False, allow_blank=True, default=""
    )


class EventInputSerializer(serializers.Serializer):
    """A side effect (with its severity), a medication given (name, dose, route), or both."""

    occurred_at = UtcDateTimeField(
        required=False,
        help_text=f"When, ISO 8601 with its UTC offset, e.g. {TIME_EXAMPLE}; now if left out.",
    )
    side_effect = serializers.ChoiceField(
        choices=SideEffect.choices, required=False, allow_blank=True, default=""
    )
    severity = _choice(Severity.choices, required=False, allow_blank=True, default="")
    description = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="Needed for other."
    )
    medication_name = serializers.CharField(required=False, allow_blank=True, default="")
    medication_dose = serializers.CharField(required=False, allow_blank=True, default="")
    medication_route = serializers.ChoiceField(
        choices=MedicationRoute.choices, required=False, allow_blank=True, default=""
    )
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000)


class AlertFilterSerializer(serializers.Serializer):
    open = serializers.BooleanField(
        required=False, default=False, help_text="Only alerts nobody has acknowledged yet."
    )


# --- Views -------------------------------------------------------------------------------------


class _SessionScoped(ScheduleAPIView):
    """Views under /sessions/<id>/: the session through the one access function."""

    read_capability = Capability.VIEW_CLINICAL
    write_capability = Capability.RECORD_CLINICAL
    pagination_class = None

    def session(self) -> InfusionSession:
        return session_for(self.request.user, self.kwargs["session_id"])

    def audit_session_read(self, session: InfusionSession, what: str) -> None:
        self.audit_read(
            session,
            f"read the {what} of patient {session.appointment.patient.public_id} through the API",
        )


def _readings(session: InfusionSession, pks: list[int] | None = None) -> list[VitalsReading]:
    readings = session.readings.select_related("recorded_by").prefetch_related(
        Prefetch(
            "alerts",
            queryset=SessionAlert.objects.select_related("acknowledged_by", "reading").order_by(
                "raised_at", "id"
            ),
        )
    )
    if pks is not None:
        readings = readings.filter(pk__in=pks)
    return list(readings.order_by("taken_at", "id"))


class SessionReadings(_SessionScoped):
    """A session's vital signs, oldest first, each with the alert it raised (one at most)."""

    serializer_class = ReadingSerializer

    @extend_schema(responses={200: ReadingSerializer(many=True), **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        session = self.session()
        self.audit_session_read(session, "vital signs")
        return Response(ReadingSerializer(_readings(session), many=True).data)

    @extend_schema(
        request=ReadingInputSerializer,
        responses={201: ReadingSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record one reading; values beyond the alert limits raise one alert listing them
        all (in the answer, under ``alerts``).
        Refused with nothing saved: diastolic at or above systolic, a value outside
        physiological limits, a time before check-in or in the future, a closed session."""
        session = self.session()
        serializer = ReadingInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with field_errors():
            reading = reading_record(
                actor=request.user,
                session=session,
                values=serializer.values(data),
                taken_at=data.get("taken_at"),
                source=data["source"],
                request=request,
            )
        return Response(
            ReadingSerializer(_readings(session, [reading.pk])[0]).data,
            status=status.HTTP_201_CREATED,
        )


class SessionReadingsBatch(_SessionScoped):
    serializer_class = BatchResultSerializer

    @extend_schema(request=BatchSerializer, responses={201: BatchResultSerializer, **WRITE_ERRORS})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """A monitor's batch of readings (source monitor), all or nothing: when one is
        refused, the 400 names it by index (``readings[1].systolic: …``) and none is saved.
        Answers the readings made and the alerts they raised."""
        session = self.session()
        checked = BatchSerializer(data=request.data)
        if not checked.is_valid():
            raise exceptions.ValidationError(_by_index(checked.errors))
        data = checked.validated_data
        shape = BatchReadingSerializer()
        with field_errors():
            made = readings_record_batch(
                actor=request.user,
                session=session,
                readings=[(one["taken_at"], shape.values(one)) for one in data["readings"]],
                request=request,
            )
        readings = _readings(session, [reading.pk for reading in made])
        alerts = sorted(
            (alert for reading in readings for alert in reading.alerts.all()),
            key=lambda alert: (alert.raised_at, alert.pk),
        )
        body = {"readings": readings, "alerts": alerts}
        return Response(BatchResultSerializer(body).data, status=status.HTTP_201_CREATED)


class SessionAlerts(_SessionScoped):
    """A session's alerts, oldest first; ``open=true`` for the unacknowledged ones only."""

    serializer_class = AlertSerializer

    @extend_schema(
        parameters=[AlertFilterSerializer],
        responses={200: AlertSerializer(many=True), **READ_ERRORS},
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        session = self.session()
        query = self.validated(AlertFilterSerializer, data=request.query_params)
        alerts = session.alerts.select_related("acknowledged_by", "reading")
        if query["open"]:
            alerts = alerts.filter(OPEN_ALERT)
        self.audit_session_read(session, "vital signs alerts")
        return Response(AlertSerializer(alerts.order_by("raised_at", "id"), many=True).data)


class SessionAlertAcknowledge(_SessionScoped):
    serializer_class = AlertSerializer

    @extend_schema(
        request=AcknowledgeSerializer,
        responses={200: AlertSerializer, **WRITE_ERRORS},
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Acknowledge an alert, once, as the caller, with what was done. medication needs
        medication_name, medication_dose and medication_route and records an event; pause
        and stop move an infusing (stop: or paused) session in the same transaction."""
        session = self.session()
        alert = _child(session.alerts, self.kwargs["alert_id"], "alert")
        data = self.validated(AcknowledgeSerializer)
        with field_errors():
            alert_acknowledge(actor=request.user, alert=alert, request=request, **data)
        alert = session.alerts.select_related("acknowledged_by", "reading").get(pk=alert.pk)
        return Response(AlertSerializer(alert).data)


class SessionEvents(_SessionScoped):
    """A session's side effects and interventions, oldest first (those entered in error
    too, marked)."""

    serializer_class = EventSerializer

    @extend_schema(responses={200: EventSerializer(many=True), **READ_ERRORS})
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        session = self.session()
        self.audit_session_read(session, "side effects and interventions")
        return Response(EventSerializer(events_for(session), many=True).data)

    @extend_schema(request=EventInputSerializer, responses={201: EventSerializer, **WRITE_ERRORS})
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        """Record a side effect (severity needed; other described), a medication given
        (name, dose and route together), or both, at a time within the session."""
        session = self.session()
        data = self.validated(EventInputSerializer)
        with field_errors():
            event = event_record(actor=request.user, session=session, request=request, **data)
        return Response(EventSerializer(event).data, status=status.HTTP_201_CREATED)


def _by_index(errors: dict[str, Any]) -> dict[str, Any]:
    """A batch's shape errors the way the service words its own: one message per problem,
    each naming the reading by index, ``readings[1].taken_at: …``."""
    found = errors.get("readings")
    if not isinstance(found, dict):
        return errors
    messages: list[str] = []
    for index, problems in found.items():
        if isinstance(index, int) and isinstance(problems, dict):
            for field, texts in problems.items():
                messages.extend(f"readings[{index}].{field}: {text}" for text in texts)
        else:
            messages.extend(str(text) for text in problems)
    return {**errors, "readings": messages}


def _child(manager: Any, public_id: Any, what: str) -> Any:
    try:
        return manager.get(public_id=public_id)
    except manager.model.DoesNotExist:
        raise Http404(f"No such {what} in this session.") from None


urlpatterns = [
    path(
        "sessions/<uuid:session_id>/readings/", SessionReadings.as_view(), name="session-readings"
    ),
    path(
        "sessions/<uuid:session_id>/readings/batch/",
        SessionReadingsBatch.as_view(),
        name="session-readings-batch",
    ),
    path("sessions/<uuid:session_id>/alerts/", SessionAlerts.as_view(), name="session-alerts"),
    path(
        "sessions/<uuid:session_id>/alerts/<uuid:alert_id>/acknowledge/",
        SessionAlertAcknowledge.as_view(),
        name="session-alert-acknowledge",
    ),
    path("sessions/<uuid:session_id>/events/", SessionEvents.as_view(), name="session-events"),
]
