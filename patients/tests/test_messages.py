"""Intake and consent links sent to the patient by the outbox (``patients.messages``): only
when staff choose to send, only on the channels the patient agreed to, never with a usable
link stored in the outbox, and not once the link is used up or replaced."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import PermissionDenied
from django.test import RequestFactory
from django.utils import timezone

from clinic.messaging.registry import kind_named
from clinic.messaging.rules import decide
from clinic.models import OutboxMessage
from patients.consent_defaults import seed_consent_document
from patients.links import link_mark_used
from patients.messages import CONSENT_LINK, INTAKE_LINK
from patients.models import Channel, Patient
from patients.services.consent import consent_link_create
from patients.services.intake import intake_link_create
from patients.tests.factories import CommunicationConsentFactory, PatientFactory
from scheduling.tests.factories import LocationFactory


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = "https://clinic.example"


@pytest.fixture
def patient(db) -> Patient:
    patient = PatientFactory(preferred_location=LocationFactory(name="Riverside"))
    for channel in (Channel.EMAIL, Channel.SMS):
        CommunicationConsentFactory(patient=patient, channel=channel, granted=True)
    return patient


def daytime(patient: Patient):
    tz = patient.preferred_location.tz
    local = timezone.now().astimezone(tz).replace(hour=12, minute=0)
    return local if local > timezone.now() else local + timedelta(days=1)


def test_staff_choosing_to_send_queues_the_intake_link_on_each_channel(client, patient, fran):
    link, token = intake_link_create(actor=fran, patient=patient, send_to_patient=True)
    assert token, "the link is still shown to staff"
    queued = list(OutboxMessage.objects.filter(patient=patient).order_by("channel"))
    assert [(row.kind, row.channel) for row in queued] == [
        (INTAKE_LINK, "email"),
        (INTAKE_LINK, "sms"),
    ]
    for row in queued:
        assert row.idempotency_key == f"patient_link:{link.public_id}:{row.channel}"
        assert row.location == patient.preferred_location
        assert token not in str(row.context), "no usable link is stored"
        assert decide(row, daytime(patient)).send
        rendered = kind_named(row.kind).render(row)
        [url] = [word for word in rendered.body.split() if word.startswith("https://")]
        parts = urlsplit(url.rstrip(".,)"))
        assert parts.netloc == "clinic.example"
        # The link in the message works.
        assert client.get(parts.path).status_code == 200
        assert "intake form" in rendered.body
        assert "ketamine" not in (rendered.subject + rendered.body + rendered.html).lower()
        assert patient.legal_first_name not in rendered.body
        assert patient.preferred_location.phone in rendered.body


def test_without_the_choice_to_send_nothing_is_queued(patient, fran):
    intake_link_create(actor=fran, patient=patient)
    assert not OutboxMessage.objects.exists()


def test_only_the_agreed_channels_with_an_address(fran):
    texts_only = PatientFactory(email="")
    CommunicationConsentFactory(patient=texts_only, channel=Channel.EMAIL, granted=True)
    CommunicationConsentFactory(patient=texts_only, channel=Channel.SMS, granted=True)
    never_asked = PatientFactory()
    intake_link_create(actor=fran, patient=texts_only, send_to_patient=True)
    link, token = intake_link_create(actor=fran, patient=never_asked, send_to_patient=True)
    assert list(OutboxMessage.objects.values_list("patient", "channel")) == [(texts_only.pk, "sms")]
    assert link.pk and token, "without consent staff still get the link to hand over"


def test_without_a_site_address_the_request_gives_it(patient, fran, settings):
    settings.SITE_URL = ""
    request = RequestFactory().post("/", HTTP_HOST="testserver")
    request.user = fran
    intake_link_create(actor=fran, patient=patient, send_to_patient=True, request=request)
    row = OutboxMessage.objects.get(channel="email")
    assert "http://testserver/p/intake/" in kind_named(row.kind).render(row).body


def test_nothing_can_be_sent_without_any_address_for_the_site(patient, fran, settings):
    settings.SITE_URL = ""
    intake_link_create(actor=fran, patient=patient, send_to_patient=True)
    assert not OutboxMessage.objects.exists()


def test_a_used_or_replaced_link_is_not_sent(patient, fran):
    first, _ = intake_link_create(actor=fran, patient=patient, send_to_patient=True)
    [old_email, _old_sms] = OutboxMessage.objects.filter(context__link=str(first.public_id))
    second, _ = intake_link_create(actor=fran, patient=patient, send_to_patient=True)
    now = daytime(patient)
    assert decide(old_email, now).skip.reason == "not_wanted"
    new_email = OutboxMessage.objects.get(context__link=str(second.public_id), channel="email")
    assert decide(new_email, now).send
    link_mark_used(second)
    assert decide(new_email, now).skip.reason == "not_wanted"


def test_an_expired_link_is_not_sent(patient, fran):
    link, _ = intake_link_create(actor=fran, patient=patient, send_to_patient=True)
    link.expires_at = timezone.now() - timedelta(minutes=1)
    link.save(update_fields=["expires_at"])
    row = OutboxMessage.objects.get(channel="email")
    assert decide(row, daytime(patient)).skip.reason == "past"


def test_the_consent_link_is_sent_the_same_way(patient, fran):
    seed_consent_document()
    _link, token = consent_link_create(actor=fran, patient=patient, send_to_patient=True)
    rows = OutboxMessage.objects.filter(kind=CONSENT_LINK).order_by("channel")
    assert [row.channel for row in rows] == ["email", "sms"]
    rendered = kind_named(CONSENT_LINK).render(rows[0])
    assert "consent form" in rendered.subject
    assert "https://clinic.example/p/consent/" in rendered.body
    assert token not in str(rows[0].context)


def test_a_refused_link_queues_nothing(patient, edie):
    with pytest.raises(PermissionDenied):
        intake_link_create(actor=edie, patient=patient, send_to_patient=True)
    assert not OutboxMessage.objects.exists()


def test_staff_are_told_a_text_sent_in_quiet_hours_is_held_until_the_morning(patient):
    from patients.messages import link_channels_said

    tz = patient.preferred_location.tz
    night = datetime(2026, 12, 7, 22, 30, tzinfo=tz)
    assert link_channels_said(patient, night) == [
        "email",
        "text message (sms), held until 08:00 on Tue 8 Dec (no texts 21:00–08:00)",
    ]
    assert link_channels_said(patient, night.replace(hour=20, minute=59)) == [
        "email",
        "text message (sms)",
    ]
