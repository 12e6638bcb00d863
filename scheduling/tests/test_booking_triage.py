"""Safety triage of the public booking form: the crisis line next to the reason field, and a
reason that mentions suicide or self-harm raising the same safety alert as PHQ-9 question 9
(chart, staff home, urgent on-call email, in the booking's transaction), with the crisis
resources first on the confirmation page. The patient's words stay out of logs, URLs, the
audit log and the email."""

from __future__ import annotations

import logging

import pytest

from clinic.conditions import Condition
from clinic.messaging.registry import kind_named
from clinic.models import AuditEvent, Location, OutboxMessage
from patients.models import SafetyAlert
from patients.services.safety import SAFETY_ALERT_KIND, mentions_self_harm
from scheduling.booking.offer import slot_value
from scheduling.models import Appointment
from scheduling.tests import test_public_booking
from scheduling.tests.factories import clinic_location
from scheduling.tests.test_public_booking import booked, details_url, ten_am

booking_cache = test_public_booking.booking_cache
post_booking = test_public_booking.post_booking

WORDS = "Suicidal thoughts most nights since the spring"


@pytest.fixture
def riverside(phil) -> Location:
    """The booking tests' Riverside, with an on-call address."""
    return clinic_location(
        name="Riverside",
        staff=[phil],
        chairs=1,
        address_line1="1 River St",
        postal_code="60601",
        phone="+13125550100",
        on_call_email="oncall@riverside.test",
    )


# --- What counts as a mention --------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "suicidal thoughts",
        "SUICIDAL!!",
        "I have thought about suicide.",
        "thoughts of self-harm",
        "Self harm, on and off",
        "self‑harm",  # a non-breaking hyphen
        "self -  harm",
        "selfharm",
        "I want to   die",
        "some days I want to die.",
        "I'd be better off dead",
        "I overdosed last year",
        "I don't want to kill myself but I think about it",
        "Wish I were dead",
        "I keep hurting myself",
        "I sometimes think everyone would be better off without me.",
        "Some days I don't want to be alive",
        "life is not worth living lately",
        "I just want to disappear",
    ],
)
def test_it_hears_a_mention_of_suicide_or_self_harm_however_it_is_written(text):
    assert mentions_self_harm(text)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Depression for ten years, nothing has helped",
        "my suitcase of medications",
        "a harmless question about side effects",
        "I want to diet before the infusion",
        "my dietitian suggested it",
        "an overdue bill",
        "self-help books did not help",
        "my selfish brother",
        "killer headaches",
        "to end my lifelong pain",
        "better off without my old medication",
        "I don't want to be here on a weekday",
    ],
)
def test_it_does_not_hear_one_in_other_words(text):
    assert not mentions_self_harm(text)


def test_the_phrases_are_the_clinics_to_choose(settings):
    settings.BOOKING_TRIAGE_PHRASES = ["no way out"]

    assert mentions_self_harm("There is No-way out.")
    assert not mentions_self_harm("suicidal")


# --- The form ----------------------------------------------------------------------------------


def test_the_form_shows_the_crisis_line_next_to_the_reason(client, riverside, settings):
    settings.CRISIS_LINE = "988"
    start = slot_value(ten_am(riverside))
    page = client.get(details_url(riverside), {"start": start}).content.decode()

    reason = page.index('name="reason"')
    crisis = page.index('data-testid="crisis-line"')
    assert 0 < crisis - reason < 1500, "right after the reason field"
    assert 'href="tel:988"' in page[crisis:]
    assert "the Suicide &amp; Crisis Lifeline" in page[crisis:]


# --- A reason that mentions suicide or self-harm ------------------------------------------------


def test_it_books_and_raises_the_same_alert_as_phq9_item_9(
    client, post_booking, riverside, phil, caplog, settings
):
    settings.SITE_URL = "https://clinic.example.org"
    caplog.set_level(logging.DEBUG)

    response = post_booking(riverside, ten_am(riverside), reason=WORDS)

    assert response.status_code == 302
    appointment = booked(response)
    assert appointment.status == "booked"
    alert = SafetyAlert.objects.get()
    assert alert.source == SafetyAlert.Source.BOOKING_REASON
    assert alert.patient == appointment.patient
    assert alert.appointment == appointment
    assert alert.location == riverside
    assert alert.is_open
    assert WORDS in alert.reported_text
    email = OutboxMessage.objects.get(kind=SAFETY_ALERT_KIND)
    assert email.urgent and email.recipient == "oncall@riverside.test"
    rendered = kind_named(SAFETY_ALERT_KIND).render(email)
    assert "the reason mentions suicide or self-harm" in rendered.body
    assert "Suicidal thoughts" not in rendered.body + rendered.subject
    assert "Jordan" not in rendered.body
    # Nowhere else: not the audit log, not a log line, not the URL.
    summaries = " ".join(AuditEvent.objects.values_list("summary", flat=True))
    assert "raised a safety alert (booking_reason)" in summaries
    assert "uicidal" not in summaries and "spring" not in summaries
    assert "uicidal" not in caplog.text and "spring" not in caplog.text
    assert "uicid" not in response["Location"].lower()


def test_the_confirmation_shows_the_crisis_resources_first_and_still_confirms(
    client, post_booking, riverside, settings
):
    settings.CRISIS_LINE = "988"
    response = post_booking(riverside, ten_am(riverside), reason="I think about self-harm")

    page = client.get(response["Location"]).content.decode()

    crisis = page.index('data-testid="crisis-resources"')
    assert crisis < page.index('data-testid="booked"')
    assert 'href="tel:988"' in page
    assert "A clinician from Riverside has been alerted" in page
    assert "Your consultation is booked." in page


def test_clinicians_see_the_alert_and_the_words_on_the_chart_and_home_page(
    client, post_booking, riverside, phil
):
    response = post_booking(riverside, ten_am(riverside), reason=WORDS)
    patient = booked(response).patient
    client.force_login(phil)

    chart = client.get(f"/staff/patients/{patient.public_id}/").content.decode()
    home = client.get("/staff/").content.decode()

    assert 'data-testid="safety-alert-open"' in chart
    assert "Consultation booked online: the reason mentions suicide or self-harm" in chart
    assert f"In their words: “{WORDS}”" in chart
    assert "Consultation booked online: the reason mentions suicide or self-harm" in home


def test_choosing_suicidal_ideation_from_the_list_raises_it_too(post_booking, riverside):
    post_booking(riverside, ten_am(riverside), condition=Condition.SUICIDAL_IDEATION)

    alert = SafetyAlert.objects.get()
    assert alert.reported_text == "Would like help with: Suicidal ideation"


def test_the_same_form_sent_twice_raises_one_alert(client, riverside):
    data = test_public_booking.form_data(ten_am(riverside), reason=WORDS)

    first = client.post(details_url(riverside), data)
    second = client.post(details_url(riverside), data)

    # Both confirm the same booking (the tokens' signing times may differ by a second).
    assert booked(first) == booked(second)
    assert Appointment.objects.count() == 1
    assert SafetyAlert.objects.count() == 1


# --- Any other reason ---------------------------------------------------------------------------


def test_another_reason_raises_nothing_and_confirms_as_usual(client, post_booking, riverside):
    response = post_booking(
        riverside, ten_am(riverside), reason="Ten years of depression; I would like to try this"
    )

    page = client.get(response["Location"]).content.decode()
    assert "Your consultation is booked." in page
    assert 'data-testid="crisis-resources"' not in page
    assert not SafetyAlert.objects.exists()
    assert not OutboxMessage.objects.filter(kind=SAFETY_ALERT_KIND).exists()


def test_a_reason_too_long_is_explained_and_nothing_is_booked(client, riverside):
    response = client.post(
        details_url(riverside), test_public_booking.form_data(ten_am(riverside), reason="x" * 501)
    )

    assert response.status_code == 200
    assert "Please keep this to 500 characters" in response.content.decode()
    assert not Appointment.objects.exists()
    assert not SafetyAlert.objects.exists()
