"""Staff send a patient a questionnaire link from the chart (e.g. the baseline PHQ-9 the
physician needs before approving treatment): chosen questionnaires, what the answers count
as, sent on the patient's channels or shown to copy; the answers come back scored."""

from __future__ import annotations

import pytest

from clinic.messaging.registry import kind_named
from clinic.models import OutboxMessage
from patients.followups import questionnaire_link_submit
from patients.links import link_for_token
from patients.models import Channel, Patient, PatientLink, QuestionnaireResponse
from patients.tests.factories import CommunicationConsentFactory, PatientFactory
from scheduling.tests.factories import LocationFactory

QUESTIONNAIRE = PatientLink.Purpose.QUESTIONNAIRE


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = "https://clinic.example"


@pytest.fixture
def jordan(db) -> Patient:
    location = LocationFactory(name="Riverside", phone="+1 555 010 0100")
    patient = PatientFactory(
        preferred_location=location,
        conditions=["depression", "anxiety"],
        email="jordan@example.org",
    )
    CommunicationConsentFactory(patient=patient, channel=Channel.EMAIL, granted=True)
    return patient


def url(patient: Patient) -> str:
    return f"/staff/patients/{patient.public_id}/questionnaires/link/"


def test_the_form_suggests_the_questionnaires_for_the_conditions_as_the_baseline(
    client, nina, jordan
):
    client.force_login(nina)

    response = client.get(url(jordan))

    assert response.status_code == 200
    assert "PHQ-9 (depression)" in response.text and "PCL-5" in response.text
    form = response.context["form"]
    assert form.initial == {"instruments": ["phq9", "gad7"], "context": "baseline"}


def test_after_any_answers_it_suggests_a_follow_up(client, nina, jordan):
    QuestionnaireResponse.objects.create(
        patient=jordan, instrument="phq9", answers={}, total=3, band="minimal"
    )
    client.force_login(nina)

    response = client.get(url(jordan))

    assert response.context["form"].initial["context"] == "follow_up"


def test_sent_it_queues_an_email_that_names_no_questionnaire(client, nina, jordan):
    client.force_login(nina)

    response = client.post(
        url(jordan), {"instruments": ["phq9"], "context": "baseline", "send": "1"}
    )

    assert response.status_code == 200
    assert 'data-testid="link-sent"' in response.text
    link = PatientLink.objects.get(patient=jordan, purpose=QUESTIONNAIRE)
    assert (link.instruments, link.questionnaire_context) == (["phq9"], "baseline")
    [message] = OutboxMessage.objects.filter(patient=jordan)
    assert (message.kind, message.channel) == ("questionnaire_link", "email")
    rendered = kind_named("questionnaire_link").render(message)
    assert "https://clinic.example/p/questionnaire/" in rendered.body
    for private in ("PHQ", "depress", "anxiety", jordan.legal_last_name):
        assert private not in rendered.body and private not in (rendered.subject or "")


def test_the_answers_come_back_as_the_chosen_context(client, nina, jordan):
    client.force_login(nina)
    client.post(url(jordan), {"instruments": ["gad7"], "context": "baseline"})
    link = PatientLink.objects.get(patient=jordan, purpose=QUESTIONNAIRE)

    questionnaire_link_submit(link=link, answers={"gad7": {f"q{i}": 1 for i in range(1, 8)}})

    [response] = jordan.questionnaires.all()
    assert (response.instrument, response.context, response.total) == ("gad7", "baseline", 7)


def test_a_link_to_copy_is_shown_once_with_what_it_asks(client, nina, jordan):
    client.force_login(nina)

    response = client.post(url(jordan), {"instruments": ["phq9", "gad7"], "context": "follow_up"})

    assert response.status_code == 200
    assert "asks PHQ-9, GAD-7" in response.text
    assert "no-store" in response["Cache-Control"]
    token = response.text.split("/p/questionnaire/")[1].split("/")[0]
    assert link_for_token(token, QUESTIONNAIRE).patient == jordan
    assert not OutboxMessage.objects.exists()


def test_nothing_chosen_says_what_to_do_and_makes_no_link(client, nina, jordan):
    client.force_login(nina)

    response = client.post(url(jordan), {"context": "baseline", "send": "1"})

    assert response.status_code == 400
    assert "Choose at least one questionnaire to send." in response.text
    assert not PatientLink.objects.exists()


def test_a_second_link_to_copy_asks_first_and_keeps_the_choice(client, nina, jordan):
    client.force_login(nina)
    client.post(url(jordan), {"instruments": ["phq9"], "context": "baseline", "send": "1"})

    response = client.post(url(jordan), {"instruments": ["gad7"], "context": "follow_up"})

    assert response.status_code == 409
    assert "Replace the patient's questionnaire link?" in response.text
    assert '<input type="hidden" name="instruments" value="gad7">' in response.text
    assert '<input type="hidden" name="context" value="follow_up">' in response.text
    assert PatientLink.objects.filter(patient=jordan).count() == 1

    response = client.post(
        url(jordan), {"instruments": ["gad7"], "context": "follow_up", "replace": "1"}
    )

    assert response.status_code == 200
    live = PatientLink.objects.get(patient=jordan, revoked_at__isnull=True)
    assert live.instruments == ["gad7"]


@pytest.mark.parametrize("persona", ["nina", "phil"])
def test_the_chart_offers_it_to_clinicians(client, request, persona, jordan):
    client.force_login(request.getfixturevalue(persona))

    chart = client.get(f"/staff/patients/{jordan.public_id}/")

    assert url(jordan) in chart.text


@pytest.mark.parametrize("persona", ["fran", "alice", "edie"])
def test_staff_who_see_no_scores_cannot_send_questionnaire_links(client, request, persona, jordan):
    client.force_login(request.getfixturevalue(persona))

    assert client.get(url(jordan)).status_code == 403
    assert (
        client.post(url(jordan), {"instruments": ["phq9"], "context": "baseline"}).status_code
        == 403
    )
    assert not PatientLink.objects.exists()
