"""The patient chart lists the patient's infusion sessions with their doses, escalations
marked, for clinical staff only."""

from __future__ import annotations

import pytest

from clinic.models import Location
from infusions.models import DoseOrder
from infusions.selectors import sessions_of_patient
from infusions.tests.factories import infusion_session, signed_order
from patients.tests.factories import PatientFactory
from scheduling.tests.test_booking import riverside_for


@pytest.fixture
def two_sessions(nina, phil):
    """A first session at 0.5 mg/kg, and a second a day later at 0.75 mg/kg."""
    location = riverside_for(nina, phil, chairs=2)
    first = infusion_session(nina, phil, location=location, hour=9)
    signed_order(first, phil, dose="0.5")
    patient = first.appointment.patient
    second = infusion_session(nina, phil, patient=patient, location=location, hour=14)
    signed_order(second, phil, dose="0.75")
    return first, second


def chart(client, user, patient):
    client.force_login(user)
    return client.get(f"/staff/patients/{patient.public_id}/")


def test_the_chart_lists_sessions_newest_first_with_the_escalation_marked(
    client, nina, two_sessions
):
    first, second = two_sessions

    html = chart(client, nina, first.appointment.patient).content.decode()

    assert html.index(str(second.public_id)) < html.index(str(first.public_id))
    assert "0.5 mg/kg (40.0 mg)" in html
    assert "0.75 mg/kg (60.0 mg)" in html
    assert html.count("▲ Escalation") == 1
    assert "+50 %" in html


def test_listing_the_sessions_costs_three_queries_however_many(
    nina, two_sessions, django_assert_num_queries
):
    first, second = two_sessions
    patient = first.appointment.patient

    with django_assert_num_queries(3):
        every = sessions_of_patient(nina, patient)
    with django_assert_num_queries(3):
        latest = sessions_of_patient(nina, patient, latest=1)

    assert [item.session for item in every.listed] == [second, first]
    assert [item.dose.dose_text for item in every.listed] == ["0.75", "0.5"]
    assert every.starts == (second.started_at, first.started_at)
    # The latest alone still has its escalation from the dose before, which is not listed.
    assert [item.session for item in latest.listed] == [second]
    assert latest.listed[0].dose.escalation_percent == "50"
    assert latest.total == 2


def test_a_patient_without_sessions_gets_a_helpful_empty_state(client, nina):
    patient = PatientFactory()

    html = chart(client, nina, patient).content.decode()

    assert "No infusion sessions yet" in html


def test_a_session_without_an_order_says_so(client, nina, phil):
    session = infusion_session(nina, phil)

    html = chart(client, nina, session.appointment.patient).content.decode()

    assert str(session.public_id) in html
    assert "No order" in html


def test_the_front_desk_does_not_see_the_sessions(client, fran, two_sessions):
    html = chart(client, fran, two_sessions[0].appointment.patient).content.decode()

    assert "Infusion sessions" not in html
    assert str(two_sessions[0].public_id) not in html


def test_a_long_list_shows_the_latest_and_links_to_all(client, nina, two_sessions, monkeypatch):
    monkeypatch.setattr("infusions.contributions.CHART_SESSIONS", 1)
    first, second = two_sessions
    patient = first.appointment.patient

    html = chart(client, nina, patient).content.decode()
    client.force_login(nina)
    whole = client.get(f"/staff/patients/{patient.public_id}/?show=sessions").content.decode()

    assert html.count('data-testid="patient-session"') == 1
    assert str(second.public_id) in html  # the latest
    assert str(first.public_id) not in html
    assert 'href="?show=sessions#infusion-sessions"' in html
    assert "Show all 2 sessions" in html
    assert whole.count('data-testid="patient-session"') == 2
    assert 'data-testid="all-sessions"' not in whole


# --- The list is kept rendered (clinic.fragments): never stale, never shown to the wrong reader


def test_a_dose_changed_after_the_list_was_kept_shows_on_the_next_view(
    client, nina, phil, two_sessions
):
    first, second = two_sessions
    patient = first.appointment.patient
    before = chart(client, nina, patient).content.decode()

    signed_order(second, phil, dose="0.6", replaces=DoseOrder.objects.get(session=second))
    after = chart(client, nina, patient).content.decode()

    assert "0.75 mg/kg (60.0 mg)" in before
    assert "0.6 mg/kg (48.0 mg)" in after
    assert "0.75 mg/kg" not in after
    assert "+20 %" in after


def test_a_new_session_and_a_renamed_place_show_on_the_next_view(client, nina, phil, two_sessions):
    first, _ = two_sessions
    patient = first.appointment.patient
    location = first.appointment.location
    chart(client, nina, patient)

    third = infusion_session(nina, phil, patient=patient, location=location, hour=16)
    Location.objects.filter(pk=location.pk).update(name="Riverside East")
    html = chart(client, nina, patient).content.decode()

    assert str(third.public_id) in html
    assert html.count('data-testid="patient-session"') == 3
    assert html.count("<td>Riverside East</td>") == 3


def test_the_kept_list_is_not_shown_to_the_front_desk(client, nina, fran, two_sessions):
    patient = two_sessions[0].appointment.patient
    clinician = chart(client, nina, patient).content.decode()

    front_desk = chart(client, fran, patient).content.decode()

    assert str(two_sessions[0].public_id) in clinician
    assert "Infusion sessions" not in front_desk
    assert str(two_sessions[0].public_id) not in front_desk


def test_a_kept_list_costs_one_query_and_the_starts_one_when_asked_for(
    nina, two_sessions, django_assert_num_queries
):
    from infusions.contributions import patient_sessions

    patient = two_sessions[0].appointment.patient
    patient_sessions(nina, patient, shown={})

    with django_assert_num_queries(1):  # the version of the rows (the chart reads it with others)
        added = patient_sessions(nina, patient, shown={})
    with django_assert_num_queries(1):
        assert added["infusion_sessions"].total == 2
    assert added["infusion_sessions_html"].count('data-testid="patient-session"') == 2
