"""Messages about appointments (``scheduling.messages``): queued in the transaction that books,
moves or cancels, on the channels the patient agreed to; skipped when stale; minimal content."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from clinic.conditions import Condition
from clinic.messaging.registry import Rendered, kind_named
from clinic.messaging.rules import decide
from clinic.models import Location, OutboxMessage, OutboxStatus
from patients.models import Channel, Patient
from patients.tests.factories import CommunicationConsentFactory, PatientFactory
from scheduling import message_queue
from scheduling.message_queue import (
    CANCELLED,
    CONFIRMATION,
    MOVED,
    WAITLIST_OFFER,
    reminders_enqueue,
)
from scheduling.models import Appointment, AppointmentType, WaitlistEntry
from scheduling.services.book_and_reschedule import appointment_reschedule
from scheduling.services.free_time import SlotTaken
from scheduling.services.status_changes import appointment_cancel, appointment_set_status
from scheduling.tests.test_booking import at, book, cleared_for_infusions, next_week, riverside_for
from tests.clock import travel_to


class Boom(Exception):
    pass


@pytest.fixture
def riverside(nina, phil) -> Location:
    return riverside_for(nina, phil)


def consenting(patient: Patient | None = None, *channels: str) -> Patient:
    patient = patient or PatientFactory()
    for channel in channels or (Channel.EMAIL, Channel.SMS):
        CommunicationConsentFactory(patient=patient, channel=channel, granted=True)
    return patient


@pytest.fixture
def sam(db) -> Patient:
    return consenting(PatientFactory(legal_first_name="Sam", legal_last_name="Lee"))


def rows(appointment: Appointment | None = None, **filters: object) -> list[OutboxMessage]:
    found = OutboxMessage.objects.filter(**filters).order_by("kind", "channel", "not_before")
    if appointment is not None:
        found = found.filter(appointment=appointment)
    return list(found)


def written(message: OutboxMessage) -> Rendered:
    return kind_named(message.kind).render(message)


def daytime(location: Location) -> datetime:
    """A moment outside quiet hours, for ``decide`` (the kinds' own checks use the clock)."""
    local = location.local_now()
    noon = datetime.combine(local.date(), time(12), tzinfo=location.tz)
    return noon if noon > timezone.now() else noon + timedelta(days=1)


def stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def reminder_time(start, location, hours):
    """When a reminder ``hours`` before ``start`` is due: two days before on the location's
    clock for the 48-hour one (the same wall-clock time, whatever a daylight-saving change
    in between does), two real hours before for the other."""
    if hours == 48:
        return start.astimezone(location.tz) - timedelta(days=2)
    return start - timedelta(hours=hours)


# --- Queued at booking --------------------------------------------------------------------------


def test_booking_queues_the_reminders_48_and_2_hours_before(fran, riverside, sam):
    appointment = book(fran, sam, riverside, hour=10)
    queued = rows(appointment)
    assert [(row.kind, row.channel) for row in queued] == [
        ("reminder_2h", "email"),
        ("reminder_2h", "sms"),
        ("reminder_48h", "email"),
        ("reminder_48h", "sms"),
    ]
    start = appointment.starts_at
    for row in queued:
        hours = 48 if row.kind == "reminder_48h" else 2
        assert row.not_before == reminder_time(start, riverside, hours)
        assert row.status == OutboxStatus.PENDING
        assert row.patient == sam and row.location == riverside
        assert row.recipient == "", "the address is looked up when it is sent"
        assert row.idempotency_key == (
            f"appointment:{appointment.public_id}:{stamp(start)}:reminder-{hours}h:{row.channel}"
        )
        assert row.context["starts_at"] == stamp(start)
    # The 48-hour reminder is of use until the 2-hour one is due; that one until the start.
    useful = {row.kind: row.context["useful_until"] for row in queued}
    assert useful == {
        "reminder_48h": stamp(start - timedelta(hours=2)),
        "reminder_2h": stamp(start),
    }


@pytest.mark.parametrize("monday", [date(2026, 3, 9), date(2026, 11, 2)], ids=["spring", "fall"])
def test_the_48_hour_reminder_keeps_the_wall_clock_time_across_a_daylight_saving_change(
    fran, riverside, sam, monday
):
    # Chicago changes its clocks on the Sunday before: 48 hours before 10:00 on Monday is
    # 09:00 (spring) or 11:00 (fall) on Saturday's clock, but the patient expects 10:00.
    travel_to(at(riverside, monday - timedelta(days=7), 12))
    appointment = book(fran, sam, riverside, hour=10, day=monday)
    saturday_ten = at(riverside, monday - timedelta(days=2), 10)
    assert saturday_ten != appointment.starts_at - timedelta(hours=48)
    reminders = rows(appointment, kind="reminder_48h")
    assert len(reminders) == 2
    for row in reminders:
        assert row.not_before == saturday_ten
        assert row.not_before.astimezone(riverside.tz).time() == time(10)
    # A reminder in hours that are not whole days stays hours.
    [email_2h] = rows(appointment, kind="reminder_2h", channel="email")
    assert email_2h.not_before == appointment.starts_at - timedelta(hours=2)


def test_infusions_get_reminders_too(nina, phil, riverside):
    patient = consenting(cleared_for_infusions(phil), Channel.SMS)
    appointment = book(nina, patient, riverside, kind="infusion", hour=9)
    assert {(row.kind, row.channel) for row in rows(appointment)} == {
        ("reminder_48h", "sms"),
        ("reminder_2h", "sms"),
    }


def test_a_booking_at_short_notice_gets_only_the_reminders_still_to_come(
    fran, riverside, monkeypatch
):
    appointment = book(fran, PatientFactory(), riverside, hour=10)
    assert rows(appointment) == [], "no consent yet"
    consenting(appointment.patient)
    # As if booked 30 hours before: the 48-hour reminder's time has gone.
    monkeypatch.setattr(timezone, "now", lambda: appointment.starts_at - timedelta(hours=30))
    reminders_enqueue(appointment)
    assert {row.kind for row in rows(appointment)} == {"reminder_2h"}
    monkeypatch.setattr(timezone, "now", lambda: appointment.starts_at - timedelta(hours=1))
    assert reminders_enqueue(appointment) == []


def test_reminders_go_only_where_the_patient_agreed_and_can_be_reached(fran, riverside):
    email_only = consenting(None, Channel.EMAIL)
    no_mobile = consenting(PatientFactory(mobile=""))
    withdrawn = consenting()
    CommunicationConsentFactory(patient=withdrawn, channel=Channel.SMS, granted=False)
    never_asked = PatientFactory()
    for hour, patient, channels in (
        (9, email_only, {"email"}),
        (10, no_mobile, {"email"}),
        (11, withdrawn, {"email"}),
        (12, never_asked, set()),
    ):
        appointment = book(fran, patient, riverside, hour=hour)
        assert {row.channel for row in rows(appointment)} == channels, patient


def test_queueing_twice_queues_once(fran, riverside, sam):
    appointment = book(fran, sam, riverside)
    again = reminders_enqueue(appointment)
    assert len(again) == 4
    assert OutboxMessage.objects.filter(appointment=appointment).count() == 4


def test_a_rolled_back_booking_leaves_no_message(fran, riverside, sam):
    with pytest.raises(Boom), transaction.atomic():
        book(fran, sam, riverside)
        assert OutboxMessage.objects.count() == 4, "written in the booking's transaction"
        raise Boom
    assert Appointment.objects.count() == 0
    assert OutboxMessage.objects.count() == 0


def test_a_refused_booking_queues_nothing(fran, riverside, sam):
    book(fran, sam, riverside, hour=10)
    before = OutboxMessage.objects.count()
    with pytest.raises(SlotTaken):
        book(fran, sam, riverside, hour=10, minute=15)
    assert OutboxMessage.objects.count() == before


# --- Cancelled or moved after queueing -------------------------------------------------------


def test_a_cancel_after_queueing_skips_the_reminders_and_tells_the_patient(fran, riverside, sam):
    appointment = book(fran, sam, riverside)
    reminders = rows(appointment)
    appointment_cancel(actor=fran, appointment=appointment, reason="patient unwell")
    now = daytime(riverside)
    for reminder in reminders:
        decision = decide(reminder, now)
        assert decision.skip is not None and decision.skip.reason == "cancelled"
    notices = rows(appointment, kind=CANCELLED)
    assert [row.channel for row in notices] == ["email", "sms"]
    assert all(row.not_before <= timezone.now() for row in notices)
    assert all(decide(row, now).send for row in notices)
    assert "is cancelled" in written(notices[1]).body


def test_a_move_after_queueing_skips_the_old_reminders_and_queues_new_ones(fran, riverside, sam):
    appointment = book(fran, sam, riverside, hour=10)
    old = rows(appointment)
    old_start = appointment.starts_at
    new_start = at(riverside, next_week(riverside) + timedelta(days=1), 14)
    appointment_reschedule(actor=fran, appointment=appointment, starts_at=new_start)
    now = daytime(riverside)
    for reminder in old:
        reminder.refresh_from_db()
        assert decide(reminder, now).skip.reason == "moved"
        assert reminder.context["starts_at"] == stamp(old_start)
    new = [row for row in rows(appointment) if row.kind.startswith("reminder_") and row not in old]
    assert {(row.kind, row.channel) for row in new} == {
        ("reminder_48h", "email"),
        ("reminder_48h", "sms"),
        ("reminder_2h", "email"),
        ("reminder_2h", "sms"),
    }
    for row in new:
        hours = 48 if row.kind == "reminder_48h" else 2
        assert row.not_before == reminder_time(new_start, riverside, hours)
        assert stamp(new_start) in row.idempotency_key
        assert decide(row, now).send
    [email, sms] = rows(appointment, kind=MOVED)
    assert (email.channel, sms.channel) == ("email", "sms")
    assert decide(email, now).send
    assert "2:00 PM" in written(email).subject


def test_moving_back_and_forth_keeps_one_live_set_of_reminders(fran, riverside, sam):
    appointment = book(fran, sam, riverside, hour=10)
    first = appointment.starts_at
    appointment_reschedule(
        actor=fran, appointment=appointment, starts_at=at(riverside, next_week(riverside), 15)
    )
    appointment_reschedule(actor=fran, appointment=appointment, starts_at=first)
    now = daytime(riverside)
    reminders = [row for row in rows(appointment) if row.kind.startswith("reminder_")]
    live = [row for row in reminders if decide(row, now).send]
    # Back at the first time: its reminders (same keys) are live again; the 15:00 ones not.
    assert len(reminders) == 8 and len(live) == 4
    assert all(stamp(first) in row.idempotency_key for row in live)
    # The first "moved" notice (to 15:00) is stale, the second (back to 10:00) is not.
    moved = sorted(rows(appointment, kind=MOVED), key=lambda row: row.created_at)
    assert [decide(row, now).send for row in moved] == [False, False, True, True]


def test_a_reminder_skipped_as_moved_is_due_again_when_moved_back(fran, riverside, sam):
    appointment = book(fran, sam, riverside, hour=10)
    first = appointment.starts_at
    appointment_reschedule(
        actor=fran, appointment=appointment, starts_at=at(riverside, next_week(riverside), 15)
    )
    # The worker found the 10:00 reminders stale and skipped them.
    stale = OutboxMessage.objects.filter(idempotency_key__contains=stamp(first))
    stale.update(status=OutboxStatus.SKIPPED, skip_reason="moved")
    sent = rows(appointment, kind="reminder_48h", channel="email")
    sent = [row for row in sent if stamp(first) not in row.idempotency_key]
    appointment_reschedule(actor=fran, appointment=appointment, starts_at=first)
    revived = rows(appointment, kind="reminder_48h", channel="email")
    back = [row for row in revived if stamp(first) in row.idempotency_key]
    assert [row.status for row in back] == [OutboxStatus.PENDING]
    assert back[0].not_before == first - timedelta(hours=48)
    assert decide(back[0], daytime(riverside)).send
    assert len(sent) == 1 and decide(sent[0], daytime(riverside)).skip.reason == "moved"


def test_a_no_show_skips_what_is_left(fran, riverside, sam):
    appointment = book(fran, sam, riverside)
    [two_hours, *_] = rows(appointment, kind="reminder_2h")
    travel_to(appointment.starts_at + timedelta(minutes=20))  # the patient has not come
    appointment_set_status(actor=fran, appointment=appointment, status="no_show")
    assert decide(two_hours, daytime(riverside)).skip.reason == "cancelled"


def test_a_reminder_whose_time_has_passed_is_skipped(fran, riverside, sam, monkeypatch):
    appointment = book(fran, sam, riverside, hour=10)
    [email_48h] = rows(appointment, kind="reminder_48h", channel="email")
    [email_2h] = rows(appointment, kind="reminder_2h", channel="email")
    late = appointment.starts_at - timedelta(hours=1)
    monkeypatch.setattr(timezone, "now", lambda: late)
    assert decide(email_48h, late).skip.reason == "past", "the 2-hour one has taken over"
    assert decide(email_2h, late).send
    monkeypatch.setattr(timezone, "now", lambda: appointment.starts_at)
    assert decide(email_2h, appointment.starts_at).skip.reason == "past"


def test_consent_withdrawn_after_queueing_stops_that_channel_only(fran, riverside, sam):
    appointment = book(fran, sam, riverside)
    CommunicationConsentFactory(patient=sam, channel=Channel.SMS, granted=False)
    now = daytime(riverside)
    for row in rows(appointment):
        decision = decide(row, now)
        if row.channel == "sms":
            assert decision.skip.reason == "no_consent"
        else:
            assert decision.send


def test_a_cancel_or_move_of_a_past_appointment_tells_nobody(fran, riverside, sam, monkeypatch):
    appointment = book(fran, sam, riverside, hour=10)
    monkeypatch.setattr(timezone, "now", lambda: appointment.starts_at + timedelta(minutes=5))
    message_queue.appointment_change_enqueue(appointment, kind=CANCELLED)
    assert rows(appointment, kind=CANCELLED) == []


# --- The waitlist -------------------------------------------------------------------------------


def test_a_freed_time_is_offered_by_message(fran, riverside, sam):
    appointment = book(fran, sam, riverside, hour=10)
    waiting = consenting(None, Channel.SMS)
    entry = WaitlistEntry.objects.create(
        patient=waiting, location=riverside, appointment_type=appointment.appointment_type
    )
    appointment_cancel(actor=fran, appointment=appointment, reason="patient unwell")
    [offer] = rows(kind=WAITLIST_OFFER)
    assert offer.patient == waiting and offer.channel == "sms"
    assert offer.appointment is None, "the freed appointment is another patient's"
    assert offer.location == riverside
    now = daytime(riverside)
    assert decide(offer, now).send
    text = written(offer).body
    assert "has opened up" in text and riverside.phone in text and "10:00 AM" in text
    entry.state = WaitlistEntry.State.REMOVED
    entry.save(update_fields=["state"])
    assert decide(offer, now).skip.reason == "not_wanted"


# --- What they say ------------------------------------------------------------------------------


def _all_text(rendered: Rendered) -> str:
    return "\n".join(
        [rendered.subject, rendered.body, rendered.html]
        + [content for _name, content, _type in rendered.attachments]
    )


def test_no_message_names_the_drug_the_condition_or_the_patient(nina, phil, fran, riverside):
    # Even when an admin names the appointment types after the drug.
    AppointmentType.objects.filter(kind__in=["infusion", "booster"]).update(
        name="Ketamine infusion"
    )
    AppointmentType.objects.filter(kind="consultation").update(name="Ketamine consultation")
    patient = consenting(cleared_for_infusions(phil))
    patient.conditions = [Condition.PTSD]
    patient.save(update_fields=["conditions"])
    consultation = book(fran, patient, riverside, hour=9)
    infusion = book(nina, patient, riverside, kind="infusion", hour=11)
    message_queue.confirmation_enqueue(
        consultation, channels=["email", "sms"], base_url="https://clinic.example"
    )
    appointment_reschedule(
        actor=fran,
        appointment=consultation,
        starts_at=at(riverside, next_week(riverside) + timedelta(days=1), 9),
    )
    appointment_cancel(actor=nina, appointment=infusion, reason="patient unwell")
    WaitlistEntry.objects.create(
        patient=patient, location=riverside, appointment_type=infusion.appointment_type
    )
    kinds = set()
    for row in OutboxMessage.objects.all():
        kinds.add(row.kind)
        text = _all_text(written(row)).lower()
        for word in ("ketamine", "ptsd", "depression", patient.legal_first_name.lower()):
            assert word not in text, (row.kind, row.channel, word)
    assert {CONFIRMATION, MOVED, CANCELLED, "reminder_48h", "reminder_2h"} <= kinds


def test_an_infusion_reminder_says_when_where_what_to_bring_and_who_drives(
    nina, phil, riverside, settings
):
    settings.CLINIC_NAME = "Riverbend Wellness"
    patient = consenting(cleared_for_infusions(phil))
    appointment = book(nina, patient, riverside, kind="infusion", hour=9)
    day = next_week(riverside)
    when = f"{day:%A}, {day:%B} {day.day}, {day.year}, 9:00 AM C"
    for row in rows(appointment, kind="reminder_48h"):
        rendered = written(row)
        for text in [rendered.body] + ([rendered.html] if row.channel == "email" else []):
            assert "Riverbend Wellness" in text
            assert when in text
            assert riverside.name in text and riverside.address_line1 in text
            assert riverside.phone in text
            assert "An adult must drive you home" in text
            assert "photo ID" in text
        if row.channel == "sms":
            assert "Reply STOP" in rendered.body
            assert len(rendered.body) < 480, "a few text segments at most"
        else:
            assert when in rendered.subject and "Reminder" in rendered.subject


def test_a_consultation_reminder_has_no_infusion_advice(fran, riverside, sam):
    appointment = book(fran, sam, riverside)
    for row in rows(appointment):
        text = _all_text(written(row))
        assert "consultation" in text
        assert "drive you home" not in text and "infusion" not in text.lower().replace(
            "chairside infusion clinic", ""
        )


def test_the_online_confirmation_carries_the_manage_link_and_the_ics(fran, riverside, sam):
    appointment = book(fran, sam, riverside, source=Appointment.Source.ONLINE)
    message_queue.confirmation_enqueue(
        appointment, channels=["email", "sms"], base_url="https://clinic.example"
    )
    [email, sms] = rows(appointment, kind=CONFIRMATION)
    rendered = written(email)
    assert re.search(r"https://clinic\.example/book/manage/[^/\s]+/", rendered.body)
    [(name, content, mimetype)] = rendered.attachments
    assert (name, mimetype) == ("consultation.ics", "text/calendar")
    assert f"UID:{appointment.public_id}@clinic.example" in content
    text = written(sms).body
    assert text.startswith("Chairside Infusion Clinic: your consultation is booked for ")
    assert "https://clinic.example/book/manage/" in text
    assert "\n" not in text


# --- Through the outbox worker -------------------------------------------------------------------


def test_the_worker_sends_the_live_reminder_and_skips_the_stale_one(fran, riverside, mailoutbox):
    from clinic.messaging.outbox import outbox_claim_due, outbox_send

    patient = consenting(None, Channel.EMAIL)
    kept = book(fran, patient, riverside, hour=9)
    dropped = book(fran, patient, riverside, hour=15)
    appointment_cancel(actor=fran, appointment=dropped, reason="patient unwell")
    OutboxMessage.objects.filter(kind=CANCELLED).delete()  # not what this test is about
    due = kept.starts_at - timedelta(hours=2)
    claims = outbox_claim_due(limit=10, lease=timedelta(minutes=5), now=due)
    statuses = {outbox_send(message_id, token, now=due) for message_id, token in claims}
    assert statuses == {"sent", "skipped"}
    [stale] = OutboxMessage.objects.filter(appointment=dropped, status="skipped")
    assert (stale.kind, stale.skip_reason) == ("reminder_48h", "cancelled")
    assert rows(dropped, kind="reminder_2h")[0].status == "pending", "not due yet"
    sent = OutboxMessage.objects.filter(status="sent")
    assert {row.appointment for row in sent} == {kept}
    assert len(mailoutbox) == len(sent) == 2  # its 48-hour and 2-hour reminders
    assert {message.to[0] for message in mailoutbox} == {patient.email}
    assert all("ketamine" not in message.body.lower() for message in mailoutbox)


# --- Quiet hours at booking ---------------------------------------------------------------


def test_a_2_hour_reminder_for_a_9_oclock_visit_goes_at_20_59_the_evening_before(
    fran, riverside, sam
):
    appointment = book(fran, sam, riverside, hour=9)
    [text] = rows(appointment, kind="reminder_2h", channel="sms")
    [email] = rows(appointment, kind="reminder_2h", channel="email")
    evening = next_week(riverside) - timedelta(days=1)
    assert text.not_before == at(riverside, evening, 20, 59)
    assert text.context["held"] == {
        "why": "quiet_hours",
        "due": stamp(appointment.starts_at - timedelta(hours=2)),
    }
    assert email.not_before == appointment.starts_at - timedelta(hours=2), "emails keep theirs"
    assert decide(text, text.not_before).send


# --- The course's list of dates -----------------------------------------------------------


def book_course(nina, phil, riverside, patient=None):
    from scheduling.courses.series_booking import course_create

    patient = consenting(cleared_for_infusions(phil, patient))
    first = next_week(riverside)
    return course_create(
        actor=nina,
        patient=patient,
        location=riverside,
        starts=[at(riverside, first + timedelta(days=gap), 10) for gap in (0, 2, 4, 7, 9, 11)],
        planned_infusions=6,
        window_days=14,
        min_gap_hours=24,
    )


def test_a_booked_course_sends_one_message_with_every_date_and_one_calendar_file(
    nina, phil, riverside, settings
):
    settings.SITE_URL = "https://clinic.example"
    course = book_course(nina, phil, riverside)
    [email, sms] = rows(kind=message_queue.COURSE_SCHEDULE)
    assert (email.channel, sms.channel) == ("email", "sms")
    assert email.idempotency_key.startswith(f"course:{course.public_id}:")
    assert email.patient == course.patient and email.location == riverside
    appointments = list(course.appointments.order_by("starts_at"))

    rendered = written(email)
    [(name, calendar, mimetype)] = rendered.attachments
    assert (name, mimetype) == ("appointments.ics", "text/calendar")
    assert calendar.count("BEGIN:VCALENDAR") == 1 and calendar.count("BEGIN:VEVENT") == 6
    assert calendar.count("BEGIN:VTIMEZONE") == 1 and "TZID:America/Chicago" in calendar
    for appointment in appointments:
        assert f"UID:{appointment.public_id}@clinic.example" in calendar
        assert f"{appointment.starts_at.astimezone(riverside.tz):%Y%m%dT%H%M%S}" in calendar
    assert "6 infusion appointments" in rendered.subject
    for text in (rendered.body, rendered.html):
        assert text.count("10:00 AM") == 6
        assert riverside.address_line1 in text and riverside.phone in text
        assert "Chairside Infusion Clinic" in text

    text = written(sms).body
    assert text.startswith("Chairside Infusion Clinic: your 6 infusion appointments are booked:")
    first = appointments[0].starts_at.astimezone(riverside.tz)
    assert f"{first:%a %b} {first.day}, 10:00 AM" in text
    assert "We emailed you every date with a calendar file." in text
    assert riverside.phone in text and len(text) < 480


def test_the_course_schedule_names_no_drug_no_condition_and_not_the_patient(nina, phil, riverside):
    AppointmentType.objects.filter(kind__in=["infusion", "booster"]).update(
        name="Ketamine infusion"
    )
    patient = PatientFactory(legal_first_name="Robin")
    patient.conditions = [Condition.PTSD]
    patient.save(update_fields=["conditions"])
    book_course(nina, phil, riverside, patient)
    for row in rows(kind=message_queue.COURSE_SCHEDULE):
        text = _all_text(written(row)).lower()
        for word in ("ketamine", "ptsd", "depression", "robin"):
            assert word not in text, (row.channel, word)


def test_queueing_the_course_schedule_twice_sends_it_once(nina, phil, riverside):
    course = book_course(nina, phil, riverside)
    message_queue.course_schedule_enqueue(course)
    assert len(rows(kind=message_queue.COURSE_SCHEDULE)) == 2


def test_moving_a_course_infusion_sends_the_new_list_and_drops_the_old_one(nina, phil, riverside):
    course = book_course(nina, phil, riverside)
    old = rows(kind=message_queue.COURSE_SCHEDULE)
    second = course.appointments.order_by("starts_at")[1]
    appointment_reschedule(
        actor=nina,
        appointment=second,
        starts_at=second.starts_at + timedelta(hours=3),
    )
    queued = rows(kind=message_queue.COURSE_SCHEDULE)
    assert len(queued) == 4
    new = [row for row in queued if row not in old]
    assert {row.channel for row in new} == {"email", "sms"}
    now = daytime(riverside)
    assert {decide(row, now).skip.reason for row in old} == {"moved"}
    assert all(decide(row, now).send for row in new)
    assert "1:00 PM" in written(new[0]).body


def test_a_discontinued_course_sends_no_list_still_waiting(nina, phil, riverside):
    from scheduling.courses.boosters_and_end import course_discontinue

    course = book_course(nina, phil, riverside)
    course_discontinue(actor=nina, course=course, reason="patient moved away")
    for row in rows(kind=message_queue.COURSE_SCHEDULE):
        assert decide(row, daytime(riverside)).skip.reason == "cancelled"
