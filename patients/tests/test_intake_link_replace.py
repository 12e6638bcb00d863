"""A link to copy while the patient still holds a working intake link: staff are told which
link stops working and confirm; the replaced link's page says whom to call; a text still
waiting in the outbox with the replaced link is not sent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError

from clinic.messaging.outbox import outbox_claim_due, outbox_send
from clinic.models import OutboxMessage
from patients.links import LinkError, link_for_token, link_token
from patients.models import Channel, Patient, PatientLink
from patients.services.intake import intake_link_create
from patients.tests.factories import CommunicationConsentFactory, PatientFactory
from patients.tests.test_messages import daytime
from scheduling.tests.factories import LocationFactory

INTAKE = PatientLink.Purpose.INTAKE


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = "https://clinic.example"


@pytest.fixture
def patient(db) -> Patient:
    location = LocationFactory(name="Riverside", phone="+1 555 010 0100")
    patient = PatientFactory(preferred_location=location)
    for channel in (Channel.EMAIL, Channel.SMS):
        CommunicationConsentFactory(patient=patient, channel=channel, granted=True)
    return patient


def test_a_link_to_copy_asks_before_replacing_the_emailed_one(patient, fran):
    emailed, token = intake_link_create(actor=fran, patient=patient, send_to_patient=True)

    with pytest.raises(ValidationError) as error:
        intake_link_create(actor=fran, patient=patient)

    [message] = error.value.message_dict["replace_live"]
    assert "the link sent at" in message and "by email and text message" in message
    assert PatientLink.objects.filter(patient=patient).count() == 1
    assert link_for_token(token, INTAKE) == emailed, "the patient's link still works"


def test_confirmed_it_replaces_the_link_and_the_old_page_says_whom_to_call(client, patient, fran):
    _emailed, old_token = intake_link_create(actor=fran, patient=patient, send_to_patient=True)

    intake_link_create(actor=fran, patient=patient, replace_live=True)

    with pytest.raises(LinkError):
        link_for_token(old_token, INTAKE)
    response = client.get(f"/p/intake/{old_token}/")
    assert response.status_code == 410
    assert "contact the clinic on +1 555 010 0100" in response.text
    assert "most recent" not in response.text


def test_sending_a_new_link_needs_no_confirmation(patient, fran):
    intake_link_create(actor=fran, patient=patient, send_to_patient=True)

    intake_link_create(actor=fran, patient=patient, send_to_patient=True)

    assert PatientLink.objects.filter(patient=patient, revoked_at__isnull=True).count() == 1


def test_a_text_still_waiting_with_the_replaced_link_is_dropped(patient, fran):
    first, _ = intake_link_create(actor=fran, patient=patient, send_to_patient=True)
    intake_link_create(actor=fran, patient=patient, replace_live=True)
    now = daytime(patient)

    claims = outbox_claim_due(limit=10, lease=timedelta(minutes=5), now=now)
    statuses = {outbox_send(message_id, token, now=now) for message_id, token in claims}

    assert statuses == {"skipped"}
    for row in OutboxMessage.objects.filter(context__link=str(first.public_id)):
        assert (row.status, row.skip_reason) == ("skipped", "not_wanted")


def test_the_chart_button_shows_the_confirmation_first(client, patient, fran):
    intake_link_create(actor=fran, patient=patient, send_to_patient=True)
    client.force_login(fran)
    url = f"/staff/patients/{patient.public_id}/intake/link/"

    response = client.post(url)

    assert response.status_code == 409
    assert 'data-testid="link-replace-warning"' in response.text
    assert 'name="replace" value="1"' in response.text
    assert PatientLink.objects.filter(patient=patient).count() == 1

    response = client.post(url, {"replace": "1"})

    assert response.status_code == 200
    assert 'data-testid="intake-link-url"' in response.text
    assert PatientLink.objects.filter(patient=patient, revoked_at__isnull=True).count() == 1


def test_with_no_working_link_the_link_to_copy_needs_no_confirmation(client, patient, fran):
    old = PatientLink.objects.create(
        patient=patient, purpose=INTAKE, created_by=fran, expires_at=daytime(patient)
    )
    old.used_at = old.created_at
    old.save(update_fields=["used_at"])
    client.force_login(fran)

    response = client.post(f"/staff/patients/{patient.public_id}/intake/link/")

    assert response.status_code == 200
    assert link_token(old)
