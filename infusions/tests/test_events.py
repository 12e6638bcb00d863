"""Side effects, interventions and acknowledging alerts: a named person and an action, never
twice; a medication needs its name, dose and route and becomes an event; pause and stop
move the session; bad input refused with nothing saved."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from clinic.models import AuditEvent
from infusions.models import SessionAlert, SessionEvent, SessionStateChange
from infusions.models.readings import AlertAction
from infusions.models.sessions import InfusionSessionState
from infusions.session_alerts import alert_acknowledge, open_alert_counts
from infusions.session_events import event_mark_in_error, event_record
from infusions.tests.test_flowsheet import record, session_in

S = InfusionSessionState


@pytest.fixture
def infusing(nina, phil):
    return session_in(nina, phil, S.INFUSING)


@pytest.fixture
def alert(nina, infusing) -> SessionAlert:
    return record(nina, infusing, systolic=185).alerts.get()


def side_effect(nurse, session, **fields) -> SessionEvent:
    defaults = {"side_effect": "nausea", "severity": "mild"}
    return event_record(actor=nurse, session=session, **(defaults | fields))


# --- Acknowledging alerts ------------------------------------------------------------------------


def test_an_alert_is_acknowledged_by_the_named_person_with_the_action(phil, alert, infusing):
    alert_acknowledge(actor=phil, alert=alert, action=AlertAction.SLOW, note="Rate halved")

    alert.refresh_from_db()
    assert alert.acknowledged_by == phil
    assert alert.acknowledged_at is not None
    assert (alert.action, alert.action_note) == (AlertAction.SLOW, "Rate halved")
    assert open_alert_counts([infusing.appointment_id]) == {}
    audit = AuditEvent.objects.filter(object_id=str(alert.public_id)).get()
    patient_id = str(infusing.appointment.patient.public_id)
    assert patient_id in audit.summary
    # No value either (the random id may itself contain the digits, so it is left out).
    assert "185" not in audit.summary.replace(patient_id, "")


def test_an_alert_is_acknowledged_only_once(nina, phil, alert):
    alert_acknowledge(actor=nina, alert=alert, action=AlertAction.CONTINUE)

    with pytest.raises(ValidationError) as twice:
        alert_acknowledge(actor=phil, alert=alert, action=AlertAction.SLOW)

    assert "Nina Nurse acknowledged this alert already" in twice.value.message_dict["alert"][0]
    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.action) == (nina, AlertAction.CONTINUE)


def test_an_unknown_action_is_refused(nina, alert):
    with pytest.raises(ValidationError) as refused:
        alert_acknowledge(actor=nina, alert=alert, action="shrug")

    assert "Say what was done" in refused.value.message_dict["action"][0]
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_the_front_desk_cannot_acknowledge(fran, alert):
    with pytest.raises(PermissionDenied):
        alert_acknowledge(actor=fran, alert=alert, action=AlertAction.CONTINUE)
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


@pytest.mark.parametrize(
    ("missing", "field"),
    [
        ({"medication_name": ""}, "medication_name"),
        ({"medication_dose": ""}, "medication_dose"),
        ({"medication_route": ""}, "medication_route"),
        ({"medication_route": "nasal"}, "medication_route"),
    ],
)
def test_medication_given_needs_name_dose_and_route(nina, alert, missing, field):
    medication = {
        "medication_name": "Labetalol",
        "medication_dose": "10 mg",
        "medication_route": "iv",
    } | missing

    with pytest.raises(ValidationError) as refused:
        alert_acknowledge(actor=nina, alert=alert, action=AlertAction.MEDICATION, **medication)

    assert field in refused.value.message_dict
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
    assert SessionEvent.objects.count() == 0


def test_medication_given_is_recorded_as_an_event_of_the_alert(nina, alert, infusing):
    alert_acknowledge(
        actor=nina,
        alert=alert,
        action=AlertAction.MEDICATION,
        note="Rechecked at 5 min",
        medication_name="Labetalol",
        medication_dose="10 mg",
        medication_route="iv",
    )

    event = SessionEvent.objects.get()
    assert event.alert == alert
    assert event.session == infusing
    assert (event.medication_name, event.medication_dose, event.medication_route) == (
        "Labetalol",
        "10 mg",
        "iv",
    )
    assert event.recorded_by == nina
    alert.refresh_from_db()
    assert alert.action == AlertAction.MEDICATION


def test_a_medication_with_another_action_is_refused(nina, alert):
    with pytest.raises(ValidationError) as refused:
        alert_acknowledge(
            actor=nina, alert=alert, action=AlertAction.CONTINUE, medication_name="Ondansetron"
        )
    assert "medication given" in refused.value.message_dict["action"][0]
    assert SessionEvent.objects.count() == 0


def test_pause_pauses_an_infusing_session(nina, alert, infusing):
    alert_acknowledge(actor=nina, alert=alert, action=AlertAction.PAUSE)

    infusing.refresh_from_db()
    assert infusing.state == S.PAUSED
    move = SessionStateChange.objects.filter(session=infusing).last()
    assert (move.to_state, move.by) == (S.PAUSED, nina)


def test_stop_stops_the_session_early_with_the_alert_as_reason(nina, alert, infusing):
    alert_acknowledge(actor=nina, alert=alert, action=AlertAction.STOP, note="Headache too")

    infusing.refresh_from_db()
    assert infusing.state == S.STOPPED_EARLY
    assert infusing.stop_reason == f"Alert: {alert.message} Headache too"


def test_pause_during_recovery_acknowledges_without_moving(nina, phil):
    session = session_in(nina, phil, S.RECOVERING)
    alert = record(nina, session, spo2=88).alerts.get()

    alert_acknowledge(actor=nina, alert=alert, action=AlertAction.PAUSE)

    session.refresh_from_db()
    alert.refresh_from_db()
    assert session.state == S.RECOVERING
    assert alert.action == AlertAction.PAUSE


# --- Side effects and interventions --------------------------------------------------------------


def test_a_side_effect_is_recorded_with_its_severity_and_time(nina, infusing):
    when = timezone.now() - timedelta(minutes=5)

    event = side_effect(nina, infusing, occurred_at=when, severity="moderate")

    event.refresh_from_db()
    assert (event.side_effect, event.severity, event.occurred_at) == ("nausea", "moderate", when)
    assert event.recorded_by == nina
    audit = AuditEvent.objects.get(object_id=str(event.public_id))
    assert "nausea" not in audit.summary


def test_a_side_effect_and_the_medication_for_it_go_together(nina, infusing):
    event = side_effect(
        nina,
        infusing,
        medication_name="Ondansetron",
        medication_dose="4 mg",
        medication_route="sublingual",
    )
    assert (event.side_effect, event.medication_name) == ("nausea", "Ondansetron")


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"side_effect": "", "severity": ""}, "side_effect", "Choose the side effect"),
        ({"side_effect": "itching"}, "side_effect", "not on the list"),
        ({"severity": ""}, "severity", "how severe"),
        ({"severity": "awful"}, "severity", "how severe"),
        ({"side_effect": "other"}, "description", "Describe"),
        ({"medication_name": "Ondansetron"}, "medication_dose", "Enter the dose"),
        ({"medication_dose": "4 mg", "medication_route": "iv"}, "medication_name", "name"),
        ({"description": "x" * 201, "side_effect": "other"}, "description", "200 characters"),
        ({"occurred_at": "in an hour"}, "occurred_at", "in the future"),
    ],
    ids=lambda value: str(value)[:40],
)
def test_a_bad_event_is_refused_with_nothing_saved(nina, infusing, fields, field, words):
    if fields.get("occurred_at") == "in an hour":
        fields = {"occurred_at": timezone.now() + timedelta(hours=1)}
    with pytest.raises(ValidationError) as refused:
        side_effect(nina, infusing, **fields)

    assert words in " ".join(refused.value.message_dict[field])
    assert SessionEvent.objects.count() == 0


def test_an_event_before_check_in_is_refused(nina, infusing):
    checked_in = infusing.state_changes.get(to_state=S.CHECKED_IN).at

    with pytest.raises(ValidationError) as refused:
        side_effect(nina, infusing, occurred_at=checked_in - timedelta(minutes=2))

    assert "before the patient was checked in" in refused.value.message_dict["occurred_at"][0]
    assert SessionEvent.objects.count() == 0


def test_no_event_before_check_in(nina, phil):
    session = session_in(nina, phil, S.SCHEDULED)
    with pytest.raises(ValidationError) as refused:
        side_effect(nina, session)
    assert "Check the patient in first" in refused.value.message_dict["session"][0]


def test_the_front_desk_cannot_record_events(fran, infusing):
    with pytest.raises(PermissionDenied):
        side_effect(fran, infusing)
    assert SessionEvent.objects.count() == 0


def test_an_event_is_marked_in_error_once_with_a_reason(nina, phil, infusing):
    event = side_effect(nina, infusing)

    event_mark_in_error(actor=phil, event=event, reason="Wrong patient")
    with pytest.raises(ValidationError) as twice:
        event_mark_in_error(actor=nina, event=event, reason="Again")

    event.refresh_from_db()
    assert (event.entered_in_error_by, event.entered_in_error_reason) == (phil, "Wrong patient")
    assert "already" in twice.value.message_dict["reason"][0]
