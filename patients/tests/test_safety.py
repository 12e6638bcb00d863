"""Safety alerts: raised by PHQ-9 question 9 (staff entry too), where they go, the on-call
email, how they show on the chart and the staff home, and recording the follow-up."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from clinic.messaging.registry import kind_named
from clinic.models import AuditEvent, Location, OutboxMessage
from patients.followup_messages import render_safety_alert
from patients.models import QuestionnaireResponse, SafetyAlert
from patients.services.questionnaires import questionnaire_record
from patients.services.safety import safety_alert_raise, safety_alert_resolve
from patients.tests.factories import PatientFactory
from scheduling.contributions import safety_panel_for
from scheduling.tests.factories import (
    AppointmentFactory,
    LocationFactory,
    StaffShiftFactory,
)

SITE = "https://clinic.example.org"


@pytest.fixture
def riverside(db):
    return LocationFactory(name="Riverside", on_call_email="oncall@riverside.test")


@pytest.fixture
def hilltop(db):
    return LocationFactory(name="Hilltop", email="desk@hilltop.test")


@pytest.fixture
def robin(riverside):
    return PatientFactory(
        legal_first_name="Robin", legal_last_name="Quinn", preferred_location=riverside
    )


def phq9(item9: int) -> dict[str, int]:
    return {f"q{number}": 1 for number in range(1, 9)} | {"q9": item9}


def raise_for(patient, **kwargs) -> SafetyAlert:
    return safety_alert_raise(patient=patient, source=SafetyAlert.Source.PHQ9_ITEM9, **kwargs)


# --- Raising -------------------------------------------------------------------------------


def test_a_phq9_entered_by_staff_with_item_9_above_0_raises_an_alert(client, nina, robin):
    client.force_login(nina)

    response = client.post(
        f"/staff/patients/{robin.public_id}/questionnaires/new/phq9/",
        {"context": "pre_session", **{key: str(value) for key, value in phq9(2).items()}},
    )

    assert response.status_code == 302
    alert = SafetyAlert.objects.get(patient=robin)
    assert alert.questionnaire == QuestionnaireResponse.objects.get(patient=robin)
    assert OutboxMessage.objects.filter(
        kind="safety_alert", recipient="oncall@riverside.test", urgent=True
    ).exists()
    event = AuditEvent.objects.get(object_type="patients.safetyalert")
    assert event.actor == nina
    assert str(robin.public_id) in event.summary
    assert "Robin" not in event.summary + event.object_label


def test_item_9_at_0_raises_nothing(nina, robin):
    questionnaire_record(actor=nina, patient=robin, instrument="phq9", answers=phq9(0))

    assert not SafetyAlert.objects.exists()
    assert not OutboxMessage.objects.exists()


def test_other_questionnaires_raise_nothing(nina, robin):
    questionnaire_record(
        actor=nina, patient=robin, instrument="gad7", answers={f"q{n}": 3 for n in range(1, 8)}
    )

    assert not SafetyAlert.objects.exists()


def test_the_alert_belongs_to_the_appointments_location_without_a_preferred_one(hilltop):
    patient = PatientFactory(preferred_location=None)
    appointment = AppointmentFactory(patient=patient, location=hilltop)

    alert = raise_for(patient, appointment=appointment)

    assert alert.location == hilltop
    # No on-call address: the location's own email is told instead.
    assert OutboxMessage.objects.get(kind="safety_alert").recipient == "desk@hilltop.test"


def test_without_any_address_the_alert_still_stands_and_the_audit_says_so(db):
    location = LocationFactory(email="", on_call_email="")
    patient = PatientFactory(preferred_location=location)

    alert = raise_for(patient)

    assert alert.is_open
    assert not OutboxMessage.objects.exists()
    assert "no on-call email" in AuditEvent.objects.get(object_type="patients.safetyalert").summary


def test_the_on_call_email_names_no_patient_and_links_to_the_chart(robin, settings):
    settings.SITE_URL = SITE
    raise_for(robin)
    message = OutboxMessage.objects.get(kind="safety_alert")

    rendered = render_safety_alert(message)

    assert rendered.subject == "Urgent: a patient reported thoughts of self-harm"
    assert f"{SITE}/staff/patients/{robin.public_id}/" in rendered.body
    assert str(robin.public_id) in rendered.body
    assert "Robin" not in rendered.body + rendered.subject
    assert "Quinn" not in rendered.body + rendered.subject
    assert "Riverside" in rendered.body


def test_an_alert_closed_before_its_email_went_needs_no_email(nina, robin):
    alert = raise_for(robin)
    message = OutboxMessage.objects.get(kind="safety_alert")

    assert kind_named("safety_alert").still_wanted(message) is None
    safety_alert_resolve(actor=nina, alert=alert, follow_up_note="Called at 14:10; safe.")

    assert kind_named("safety_alert").still_wanted(message).reason == "not_wanted"


# --- On the chart ----------------------------------------------------------------------------


def chart(client, user, patient):
    client.force_login(user)
    return client.get(f"/staff/patients/{patient.public_id}/")


def test_the_chart_shows_an_open_alert_as_an_alert_with_the_follow_up_form(client, nina, robin):
    raise_for(robin)

    page = chart(client, nina, robin).content.decode()

    assert 'role="alert" data-testid="safety-alert-open"' in page
    section = page.split('data-testid="safety-alert-open"', 1)[1][:2000]
    assert "thoughts of self-harm reported" in section
    assert 'name="follow_up_note"' in section


def test_the_front_desk_sees_no_safety_alert(client, fran, robin):
    raise_for(robin)

    page = chart(client, fran, robin).content.decode()

    assert "safety-alert" not in page


def test_the_chart_reads_alerts_in_a_fixed_number_of_queries(
    client, nina, robin, django_assert_max_num_queries
):
    raise_for(robin)
    chart(client, nina, robin)
    for _ in range(4):
        raise_for(robin)

    client.force_login(nina)
    with django_assert_max_num_queries(60) as captured:
        client.get(f"/staff/patients/{robin.public_id}/")
    # The versions of what the kept sections show (clinic.fragments) name the table too.
    alert_queries = [
        q["sql"]
        for q in captured.captured_queries
        if "safetyalert" in q["sql"] and "xmin" not in q["sql"]
    ]
    assert len(alert_queries) == 1  # open and recently followed up, together


# --- Recording the follow-up -----------------------------------------------------------------


def follow_up_url(alert: SafetyAlert) -> str:
    return f"/staff/patients/{alert.patient.public_id}/safety-alerts/{alert.public_id}/follow-up/"


def test_recording_the_follow_up_closes_the_alert_and_is_audited(client, phil, robin):
    alert = raise_for(robin)
    client.force_login(phil)

    response = client.post(follow_up_url(alert), {"follow_up_note": "Called; safety plan agreed."})

    assert response.status_code == 302
    assert response["Location"] == f"/staff/patients/{robin.public_id}/#safety-alerts"
    alert.refresh_from_db()
    assert not alert.is_open
    assert alert.resolved_by == phil
    assert alert.follow_up_note == "Called; safety plan agreed."
    event = AuditEvent.objects.get(
        object_type="patients.safetyalert", action=AuditEvent.Action.UPDATE
    )
    assert event.actor == phil
    assert "safety plan" not in event.summary  # the note stays out of the log
    page = chart(client, phil, robin).content.decode()
    assert 'data-testid="safety-alert-open"' not in page
    assert "Called; safety plan agreed." in page  # under earlier alerts


def test_recording_a_follow_up_needs_a_note(client, nina, robin):
    alert = raise_for(robin)
    client.force_login(nina)

    response = client.post(follow_up_url(alert), {"follow_up_note": "   "})

    assert response.status_code == 200
    assert "Write what was done" in response.content.decode()
    alert.refresh_from_db()
    assert alert.is_open
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.UPDATE).exists()


def test_the_service_refuses_no_note_and_a_second_follow_up(nina, phil, robin):
    alert = raise_for(robin)
    with pytest.raises(ValidationError) as error:
        safety_alert_resolve(actor=nina, alert=alert, follow_up_note="")
    assert "Write what was done" in error.value.message_dict["follow_up_note"][0]

    safety_alert_resolve(actor=nina, alert=alert, follow_up_note="Called; safe.")
    stale = SafetyAlert.objects.get(pk=alert.pk)
    with pytest.raises(ValidationError) as error:
        safety_alert_resolve(actor=phil, alert=stale, follow_up_note="Me too.")
    assert (
        "Nina Nurse already recorded the follow-up" in error.value.message_dict["follow_up_note"][0]
    )
    stale.refresh_from_db()
    assert (stale.resolved_by, stale.follow_up_note) == (nina, "Called; safe.")


def test_only_clinicians_record_the_follow_up(client, fran, alice, robin):
    alert = raise_for(robin)

    for user in (fran, alice):
        client.force_login(user)
        assert client.post(follow_up_url(alert), {"follow_up_note": "x"}).status_code == 403
        with pytest.raises(PermissionDenied):
            safety_alert_resolve(actor=user, alert=alert, follow_up_note="x")
    alert.refresh_from_db()
    assert alert.is_open


def test_an_alert_of_another_patient_is_not_found(client, nina, robin):
    alert = raise_for(robin)
    other = PatientFactory()
    client.force_login(nina)

    url = f"/staff/patients/{other.public_id}/safety-alerts/{alert.public_id}/follow-up/"
    assert client.post(url, {"follow_up_note": "Called."}).status_code == 404
    alert.refresh_from_db()
    assert alert.is_open


# --- The staff home ------------------------------------------------------------------------


def home(client, user):
    client.force_login(user)
    return client.get("/staff/").content.decode()


def test_nurses_and_physicians_without_shifts_see_every_open_alert_on_their_home(
    client, nina, phil, robin, hilltop
):
    raise_for(robin)
    raise_for(
        PatientFactory(legal_first_name="Sam", legal_last_name="Hill", preferred_location=hilltop)
    )

    for user in (nina, phil):
        page = home(client, user)
        assert 'data-testid="home-safety-alerts"' in page
        assert "Robin Quinn" in page and "Sam Hill" in page
        assert f"/staff/patients/{robin.public_id}/#safety-alerts" in page


def test_a_clinician_with_shifts_sees_the_alerts_of_their_locations(
    client, nina, robin, riverside, hilltop
):
    StaffShiftFactory(staff=nina, location=hilltop)
    raise_for(robin)  # Riverside
    raise_for(
        PatientFactory(legal_first_name="Sam", legal_last_name="Hill", preferred_location=hilltop)
    )
    raise_for(PatientFactory(legal_first_name="Lee", legal_last_name="Nowhere"))  # no location

    panel = safety_panel_for(nina)
    page = home(client, nina)

    assert {alert.patient.legal_first_name for alert in panel.alerts} == {"Sam", "Lee"}
    assert panel.elsewhere == 1
    assert "Sam Hill" in page and "Robin Quinn" not in page
    assert "1 more open at other locations." in page


def test_followed_up_alerts_leave_the_home_page(client, nina, robin):
    alert = raise_for(robin)
    safety_alert_resolve(actor=nina, alert=alert, follow_up_note="Called; safe.")

    page = home(client, nina)

    assert "Robin Quinn" not in page
    assert "No open safety alerts" in page


def test_the_front_desk_and_admins_get_no_safety_panel(client, fran, alice, robin):
    raise_for(robin)

    for user in (fran, alice):
        page = home(client, user)
        assert 'data-testid="home-safety-alerts"' not in page
        assert "Robin Quinn" not in page


def test_the_home_panel_reads_a_fixed_number_of_queries(
    client, nina, riverside, django_assert_max_num_queries
):
    StaffShiftFactory(staff=nina, location=riverside)
    for number in range(6):
        raise_for(PatientFactory(preferred_location=riverside if number % 2 else None))
    client.force_login(nina)
    client.get("/staff/")

    with django_assert_max_num_queries(16) as captured:  # the whole home; the alerts are 2 of them
        response = client.get("/staff/")

    assert response.content.decode().count("#safety-alerts") == 6
    alert_queries = [q for q in captured.captured_queries if "safetyalert" in q["sql"]]
    assert len(alert_queries) == 2  # the alerts shown and the count of the others


# --- Locations: the on-call address --------------------------------------------------------


def test_the_clinic_admin_sets_the_on_call_email_on_the_location_form(client, alice, hilltop):
    client.force_login(alice)
    data = {
        "name": "Hilltop",
        "address_line1": hilltop.address_line1,
        "city": hilltop.city,
        "country": "US",
        "phone": hilltop.phone,
        "time_zone": hilltop.time_zone,
        "on_call_email": "oncall@hilltop.test",
    }

    response = client.post(f"/staff/locations/{hilltop.public_id}/edit/", data)

    assert response.status_code == 302
    hilltop.refresh_from_db()
    assert hilltop.on_call_email == "oncall@hilltop.test"
    event = AuditEvent.objects.get(object_type="clinic.location", action=AuditEvent.Action.UPDATE)
    assert "on_call_email" in event.summary

    bad = client.post(
        f"/staff/locations/{hilltop.public_id}/edit/", data | {"on_call_email": "not an address"}
    )
    assert bad.status_code == 200
    assert "Enter a valid email address" in bad.content.decode()
    assert Location.objects.get(pk=hilltop.pk).on_call_email == "oncall@hilltop.test"
