"""The discharge section of the session screen, with and without HTMX, and the after-care
sheet: what each shows, what a refusal leaves, and who may use them."""

from __future__ import annotations

import re
import uuid

import pytest

from clinic.models import AuditEvent
from conftest import PASSWORD
from infusions.models import Discharge
from infusions.models.sessions import InfusionSessionState
from infusions.tests.test_discharge import session_in, with_unresolved_alert
from scheduling.models import AppointmentStatus

S = InfusionSessionState
TICKED = {
    "vitals_near_baseline": "on",
    "alert_and_oriented": "on",
    "aldrete_score": "10",
    "escort_present": "on",
    "escort_name": "",
    "instructions_given": "on",
}
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def recovering(nina, phil):
    return session_in(nina, phil)


def page(session) -> str:
    return f"/staff/sessions/{session.public_id}/"


def discharge_url(session) -> str:
    return f"/staff/sessions/{session.public_id}/discharge/"


def test_the_section_shows_the_checklist_with_baseline_and_latest_reading(client, nina, recovering):
    client.force_login(nina)
    response = client.get(page(recovering))
    html = response.content.decode()

    assert response.status_code == 200
    assert 'id="discharge"' in html and 'data-testid="discharge-form"' in html
    assert 'data-testid="discharge-baseline">120/80 mmHg' in html
    assert "at least 9 to go home" in html
    assert 'value="Sam Escort"' in html  # the escort from the pre-assessment
    assert 'data-testid="discharge-physician"' not in html  # nothing unresolved
    assert f'href="/staff/sessions/{recovering.public_id}/aftercare/"' in html
    assert f'href="/staff/sessions/{recovering.public_id}/summary/"' in html
    assert 'data-testid="session-chart"' in html and "<svg" in html


def test_the_physicians_fields_appear_with_an_unresolved_alert(client, nina, phil, recovering):
    with_unresolved_alert(recovering, nina, phil)
    client.force_login(nina)
    html = client.get(page(recovering)).content.decode()
    assert 'data-testid="discharge-physician"' in html
    assert "186 mmHg" in html
    assert "Phil Physician" in html


def test_a_new_reading_updates_the_discharge_status_out_of_band(client, nina, recovering):
    client.force_login(nina)
    reading = {
        "systolic": "186",
        "diastolic": "96",
        "heart_rate": "80",
        "spo2": "97",
        "respiratory_rate": "14",
        "consciousness": "1",
    }

    response = client.post(f"/staff/sessions/{recovering.public_id}/readings/", reading, **HTMX)

    html = response.content.decode()
    status = re.search(r'<div id="discharge-status".*', html, re.S).group(0)
    assert 'hx-swap-oob="true"' in status
    assert 'data-testid="discharge-latest">186/96 mmHg' in status
    assert "Acknowledge the 1 open alert" in status  # what now stands in the way
    assert 'data-testid="discharge-form"' not in html  # what the nurse ticked stays


def test_the_live_refresh_updates_the_discharge_status_too(client, nina, recovering):
    client.force_login(nina)

    html = client.get(
        f"/staff/sessions/{recovering.public_id}/flowsheet/", {"part": "live"}, **HTMX
    ).content.decode()

    assert '<div id="discharge-status" data-testid="discharge-status" hx-swap-oob="true">' in html


def test_the_section_lists_what_stands_in_the_way(client, nina, phil):
    session = session_in(nina, phil, given=False)
    client.force_login(nina)
    html = client.get(page(session)).content.decode()
    assert 'data-testid="discharge-blockers"' in html
    assert "Record what was given and wasted" in html


def test_signing_without_javascript_redirects_back_discharged(client, nina, recovering):
    client.force_login(nina)
    response = client.post(discharge_url(recovering), TICKED)

    assert response.status_code == 302
    assert response["Location"] == f"/staff/sessions/{recovering.public_id}/#discharge"
    recovering.refresh_from_db()
    assert recovering.state == S.DISCHARGED
    assert recovering.appointment.status == AppointmentStatus.DISCHARGED
    html = client.get(page(recovering)).content.decode()
    assert 'data-testid="discharge-signed"' in html and "Nina Nurse" in html


def test_signing_with_htmx_reloads_the_page(client, nina, recovering):
    client.force_login(nina)
    response = client.post(discharge_url(recovering), TICKED, **HTMX)
    assert response.status_code == 204
    assert response["HX-Refresh"] == "true"
    assert Discharge.objects.filter(session=recovering).exists()


def test_a_refusal_with_htmx_shows_the_message_next_to_the_field(client, nina, recovering):
    client.force_login(nina)
    response = client.post(discharge_url(recovering), TICKED | {"aldrete_score": "8"}, **HTMX)
    html = response.content.decode()

    assert response.status_code == 200
    assert html.lstrip().startswith('<section id="discharge"')
    assert "Not ready to go home: the modified Aldrete score is 8" in html
    assert 'aria-describedby="id_aldrete_score-error"' in html
    # What was ticked stays ticked.
    assert 'id="id_alert_and_oriented" autocomplete="off" checked' in html
    recovering.refresh_from_db()
    assert recovering.state == S.RECOVERING
    assert not Discharge.objects.exists()


def test_a_refusal_without_javascript_shows_the_whole_screen_again(client, nina, recovering):
    client.force_login(nina)
    data = {key: value for key, value in TICKED.items() if key != "escort_present"}
    response = client.post(discharge_url(recovering), data)
    html = response.content.decode()

    assert response.status_code == 200
    assert "an adult escort must be here" in html
    assert 'aria-describedby="id_escort_present-error"' in html
    assert not Discharge.objects.exists()


def test_a_wrong_physician_password_is_shown_and_nothing_saved(client, nina, phil, recovering):
    with_unresolved_alert(recovering, nina, phil)
    client.force_login(nina)
    data = TICKED | {
        "physician": str(phil.public_id),
        "physician_password": "nope",
        "physician_note": "Home with escort.",
    }
    html = client.post(discharge_url(recovering), data, **HTMX).content.decode()
    assert "That is not Phil Physician&#x27;s password" in html
    assert not Discharge.objects.exists()

    data["physician_password"] = PASSWORD
    response = client.post(discharge_url(recovering), data, **HTMX)
    assert response.status_code == 204
    assert Discharge.objects.get().physician == phil


def test_a_nurse_is_not_offered_as_the_physician(client, nina, phil, recovering):
    with_unresolved_alert(recovering, nina, phil)
    client.force_login(nina)
    data = TICKED | {"physician": str(nina.public_id), "physician_note": "Fine."}
    html = client.post(discharge_url(recovering), data, **HTMX).content.decode()
    assert "Select a valid choice" in html
    assert not Discharge.objects.exists()


def test_the_front_desk_may_not_sign(client, fran, recovering):
    client.force_login(fran)
    assert client.post(discharge_url(recovering), TICKED).status_code == 403
    assert not Discharge.objects.exists()


def test_an_unknown_session_is_not_found(client, nina, db):
    client.force_login(nina)
    response = client.post(f"/staff/sessions/{uuid.uuid4()}/discharge/", TICKED)
    assert response.status_code == 404


def test_signing_only_posts(client, nina, recovering):
    client.force_login(nina)
    assert client.get(discharge_url(recovering)).status_code == 405


# --- The after-care sheet -------------------------------------------------------------------------


def aftercare(session) -> str:
    return f"/staff/sessions/{session.public_id}/aftercare/"


def test_the_aftercare_sheet_says_what_to_do_and_whom_to_call(client, nina, recovering, settings):
    client.force_login(nina)
    response = client.get(aftercare(recovering))
    html = response.content.decode()
    location = recovering.appointment.location

    assert response.status_code == 200
    assert settings.CLINIC_NAME in html
    assert location.name in html and location.phone in html
    assert "Do not drive" in html
    assert "important decisions" in html
    assert "An adult takes you home" in html
    assert 'data-testid="aftercare-crisis">988<' in html
    assert "usually pass" in html
    # Handed to the patient: no drug name, no staff navigation.
    assert "ketamine" not in html.lower()
    assert 'data-testid="staff-nav"' not in html
    assert 'media="print" href="/static/css/print/aftercare.css"' in html


def test_the_aftercare_sheet_is_audited_as_a_view_of_the_patient(client, nina, recovering):
    client.force_login(nina)
    client.get(aftercare(recovering))
    event = AuditEvent.objects.get(action="view", object_type="patients.patient")
    assert event.object_id == str(recovering.appointment.patient.public_id)
    assert "after-care" in event.summary


@pytest.mark.parametrize("persona,status", [("fran", 403), ("alice", 403), ("edie", 403)])
def test_only_clinical_staff_open_the_aftercare_sheet(client, request, recovering, persona, status):
    client.force_login(request.getfixturevalue(persona))
    assert client.get(aftercare(recovering)).status_code == status


def test_signed_out_visitors_are_sent_to_sign_in(client, recovering):
    response = client.get(aftercare(recovering))
    assert response.status_code == 302
    assert "login" in response["Location"]
