"""The questionnaire and check-in pages a patient opens from a link: what they ask, what is
kept, every way a link is refused, a missing answer, and the item-9 escalation in the same
request that saved the answers."""

from __future__ import annotations

from datetime import timedelta
from unittest import mock

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from clinic.models import AuditEvent, OutboxMessage
from patients.followups import questionnaire_link_submit
from patients.links import link_create
from patients.models import CheckIn, PatientLink, QuestionnaireResponse, SafetyAlert
from patients.tests.factories import PatientFactory
from scheduling.tests.factories import LocationFactory

Purpose = PatientLink.Purpose


@pytest.fixture
def riverside(db):
    return LocationFactory(
        name="Riverside", phone="+13125550100", on_call_email="oncall@riverside.test"
    )


@pytest.fixture
def robin(riverside):
    return PatientFactory(
        legal_first_name="Robin",
        legal_last_name="Quinn",
        conditions=["trd", "anxiety"],
        preferred_location=riverside,
    )


def questionnaire_link(
    patient, *, instruments=("phq9", "gad7"), context="follow_up", lifetime=timedelta(days=7)
):
    link, token = link_create(
        patient=patient, purpose=Purpose.QUESTIONNAIRE, created_by=None, lifetime=lifetime
    )
    link.instruments = list(instruments)
    link.questionnaire_context = context
    link.save(update_fields=["instruments", "questionnaire_context"])
    return link, token


def checkin_link(patient):
    return link_create(patient=patient, purpose=Purpose.CHECK_IN, created_by=None)


def answers(prefix: str, count: int, value: int = 1, **overrides: int) -> dict[str, str]:
    data = {f"{prefix}-q{number}": str(value) for number in range(1, count + 1)}
    data.update({f"{prefix}-{key}": str(item) for key, item in overrides.items()})
    return data


def all_answers(**phq9: int) -> dict[str, str]:
    return answers("phq9", 9, **({"q9": 0} | phq9)) | answers("gad7", 7)


def url(token: str) -> str:
    return f"/p/questionnaire/{token}/"


# --- The page ---------------------------------------------------------------------------


def test_it_asks_the_questionnaires_the_link_names_with_every_item(client, robin):
    _, token = questionnaire_link(robin)

    response = client.get(url(token))

    assert response.status_code == 200
    page = response.content.decode()
    assert "Hello Robin." in page
    assert "PHQ-9" in page and "GAD-7" in page
    assert "Thoughts that you would be better off dead" in page
    assert 'name="phq9-q9"' in page and 'name="gad7-q7"' in page
    assert "Quinn" not in page  # the first name only


def test_it_asks_by_the_patients_conditions_when_the_link_names_none(client, robin):
    _, token = questionnaire_link(robin, instruments=())

    page = client.get(url(token)).content.decode()

    assert 'name="phq9-q1"' in page and 'name="gad7-q1"' in page
    assert 'name="pcl5-q1"' not in page


def test_complete_answers_are_scored_on_the_server_and_the_link_is_used_up(client, robin):
    link, token = questionnaire_link(robin)

    response = client.post(url(token), all_answers(q1=3, q2=3))

    assert response.status_code == 302
    assert response["Location"] == "/p/questionnaire/done/"
    phq9 = QuestionnaireResponse.objects.get(patient=robin, instrument="phq9")
    assert (phq9.total, phq9.band) == (3 + 3 + 6, "moderate")
    assert phq9.context == QuestionnaireResponse.Context.FOLLOW_UP
    assert phq9.via_link == link
    assert phq9.entered_by is None
    gad7 = QuestionnaireResponse.objects.get(patient=robin, instrument="gad7")
    assert (gad7.total, gad7.band) == (7, "mild")
    link.refresh_from_db()
    assert link.used_at is not None
    assert not SafetyAlert.objects.exists()
    done = client.get(response["Location"]).content.decode()
    assert "Your answers have reached the clinic" in done
    assert 'data-testid="crisis-resources"' not in done


def test_the_context_of_a_pre_session_link_is_kept(client, robin):
    _, token = questionnaire_link(robin, instruments=("phq9",), context="pre_session")

    client.post(url(token), answers("phq9", 9, q9=0))

    assert QuestionnaireResponse.objects.get(patient=robin).context == "pre_session"


def test_a_missing_answer_shows_the_form_again_by_that_question_and_stores_nothing(client, robin):
    link, token = questionnaire_link(robin)
    data = all_answers()
    del data["phq9-q4"]
    del data["gad7-q2"]

    response = client.post(url(token), data)

    assert response.status_code == 200
    page = response.content.decode()
    assert "2 questions have no answer yet." in page
    assert "Answer question 4." in page and "Answer question 2." in page
    assert "Nothing has been sent." in page
    # The other answers stay ticked so the patient only fills in the gaps.
    assert 'name="phq9-q1" value="1"' in page and "checked" in page
    assert not QuestionnaireResponse.objects.exists()
    link.refresh_from_db()
    assert link.used_at is None


def test_an_answer_off_the_scale_is_refused_and_nothing_stored(client, robin):
    _, token = questionnaire_link(robin)

    response = client.post(url(token), all_answers(q1=7))

    assert response.status_code == 200
    assert "Choose a value from 0 to 3." in response.content.decode()
    assert not QuestionnaireResponse.objects.exists()


def test_the_service_refuses_a_missing_answer_by_instrument_and_item(robin):
    link, _ = questionnaire_link(robin, instruments=("phq9",))
    incomplete = {f"q{number}": 0 for number in range(1, 9)}

    with pytest.raises(ValidationError) as error:
        questionnaire_link_submit(link=link, answers={"phq9": incomplete})

    assert error.value.message_dict == {"phq9-q9": ["Answer question 9."]}
    assert not QuestionnaireResponse.objects.exists()


# --- Links that cannot be used ----------------------------------------------------------


def test_a_tampered_link_is_refused_and_nothing_stored(client, robin):
    _, token = questionnaire_link(robin)
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")

    for response in (client.get(url(tampered)), client.post(url(tampered), all_answers(q9=2))):
        assert response.status_code == 404
        assert "This link is not valid" in response.content.decode()
    assert not QuestionnaireResponse.objects.exists()
    assert not SafetyAlert.objects.exists()


def test_a_link_for_another_purpose_is_refused(client, robin):
    _, consent_token = link_create(patient=robin, purpose=Purpose.CONSENT, created_by=None)
    _, checkin_token = checkin_link(robin)

    assert client.get(url(consent_token)).status_code == 404
    assert client.get(f"/p/check-in/{checkin_token}/").status_code == 200
    assert client.get(url(checkin_token)).status_code == 404


def test_an_expired_link_is_refused_and_nothing_stored(client, robin):
    link, token = questionnaire_link(robin)
    PatientLink.objects.filter(pk=link.pk).update(expires_at=timezone.now() - timedelta(minutes=1))

    response = client.post(url(token), all_answers())

    assert response.status_code == 410
    assert "This link has expired" in response.content.decode()
    assert not QuestionnaireResponse.objects.exists()


def test_a_used_link_is_refused_the_second_time(client, robin):
    _, token = questionnaire_link(robin)
    client.post(url(token), all_answers())

    response = client.post(url(token), all_answers(q1=3))

    assert response.status_code == 410
    assert "already been used" in response.content.decode()
    assert QuestionnaireResponse.objects.filter(instrument="phq9").count() == 1


# --- Item 9 -----------------------------------------------------------------------------


def test_item_9_raises_the_alert_and_queues_the_urgent_email_in_the_same_request(
    client, robin, riverside
):
    _, token = questionnaire_link(robin)

    response = client.post(url(token), all_answers(q9=1))

    # Right after the request that saved the answers, with no worker or task in between.
    phq9 = QuestionnaireResponse.objects.get(patient=robin, instrument="phq9")
    alert = SafetyAlert.objects.get(patient=robin)
    assert alert.source == SafetyAlert.Source.PHQ9_ITEM9
    assert alert.questionnaire == phq9
    assert alert.location == riverside
    assert alert.is_open
    email = OutboxMessage.objects.get(kind="safety_alert")
    assert email.channel == "email"
    assert email.urgent is True
    assert email.recipient == "oncall@riverside.test"
    assert email.patient is None  # to staff: the patient's consent does not hold it back
    assert email.context["alert"] == str(alert.public_id)
    assert email.context["patient"] == str(robin.public_id)
    assert email.not_before <= timezone.now()
    # The patient sees crisis resources at once.
    done = client.get(response["Location"]).content.decode()
    assert 'data-testid="crisis-resources"' in done
    assert 'href="tel:988"' in done
    assert "call or text, free, any time of the day or night" in done
    assert "+13125550100" in done  # the clinic's number


def test_the_alert_is_in_the_same_transaction_as_the_answers(robin):
    """If the alert or its email cannot be written, the answers are not kept either."""
    link, _ = questionnaire_link(robin, instruments=("phq9",))
    phq9 = {f"q{number}": 1 for number in range(1, 10)}

    with (
        mock.patch(
            "patients.services.safety.outbox_enqueue", side_effect=RuntimeError("database gone")
        ),
        pytest.raises(RuntimeError),
    ):
        questionnaire_link_submit(link=link, answers={"phq9": phq9})

    assert not QuestionnaireResponse.objects.exists()
    assert not SafetyAlert.objects.exists()
    link.refresh_from_db()
    assert link.used_at is None


def test_the_crisis_line_is_a_setting(client, robin, settings):
    settings.CRISIS_LINE = "116 123"
    settings.CRISIS_LINE_TEXT = "Samaritans, free, day or night"
    _, token = questionnaire_link(robin)

    response = client.post(url(token), all_answers(q9=3))

    done = client.get(response["Location"]).content.decode()
    assert 'href="tel:116 123"' in done
    assert "Samaritans, free, day or night" in done


def test_the_thank_you_page_without_answers_from_this_browser_shows_no_crisis_box(client, db):
    response = client.get("/p/questionnaire/done/")

    assert response.status_code == 200
    assert 'data-testid="crisis-resources"' not in response.content.decode()


# --- The next-day check-in ----------------------------------------------------------------


def checkin_data(**overrides) -> dict:
    return {
        "wellbeing": "4",
        "side_effects": ["nausea", "headache"],
        "side_effects_other": "",
        "self_harm_thoughts": "no",
    } | overrides


def test_the_check_in_page_asks_three_questions(client, robin):
    _, token = checkin_link(robin)

    page = client.get(f"/p/check-in/{token}/").content.decode()

    assert "How are you feeling today?" in page
    assert 'value="nausea"' in page and "Blurred or double vision" in page
    assert 'value="raised_bp"' not in page  # measured at the clinic, not felt at home
    assert "thoughts that you would be better off dead, or of harming yourself" in page
    # In everyday words, with the number to call.
    assert "Very sleepy, or hard to wake up" in page
    assert "dysphoria" not in page and "Sedation" not in page
    phone = robin.preferred_location.phone
    assert f'href="tel:{phone}"' in page


def test_a_check_in_is_kept_and_the_link_used_up(client, robin):
    link, token = checkin_link(robin)

    response = client.post(f"/p/check-in/{token}/", checkin_data(side_effects_other="A bit foggy"))

    assert response.status_code == 302
    assert response["Location"] == "/p/check-in/done/"
    check_in = CheckIn.objects.get(patient=robin)
    assert check_in.wellbeing == 4
    assert check_in.side_effects == ["nausea", "headache"]
    assert check_in.side_effects_other == "A bit foggy"
    assert check_in.self_harm_thoughts is False
    assert check_in.via_link == link
    assert not SafetyAlert.objects.exists()
    event = AuditEvent.objects.get(object_type="patients.checkin")
    assert str(robin.public_id) in event.summary and "foggy" not in event.summary


def test_a_check_in_without_the_safety_answer_is_refused_and_nothing_kept(client, robin):
    link, token = checkin_link(robin)

    response = client.post(
        f"/p/check-in/{token}/", checkin_data(self_harm_thoughts="", wellbeing="")
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "Answer yes or no: it helps us look after you." in page
    assert "Choose how you are feeling today" in page
    assert not CheckIn.objects.exists()
    link.refresh_from_db()
    assert link.used_at is None


def test_a_side_effect_not_on_the_list_is_refused(client, robin):
    _, token = checkin_link(robin)

    response = client.post(f"/p/check-in/{token}/", checkin_data(side_effects=["telepathy"]))

    assert response.status_code == 200
    assert not CheckIn.objects.exists()


def test_yes_to_thoughts_of_self_harm_escalates_in_the_same_request(client, robin, riverside):
    _, token = checkin_link(robin)

    response = client.post(f"/p/check-in/{token}/", checkin_data(self_harm_thoughts="yes"))

    check_in = CheckIn.objects.get(patient=robin)
    alert = SafetyAlert.objects.get(patient=robin)
    assert alert.source == SafetyAlert.Source.CHECK_IN
    assert alert.check_in == check_in
    email = OutboxMessage.objects.get(kind="safety_alert")
    assert email.urgent and email.recipient == "oncall@riverside.test"
    done = client.get(response["Location"]).content.decode()
    assert 'data-testid="crisis-resources"' in done


def test_a_tampered_check_in_link_is_refused(client, robin):
    _, token = checkin_link(robin)

    response = client.post(f"/p/check-in/{token}x/", checkin_data(self_harm_thoughts="yes"))

    assert response.status_code == 404
    assert not CheckIn.objects.exists()
    assert not SafetyAlert.objects.exists()
