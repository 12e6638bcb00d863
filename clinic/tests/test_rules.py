"""``clinic.messaging.rules.decide``: consent per channel, quiet hours for texts on the
location's clock (DST nights included), and the daily and weekly caps on non-urgent texts."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from clinic.messaging import rules
from clinic.messaging.registry import MessageKind, NotWanted, Rendered, register
from clinic.messaging.rules import decide
from clinic.models import Location, OutboxMessage, OutboxStatus
from patients.models import Channel, Patient
from patients.tests.factories import CommunicationConsentFactory, PatientFactory
from scheduling.tests.factories import LocationFactory


def _render(message: OutboxMessage) -> Rendered:
    return Rendered(body="A note from the clinic.")


NOTE = register(MessageKind(name="test_rules_note", render=_render))
URGENT = register(MessageKind(name="test_rules_urgent", render=_render, urgent=True))
UNCAPPED = register(MessageKind(name="test_rules_uncapped", render=_render, capped=False))
NEEDED = register(MessageKind(name="test_rules_needed", render=_render, transactional=True))
REMINDER = register(
    MessageKind(
        name="test_rules_reminder", render=_render, transactional=True, before_quiet_hours=True
    )
)
GONE = register(
    MessageKind(
        name="test_rules_gone",
        render=_render,
        still_wanted=lambda message: NotWanted("cancelled", "The appointment was cancelled."),
    )
)

NEW_YORK = "America/New_York"
LOS_ANGELES = "America/Los_Angeles"


def local(zone: str, day: date, hour: int, minute: int = 0, *, fold: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute, fold=fold), tzinfo=ZoneInfo(zone))


@pytest.fixture
def new_york(db) -> Location:
    return LocationFactory(name="Midtown", time_zone=NEW_YORK)


@pytest.fixture
def patient(db) -> Patient:
    patient = PatientFactory()
    CommunicationConsentFactory(patient=patient, channel=Channel.SMS, granted=True)
    CommunicationConsentFactory(patient=patient, channel=Channel.EMAIL, granted=True)
    return patient


def queued(
    patient: Patient | None,
    location: Location | None,
    *,
    kind: MessageKind = NOTE,
    channel: str = "sms",
    **fields: object,
) -> OutboxMessage:
    return OutboxMessage.objects.create(
        idempotency_key=f"test:{uuid.uuid4()}",
        kind=kind.name,
        channel=channel,
        patient=patient,
        location=location,
        **fields,
    )


def sent(patient: Patient, at: datetime, *, kind: MessageKind = NOTE, **fields) -> OutboxMessage:
    return queued(patient, None, kind=kind, status=OutboxStatus.SENT, sent_at=at, **fields)


# --- Kind, still wanted, consent ------------------------------------------------------------


def test_an_unknown_kind_is_skipped(patient, new_york):
    message = queued(patient, new_york)
    message.kind = "no_such_kind"
    decision = decide(message, datetime(2026, 6, 10, 16, tzinfo=UTC))
    assert decision.skip.reason == "unknown_kind"


def test_the_kinds_own_check_comes_first(patient, new_york):
    decision = decide(queued(patient, new_york, kind=GONE), datetime(2026, 6, 10, 16, tzinfo=UTC))
    assert decision.skip.reason == "cancelled"


def test_it_sends_with_consent_inside_the_day(patient, new_york):
    decision = decide(queued(patient, new_york), local(NEW_YORK, date(2026, 6, 10), 12))
    assert decision.send


@pytest.mark.parametrize("channel", ["sms", "email"])
def test_consent_withdrawn_after_queueing_skips_the_message(patient, new_york, channel):
    message = queued(patient, new_york, channel=channel)
    CommunicationConsentFactory(patient=patient, channel=channel, granted=False)
    decision = decide(message, local(NEW_YORK, date(2026, 6, 10), 12))
    assert decision.skip.reason == "no_consent"


def test_consent_on_another_channel_does_not_count(new_york):
    patient = PatientFactory()
    CommunicationConsentFactory(patient=patient, channel=Channel.EMAIL, granted=True)
    decision = decide(queued(patient, new_york), local(NEW_YORK, date(2026, 6, 10), 12))
    assert decision.skip.reason == "no_consent"


def test_consent_given_again_counts_again(patient, new_york):
    CommunicationConsentFactory(patient=patient, channel=Channel.SMS, granted=False)
    CommunicationConsentFactory(patient=patient, channel=Channel.SMS, granted=True)
    assert decide(queued(patient, new_york), local(NEW_YORK, date(2026, 6, 10), 12)).send


def test_the_stop_confirmation_needs_no_consent(new_york, monkeypatch):
    assert "sms_stop_confirmation" in rules.CONSENT_EXEMPT_KINDS
    patient = PatientFactory()
    CommunicationConsentFactory(patient=patient, channel=Channel.SMS, granted=False)
    message = queued(patient, new_york)
    now = local(NEW_YORK, date(2026, 6, 10), 12)
    assert decide(message, now).skip.reason == "no_consent"
    monkeypatch.setattr(rules, "CONSENT_EXEMPT_KINDS", frozenset({NOTE.name}))
    assert decide(message, now).send


def test_a_message_to_staff_needs_no_consent(new_york, django_assert_max_num_queries):
    message = queued(None, new_york, channel="email", recipient="oncall@example.com")
    with django_assert_max_num_queries(0):
        assert decide(message, local(NEW_YORK, date(2026, 6, 10), 23)).send


# --- Quiet hours ---------------------------------------------------------------------------


@pytest.mark.parametrize("zone", [NEW_YORK, LOS_ANGELES])
@pytest.mark.parametrize(
    ("hour", "minute", "deferred_to"),
    [
        (20, 59, None),
        (21, 0, date(2026, 6, 11)),
        (23, 30, date(2026, 6, 11)),
        (0, 0, date(2026, 6, 10)),
        (7, 59, date(2026, 6, 10)),
        (8, 0, None),
    ],
)
def test_texts_wait_out_the_quiet_hours_on_the_locations_clock(
    patient, zone, hour, minute, deferred_to
):
    location = LocationFactory(time_zone=zone)
    now = local(zone, date(2026, 6, 10), hour, minute)
    decision = decide(queued(patient, location), now)
    if deferred_to is None:
        assert decision.send
    else:
        assert decision.defer_until == local(zone, deferred_to, 8)


def test_the_same_instant_is_quiet_in_one_zone_and_not_in_another(patient):
    # 01:30 UTC is 21:30 in New York (quiet) and 18:30 in Los Angeles (not).
    now = datetime(2026, 6, 11, 1, 30, tzinfo=UTC)
    east = decide(queued(patient, LocationFactory(time_zone=NEW_YORK)), now)
    west = decide(queued(patient, LocationFactory(time_zone=LOS_ANGELES)), now)
    assert east.defer_until == datetime(2026, 6, 11, 12, tzinfo=UTC)
    assert west.send


@pytest.mark.parametrize(
    ("zone", "evening", "morning_utc"),
    [
        # Spring forward (2026-03-08, 02:00 → 03:00): 08:00 is EDT, so 12:00 UTC.
        (NEW_YORK, date(2026, 3, 7), datetime(2026, 3, 8, 12, tzinfo=UTC)),
        (LOS_ANGELES, date(2026, 3, 7), datetime(2026, 3, 8, 15, tzinfo=UTC)),
        # Fall back (2026-11-01, 02:00 → 01:00): 08:00 is EST, so 13:00 UTC.
        (NEW_YORK, date(2026, 10, 31), datetime(2026, 11, 1, 13, tzinfo=UTC)),
        (LOS_ANGELES, date(2026, 10, 31), datetime(2026, 11, 1, 16, tzinfo=UTC)),
    ],
)
def test_on_dst_nights_the_text_waits_for_eight_on_the_new_clock(
    patient, zone, evening, morning_utc
):
    location = LocationFactory(time_zone=zone)
    night = evening + timedelta(days=1)
    for now in (
        local(zone, evening, 21),
        local(zone, evening, 23, 59),
        local(zone, night, 1, 30),  # before the change (EST/PST, or the first 01:30)
        local(zone, night, 1, 30, fold=1),  # the second 01:30 on the fall-back night
        local(zone, night, 3, 30),  # after the change
        local(zone, night, 7, 59),
    ):
        decision = decide(queued(patient, location), now)
        assert decision.defer_until == morning_utc, now
        assert decision.defer_until.astimezone(ZoneInfo(zone)).hour == 8
    assert decide(queued(patient, location), local(zone, night, 8)).send
    assert local(zone, night, 8) == morning_utc


def test_quiet_hours_use_the_patients_location_without_a_message_location(patient):
    patient.preferred_location = LocationFactory(time_zone=LOS_ANGELES)
    patient.save(update_fields=["preferred_location"])
    now = local(LOS_ANGELES, date(2026, 6, 10), 22)
    assert decide(queued(patient, None), now).defer_until == local(
        LOS_ANGELES, date(2026, 6, 11), 8
    )


def test_quiet_hours_fall_back_to_the_clinic_time_zone(patient, settings):
    settings.TIME_ZONE = NEW_YORK
    now = local(NEW_YORK, date(2026, 6, 10), 22)
    assert decide(queued(patient, None), now).defer_until == local(NEW_YORK, date(2026, 6, 11), 8)


def test_quiet_hours_are_a_setting(patient, new_york, settings):
    settings.MESSAGE_QUIET_HOURS = (20, 9)
    message = queued(patient, new_york)
    assert decide(message, local(NEW_YORK, date(2026, 6, 10), 20)).defer_until == local(
        NEW_YORK, date(2026, 6, 11), 9
    )
    assert decide(message, local(NEW_YORK, date(2026, 6, 10), 9)).send


def test_emails_and_urgent_texts_ignore_quiet_hours(patient, new_york):
    night = local(NEW_YORK, date(2026, 6, 10), 23)
    assert decide(queued(patient, new_york, channel="email"), night).send
    assert decide(queued(patient, new_york, kind=URGENT), night).send
    assert decide(queued(patient, new_york, urgent=True), night).send


def test_a_text_of_no_use_by_the_morning_is_skipped_not_deferred(patient, new_york):
    day = date(2026, 6, 11)
    message = queued(
        patient,
        new_york,
        context={"useful_until": local(NEW_YORK, day, 7, 30).astimezone(UTC).isoformat()},
    )
    decision = decide(message, local(NEW_YORK, day, 5, 30))
    assert decision.skip.reason == "past"
    assert "Quiet hours" in decision.skip.detail


# --- Caps --------------------------------------------------------------------------------------

NOON = local(NEW_YORK, date(2026, 6, 10), 12)


def test_one_capped_text_a_day(patient, new_york):
    sent(patient, local(NEW_YORK, date(2026, 6, 10), 9))
    decision = decide(queued(patient, new_york), NOON)
    assert decision.defer_until == local(NEW_YORK, date(2026, 6, 11), 8)


def test_the_day_is_the_locations_day(patient, new_york):
    # 23:30 the evening before in New York is already "today" in UTC.
    sent(patient, local(NEW_YORK, date(2026, 6, 9), 23, 30))
    assert local(NEW_YORK, date(2026, 6, 9), 23, 30).astimezone(UTC).date() == NOON.date()
    assert decide(queued(patient, new_york), NOON).send


def test_the_daily_cap_is_a_setting(patient, new_york, settings):
    settings.SMS_DAILY_CAP = 2
    sent(patient, local(NEW_YORK, date(2026, 6, 10), 9))
    assert decide(queued(patient, new_york), NOON).send
    sent(patient, local(NEW_YORK, date(2026, 6, 10), 10))
    assert decide(queued(patient, new_york), NOON).defer_until is not None


def test_three_capped_texts_in_any_seven_days(patient, new_york):
    for days_ago in (6, 4, 2):
        sent(patient, NOON - timedelta(days=days_ago, hours=2))
    decision = decide(queued(patient, new_york), NOON)
    # It fits once the oldest leaves the rolling week: tomorrow at 10:00 local.
    assert decision.defer_until == NOON - timedelta(days=6, hours=2) + timedelta(days=7)
    assert decision.defer_until == local(NEW_YORK, date(2026, 6, 11), 10)


def test_the_week_rolls(patient, new_york):
    for days_ago in (8, 4, 2):
        sent(patient, NOON - timedelta(days=days_ago))
    assert decide(queued(patient, new_york), NOON).send


def test_a_week_cap_that_frees_in_the_evening_fits_then(patient, new_york):
    for days_ago in (6, 4, 2):
        sent(patient, local(NEW_YORK, date(2026, 6, 10) - timedelta(days=days_ago), 20, 30))
    decision = decide(queued(patient, new_york), NOON)
    assert decision.defer_until == local(NEW_YORK, date(2026, 6, 11), 20, 30)


def test_a_week_cap_that_frees_at_night_waits_for_the_morning(patient, new_york):
    # Sent at 22:00 local (e.g. when the quiet hours were set differently).
    for days_ago in (6, 4, 2):
        sent(patient, local(NEW_YORK, date(2026, 6, 10) - timedelta(days=days_ago), 22))
    decision = decide(queued(patient, new_york), NOON)
    assert decision.defer_until == local(NEW_YORK, date(2026, 6, 12), 8)


def test_uncapped_urgent_emails_and_unsent_texts_do_not_count(patient, new_york):
    morning = local(NEW_YORK, date(2026, 6, 10), 9)
    sent(patient, morning, kind=UNCAPPED)
    sent(patient, morning, kind=URGENT)
    sent(patient, morning, urgent=True)
    sent(patient, morning, channel="email")
    queued(patient, new_york, status=OutboxStatus.SKIPPED, skip_reason="cap")
    queued(patient, new_york, status=OutboxStatus.FAILED)
    sent(PatientFactory(), morning)  # another patient's
    assert decide(queued(patient, new_york), NOON).send


def test_uncapped_and_urgent_texts_pass_the_caps(patient, new_york):
    sent(patient, local(NEW_YORK, date(2026, 6, 10), 9))
    assert decide(queued(patient, new_york, kind=UNCAPPED), NOON).send
    assert decide(queued(patient, new_york, urgent=True), NOON).send


def test_texts_the_patient_needs_are_never_capped_and_do_not_count(patient, new_york):
    for hour in (8, 9, 10, 11):
        sent(patient, local(NEW_YORK, date(2026, 6, 10), hour), kind=NEEDED)
    sent(patient, local(NEW_YORK, date(2026, 6, 10), 9, 30), kind=REMINDER)
    assert decide(queued(patient, new_york), NOON).send, "needed texts leave the nudges room"
    sent(patient, local(NEW_YORK, date(2026, 6, 10), 11, 30))  # a nudge: today's place
    for days_ago in (2, 4):
        sent(patient, NOON - timedelta(days=days_ago))
    assert decide(queued(patient, new_york), NOON).defer_until is not None
    assert decide(queued(patient, new_york, kind=NEEDED), NOON).send
    assert decide(queued(patient, new_york, kind=REMINDER), NOON).send


def test_the_kinds_the_patient_needs_are_transactional_in_their_registration(db):
    from clinic.messaging.registry import kind_named

    needed = [
        "consultation_confirmation",
        "appointment_moved",
        "appointment_cancelled",
        "reminder_48h",
        "reminder_2h",
        "waitlist_offer",
        "course_schedule",
        "intake_link",
        "consent_link",
    ]
    assert [name for name in needed if not kind_named(name).transactional] == []
    assert [name for name in needed if kind_named(name).counted] == []
    for nudge in ("questionnaire_due", "next_day_checkin"):
        assert kind_named(nudge).counted and not kind_named(nudge).transactional
    moved_earlier = {kind.name for kind in rules.kinds_registered() if kind.before_quiet_hours}
    assert moved_earlier - {REMINDER.name} == {"reminder_48h", "reminder_2h"}


def test_a_text_being_sent_that_was_queued_earlier_takes_the_place(patient, new_york):
    first = queued(
        patient,
        new_york,
        status=OutboxStatus.SENDING,
        claim_token=uuid.uuid4(),
        claimed_until=NOON + timedelta(minutes=5),
    )
    second = queued(patient, new_york)
    assert decide(second, NOON).defer_until == local(NEW_YORK, date(2026, 6, 11), 8)
    # The earlier one is not held back by the later one.
    second.status, second.claim_token = OutboxStatus.SENDING, uuid.uuid4()
    second.claimed_until = NOON + timedelta(minutes=5)
    second.save()
    assert decide(first, NOON).send


def test_a_text_over_the_cap_and_of_no_use_by_then_is_skipped(patient, new_york):
    sent(patient, local(NEW_YORK, date(2026, 6, 10), 9))
    message = queued(
        patient,
        new_york,
        context={"useful_until": (NOON + timedelta(hours=3)).astimezone(UTC).isoformat()},
    )
    decision = decide(message, NOON)
    assert decision.skip.reason == "cap"


def test_a_capped_text_costs_few_queries(patient, new_york, django_assert_max_num_queries):
    message = OutboxMessage.objects.select_related("location", "patient").get(
        pk=queued(patient, new_york).pk
    )
    with django_assert_max_num_queries(2):  # consent, caps
        assert decide(message, NOON).send


# --- Planning a text out of quiet hours ---------------------------------------------------------


def planned(kind: MessageKind, zone: str, due: datetime, now: datetime, limit=None, channel="sms"):
    return rules.planned_send_at(
        kind_name=kind.name,
        channel=channel,
        urgent=False,
        due=due,
        now=now,
        zone=ZoneInfo(zone),
        limit=limit,
    )


@pytest.mark.parametrize("zone", [NEW_YORK, LOS_ANGELES])
@pytest.mark.parametrize(
    ("due_at", "moved_to"),
    [
        # One minute before, at and after the start of quiet hours.
        ((20, 59), None),
        ((21, 0), (20, 59)),
        ((21, 1), (20, 59)),
        # One minute before, at and after their end, the next morning.
        ((31, 59), (20, 59)),  # 07:59
        ((32, 0), None),  # 08:00
        ((32, 1), None),
    ],
)
def test_a_reminder_due_in_quiet_hours_goes_at_the_last_minute_before_them(zone, due_at, moved_to):
    evening = date(2026, 6, 10)
    hours, minute = due_at
    due = local(zone, evening, 0) + timedelta(hours=hours, minutes=minute)
    now = local(zone, evening, 12)
    at, moved = planned(REMINDER, zone, due, now, limit=due + timedelta(hours=2))
    if moved_to is None:
        assert (at, moved) == (due, False)
    else:
        assert (at, moved) == (local(zone, evening, *moved_to), True)


@pytest.mark.parametrize("zone", [NEW_YORK, LOS_ANGELES])
def test_other_texts_due_in_quiet_hours_wait_for_the_morning(zone):
    evening = date(2026, 6, 10)
    now = local(zone, evening, 12)
    for due in (local(zone, evening, 21), local(zone, evening + timedelta(days=1), 7, 59)):
        assert planned(NOTE, zone, due, now) == (local(zone, evening + timedelta(days=1), 8), True)
        assert planned(NEEDED, zone, due, now)[0] == local(zone, evening + timedelta(days=1), 8)
    assert planned(NOTE, zone, local(zone, evening, 20, 59), now)[1] is False


@pytest.mark.parametrize("zone", [NEW_YORK, LOS_ANGELES])
@pytest.mark.parametrize(
    ("now_at", "expected"),
    [
        ((20, 58), "20:59"),  # a minute before the last minute: moved to it
        ((20, 59), "now"),  # at the last minute: goes now
        ((21, 0), "08:00"),  # in quiet hours: the morning, still before the 09:00 visit
    ],
)
def test_a_reminder_booked_late_in_the_evening_goes_before_the_visit(zone, now_at, expected):
    evening = date(2026, 6, 10)
    visit = local(zone, evening + timedelta(days=1), 9)
    due = visit - timedelta(hours=2)  # 07:00
    now = local(zone, evening, *now_at)
    at, _moved = planned(REMINDER, zone, due, now, limit=visit)
    wanted = {
        "20:59": local(zone, evening, 20, 59),
        "now": now,
        "08:00": local(zone, evening + timedelta(days=1), 8),
    }[expected]
    assert at == wanted
    assert at < visit


def test_a_reminder_with_no_time_left_before_its_visit_is_due_now_and_skipped(patient, new_york):
    evening = date(2026, 6, 10)
    visit = local(NEW_YORK, evening + timedelta(days=1), 8)  # at the end of quiet hours
    now = local(NEW_YORK, evening, 22)
    at, moved = planned(REMINDER, NEW_YORK, visit - timedelta(hours=2), now, limit=visit)
    assert (at, moved) == (now, False)
    message = queued(patient, new_york, kind=REMINDER, context={"useful_until": visit.isoformat()})
    decision = decide(message, now)
    assert decision.skip.reason == "past"
    assert "Quiet hours" in decision.skip.detail and "08:00" in decision.skip.detail


def test_at_send_time_a_reminder_in_quiet_hours_waits_for_the_morning_only_before_the_visit(
    patient, new_york
):
    night = local(NEW_YORK, date(2026, 6, 11), 0, 30)
    for visit_hour, held in ((9, True), (8, False)):
        visit = local(NEW_YORK, date(2026, 6, 11), visit_hour)
        message = queued(
            patient, new_york, kind=REMINDER, context={"useful_until": visit.isoformat()}
        )
        decision = decide(message, night)
        if held:
            assert decision.defer_until == local(NEW_YORK, date(2026, 6, 11), 8)
            assert decision.held == rules.HELD_QUIET_HOURS
        else:
            assert decision.skip.reason == "past"


@pytest.mark.parametrize(
    ("zone", "evening", "expected_utc"),
    [
        # Spring forward (2026-03-08): the evening before is still on standard time.
        (NEW_YORK, date(2026, 3, 7), datetime(2026, 3, 8, 1, 59, tzinfo=UTC)),
        (LOS_ANGELES, date(2026, 3, 7), datetime(2026, 3, 8, 4, 59, tzinfo=UTC)),
        # Fall back (2026-11-01): the evening before is still on summer time.
        (NEW_YORK, date(2026, 10, 31), datetime(2026, 11, 1, 0, 59, tzinfo=UTC)),
        (LOS_ANGELES, date(2026, 10, 31), datetime(2026, 11, 1, 3, 59, tzinfo=UTC)),
    ],
)
def test_on_dst_nights_a_reminder_moves_to_20_59_on_the_evening_clock(zone, evening, expected_utc):
    night = evening + timedelta(days=1)
    now = local(zone, evening, 12)
    for due in (
        local(zone, evening, 21),
        local(zone, night, 1, 30),
        local(zone, night, 1, 30, fold=1),
        local(zone, night, 3, 30),
        local(zone, night, 7, 59),
    ):
        at, moved = planned(REMINDER, zone, due, now, limit=local(zone, night, 9))
        assert (at, moved) == (expected_utc, True), due
        assert (at.astimezone(ZoneInfo(zone)).hour, at.astimezone(ZoneInfo(zone)).minute) == (
            20,
            59,
        )
    assert planned(REMINDER, zone, local(zone, night, 8), now)[1] is False


def test_emails_and_urgent_texts_are_planned_at_their_own_time(new_york):
    now = local(NEW_YORK, date(2026, 6, 10), 12)
    due = local(NEW_YORK, date(2026, 6, 11), 7)
    assert planned(REMINDER, NEW_YORK, due, now, channel="email") == (due, False)
    assert planned(URGENT, NEW_YORK, due, now) == (due, False)
