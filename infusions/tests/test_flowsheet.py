"""The vitals flowsheet's services: every alert threshold at and around its boundary, bad
readings refused with nothing saved, times outside the session, a monitor's batch all or
nothing, readings marked in error, and when the next reading is due."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.test import override_settings
from django.utils import timezone

from clinic.models import AuditEvent
from infusions import vitals
from infusions.flowsheet import flowsheet_for
from infusions.models import InfusionSession, SessionAlert, SessionStateChange, VitalsReading
from infusions.models.readings import AlertAction, ReadingSource, VitalsPhase
from infusions.models.sessions import InfusionSessionState
from infusions.readings import (
    ReadingInput,
    reading_mark_in_error,
    reading_record,
    readings_record_batch,
)
from infusions.session_alerts import alert_acknowledge, open_alert_counts
from infusions.tests.factories import appointment_follows, infusion_session

S = InfusionSessionState
NORMAL = {
    "systolic": 120,
    "diastolic": 80,
    "heart_rate": 72,
    "spo2": 98,
    "respiratory_rate": 14,
    "consciousness": 1,
}
# How a session reaches each state, and how many minutes ago each step happened by default.
STEPS: dict[S, list[tuple[S, int]]] = {
    S.SCHEDULED: [],
    S.CHECKED_IN: [(S.CHECKED_IN, 60)],
    S.PRE_ASSESSMENT_PASSED: [(S.CHECKED_IN, 60), (S.PRE_ASSESSMENT_PASSED, 50)],
    S.INFUSING: [(S.CHECKED_IN, 60), (S.PRE_ASSESSMENT_PASSED, 50), (S.INFUSING, 40)],
    S.PAUSED: [
        (S.CHECKED_IN, 60),
        (S.PRE_ASSESSMENT_PASSED, 50),
        (S.INFUSING, 40),
        (S.PAUSED, 20),
    ],
    S.RECOVERING: [
        (S.CHECKED_IN, 60),
        (S.PRE_ASSESSMENT_PASSED, 50),
        (S.INFUSING, 40),
        (S.RECOVERING, 20),
    ],
    S.STOPPED_EARLY: [
        (S.CHECKED_IN, 60),
        (S.PRE_ASSESSMENT_PASSED, 50),
        (S.INFUSING, 40),
        (S.STOPPED_EARLY, 20),
    ],
    S.DISCHARGED: [
        (S.CHECKED_IN, 60),
        (S.PRE_ASSESSMENT_PASSED, 50),
        (S.INFUSING, 40),
        (S.RECOVERING, 20),
        (S.DISCHARGED, 5),
    ],
}


def session_in(
    nurse, physician, state: S, *, now: datetime | None = None, **booking
) -> InfusionSession:
    """A session brought to ``state`` by writing its state changes straight to the database
    (at the times ``STEPS`` gives, before ``now``), so tests control when each phase began.
    The lifecycle's own rules are tested in test_sessions.py. ``booking`` goes to
    ``infusion_session`` (location, hour, patient)."""
    session = infusion_session(nurse, physician, **booking)
    return walk_to(session, nurse, STEPS[state], now=now)


def walk_to(session, nurse, steps, *, now: datetime | None = None) -> InfusionSession:
    now = now or timezone.now()
    previous = S(session.state)
    for state, minutes_ago in steps:
        SessionStateChange.objects.create(
            session=session,
            from_state=previous,
            to_state=state,
            at=now - timedelta(minutes=minutes_ago),
            by=nurse,
            reason="Test" if state == S.STOPPED_EARLY else "",
        )
        previous = state
    if steps:
        session.state = previous
        session.stop_reason = "Test" if previous == S.STOPPED_EARLY else ""
        if previous in (S.STOPPED_EARLY, S.DISCHARGED):
            session.ended_at = now
        session.save(update_fields=["state", "stop_reason", "ended_at"])
        appointment_follows(session)
    return session


def record(nurse, session, taken_at=None, source=ReadingSource.MANUAL, **values):
    return reading_record(
        actor=nurse,
        session=session,
        values=ReadingInput(**(NORMAL | values)),
        taken_at=taken_at,
        source=source,
    )


def found(alert: SessionAlert) -> list[tuple[str, str]]:
    """The (parameter, direction) of each value an alert lists."""
    return [(finding["parameter"], finding["direction"]) for finding in alert.findings]


def nothing_saved() -> None:
    assert VitalsReading.objects.count() == 0
    assert SessionAlert.objects.count() == 0


@pytest.fixture
def infusing(nina, phil) -> InfusionSession:
    return session_in(nina, phil, S.INFUSING)


# --- Thresholds ----------------------------------------------------------------------------------

T = vitals.DEFAULT_ALERT_THRESHOLDS
# (values, the alert expected as (parameter, direction), or None): each limit at, just
# inside and just beyond its boundary. Diastolic cases keep the systolic above them.
BOUNDARIES = [
    ({"systolic": T.systolic_at_or_above - 1}, None),
    ({"systolic": T.systolic_at_or_above}, ("systolic", "high")),
    ({"systolic": T.systolic_at_or_above + 1}, ("systolic", "high")),
    ({"systolic": 170, "diastolic": T.diastolic_at_or_above - 1}, None),
    ({"systolic": 170, "diastolic": T.diastolic_at_or_above}, ("diastolic", "high")),
    ({"systolic": 170, "diastolic": T.diastolic_at_or_above + 1}, ("diastolic", "high")),
    ({"heart_rate": T.heart_rate_above}, None),
    ({"heart_rate": T.heart_rate_above + 1}, ("heart_rate", "high")),
    ({"heart_rate": T.heart_rate_below}, None),
    ({"heart_rate": T.heart_rate_below - 1}, ("heart_rate", "low")),
    ({"spo2": T.spo2_below}, None),
    ({"spo2": T.spo2_below - 1}, ("spo2", "low")),
    ({"respiratory_rate": T.respiratory_rate_below}, None),
    ({"respiratory_rate": T.respiratory_rate_below - 1}, ("respiratory_rate", "low")),
]


def test_the_thresholds_tested_are_the_clinics_defaults():
    # DOMAIN.md: SBP >= 180 or DBP >= 110, HR > 120 or < 50, SpO2 < 92 %, RR < 10.
    assert vitals.alert_thresholds_from_settings() == T
    assert (T.systolic_at_or_above, T.diastolic_at_or_above) == (180, 110)
    assert (T.heart_rate_above, T.heart_rate_below, T.spo2_below) == (120, 50, 92)
    assert T.respiratory_rate_below == 10


@pytest.mark.parametrize(("values", "expected"), BOUNDARIES, ids=str)
def test_each_threshold_raises_an_alert_beyond_its_boundary_only(nina, infusing, values, expected):
    reading = record(nina, infusing, **values)

    alerts = list(reading.alerts.all())
    if expected is None:
        assert alerts == []
    else:
        assert [found(alert) for alert in alerts] == [[expected]]
        alert = alerts[0]
        assert alert.session == infusing
        assert alert.findings[0]["value"] == values[expected[0]]
        assert alert.acknowledged_at is None
        assert alert.raised_at == reading.taken_at


@override_settings(VITALS_ALERT_THRESHOLDS={"spo2_below": 95})
def test_the_thresholds_come_from_the_settings(nina, infusing):
    assert [a.parameters for a in record(nina, infusing, spo2=94).alerts.all()] == [["spo2"]]
    assert list(record(nina, infusing, spo2=95).alerts.all()) == []


def test_it_raises_one_alert_listing_every_value_out_of_range(nina, infusing):
    reading = record(nina, infusing, systolic=186, diastolic=112, heart_rate=124)

    alert = reading.alerts.get()
    assert found(alert) == [("systolic", "high"), ("diastolic", "high"), ("heart_rate", "high")]
    assert [finding["value"] for finding in alert.findings] == [186, 112, 124]
    assert [finding["threshold"] for finding in alert.findings] == [180, 110, 120]
    assert "Systolic pressure of 186 mmHg" in alert.findings[0]["message"]
    assert all(finding["message"] in alert.message for finding in alert.findings)
    assert alert.summary == (
        "systolic 186 mmHg high, diastolic 112 mmHg high, heart rate 124/min high"
    )


def test_one_acknowledgement_closes_the_alert_of_every_value(nina, infusing):
    alert = record(nina, infusing, systolic=186, diastolic=112, heart_rate=124).alerts.get()

    alert_acknowledge(actor=nina, alert=alert, action=AlertAction.CONTINUE)

    assert not SessionAlert.objects.filter(acknowledged_at__isnull=True).exists()
    assert flowsheet_for(infusing).open_alerts == []


def test_the_database_keeps_one_alert_per_reading_with_its_findings(nina, infusing):
    alert = record(nina, infusing, spo2=88).alerts.get()

    with pytest.raises(IntegrityError), transaction.atomic():
        SessionAlert.objects.create(
            session=infusing, reading=alert.reading, findings=alert.findings, message="again"
        )
    other = record(nina, infusing)
    for findings in ([], {"parameter": "spo2"}):
        with pytest.raises(IntegrityError), transaction.atomic():
            SessionAlert.objects.create(
                session=infusing, reading=other, findings=findings, message="empty"
            )


def test_a_reading_is_stored_with_its_phase_and_audited_without_values(nina, phil):
    session = session_in(nina, phil, S.RECOVERING)

    reading = record(nina, session, systolic=187)

    assert reading.phase == VitalsPhase.RECOVERING
    assert reading.recorded_by == nina
    event = AuditEvent.objects.get(object_id=str(reading.public_id))
    patient_id = str(session.appointment.patient.public_id)
    assert patient_id in event.summary
    # No value either (the random id may itself contain the digits, so it is left out).
    assert "187" not in event.summary.replace(patient_id, "")


# --- Bad readings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"systolic": 120, "diastolic": 120}, "diastolic", "must be below the systolic"),
        ({"systolic": 110, "diastolic": 130}, "diastolic", "must be below the systolic"),
        ({"systolic": 300}, "systolic", "outside 60–260"),
        ({"heart_rate": 20}, "heart_rate", "outside 25–250"),
        ({"spo2": 101}, "spo2", "outside 50–100"),
        ({"respiratory_rate": 3}, "respiratory_rate", "outside 4–60"),
        ({"consciousness": 6}, "consciousness", "outside 1–5"),
        ({"pain": 11}, "pain", "outside 0–10"),
        ({"heart_rate": None}, "heart_rate", "Enter the heart rate"),
    ],
    ids=lambda value: str(value),
)
def test_a_bad_reading_is_refused_with_nothing_saved(nina, infusing, values, field, words):
    with pytest.raises(ValidationError) as refused:
        record(nina, infusing, **values)

    assert words in " ".join(refused.value.message_dict[field])
    nothing_saved()


def test_a_monitor_may_send_only_what_it_measures(nina, infusing):
    reading = reading_record(
        actor=nina,
        session=infusing,
        values=ReadingInput(spo2=90),
        source=ReadingSource.MONITOR,
    )

    assert reading.source == ReadingSource.MONITOR
    assert reading.systolic is None
    assert [a.parameters for a in reading.alerts.all()] == [["spo2"]]


def test_a_reading_before_check_in_is_refused(nina, infusing):
    checked_in = infusing.state_changes.get(to_state=S.CHECKED_IN).at

    with pytest.raises(ValidationError) as refused:
        record(nina, infusing, taken_at=checked_in - timedelta(minutes=1))

    assert "before the patient was checked in" in refused.value.message_dict["taken_at"][0]
    nothing_saved()


def test_a_reading_in_the_minute_of_check_in_counts_as_during_the_session(nina, infusing):
    # Nurses enter whole minutes: 10:15 is fine for a patient checked in at 10:15:40.
    checked_in = infusing.state_changes.get(to_state=S.CHECKED_IN).at

    reading = record(nina, infusing, taken_at=checked_in.replace(second=0, microsecond=0))

    assert reading.pk is not None


def test_a_reading_in_the_future_is_refused(nina, infusing):
    with pytest.raises(ValidationError) as refused:
        record(nina, infusing, taken_at=timezone.now() + timedelta(minutes=10))

    assert "in the future" in refused.value.message_dict["taken_at"][0]
    nothing_saved()


def test_a_reading_without_a_time_zone_is_refused(nina, infusing):
    with pytest.raises(ValidationError) as refused:
        record(nina, infusing, taken_at=datetime(2026, 3, 1, 10, 0))

    assert "time zone" in refused.value.message_dict["taken_at"][0]
    nothing_saved()


@pytest.mark.parametrize("state", [S.SCHEDULED, S.DISCHARGED])
def test_no_reading_before_check_in_or_after_discharge(nina, phil, state):
    session = session_in(nina, phil, state)

    with pytest.raises(ValidationError) as refused:
        record(nina, session)

    assert "session" in refused.value.message_dict
    nothing_saved()


def test_the_front_desk_cannot_record_readings(fran, nina, infusing):
    with pytest.raises(PermissionDenied):
        record(fran, infusing)
    nothing_saved()


# --- A monitor's batch ---------------------------------------------------------------------------


def test_a_batch_is_saved_whole_with_its_alerts(nina, infusing):
    now = timezone.now()
    batch = [
        (now - timedelta(minutes=10), ReadingInput(systolic=130, diastolic=85, heart_rate=80)),
        (now - timedelta(minutes=5), ReadingInput(spo2=90)),
    ]

    readings = readings_record_batch(actor=nina, session=infusing, readings=batch)

    assert [r.taken_at for r in readings] == [moment for moment, _values in batch]
    assert {r.source for r in readings} == {ReadingSource.MONITOR}
    assert [alert.parameters for alert in SessionAlert.objects.all()] == [["spo2"]]


def test_a_batch_with_one_bad_reading_saves_none_and_names_it(nina, infusing):
    now = timezone.now()
    batch = [
        (now - timedelta(minutes=10), ReadingInput(spo2=85)),  # would raise an alert
        (now - timedelta(minutes=5), ReadingInput(systolic=100, diastolic=120)),
        (now + timedelta(hours=1), ReadingInput(heart_rate=80)),
    ]

    with pytest.raises(ValidationError) as refused:
        readings_record_batch(actor=nina, session=infusing, readings=batch)

    problems = refused.value.message_dict["readings"]
    assert any(p.startswith("readings[1].diastolic:") for p in problems)
    assert any(p.startswith("readings[2].taken_at:") and "future" in p for p in problems)
    assert not any(p.startswith("readings[0]") for p in problems)
    nothing_saved()


def test_an_empty_batch_is_refused(nina, infusing):
    with pytest.raises(ValidationError) as refused:
        readings_record_batch(actor=nina, session=infusing, readings=[])
    assert "at least one" in refused.value.message_dict["readings"][0]


# --- Entered in error ----------------------------------------------------------------------------


def test_a_reading_in_error_closes_its_alerts_and_is_kept(nina, phil, infusing):
    reading = record(nina, infusing, systolic=200)

    reading_mark_in_error(actor=phil, reading=reading, reason="Cuff slipped")

    reading.refresh_from_db()
    assert reading.entered_in_error_by == phil
    assert reading.entered_in_error_reason == "Cuff slipped"
    alert = reading.alerts.get()
    assert alert.acknowledged_by == phil
    assert alert.action == AlertAction.CONTINUE
    assert alert.action_note == "Reading entered in error: Cuff slipped"
    assert open_alert_counts([infusing.appointment_id]) == {}
    sheet = flowsheet_for(infusing)
    assert sheet.open_alerts == []
    assert [row.in_error for row in sheet.rows] == [True]


def test_a_reading_is_marked_in_error_once_and_with_a_reason(nina, infusing):
    reading = record(nina, infusing)

    with pytest.raises(ValidationError) as no_reason:
        reading_mark_in_error(actor=nina, reading=reading, reason="  ")
    assert "Say why" in no_reason.value.message_dict["reason"][0]
    reading_mark_in_error(actor=nina, reading=reading, reason="Wrong patient")
    with pytest.raises(ValidationError) as twice:
        reading_mark_in_error(actor=nina, reading=reading, reason="Again")

    assert "already" in twice.value.message_dict["reason"][0]
    reading.refresh_from_db()
    assert reading.entered_in_error_reason == "Wrong patient"


# --- When the next reading is due ----------------------------------------------------------------


def phase_start(session) -> datetime:
    return session.state_changes.filter(to_state__in=[S.INFUSING, S.RECOVERING]).last().at


def test_the_first_reading_is_due_one_interval_after_the_infusion_starts(nina, infusing):
    started = phase_start(infusing)
    due_at = started + timedelta(minutes=10)

    at_due = flowsheet_for(infusing, now=due_at).due
    a_second_late = flowsheet_for(infusing, now=due_at + timedelta(seconds=1)).due

    assert at_due.next_due_at == due_at
    assert at_due.overdue is False
    assert a_second_late.overdue is True
    assert at_due.interval_minutes == 10


def test_the_next_reading_is_due_one_interval_after_the_last(nina, infusing):
    taken = timezone.now() - timedelta(minutes=3)
    record(nina, infusing, taken_at=taken)

    due = flowsheet_for(infusing, now=taken + timedelta(minutes=10)).due
    late = flowsheet_for(infusing, now=taken + timedelta(minutes=10, seconds=1)).due

    assert due.next_due_at == taken + timedelta(minutes=10)
    assert (due.overdue, late.overdue) == (False, True)


def test_a_reading_in_error_does_not_count_towards_the_schedule(nina, infusing):
    reading = record(nina, infusing, taken_at=timezone.now() - timedelta(minutes=1))
    reading_mark_in_error(actor=nina, reading=reading, reason="Cuff slipped")

    due = flowsheet_for(infusing).due

    assert due.next_due_at == phase_start(infusing) + timedelta(minutes=10)
    assert due.overdue is True


def test_recovery_has_its_own_interval_from_its_start(nina, phil):
    session = session_in(nina, phil, S.RECOVERING)
    started = phase_start(session)

    due = flowsheet_for(session, now=started + timedelta(minutes=15)).due
    late = flowsheet_for(session, now=started + timedelta(minutes=15, seconds=1)).due

    assert due.phase == vitals.Phase.RECOVERING
    assert due.next_due_at == started + timedelta(minutes=15)
    assert (due.overdue, late.overdue) == (False, True)


def test_a_paused_infusion_keeps_the_infusing_schedule(nina, phil):
    session = session_in(nina, phil, S.PAUSED)
    infusing_since = session.state_changes.get(to_state=S.INFUSING).at

    due = flowsheet_for(session, now=infusing_since + timedelta(minutes=10)).due

    assert due.phase == vitals.Phase.INFUSING
    assert due.next_due_at == infusing_since + timedelta(minutes=10)


@override_settings(VITALS_INTERVAL_INFUSING_MINUTES=5)
def test_the_interval_comes_from_the_settings(nina, infusing):
    due = flowsheet_for(infusing).due
    assert due.next_due_at == phase_start(infusing) + timedelta(minutes=5)


@pytest.mark.parametrize("state", [S.CHECKED_IN, S.STOPPED_EARLY, S.DISCHARGED])
def test_there_is_no_schedule_before_the_start_or_after_the_end(nina, phil, state):
    session = session_in(nina, phil, state)
    assert flowsheet_for(session, now=timezone.now() + timedelta(hours=3)).due is None


def test_the_flowsheet_lists_readings_in_time_order_with_flags(
    django_assert_max_num_queries, nina, infusing
):
    now = timezone.now()
    later = record(nina, infusing, taken_at=now - timedelta(minutes=2), heart_rate=130)
    earlier = record(nina, infusing, taken_at=now - timedelta(minutes=8))

    with django_assert_max_num_queries(3):
        sheet = flowsheet_for(infusing)

    assert [row.reading for row in sheet.rows] == [earlier, later]
    assert sheet.rows[1].cells["heart_rate"].flag == "high"
    assert sheet.rows[1].cells["bp"].flag == ""
    assert sheet.rows[0].cells["bp"].text == "120/80"
    assert [alert.parameters for alert in sheet.open_alerts] == [["heart_rate"]]
    assert sheet.last_reading == later
