"""A discharged session's record is kept rendered (infusions.views.sections.record): the
screen costs a handful of queries, yet every kind of write to any table the record draws from
shows on the next view, what compares with the clock follows it, and a reader who may not
record never gets what was drawn for one who may."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db.models import F
from django.test import Client
from django.utils import timezone

from clinic.fragments import CSRF_PLACEHOLDER
from clinic.models import User
from infusions.models import (
    Discharge,
    DoseAdministration,
    PreAssessment,
    SessionEvent,
)
from infusions.models.sessions import InfusionSessionState
from infusions.tests.factories import signed_order
from infusions.tests.test_flowsheet_pages import section
from infusions.tests.test_session_kept import viewer  # noqa: F401 (a fixture)
from infusions.tests.test_summary import discharged  # noqa: F401 (a fixture)
from patients.models import Patient, SafetyAlert
from patients.services.safety import safety_alert_raise, safety_alert_resolve
from patients.tests.factories import QuestionnaireResponseFactory
from scheduling.models import Appointment
from tests.clock import advance

S = InfusionSessionState
# The session and the user, the session with its appointment, patient, place and chair, the
# audit event, the version of every row the record draws, what the checks compare with the
# clock.
KEPT_QUERIES = 6


def screen(client, session) -> str:
    response = client.get(f"/staff/sessions/{session.public_id}/")
    assert response.status_code == 200
    return response.content.decode()


@pytest.fixture
def seen(client, nina, discharged):  # noqa: F811
    """The discharged session, its screen drawn (and kept) once for nina."""
    client.force_login(nina)
    screen(client, discharged)
    return discharged


def test_the_record_of_a_discharged_session_is_kept(client, seen, django_assert_num_queries):
    with django_assert_num_queries(KEPT_QUERIES):
        html = screen(client, seen)

    for part in ("pre-assessment", "dose", "flowsheet", "chart", "events", "discharge"):
        assert section(html, part)
    assert CSRF_PLACEHOLDER not in html


def test_the_pre_infusion_checks_show_each_change(client, nina, phil, seen):
    PreAssessment.objects.filter(session=seen).update(notes="Anxious about needles")
    assert "Anxious about needles" in section(screen(client, seen), "pre-assessment")

    User.objects.filter(pk=nina.pk).update(full_name="Nina Renamed")  # who recorded them
    assert "Nina Renamed" in section(screen(client, seen), "pre-assessment")


def test_the_questionnaires_follow_the_patient_and_their_answers(client, seen):
    patient = seen.appointment.patient
    assert "Enter the GAD-7 answers" not in section(screen(client, seen), "pre-assessment")

    Patient.objects.filter(pk=patient.pk).update(conditions=["trd", "anxiety"])
    html = section(screen(client, seen), "pre-assessment")
    assert "Enter the GAD-7 answers" in html

    QuestionnaireResponseFactory(
        patient=patient,
        instrument="gad7",
        context="pre_session",
        completed_at=seen.appointment.starts_at,
    )
    html = section(screen(client, seen), "pre-assessment")
    assert "Enter the GAD-7 answers" not in html
    assert html.count("✓ Completed before this infusion") == 1


def test_a_weight_from_another_day_shows_the_next_day(client, nina, seen):
    assert "The weight is not from today" not in section(screen(client, seen), "pre-assessment")

    advance(24 * 60)
    client.force_login(nina)  # signed out overnight

    assert "The weight is not from today" in section(screen(client, seen), "pre-assessment")


def test_the_dose_shows_each_change_to_orders_administrations_people_and_lot(
    client, nina, phil, seen
):
    administration = DoseAdministration.objects.get(order__session=seen)
    User.objects.filter(pk=phil.pk).update(full_name="Phil Renamed")  # who signed the order
    assert "Phil Renamed" in section(screen(client, seen), "dose")

    # The lot: only its balance may change (the database refuses anything else), which
    # the section does not show; its version is in the key all the same.
    # What was given, its correction and the lot are append-only (the database refuses an
    # update): only their inserts change what shows, each in the rows' version all the same.
    assert str(administration.drawn_mg) in section(screen(client, seen), "dose")


def move_back(appointment_id: int, before, days: int) -> None:
    """Move an appointment to ``days`` before the moment ``before``, its length kept."""
    appointment = Appointment.objects.get(pk=appointment_id)
    delta = appointment.starts_at - (before - timedelta(days=days))
    Appointment.objects.filter(pk=appointment_id).update(
        starts_at=F("starts_at") - delta,
        ends_at=F("ends_at") - delta,
        blocks_until=F("blocks_until") - delta,
    )


def test_an_earlier_dose_and_its_date_show_in_the_history(client, nina, phil, seen):
    from infusions.tests.factories import infusion_session

    starts_at = seen.appointment.starts_at
    earlier = infusion_session(
        nina, phil, patient=seen.appointment.patient, location=seen.appointment.location, hour=15
    )
    move_back(earlier.appointment_id, starts_at, 7)
    client.force_login(nina)  # the clock moved on a week
    assert section(screen(client, seen), "dose").count("<tr") == 2  # the head and this one

    signed_order(earlier, phil, dose="0.4")
    html = section(screen(client, seen), "dose")
    assert html.count("<tr") == 3
    assert "0.4 mg/kg" in html

    move_back(earlier.appointment_id, starts_at, 14)
    day = (starts_at - timedelta(days=14)).astimezone(seen.appointment.location.tz)
    assert f"{day.day} {day:%b %Y}" in section(screen(client, seen), "dose")


def test_the_events_and_discharge_show_each_change(client, nina, phil, seen):
    event = SessionEvent.objects.get(session=seen)
    SessionEvent.objects.filter(pk=event.pk).update(
        entered_in_error_at=timezone.now(), entered_in_error_by=phil, entered_in_error_reason="x"
    )
    html = section(screen(client, seen), "events")
    assert "Entered in error" in html or "text-decoration-line-through" in html
    assert "Phil Physician" in html

    SessionEvent.objects.create(
        session=seen,
        occurred_at=timezone.now(),
        side_effect="headache",
        severity="moderate",
        recorded_by=nina,
    )
    assert "Headache" in section(screen(client, seen), "events")

    signer = Discharge.objects.get(session=seen).signed_by
    User.objects.filter(pk=signer.pk).update(full_name="Signer Renamed")
    assert "Signer Renamed" in section(screen(client, seen), "discharge")


def test_a_safety_alert_and_its_follow_up_show_on_the_next_view(client, nina, seen):
    patient = seen.appointment.patient
    assert 'data-testid="safety-alert-open"' not in screen(client, seen)

    alert = safety_alert_raise(
        patient=patient,
        source=SafetyAlert.Source.BOOKING_REASON,
        appointment=seen.appointment,
        reported_text="Having dark thoughts lately",
    )
    html = screen(client, seen)
    assert 'data-testid="safety-alert-open"' in html
    assert "Having dark thoughts lately" in html

    safety_alert_resolve(actor=nina, alert=alert, follow_up_note="Called, safe at home")
    html = screen(client, seen)
    assert 'data-testid="safety-alert-open"' not in html
    assert "Called, safe at home" in html


def test_a_reader_who_may_not_record_never_gets_the_record_kept_for_one_who_may(
    nina,
    viewer,  # noqa: F811
    discharged,  # noqa: F811
):
    safety_alert_raise(
        patient=discharged.appointment.patient,
        source=SafetyAlert.Source.BOOKING_REASON,
        appointment=discharged.appointment,
        reported_text="Low mood",
    )
    nurse, reader = Client(), Client()
    nurse.force_login(nina)
    reader.force_login(viewer)

    for _ in range(2):  # each after the other has kept theirs
        for_nurse, for_reader = screen(nurse, discharged), screen(reader, discharged)

        assert "Record follow-up and close the alert" in for_nurse
        assert 'data-testid="in-error-open"' in section(for_nurse, "events")
        assert 'data-testid="safety-alert-open"' in for_reader
        assert "Record follow-up and close the alert" not in for_reader
        assert "in-error-open" not in for_reader


def test_each_reader_follows_up_with_their_own_csrf_token(nina, phil, discharged):  # noqa: F811
    patient = discharged.appointment.patient
    for user in (nina, phil):  # the second is served the copy kept for the first
        safety_alert_raise(
            patient=patient,
            source=SafetyAlert.Source.BOOKING_REASON,
            appointment=discharged.appointment,
            reported_text=f"Told {user.full_name}",
        )
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        html = screen(client, discharged)
        assert CSRF_PLACEHOLDER not in html
        form = re.search(r'<form method="post" action="([^"]+/follow-up/)".*?</form>', html, re.S)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(0))

        response = client.post(
            form.group(1),
            {"csrfmiddlewaretoken": token.group(1), "follow_up_note": "Called back."},
        )

        assert response.status_code == 302
    assert not SafetyAlert.objects.filter(patient=patient, resolved_at=None).exists()
