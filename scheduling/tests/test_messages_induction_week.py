"""Must hold (issue 11): a patient with three infusions in one week, the course's list of
dates and an intake link sent by staff gets every message they need, none after its
visit, while the questionnaire nudges keep to the caps.

The outbox is run the way beat and the workers run it (``outbox_claim_due`` and
``outbox_send``), at every moment something is due, with the clock (``timezone.now``) moved
along; the daily follow-up task runs once a local day.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from clinic.messaging.outbox import outbox_claim_due, outbox_send
from clinic.messaging.registry import kind_named
from clinic.models import Location, OutboxMessage, OutboxStatus
from patients.followups import followup_checkin_enqueue, followups_enqueue_due
from patients.services.intake import intake_link_create
from patients.tests.factories import CommunicationConsentFactory
from scheduling.courses.series_booking import course_create
from scheduling.message_queue import COURSE_SCHEDULE
from scheduling.models import Appointment
from scheduling.tests.factories import clinic_location
from scheduling.tests.test_booking import at, cleared_for_infusions

CHICAGO = ZoneInfo("America/Chicago")
# Sunday 29 November 2026, 12:00 in Chicago: the course is booked and the link sent now.
NOW = datetime(2026, 11, 29, 12, 0, tzinfo=CHICAGO)
# Three infusions in the first week, three in the second; all at 09:00, so every 2-hour
# reminder (07:00) falls in quiet hours.
COURSE_DAYS = [
    *(date(2026, 11, 30), date(2026, 12, 2), date(2026, 12, 4)),
    *(date(2026, 12, 7), date(2026, 12, 9), date(2026, 12, 11)),
]
END_OF_WEEK = datetime(2026, 12, 5, 23, 59, tzinfo=CHICAGO)


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
        self.now = moment.astimezone(UTC)
        monkeypatch.setattr(timezone, "now", lambda: self.now)


@pytest.fixture
def clock(monkeypatch, settings) -> Clock:
    settings.SITE_URL = "https://clinic.example"
    return Clock(monkeypatch, NOW)


@pytest.fixture
def riverside(nina) -> Location:
    return clinic_location(name="Riverside", chairs=2, staff=[nina])


def run_outbox_until(
    clock: Clock, end: datetime, events: list[tuple[datetime, Callable[[], object]]]
) -> None:
    """Send whatever is due, in time order, up to ``end``; run the follow-up task at 00:05
    local each day (and at the start), and each of ``events`` at its time."""
    ticks = sorted(
        [(clock.now, lambda: followups_enqueue_due(clock.now))]
        + [
            (
                datetime.combine(NOW.date() + timedelta(days=days), time(0, 5), tzinfo=CHICAGO),
                lambda: followups_enqueue_due(clock.now),
            )
            for days in range(1, (end.date() - NOW.date()).days + 1)
        ]
        + events,
        key=lambda tick: tick[0],
    )
    for _ in range(500):
        due = (
            OutboxMessage.objects.filter(status=OutboxStatus.PENDING, not_before__lte=end)
            .order_by("not_before")
            .values_list("not_before", flat=True)
            .first()
        )
        moments = [moment for moment in (due, ticks[0][0] if ticks else None) if moment]
        if not moments:
            return
        clock.now = max(clock.now, min(moments))
        if ticks and ticks[0][0] <= clock.now:
            ticks.pop(0)[1]()
            continue
        for message_id, token in outbox_claim_due(
            limit=100, lease=timedelta(minutes=5), now=clock.now
        ):
            outbox_send(message_id, token, now=clock.now)
    raise AssertionError("the outbox never ran dry")


def quiet(moment: datetime) -> bool:
    local = moment.astimezone(CHICAGO)
    return local.hour >= 21 or local.hour < 8


def test_an_induction_week_gets_every_message_it_needs_and_nudges_keep_to_the_caps(
    clock, fran, nina, phil, riverside
):
    patient = cleared_for_infusions(phil)
    for channel in ("email", "sms"):
        CommunicationConsentFactory(patient=patient, channel=channel, granted=True)
    intake_link_create(actor=fran, patient=patient, send_to_patient=True)
    course = course_create(
        actor=nina,
        patient=patient,
        location=riverside,
        starts=[at(riverside, day, 9) for day in COURSE_DAYS],
        planned_infusions=6,
        window_days=14,
        min_gap_hours=24,
    )
    first_week = list(course.appointments.order_by("starts_at")[:3])
    # The next-day check-in, queued at each discharge: a nudge, like the questionnaires.
    discharges = [
        (
            appointment.starts_at + timedelta(hours=2),
            partial(followup_checkin_enqueue, appointment=appointment),
        )
        for appointment in first_week
    ]

    run_outbox_until(clock, END_OF_WEEK, discharges)

    rows = list(OutboxMessage.objects.filter(patient=patient).select_related("appointment"))
    transactional = [row for row in rows if kind_named(row.kind).transactional]
    nudges = [row for row in rows if kind_named(row.kind).counted and row.channel == "sms"]
    # Every message the patient needs that was due this week went, on both channels.
    due_this_week = [row for row in transactional if row.not_before <= END_OF_WEEK]
    assert {row.kind for row in due_this_week} >= {
        "intake_link",
        COURSE_SCHEDULE,
        "reminder_2h",
        "reminder_48h",
    }
    not_sent = [(row.kind, row.channel, row.status, row.skip_reason) for row in due_this_week]
    assert all(row.status == OutboxStatus.SENT for row in due_this_week), not_sent
    assert not [row for row in transactional if row.status == OutboxStatus.SKIPPED]
    assert not [row for row in rows if row.status == OutboxStatus.FAILED]
    # Each of the week's infusions had both reminders on both channels, all before it.
    for appointment in first_week:
        reminders = [row for row in transactional if row.appointment_id == appointment.pk]
        kinds = Counter(row.kind for row in reminders)
        if appointment.starts_at - timedelta(hours=48) > NOW:
            assert kinds == {"reminder_48h": 2, "reminder_2h": 2}
        else:  # booked less than 48 hours ahead: only the 2-hour one
            assert kinds == {"reminder_2h": 2}
        assert all(row.sent_at < appointment.starts_at for row in reminders)
        # The 2-hour text (due 07:00, in quiet hours) went at 20:59 the evening before.
        [text] = [row for row in reminders if (row.kind, row.channel) == ("reminder_2h", "sms")]
        evening = appointment.starts_at.astimezone(CHICAGO).date() - timedelta(days=1)
        assert text.not_before == datetime.combine(evening, time(20, 59), tzinfo=CHICAGO)
        assert text.sent_at.astimezone(CHICAGO).date() == evening
    # No text of any kind went in quiet hours.
    sent_texts = [row for row in rows if row.channel == "sms" and row.status == OutboxStatus.SENT]
    assert not [row.kind for row in sent_texts if quiet(row.sent_at)]
    # The nudges kept to 1 a day and 3 in any 7 days; the caps held some back.
    sent_nudges = sorted(row.sent_at for row in nudges if row.status == OutboxStatus.SENT)
    days = Counter(moment.astimezone(CHICAGO).date() for moment in sent_nudges)
    assert sent_nudges and max(days.values()) == 1
    for index, moment in enumerate(sent_nudges):
        assert sum(1 for other in sent_nudges[: index + 1] if other > moment - timedelta(7)) <= 3
    held = [row for row in nudges if row.skip_reason == "cap" or "held" in row.context]
    assert {row.skip_reason for row in nudges if row.status == OutboxStatus.SKIPPED} <= {"cap"}
    assert held, "the week has more nudges than the caps allow"
    # The course's list of dates went once, with every date in one calendar file.
    [email] = [row for row in rows if (row.kind, row.channel) == (COURSE_SCHEDULE, "email")]
    assert email.status == OutboxStatus.SENT
    assert "Mon Nov 30, 9:00 AM" in next(
        row.body for row in rows if (row.kind, row.channel) == (COURSE_SCHEDULE, "sms")
    )
    assert Appointment.objects.filter(course=course).count() == 6
