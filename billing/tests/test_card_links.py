"""The link the front desk sends a patient to save a card on file from their phone: sent through
the outbox on the channels the patient agreed to (no diagnosis, no usable link stored), opened
by an opaque token, the card policy agreed to, Stripe's page (the fake) in setup mode through
the same path as at the desk; the card is kept with its consent "from a link"."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from billing.card_links import CARD_LINK, card_link_send, card_link_token
from billing.cards import CONSENT_METHOD_LINK
from billing.models import CardLink, CardOnFile, CardSetup
from clinic.messaging.registry import kind_named
from clinic.models import OutboxMessage
from patients.models import Channel
from patients.tests.factories import CommunicationConsentFactory, PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def patient():
    patient = PatientFactory(email="jordan@example.com", mobile="+13125550142")
    CommunicationConsentFactory(patient=patient, channel=Channel.EMAIL, granted=True)
    CommunicationConsentFactory(patient=patient, channel=Channel.SMS, granted=True)
    return patient


def send(client, patient):
    return client.post(f"/staff/billing/patients/{patient.public_id}/card/send-link/")


def test_the_front_desk_sends_a_card_link_by_the_channels_the_patient_agreed_to(
    client, fake_stripe, fran, patient, settings
):
    settings.SITE_URL = "https://clinic.test"
    client.force_login(fran)
    answer = send(client, patient)
    assert answer.status_code == 302
    messages = OutboxMessage.objects.filter(kind=CARD_LINK)
    assert {m.channel for m in messages} == {"email", "sms"}
    link = CardLink.objects.get()
    for message in messages:
        assert "token" not in str(message.context) and card_link_token(link) not in str(
            message.context
        )
        rendered = kind_named(CARD_LINK).render(message)
        assert f"https://clinic.test/pay/card/{card_link_token(link)}/" in rendered.body
        assert "save a card to keep on file" in rendered.body
        for word in ("ketamine", "depress", "esketamine", "f33"):
            assert word not in rendered.body.lower()


def test_a_patient_who_agreed_to_no_messages_gets_no_link_and_the_desk_is_told(
    client, fake_stripe, fran
):
    client.force_login(fran)
    lonely = PatientFactory()
    answer = send(client, lonely)
    assert answer.status_code == 302
    assert not CardLink.objects.exists() and not OutboxMessage.objects.exists()
    follow = client.get(answer["Location"]).content.decode()
    assert "save the card at the desk instead" in follow


def test_a_nurse_may_not_send_a_card_link(client, fake_stripe, nina, patient):
    client.force_login(nina)
    assert send(client, patient).status_code == 403


def test_no_card_link_with_no_stripe_keys(client, fran, patient, settings):
    settings.STRIPE_SECRET_KEY = ""
    client.force_login(fran)
    send(client, patient)
    assert not CardLink.objects.exists()


def test_the_patient_agrees_and_saves_the_card_on_stripes_page(client, fake_stripe, fran, patient):
    link, _ = card_link_send(actor=fran, patient=patient, base_url="https://clinic.test")
    url = f"/pay/card/{card_link_token(link)}/"
    page = client.get(url)
    assert page.status_code == 200 and "By saving this card you allow" in page.content.decode()

    refused = client.post(url, {})
    assert refused.status_code == 400 and "Tick the box" in refused.content.decode()
    assert not CardSetup.objects.exists()

    agreed = client.post(url, {"agree": "on"})
    html = agreed.content.decode()
    assert f"{fake_stripe.url}/checkout/pay/" in html
    setup = CardSetup.objects.get()
    assert fake_stripe.session(setup.checkout_session_id)["mode"] == "setup"

    fake_stripe.complete_checkout(setup.checkout_session_id)
    done = client.get(
        fake_stripe.session(setup.checkout_session_id)["success_url"].removeprefix(
            "http://testserver"
        )
    )
    assert "Your card is saved" in done.content.decode()
    card = CardOnFile.objects.get(patient=patient)
    assert card.consent_method == CONSENT_METHOD_LINK and card.consent_recorded_by == fran
    assert card.consent_wording.startswith("By saving this card")
    assert "saved already" in client.get(url).content.decode()  # used once


@pytest.mark.parametrize(
    ("spoil", "status", "words"),
    [
        ("altered", 404, "not valid"),
        ("expired", 410, "expired"),
        ("replaced", 410, "replaced by a newer one"),
    ],
)
def test_a_link_that_cannot_be_used_says_what_to_do(
    client, fake_stripe, fran, patient, spoil, status, words
):
    link, _ = card_link_send(actor=fran, patient=patient, base_url="https://clinic.test")
    token = card_link_token(link)
    if spoil == "altered":
        token = token[:-2] + "xx"
    elif spoil == "expired":
        CardLink.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    else:
        card_link_send(actor=fran, patient=patient, base_url="https://clinic.test")
    page = client.get(f"/pay/card/{token}/")
    assert page.status_code == status and words in page.content.decode()
