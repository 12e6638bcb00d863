"""The pre-infusion checks on the session screen: the checklist, the forms (with and without
HTMX), errors shown next to the fields with nothing saved, the hold and the caution, the
pre-session questionnaire links, and who may see and record what."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from infusions import vitals
from infusions.models import PreAssessment, VitalsReading
from infusions.models.preassessment import BloodPressureStatus
from infusions.models.sessions import InfusionSessionState
from infusions.sessions import session_transition
from infusions.tests.factories import complete_pre_assessment, infusion_session, vitals_reading

S = InfusionSessionState
HTMX = {"HTTP_HX_REQUEST": "true"}
BP = vitals.caution_hold_from_settings()
NORMAL = {
    "systolic": "120",
    "diastolic": "80",
    "heart_rate": "72",
    "spo2": "98",
    "respiratory_rate": "14",
    "consciousness": "1",
}


@pytest.fixture
def session(nina, phil):
    session = infusion_session(nina, phil)
    return session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)


def url(name: str, session) -> str:
    return reverse(f"infusions:{name}", args=[session.public_id])


def checks(**fields) -> dict:
    local_now = timezone.localtime(timezone.now())
    return {
        "identity_confirmed": "on",
        "weight_kg": "80.0",
        "pregnancy_status": "not_pregnant",
        "escort_confirmed": "on",
        "escort_name": "Sam Escort",
        "escort_phone": "+13125550100",
        "last_ate_at": (local_now - timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M"),
        "notes": "",
    } | fields


def text(response) -> str:
    return response.content.decode()


# --- The checklist -------------------------------------------------------------------------------


def test_the_session_screen_shows_the_checklist_and_the_forms(client, nina, session):
    client.force_login(nina)

    page = text(client.get(url("session", session)))

    assert 'id="pre-assessment"' in page
    assert 'aria-labelledby="pre-assessment-heading"' in page
    assert 'data-check="identity" data-done="no"' in page
    assert 'data-check="consent" data-done="yes"' in page
    assert "Weigh the patient and record today&#x27;s weight." in page
    assert 'data-testid="pre-form"' in page
    assert 'data-testid="pre-vitals-form"' in page
    assert f'hx-post="{url("pre-assessment", session)}"' in page
    assert 'for="pre-weight_kg"' in page


def test_the_count_of_checks_to_do_is_the_number_marked_to_do(client, nina, session):
    client.force_login(nina)

    page = text(client.get(url("session", session)))

    marked = page.count("✗ To do")
    assert marked > 1  # nothing recorded yet: every check of the pre-assessment
    assert f"{marked} checks still to do" in page
    assert "1 check still to do" not in page


def test_the_checklist_says_when_every_check_is_done(client, nina, session):
    complete_pre_assessment(session, nina)
    client.force_login(nina)

    page = text(client.get(url("session", session)))

    assert "All checks done." in page
    assert 'data-check="vitals" data-done="yes"' in page


def test_the_questionnaires_that_fit_link_to_the_entry_page(client, nina, session):
    client.force_login(nina)
    patient = session.appointment.patient

    page = text(client.get(url("session", session)))

    entry = reverse("patients:questionnaire-new", args=[patient.public_id, "phq9"])
    back = reverse("infusions:session", args=[session.public_id])
    # Entered as "before an infusion", then back to this session.
    assert f'href="{entry}?context=pre_session&amp;next={back}%23pre-assessment"' in page
    assert "does not stop the infusion" in page


def test_the_checks_are_shown_read_only_once_passed(client, nina, session):
    complete_pre_assessment(session, nina)
    session_transition(actor=nina, session=session, to_state=S.PRE_ASSESSMENT_PASSED)
    client.force_login(nina)

    page = text(client.get(url("session", session)))

    assert 'data-testid="pre-summary"' in page
    assert 'data-testid="pre-form"' not in page


# --- Saving the checks ---------------------------------------------------------------------------


def test_a_nurse_saves_the_checks_and_goes_back_to_the_section(client, nina, session):
    client.force_login(nina)

    response = client.post(url("pre-assessment", session), checks())

    assert response.status_code == 302
    assert response["Location"] == url("session", session) + "#pre-assessment"
    assessment = PreAssessment.objects.get(session=session)
    assert assessment.weight_kg == 80
    assert assessment.escort_name == "Sam Escort"
    assert assessment.last_ate_at is not None
    assert assessment.recorded_by == nina


def test_the_last_meal_is_read_on_the_locations_clock(client, nina, session):
    client.force_login(nina)
    tz = session.appointment.location.tz
    local = (timezone.now() - timedelta(hours=10)).astimezone(tz).replace(second=0, microsecond=0)

    client.post(url("pre-assessment", session), checks(last_ate_at=f"{local:%Y-%m-%dT%H:%M}"))

    assert PreAssessment.objects.get(session=session).last_ate_at == local


def test_with_htmx_the_answer_is_the_section_alone(client, nina, session):
    client.force_login(nina)

    response = client.post(url("pre-assessment", session), checks(), **HTMX)

    page = text(response)
    assert response.status_code == 200
    assert "<html" not in page
    assert page.lstrip().startswith('<section id="pre-assessment"')
    assert "The pre-infusion checks are saved." in page
    assert 'data-check="weight" data-done="yes"' in page


@pytest.mark.parametrize("weight", ["29.9", "300.1", "eighty"])
def test_a_bad_weight_is_shown_by_the_field_and_nothing_is_saved(client, nina, session, weight):
    client.force_login(nina)

    response = client.post(url("pre-assessment", session), checks(weight_kg=weight))

    page = text(response)
    assert response.status_code == 400
    assert 'id="pre-weight_kg_error"' in page
    assert "Nothing was saved" in page
    assert not PreAssessment.objects.exists()


def test_a_bad_weight_with_htmx_comes_back_in_the_section(client, nina, session):
    client.force_login(nina)

    response = client.post(url("pre-assessment", session), checks(weight_kg="300.1"), **HTMX)

    page = text(response)
    assert response.status_code == 200
    assert "is outside 30–300 kg" in page
    assert 'aria-describedby="pre-weight_kg_helptext pre-weight_kg_error"' in page
    assert not PreAssessment.objects.exists()


def test_the_checks_are_refused_before_check_in(client, nina, phil):
    session = infusion_session(nina, phil)
    client.force_login(nina)

    response = client.post(url("pre-assessment", session), checks())

    assert "Check the patient in first" in text(response)
    assert not PreAssessment.objects.exists()


# --- The vital signs, the caution and the hold ----------------------------------------------------


def test_a_nurse_takes_the_pre_infusion_vitals(client, nina, session):
    client.force_login(nina)

    response = client.post(url("pre-assessment-vitals", session), NORMAL, **HTMX)

    assert "within limits" in text(response)
    assessment = PreAssessment.objects.get(session=session)
    assert assessment.bp_status == BloodPressureStatus.OK
    assert assessment.vitals.phase == "pre"


def test_impossible_vitals_are_shown_and_not_saved(client, nina, session):
    client.force_login(nina)

    response = client.post(
        url("pre-assessment-vitals", session), NORMAL | {"diastolic": "125"}, **HTMX
    )

    assert "must be below the systolic" in text(response)
    assert not VitalsReading.objects.exists()


def test_a_hold_is_shown_with_the_way_to_mark_not_started(client, nina, session):
    client.force_login(nina)

    response = client.post(
        url("pre-assessment-vitals", session),
        NORMAL | {"systolic": str(BP.hold_systolic)},
        follow=True,
    )

    page = text(response)
    assert 'data-testid="pre-hold"' in page
    assert "No infusion today" in page
    assert url("session-move", session) in page
    assert 'name="to_state" value="not_started"' in page


def test_a_physician_acknowledges_a_caution_on_the_page(client, nina, phil, session):
    client.force_login(nina)
    client.post(url("pre-assessment-vitals", session), NORMAL | {"systolic": "165"})
    nurse_page = text(client.get(url("session", session)))
    client.force_login(phil)
    physician_page = text(client.get(url("session", session)))

    response = client.post(
        url("pre-assessment-acknowledge", session), {"note": "Anxious; rechecked."}, **HTMX
    )

    assert 'data-testid="pre-caution"' in nurse_page
    assert 'data-testid="pre-ack-form"' not in nurse_page
    assert "Ask a physician" in nurse_page
    assert 'data-testid="pre-ack-form"' in physician_page
    assert "The caution is acknowledged." in text(response)
    assert PreAssessment.objects.get(session=session).caution_acknowledged_by == phil


def test_an_acknowledgement_without_a_note_is_shown_and_not_saved(client, nina, phil, session):
    client.force_login(nina)
    client.post(url("pre-assessment-vitals", session), NORMAL | {"systolic": "165"})
    client.force_login(phil)

    response = client.post(url("pre-assessment-acknowledge", session), {"note": ""}, **HTMX)

    assert "Say why the infusion may go ahead." in text(response)
    assert PreAssessment.objects.get(session=session).caution_acknowledged_by is None


# --- Who may -------------------------------------------------------------------------------------


@pytest.mark.parametrize("persona", ["fran", "alice", "edie"])
def test_people_who_do_not_treat_cannot_see_or_record_the_checks(request, client, session, persona):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(url("session", session)).status_code == 403
    assert client.post(url("pre-assessment", session), checks()).status_code == 403
    assert client.post(url("pre-assessment-vitals", session), NORMAL).status_code == 403
    assert not PreAssessment.objects.exists()
    assert not VitalsReading.objects.exists()


def test_a_nurse_cannot_acknowledge_a_caution(client, nina, session):
    vitals_reading(session, nina, systolic=165)
    client.force_login(nina)

    response = client.post(url("pre-assessment-acknowledge", session), {"note": "Fine."})

    assert response.status_code == 403


def test_the_forms_only_take_posts(client, nina, session):
    client.force_login(nina)

    assert client.get(url("pre-assessment", session)).status_code == 405


def test_an_unknown_session_is_not_found(client, nina):
    client.force_login(nina)

    response = client.post(
        reverse("infusions:pre-assessment", args=["00000000-0000-0000-0000-000000000000"]),
        checks(),
    )

    assert response.status_code == 404


def test_a_signed_out_visitor_is_sent_to_sign_in(client, session):
    response = client.post(url("pre-assessment", session), checks())

    assert response.status_code == 302
    assert "login" in response["Location"]
