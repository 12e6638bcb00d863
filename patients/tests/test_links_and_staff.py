"""A patient's link opened in a browser signed in as staff: refused, so nothing the front
desk types there is recorded as the patient's own; staff enter things on the patient's
behalf from the chart, under their own name."""

from __future__ import annotations

import pytest

from patients.links import link_create
from patients.models import IntakeSubmission, PatientLink
from patients.services.intake import intake_submit
from patients.tests.factories import PatientFactory
from patients.tests.test_intake import complete_answers

Purpose = PatientLink.Purpose
LINK_PAGES = {
    Purpose.INTAKE: "/p/intake/{token}/",
    Purpose.QUESTIONNAIRE: "/p/questionnaire/{token}/",
    Purpose.CHECK_IN: "/p/check-in/{token}/",
    Purpose.CONSENT: "/p/consent/{token}/",
}


@pytest.fixture
def robin(db):
    return PatientFactory(legal_first_name="Robin", legal_last_name="Quinn")


@pytest.mark.parametrize("purpose", list(LINK_PAGES))
def test_a_link_opened_while_signed_in_as_staff_is_refused_and_stays_unused(
    client, fran, robin, purpose
):
    link, token = link_create(patient=robin, purpose=purpose, created_by=fran)
    client.force_login(fran)
    url = LINK_PAGES[purpose].format(token=token)

    shown = client.get(url)
    sent = client.post(url, {"action": "submit"})

    for response in (shown, sent):
        assert response.status_code == 403
        text = response.content.decode()
        assert "You are signed in as staff" in text
        assert "open their chart in the staff area" in text
        assert "Robin" not in text
    link.refresh_from_db()
    assert link.used_at is None
    assert not IntakeSubmission.objects.filter(patient=robin).exists()


def test_the_refusal_offers_to_sign_out_and_come_back_to_the_link(client, fran, robin):
    _, token = link_create(patient=robin, purpose=Purpose.INTAKE, created_by=fran)
    client.force_login(fran)

    page = client.get(f"/p/intake/{token}/").content.decode()
    signed_out = client.post("/staff/logout/", {"next": f"/p/intake/{token}/"})

    assert 'action="/staff/logout/"' in page
    assert f'name="next" value="/p/intake/{token}/"' in page
    assert signed_out["Location"] == f"/p/intake/{token}/"
    assert client.get(signed_out["Location"]).status_code == 200


def test_the_patient_still_opens_the_link_on_their_own_device(client, fran, robin):
    _, token = link_create(patient=robin, purpose=Purpose.INTAKE, created_by=fran)

    response = client.get(f"/p/intake/{token}/")

    assert response.status_code == 200
    assert "Hello Robin" in response.content.decode()


def test_an_intake_entered_by_staff_says_who_entered_it_on_the_chart_and_in_the_api(
    client, nina, robin
):
    intake_submit(patient=robin, answers=complete_answers(), entered_by=nina)
    client.force_login(nina)

    chart = client.get(f"/staff/patients/{robin.public_id}/").content.decode()
    detail = client.get(f"/staff/patients/{robin.public_id}/intake/1/").content.decode()
    api = client.get(f"/api/v1/patients/{robin.public_id}/intakes/").json()

    assert IntakeSubmission.objects.get(patient=robin).entered_by == nina
    assert "Nina Nurse" in chart
    assert "by Nina Nurse" in detail
    [intake] = api["results"]
    assert intake["entered_by"] == "Nina Nurse"
    assert intake["through_patient_link"] is False
