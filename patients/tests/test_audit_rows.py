"""The chart's audit trail as it is read (``patients.chart.chart_audit_trail``: one query of
plain values) and written (``{% audit_rows %}``): the same events as
``patient_audit_trail``, drawn into the same markup as the template loop it replaced."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from clinic.audit import Action, audit_record
from clinic.models import User
from patients.chart import chart_audit_trail, patient_audit_trail
from patients.models import MedicationReconciliation, Patient, PatientLink
from patients.templatetags.audit_rows import audit_rows
from patients.tests.factories import (
    IntakeSubmissionFactory,
    MeasurementFactory,
    PatientFactory,
    QuestionnaireResponseFactory,
    ScreeningDecisionFactory,
    ScreeningResultFactory,
)

# The rows as templates/patients/chart/partials/_audit_trail.html drew them before the tag.
TEMPLATE_LOOP = Template(
    """{% for event in audit_events %}
      <tr>
        <td class="text-nowrap">{{ event.occurred_at|date:"Y-m-d H:i:s" }}</td>
        <td>{{ event.actor.full_name|default:"Nobody signed in" }}</td>
        <td>{{ event.get_action_display }}</td>
        <td>{{ event.summary }}</td>
      </tr>
      {% endfor %}"""
)


@pytest.fixture
def eventful(nina: User, phil: User) -> Patient:
    """A patient with events about them and about each kind of their records, by staff, by
    nobody signed in and by a member of staff with no name, one with a summary to escape."""
    patient = PatientFactory()
    intake = IntakeSubmissionFactory(patient=patient, version=1, entered_by=nina)
    screening = ScreeningResultFactory(patient=patient)
    records = [
        PatientLink.objects.create(
            patient=patient,
            purpose=PatientLink.Purpose.INTAKE,
            created_by=nina,
            expires_at=timezone.now() + timedelta(days=1),
        ),
        intake,
        MeasurementFactory(patient=patient, taken_by=nina),
        QuestionnaireResponseFactory(patient=patient, entered_by=nina),
        screening,
        ScreeningDecisionFactory(patient=patient, screening=screening, decided_by=phil),
        MedicationReconciliation.objects.create(intake=intake, confirmed_by=nina),
    ]
    nameless = User.objects.create_user(email="nameless@clinic.test", full_name="")
    audit_record(actor=phil, action=Action.UPDATE, target=patient, summary="changed <city> & zip")
    audit_record(actor=None, action=Action.EXPORT, target=patient, summary="exported")
    audit_record(actor=nameless, action=Action.VIEW, target=patient, summary="viewed the chart")
    for record in records:
        audit_record(actor=nina, action=Action.CREATE, target=record, summary="recorded")
    # Another patient's events are not on this one's trail.
    audit_record(actor=phil, action=Action.UPDATE, target=PatientFactory(), summary="elsewhere")
    return patient


def test_the_trail_is_the_patients_events_newest_first(eventful):
    rows = chart_audit_trail(eventful)

    events = list(patient_audit_trail(eventful))
    assert len(rows) == len(events) == 10
    assert [(row.occurred_at, row.action, row.summary) for row in rows] == [
        (event.occurred_at, event.action, event.summary) for event in events
    ]
    assert [row.actor_name for row in rows][-3:] == ["", None, "Phil Physician"]


def test_the_trail_lists_the_newest_up_to_the_limit(eventful):
    rows = chart_audit_trail(eventful, limit=3)

    assert [row.summary for row in rows] == ["recorded"] * 3
    assert [row.occurred_at for row in rows] == [
        event.occurred_at for event in patient_audit_trail(eventful)[:3]
    ]


def test_the_trail_is_one_query(eventful, django_assert_num_queries):
    chart_audit_trail(eventful)

    with django_assert_num_queries(1):
        chart_audit_trail(eventful)


@pytest.mark.parametrize("zone", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_the_rows_are_the_template_loops_markup_character_for_character(eventful, zone):
    with timezone.override(zone):
        written = audit_rows(chart_audit_trail(eventful))
        drawn = TEMPLATE_LOOP.render(Context({"audit_events": list(patient_audit_trail(eventful))}))

    assert written == drawn
    assert "changed &lt;city&gt; &amp; zip" in written
    assert written.count("Nobody signed in") == 2
