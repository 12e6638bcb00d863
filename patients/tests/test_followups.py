"""Follow-ups: the next-day check-in queued at discharge, the questionnaires the daily task
queues (before infusions, 7 and 28 days after induction starts, monthly after), their local
send times across DST, idempotency, and the messages themselves."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from clinic.messaging.registry import kind_named
from clinic.models import OutboxMessage
from infusions.models.sessions import InfusionSessionState
from infusions.tests.test_discharge import correct_dose, session_in, sign
from patients.followup_messages import render_checkin, render_questionnaire
from patients.followups import (
    checkin_send_at,
    followups_enqueue_due,
    local_moment,
)
from patients.links import link_create, link_for_token
from patients.models import Channel, CheckIn, PatientLink
from patients.tasks import enqueue_due_followups
from patients.tests.factories import CommunicationConsentFactory, PatientFactory
from scheduling.models import AppointmentStatus, TreatmentCourse
from scheduling.questionnaire_dues import followup_days
from scheduling.tests.factories import AppointmentFactory, LocationFactory, appointment_type

CHICAGO = ZoneInfo("America/Chicago")
SITE = "https://clinic.example.org"


def consent(patient, *channels: str) -> None:
    for channel in channels:
        CommunicationConsentFactory(patient=patient, channel=channel, granted=True)


def chicago(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=CHICAGO)


# --- Local times across DST ---------------------------------------------------------------


def test_the_check_in_goes_out_at_10_local_the_day_after_spring_forward():
    # 2025-03-09 is the day Chicago moves from CST (UTC-6) to CDT (UTC-5).
    sent = checkin_send_at(chicago(date(2025, 3, 8), 14), CHICAGO)

    assert sent == datetime(2025, 3, 9, 15, 0, tzinfo=UTC)
    assert sent.astimezone(CHICAGO).hour == 10


def test_the_check_in_goes_out_at_10_local_the_day_after_fall_back():
    # 2025-11-02: CDT back to CST.
    sent = checkin_send_at(chicago(date(2025, 11, 1), 14), CHICAGO)

    assert sent == datetime(2025, 11, 2, 16, 0, tzinfo=UTC)
    assert sent.astimezone(CHICAGO).hour == 10


def test_the_next_day_is_the_locations_next_day_not_utcs():
    # 23:30 in Chicago is already the 9th in UTC; the check-in is still on the 9th, local.
    late = chicago(date(2025, 3, 8), 23, 30)
    assert late.astimezone(UTC).date() == date(2025, 3, 9)

    assert checkin_send_at(late, CHICAGO).astimezone(CHICAGO) == chicago(date(2025, 3, 9), 10)


def test_the_check_in_hour_is_a_setting(settings):
    settings.FOLLOWUP_CHECKIN_HOUR = 17

    sent = checkin_send_at(chicago(date(2025, 6, 1), 12), CHICAGO)

    assert sent.astimezone(CHICAGO) == chicago(date(2025, 6, 2), 17)


def test_an_hour_missing_on_the_spring_forward_day_comes_out_an_hour_later():
    assert local_moment(date(2025, 3, 9), 2, CHICAGO).astimezone(CHICAGO).hour == 3


# --- The next-day check-in, queued at discharge ------------------------------------------


def test_discharge_queues_the_check_in_on_each_consented_channel_with_one_link(nina, phil):
    session = session_in(nina, phil)
    appointment = session.appointment
    consent(appointment.patient, Channel.EMAIL, Channel.SMS)

    discharge = sign(nina, session)

    messages = OutboxMessage.objects.filter(kind="next_day_checkin").order_by("channel")
    assert [message.channel for message in messages] == ["email", "sms"]
    assert {message.idempotency_key for message in messages} == {
        f"appointment:{appointment.public_id}:checkin:email",
        f"appointment:{appointment.public_id}:checkin:sms",
    }
    link = PatientLink.objects.get(public_id=messages[0].context["link"])
    assert messages[1].context["link"] == str(link.public_id)
    assert link.purpose == PatientLink.Purpose.CHECK_IN
    assert link.appointment == appointment
    expected = checkin_send_at(discharge.signed_at, appointment.location.tz)
    assert all(message.not_before == expected for message in messages)
    assert all(message.patient == appointment.patient for message in messages)
    assert link.expires_at > expected + timedelta(days=6)


def test_a_session_stopped_early_gets_its_check_in_too(nina, phil):
    session = session_in(nina, phil, InfusionSessionState.STOPPED_EARLY)
    correct_dose(session, nina, phil)  # what was really given, before discharge
    consent(session.appointment.patient, Channel.EMAIL)

    sign(nina, session)

    message = OutboxMessage.objects.get(kind="next_day_checkin")
    assert message.appointment == session.appointment


def test_discharge_queues_no_check_in_without_consent(nina, phil):
    session = session_in(nina, phil)
    consent(session.appointment.patient)  # asked, never given

    sign(nina, session)

    assert not OutboxMessage.objects.filter(kind="next_day_checkin").exists()
    assert not PatientLink.objects.filter(purpose=PatientLink.Purpose.CHECK_IN).exists()


def test_a_refused_discharge_queues_nothing(nina, phil):
    session = session_in(nina, phil)
    consent(session.appointment.patient, Channel.EMAIL)

    with pytest.raises(ValidationError):
        sign(nina, session, aldrete_score=6)

    assert not OutboxMessage.objects.exists()


def test_the_check_in_message_carries_a_working_link_and_nothing_clinical(nina, phil, settings):
    settings.SITE_URL = SITE
    session = session_in(nina, phil)
    patient = session.appointment.patient
    consent(patient, Channel.EMAIL, Channel.SMS)
    sign(nina, session)
    email = OutboxMessage.objects.get(kind="next_day_checkin", channel="email")
    sms = OutboxMessage.objects.get(kind="next_day_checkin", channel="sms")

    rendered = render_checkin(email)
    text = render_checkin(sms).body

    prefix = f"{SITE}/p/check-in/"
    token = rendered.body.split(prefix, 1)[1].split("/", 1)[0]
    assert link_for_token(token, PatientLink.Purpose.CHECK_IN).public_id == (
        PatientLink.objects.get(purpose=PatientLink.Purpose.CHECK_IN).public_id
    )
    assert prefix in text
    assert rendered.subject
    for body in (rendered.body, text):
        assert patient.legal_last_name not in body
        assert "ketamine" not in body.lower() and "depress" not in body.lower()
    assert "Riverside" in text  # how to reach us


def test_a_check_in_answered_or_replaced_is_no_longer_wanted(nina, phil):
    session = session_in(nina, phil)
    patient = session.appointment.patient
    consent(patient, Channel.EMAIL)
    sign(nina, session)
    message = OutboxMessage.objects.get(kind="next_day_checkin")
    kind = kind_named("next_day_checkin")
    assert kind.still_wanted(message) is None

    link_create(patient=patient, purpose=PatientLink.Purpose.CHECK_IN, created_by=None)

    assert kind.still_wanted(message).reason == "not_wanted"


# --- The schedule -----------------------------------------------------------------------


def test_follow_ups_fall_on_days_7_and_28_then_every_30_days():
    due = [day for day in range(1, 130) if followup_days(day)]

    assert due == [7, 28, 58, 88, 118]


def test_the_follow_up_days_are_settings(settings):
    settings.FOLLOWUP_AFTER_INDUCTION_DAYS = [14]
    settings.FOLLOWUP_MAINTENANCE_INTERVAL_DAYS = 21

    assert [day for day in range(1, 60) if followup_days(day)] == [14, 35, 56]


@pytest.fixture
def chicago_clinic(db):
    return LocationFactory(name="Riverside", time_zone="America/Chicago", phone="+13125550100")


@pytest.fixture
def jordan(chicago_clinic):
    patient = PatientFactory(
        legal_first_name="Jordan", conditions=["trd", "ptsd"], preferred_location=chicago_clinic
    )
    consent(patient, Channel.EMAIL, Channel.SMS)
    return patient


def infusion(patient, location, starts_at, **fields):
    return AppointmentFactory(
        patient=patient,
        location=location,
        appointment_type=appointment_type("infusion"),
        starts_at=starts_at,
        **fields,
    )


def test_the_day_before_an_infusion_it_queues_a_questionnaire_at_10_local_across_dst(
    jordan, chicago_clinic
):
    # Saturday 2030-03-09 07:00 CST; the infusion is on Sunday, after the clocks go forward.
    now = chicago(date(2030, 3, 9), 7).astimezone(UTC)
    appointment = infusion(jordan, chicago_clinic, chicago(date(2030, 3, 10), 9))

    assert followups_enqueue_due(now) == 2

    messages = OutboxMessage.objects.filter(kind="questionnaire_due").order_by("channel")
    assert [message.channel for message in messages] == ["email", "sms"]
    assert all(message.appointment == appointment for message in messages)
    assert all(message.not_before == chicago(date(2030, 3, 9), 10) for message in messages)
    assert messages[0].idempotency_key == (
        f"appointment:{appointment.public_id}:questionnaire:20300310T1400Z:email"
    )
    link = PatientLink.objects.get(purpose=PatientLink.Purpose.QUESTIONNAIRE)
    assert link.instruments == ["phq9", "pcl5"]  # by the patient's conditions
    assert link.questionnaire_context == "pre_session"
    assert link.appointment == appointment


def test_the_day_before_a_spravato_session_it_queues_a_questionnaire_too(jordan, chicago_clinic):
    now = chicago(date(2030, 3, 9), 7).astimezone(UTC)
    session = AppointmentFactory(
        patient=jordan,
        location=chicago_clinic,
        appointment_type=appointment_type("spravato"),
        starts_at=chicago(date(2030, 3, 10), 9),
    )

    assert followups_enqueue_due(now) == 2
    link = PatientLink.objects.get(purpose=PatientLink.Purpose.QUESTIONNAIRE)
    assert (link.appointment, link.questionnaire_context) == (session, "pre_session")


def test_running_the_daily_task_twice_queues_each_message_once(jordan, chicago_clinic):
    now = chicago(date(2030, 3, 9), 7).astimezone(UTC)
    infusion(jordan, chicago_clinic, chicago(date(2030, 3, 10), 9))

    first = followups_enqueue_due(now)
    second = followups_enqueue_due(now + timedelta(hours=5))

    assert (first, second) == (2, 0)
    assert OutboxMessage.objects.filter(kind="questionnaire_due").count() == 2
    # No second link either: a new one would replace the link already sent.
    assert PatientLink.objects.filter(purpose=PatientLink.Purpose.QUESTIONNAIRE).count() == 1


def test_the_beat_task_is_idempotent(jordan, chicago_clinic):
    tomorrow = chicago_clinic.local_now().date() + timedelta(days=1)
    infusion(jordan, chicago_clinic, chicago(tomorrow, 23))

    assert enqueue_due_followups() == 2
    assert enqueue_due_followups() == 0
    assert OutboxMessage.objects.filter(kind="questionnaire_due").count() == 2


def test_infusions_further_ahead_cancelled_or_not_infusions_get_nothing_yet(jordan, chicago_clinic):
    now = chicago(date(2030, 3, 9), 7).astimezone(UTC)
    infusion(jordan, chicago_clinic, chicago(date(2030, 3, 12), 9))  # due the day after tomorrow
    infusion(
        jordan,
        chicago_clinic,
        chicago(date(2030, 3, 10), 9),
        status=AppointmentStatus.CANCELLED,
        cancel_reason="Patient unwell",
    )
    AppointmentFactory(
        patient=jordan,
        location=chicago_clinic,
        appointment_type=appointment_type("consultation"),
        starts_at=chicago(date(2030, 3, 10), 13),
    )

    assert followups_enqueue_due(now) == 0


def test_a_patient_without_consent_gets_no_message_and_no_link(chicago_clinic):
    patient = PatientFactory(preferred_location=chicago_clinic)
    now = chicago(date(2030, 3, 9), 7).astimezone(UTC)
    infusion(patient, chicago_clinic, chicago(date(2030, 3, 10), 9))

    assert followups_enqueue_due(now) == 0
    assert not PatientLink.objects.exists()


def test_a_cancelled_or_moved_infusion_gets_no_stale_questionnaire(jordan, chicago_clinic):
    now = chicago(date(2030, 3, 9), 7).astimezone(UTC)
    cancelled = infusion(jordan, chicago_clinic, chicago(date(2030, 3, 10), 9))
    followups_enqueue_due(now)
    message = OutboxMessage.objects.get(kind="questionnaire_due", channel="email")
    kind = kind_named("questionnaire_due")
    assert kind.still_wanted(message) is None

    def as_the_worker_sees_it():
        return kind.still_wanted(OutboxMessage.objects.get(pk=message.pk))

    cancelled.starts_at += timedelta(hours=2)
    cancelled.ends_at += timedelta(hours=2)
    cancelled.blocks_until += timedelta(hours=2)
    cancelled.save()
    assert as_the_worker_sees_it().reason == "moved"

    cancelled.status = AppointmentStatus.CANCELLED
    cancelled.cancel_reason = "Patient unwell"
    cancelled.save()
    assert as_the_worker_sees_it().reason == "cancelled"


def course_with_first_infusion(patient, location, first_day: date, state=None):
    course = TreatmentCourse.objects.create(
        patient=patient,
        location=location,
        state=state or TreatmentCourse.State.INDUCTION,
        planned_infusions=6,
        window_days=21,
    )
    infusion(
        patient,
        location,
        chicago(first_day, 9),
        course=course,
        status=AppointmentStatus.DISCHARGED,
    )
    return course


def test_it_queues_the_one_week_follow_up_the_day_before_it_is_due(jordan, chicago_clinic):
    first_day = date(2030, 1, 7)
    course = course_with_first_infusion(jordan, chicago_clinic, first_day)

    assert followups_enqueue_due(chicago(date(2030, 1, 12), 7).astimezone(UTC)) == 0
    assert followups_enqueue_due(chicago(date(2030, 1, 13), 7).astimezone(UTC)) == 2

    message = OutboxMessage.objects.get(kind="questionnaire_due", channel="sms")
    assert message.idempotency_key == f"course:{course.public_id}:questionnaire:day-7:sms"
    assert message.not_before == chicago(date(2030, 1, 14), 10)
    assert message.appointment is None
    link = PatientLink.objects.get(public_id=message.context["link"])
    assert link.questionnaire_context == "follow_up"


def test_it_queues_the_four_week_then_the_monthly_questionnaires(jordan, chicago_clinic):
    first_day = date(2030, 1, 7)
    course = course_with_first_infusion(
        jordan, chicago_clinic, first_day, state=TreatmentCourse.State.MAINTENANCE
    )

    for days in (28, 58, 88):
        followups_enqueue_due(chicago(first_day + timedelta(days=days - 1), 8).astimezone(UTC))

    keys = set(
        OutboxMessage.objects.filter(channel="email").values_list("idempotency_key", flat=True)
    )
    assert keys == {
        f"course:{course.public_id}:questionnaire:day-{days}:email" for days in (28, 58, 88)
    }


def test_a_follow_up_missed_for_a_few_days_is_sent_late_but_not_after_the_catch_up(
    jordan, chicago_clinic, settings
):
    settings.FOLLOWUP_CATCH_UP_DAYS = 3
    course_with_first_infusion(jordan, chicago_clinic, date(2030, 1, 7))

    late = chicago(date(2030, 1, 16), 8).astimezone(UTC)  # day 9: two days late
    assert followups_enqueue_due(late) == 2
    assert OutboxMessage.objects.filter(kind="questionnaire_due").first().not_before == late

    OutboxMessage.objects.all().delete()
    too_late = chicago(date(2030, 1, 19), 8).astimezone(UTC)  # day 12
    assert followups_enqueue_due(too_late) == 0


def test_completed_courses_and_courses_not_started_get_no_follow_ups(jordan, chicago_clinic):
    course_with_first_infusion(
        jordan, chicago_clinic, date(2030, 1, 7), state=TreatmentCourse.State.COMPLETED
    )
    TreatmentCourse.objects.create(
        patient=jordan,
        location=chicago_clinic,
        state=TreatmentCourse.State.INDUCTION,
        planned_infusions=6,
        window_days=21,
    )

    assert followups_enqueue_due(chicago(date(2030, 1, 13), 7).astimezone(UTC)) == 0


def test_the_newest_questionnaire_link_replaces_an_unanswered_older_one(jordan, chicago_clinic):
    course_with_first_infusion(jordan, chicago_clinic, date(2030, 1, 7))
    followups_enqueue_due(chicago(date(2030, 1, 13), 7).astimezone(UTC))
    older = OutboxMessage.objects.get(kind="questionnaire_due", channel="email")
    infusion(jordan, chicago_clinic, chicago(date(2030, 1, 16), 9))

    followups_enqueue_due(chicago(date(2030, 1, 15), 7).astimezone(UTC))

    skip = kind_named("questionnaire_due").still_wanted(older)
    assert skip.reason == "not_wanted"
    assert "newer link" in skip.detail


def test_the_questionnaire_message_links_to_the_questionnaire_and_names_nothing_clinical(
    jordan, chicago_clinic, settings
):
    settings.SITE_URL = SITE
    infusion(jordan, chicago_clinic, chicago(date(2030, 3, 10), 9))
    followups_enqueue_due(chicago(date(2030, 3, 9), 7).astimezone(UTC))
    email = OutboxMessage.objects.get(kind="questionnaire_due", channel="email")
    sms = OutboxMessage.objects.get(kind="questionnaire_due", channel="sms")

    rendered, text = render_questionnaire(email), render_questionnaire(sms).body

    token = rendered.body.split(f"{SITE}/p/questionnaire/", 1)[1].split("/", 1)[0]
    assert link_for_token(token, PatientLink.Purpose.QUESTIONNAIRE).patient == jordan
    assert "Before your visit tomorrow" in text
    for body in (rendered.body, text):
        assert "Jordan" not in body
        assert "PTSD" not in body and "ketamine" not in body.lower()


def test_without_site_url_a_message_with_a_link_fails_loudly(jordan, chicago_clinic, settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.SITE_URL = ""
    infusion(jordan, chicago_clinic, chicago(date(2030, 3, 10), 9))
    followups_enqueue_due(chicago(date(2030, 3, 9), 7).astimezone(UTC))

    with pytest.raises(ImproperlyConfigured, match="SITE_URL"):
        render_questionnaire(OutboxMessage.objects.filter(kind="questionnaire_due").first())


def test_the_kinds_are_registered_with_the_right_urgency(db):
    assert kind_named("questionnaire_due").urgent is False
    assert kind_named("next_day_checkin").urgent is False
    safety = kind_named("safety_alert")
    assert safety.urgent is True
    assert safety.capped is False


def test_the_chart_shows_the_check_in_answers_to_clinicians(client, nina, fran):
    patient = PatientFactory()
    CheckIn.objects.create(
        patient=patient,
        wellbeing=CheckIn.Wellbeing.BAD,
        side_effects=["nausea", "headache"],
        side_effects_other="Tired all day",
        self_harm_thoughts=False,
    )

    client.force_login(nina)
    html = client.get(f"/staff/patients/{patient.public_id}/").content.decode()

    assert "Next-day check-ins" in html
    assert "Not so good" in html
    assert "Nausea, Headache, Tired all day" in html
    client.force_login(fran)
    assert (
        "Next-day check-ins"
        not in client.get(f"/staff/patients/{patient.public_id}/").content.decode()
    )
