"""The flowsheet's live part and the chart of the session screen are kept rendered
(infusions.views.sections.kept): what a view shows is never a stale copy (every kind of write
to every table they draw from shows on the next view), a reader who may not record never gets
the forms and links drawn for one who may, and each reader's forms carry their own CSRF token."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from clinic.fragments import CSRF_PLACEHOLDER
from clinic.models import User
from clinic.permissions import ROLE_CAPABILITIES, Capability
from clinic.roles import Role
from infusions.models import SessionAlert, SessionEvent, SessionStateChange
from infusions.models.readings import AlertAction
from infusions.models.sessions import InfusionSessionState
from infusions.readings import reading_mark_in_error
from infusions.sessions import session_transition
from infusions.tests.test_flowsheet import record, session_in
from infusions.tests.test_flowsheet_pages import HTMX, section, url
from tests.clock import advance

S = InfusionSessionState


@pytest.fixture
def infusing(nina, phil):
    return session_in(nina, phil, S.INFUSING)


def live(client, session) -> str:
    """The live part of the flowsheet, as the screen's 60-second poll asks for it."""
    response = client.get(url(session, "flowsheet/?part=live"), **HTMX)
    assert response.status_code == 200
    return response.content.decode()


def rows(html: str) -> int:
    return html.count('data-testid="reading"')


def test_the_live_part_is_drawn_once_then_kept(client, nina, infusing, django_assert_num_queries):
    record(nina, infusing)
    client.force_login(nina)
    first = live(client, infusing)

    # The session and the user, the session, the audit event, the version of the rows, when
    # the next reading is due: not the readings, their alerts or the staff.
    with django_assert_num_queries(6):
        again = live(client, infusing)

    assert rows(again) == rows(first) == 1
    assert again.replace(CSRF_PLACEHOLDER, "") == again


def test_a_new_reading_shows_on_the_next_view(client, nina, infusing):
    record(nina, infusing)
    client.force_login(nina)
    assert rows(live(client, infusing)) == 1

    record(nina, infusing, systolic=131)

    html = live(client, infusing)
    assert rows(html) == 2
    assert "131/80" in html


def test_a_reading_marked_in_error_shows_struck_through_on_the_next_view(client, nina, infusing):
    reading = record(nina, infusing)
    client.force_login(nina)
    assert 'data-in-error="true"' not in live(client, infusing)

    reading_mark_in_error(actor=nina, reading=reading, reason="Cuff slipped")

    html = live(client, infusing)
    assert 'data-in-error="true"' in html
    assert "Entered in error: Cuff slipped" in html


def test_an_alert_and_its_acknowledgement_show_on_the_next_view(client, nina, phil, infusing):
    client.force_login(nina)
    record(nina, infusing)
    assert 'data-testid="open-alerts"' not in live(client, infusing)

    record(nina, infusing, systolic=186, diastolic=95)  # raises an alert
    html = live(client, infusing)
    assert 'data-testid="open-alerts"' in html

    SessionAlert.objects.filter(session=infusing).update(
        acknowledged_by=phil, acknowledged_at=timezone.now(), action=AlertAction.CONTINUE
    )
    html = live(client, infusing)
    assert 'data-testid="open-alerts"' not in html
    assert "Continue and watch — Phil Physician" in html


def test_a_renamed_member_of_staff_shows_on_the_next_view(client, nina, infusing):
    record(nina, infusing)
    client.force_login(nina)
    assert "Nina Nurse" in live(client, infusing)

    User.objects.filter(pk=nina.pk).update(full_name="Nina Newname")

    html = live(client, infusing)
    assert "Nina Newname" in html
    assert "Nina Nurse" not in html


def test_overdue_shows_the_moment_a_reading_is_late(client, nina, infusing):
    record(nina, infusing)
    client.force_login(nina)
    assert 'data-testid="next-due"' in live(client, infusing)

    advance(11)  # a reading is due every 10 minutes while infusing

    html = live(client, infusing)
    assert 'data-testid="overdue"' in html
    assert 'data-testid="next-due"' not in html


def test_a_state_change_shows_on_the_next_view(client, nina, infusing):
    record(nina, infusing, systolic=186, diastolic=95)  # an open alert, with its form
    client.force_login(nina)
    assert "pauses the session" in live(client, infusing)

    session_transition(actor=nina, session=infusing, to_state=S.PAUSED, reason="")

    html = live(client, infusing)
    assert 'data-testid="open-alerts"' in html
    assert "pauses the session" not in html  # paused already


def test_the_chart_shows_each_new_reading_event_and_move(client, nina, infusing):
    client.force_login(nina)
    record(nina, infusing)
    chart = section(client.get(url(infusing)).content.decode(), "chart")
    assert chart.count("<tr><td>") == 1

    record(nina, infusing, spo2=93)
    chart = section(client.get(url(infusing)).content.decode(), "chart")
    assert chart.count("<tr><td>") == 2
    assert "<td>93</td>" in chart

    event = SessionEvent.objects.create(
        session=infusing,
        occurred_at=timezone.now(),
        side_effect="nausea",
        severity="mild",
        recorded_by=nina,
    )
    chart = section(client.get(url(infusing)).content.decode(), "chart")
    assert "Nausea (mild)" in chart

    SessionEvent.objects.filter(pk=event.pk).update(
        entered_in_error_at=timezone.now(), entered_in_error_by=nina, entered_in_error_reason="x"
    )
    chart = section(client.get(url(infusing)).content.decode(), "chart")
    assert "Nausea (mild)" not in chart

    SessionStateChange.objects.create(
        session=infusing,
        from_state=S.INFUSING,
        to_state=S.PAUSED,
        at=timezone.now() - timedelta(seconds=5),
        by=nina,
    )
    chart = section(client.get(url(infusing)).content.decode(), "chart")
    assert "Paused" in chart


@pytest.fixture
def viewer(db, monkeypatch) -> User:
    """A reader who may see the clinical record but not record in it (no role is that
    today: a clinic admin given VIEW_CLINICAL for the test)."""
    granted = ROLE_CAPABILITIES[Role.CLINIC_ADMIN] | {Capability.VIEW_CLINICAL}
    monkeypatch.setitem(ROLE_CAPABILITIES, Role.CLINIC_ADMIN, granted)
    return User.objects.create_user(
        "vera@clinic.test", "pw-vera-2026", full_name="Vera Viewer", roles=[Role.CLINIC_ADMIN]
    )


def test_a_reader_who_may_not_record_never_gets_the_forms_kept_for_one_who_may(
    nina, viewer, infusing
):
    record(nina, infusing, systolic=186, diastolic=95)  # an open alert, with its form
    nurse, reader = Client(), Client()
    nurse.force_login(nina)
    reader.force_login(viewer)

    for _ in range(2):  # each after the other has kept theirs
        drawn_for_nurse = live(nurse, infusing)
        drawn_for_reader = live(reader, infusing)

        assert 'data-testid="acknowledge-form"' in drawn_for_nurse
        assert 'data-testid="in-error-open"' in drawn_for_nurse
        assert 'data-testid="open-alerts"' in drawn_for_reader
        assert 'data-testid="acknowledge-form"' not in drawn_for_reader
        assert 'data-testid="in-error-open"' not in drawn_for_reader


def test_each_reader_acknowledges_with_their_own_csrf_token(nina, phil, infusing):
    record(nina, infusing, systolic=186, diastolic=95)
    record(nina, infusing, spo2=85)
    for user in (nina, phil):  # the second is served the copy kept for the first
        client = Client(enforce_csrf_checks=True)
        client.force_login(user)
        html = live(client, infusing)
        assert CSRF_PLACEHOLDER not in html
        form = re.search(r'<form method="post" action="([^"]+)".*?</form>', html, re.S)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.group(0))

        response = client.post(
            form.group(1),
            {"csrfmiddlewaretoken": token.group(1), "action": "continue"},
            **HTMX,
        )

        assert response.status_code == 200
    assert not SessionAlert.objects.filter(session=infusing, acknowledged_at=None).exists()
