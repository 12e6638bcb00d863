"""The session's clinical record in the database: append-only (migration 0005), and the
CHECK constraints that hold when a service is bypassed (migration 0004)."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from infusions.models import (
    DoseAdministration,
    SessionAlert,
    SessionEvent,
    SessionStateChange,
    VitalsReading,
)
from infusions.models.sessions import InfusionSessionState
from infusions.sessions import session_transition
from infusions.tests.factories import (
    infusion_session,
    signed_discharge,
    signed_order,
    vitals_reading,
)
from infusions.tests.test_ledger import receive


@pytest.fixture
def session(nina, phil):
    return infusion_session(nina, phil)


def refused(caught: pytest.ExceptionInfo) -> bool:
    return isinstance(caught.value.__cause__, psycopg.errors.InsufficientPrivilege)


def raw(sql: str, *params) -> None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def alert_on(reading: VitalsReading) -> SessionAlert:
    return SessionAlert.objects.create(
        session=reading.session,
        reading=reading,
        findings=[
            {
                "parameter": "systolic",
                "direction": "high",
                "value": reading.systolic,
                "threshold": 180,
                "message": "Systolic high.",
            }
        ],
        message="Systolic high.",
    )


# --- Never changed, never deleted ----------------------------------------------------------


def test_a_state_change_cannot_be_edited_or_deleted(nina, session):
    session_transition(actor=nina, session=session, to_state=InfusionSessionState.CHECKED_IN)
    change = SessionStateChange.objects.get(session=session)

    for sql in (
        "UPDATE infusions_sessionstatechange SET reason = 'edited' WHERE id = %s",
        "DELETE FROM infusions_sessionstatechange WHERE id = %s",
    ):
        with pytest.raises(DatabaseError) as caught, transaction.atomic():
            raw(sql, change.pk)
        assert refused(caught)
    assert SessionStateChange.objects.get(pk=change.pk).reason == ""


@pytest.mark.parametrize(
    "table,make",
    [
        ("infusions_doseorder", lambda session, nina, phil: signed_order(session, phil)),
        ("infusions_discharge", lambda session, nina, phil: signed_discharge(session, nina)),
    ],
)
def test_orders_and_discharges_are_never_changed_or_deleted(session, nina, phil, table, make):
    record = make(session, nina, phil)

    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        raw(f"UPDATE {table} SET signed_at = now() WHERE id = %s", record.pk)  # noqa: S608
    assert refused(caught)
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        raw(f"DELETE FROM {table} WHERE id = %s", record.pk)  # noqa: S608
    assert refused(caught)


def test_a_reading_keeps_its_values(session, nina):
    reading = vitals_reading(session, nina, systolic=150)

    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        VitalsReading.objects.filter(pk=reading.pk).update(systolic=130)
    assert refused(caught)
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        VitalsReading.objects.filter(pk=reading.pk).delete()
    assert refused(caught)
    assert VitalsReading.objects.get(pk=reading.pk).systolic == 150


def test_a_reading_is_marked_entered_in_error_once(session, nina, phil):
    reading = vitals_reading(session, nina)

    VitalsReading.objects.filter(pk=reading.pk).update(
        entered_in_error_at=timezone.now(),
        entered_in_error_by=nina,
        entered_in_error_reason="Cuff on the wrong arm.",
    )

    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        VitalsReading.objects.filter(pk=reading.pk).update(
            entered_in_error_by=phil, entered_in_error_reason="Changed my mind."
        )
    assert refused(caught)
    reading.refresh_from_db()
    assert (reading.entered_in_error_by, reading.entered_in_error_reason) == (
        nina,
        "Cuff on the wrong arm.",
    )


def test_an_alert_is_acknowledged_once_and_keeps_what_it_said(session, nina, phil):
    alert = alert_on(vitals_reading(session, nina, systolic=185, diastolic=100))

    SessionAlert.objects.filter(pk=alert.pk).update(
        acknowledged_at=timezone.now(), acknowledged_by=nina, action="continue"
    )

    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        SessionAlert.objects.filter(pk=alert.pk).update(acknowledged_by=phil, action="stop")
    assert refused(caught)
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        SessionAlert.objects.filter(pk=alert.pk).update(message="Nothing to see.")
    assert refused(caught)
    with pytest.raises(DatabaseError) as caught, transaction.atomic():
        SessionAlert.objects.filter(pk=alert.pk).update(findings=[{"parameter": "spo2"}])
    assert refused(caught)
    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.action, alert.message) == (
        nina,
        "continue",
        "Systolic high.",
    )


# --- Checks that hold without the services ---------------------------------------------------


@pytest.mark.parametrize(
    "values,constraint",
    [
        ({"systolic": 261}, "reading_within_physiological_limits"),
        ({"spo2": 101}, "reading_within_physiological_limits"),
        ({"consciousness": 6}, "reading_within_physiological_limits"),
        ({"systolic": 120, "diastolic": 120}, "reading_diastolic_below_systolic"),
    ],
)
def test_the_database_refuses_impossible_readings(session, nina, values, constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        vitals_reading(session, nina, **values)
    assert not VitalsReading.objects.exists()


def test_an_acknowledgement_needs_who_when_and_the_action(session, nina):
    alert = alert_on(vitals_reading(session, nina, systolic=185, diastolic=100))

    with pytest.raises(IntegrityError, match="alert_acknowledged_with"), transaction.atomic():
        SessionAlert.objects.filter(pk=alert.pk).update(acknowledged_at=timezone.now())


@pytest.mark.parametrize(
    "fields,constraint",
    [
        ({}, "event_side_effect_or_medication"),
        ({"side_effect": "nausea"}, "event_side_effect_has_severity"),
        ({"side_effect": "other", "severity": "mild"}, "event_other_is_described"),
        ({"medication_name": "Ondansetron"}, "event_medication_complete"),
    ],
)
def test_an_event_says_what_happened(session, nina, fields, constraint):
    with pytest.raises(IntegrityError, match=constraint), transaction.atomic():
        SessionEvent.objects.create(
            session=session, occurred_at=timezone.now(), recorded_by=nina, **fields
        )


def test_drawn_is_always_given_plus_wasted_and_waste_is_witnessed(session, nina, phil):
    lot = receive(nina, session.appointment.location)
    order = signed_order(session, phil)
    base = {"order": order, "lot": lot, "given_by": nina}

    with pytest.raises(IntegrityError, match="drawn_is_given_plus"), transaction.atomic():
        DoseAdministration.objects.create(
            drawn_mg=Decimal(50), administered_mg=Decimal(40), wasted_mg=Decimal(5), **base
        )
    with pytest.raises(IntegrityError, match="waste_witnessed"), transaction.atomic():
        DoseAdministration.objects.create(
            drawn_mg=Decimal(50), administered_mg=Decimal(40), wasted_mg=Decimal(10), **base
        )
    with pytest.raises(IntegrityError, match="waste_witnessed"), transaction.atomic():
        DoseAdministration.objects.create(
            drawn_mg=Decimal(50),
            administered_mg=Decimal(40),
            wasted_mg=Decimal(10),
            witness=nina,
            **base,
        )
