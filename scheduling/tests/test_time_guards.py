"""The clock at the front desk: check-in only on the appointment's local day and at most
CHECK_IN_EARLY_MINUTES (60) early; a no-show from NO_SHOW_GRACE_MINUTES (15) after the start;
an undo of a check-in, no-show or cancellation within UNDO_MINUTES (15), by the same role,
with a reason, taking a freed time back only if it is still free.

Each guard is tested one minute before, at and one minute after its boundary, in New York and
in Denver, and on the days the clocks change (2027-03-14 forward, 2026-11-01 back). The clock
is frozen (not ticking) so "at the boundary" is exactly at it. Every refusal says why and
changes nothing: the status, the history, the audit log, the waitlist, the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, time, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from clinic.messaging.registry import kind_named
from clinic.models import AuditEvent, Location, OutboxMessage, User
from clinic.roles import Role
from conftest import make_staff
from patients.models import Channel
from patients.tests.factories import PatientFactory
from scheduling.message_queue import CANCELLED
from scheduling.models import (
    Appointment,
    AppointmentStatus,
    AppointmentStatusChange,
    WaitlistEntry,
)
from scheduling.services.free_time import SlotTaken
from scheduling.services.status_changes import appointment_cancel, appointment_set_status
from scheduling.services.status_rules import clock_refuses, untimely_refusal
from scheduling.services.undo import appointment_undo
from scheduling.tests.factories import AppointmentFactory, appointment_type
from scheduling.tests.test_booking import book, cleared_for_infusions, riverside_for
from scheduling.tests.test_messages import consenting
from tests.api_tokens import api_key_for

A = AppointmentStatus
NEW_YORK = "America/New_York"
DENVER = "America/Denver"
ZONES = [NEW_YORK, DENVER]
# A Monday in winter, far from either clock change.
MONDAY = date(2027, 1, 11)
SPRING_FORWARD = date(2027, 3, 14)  # 02:00 → 03:00 in both zones
FALL_BACK = date(2026, 11, 1)  # 02:00 → 01:00 in both zones
REASON = "Pressed by mistake"
WRITES = [AuditEvent.Action.CREATE, AuditEvent.Action.UPDATE, AuditEvent.Action.DELETE]

Clock = Callable[[datetime], None]


# --- Helpers -----------------------------------------------------------------------------------


@pytest.fixture
def clock() -> Iterator[Clock]:
    """``clock(moment)`` stops the clock at ``moment`` (no ticking), so a boundary is hit
    exactly; every stop is undone when the test ends."""
    travels: list[time_machine.travel] = []

    def stop_at(moment: datetime) -> None:
        travel = time_machine.travel(moment, tick=False)
        travel.start()
        travels.append(travel)

    yield stop_at
    while travels:
        travels.pop().stop()


def local(location: Location, day: date, hour: int, minute: int = 0, *, fold: int = 0):
    """``hour:minute`` on ``day`` on the location's wall clock, in UTC (``fold=1`` is the
    second of two 01:30s on the day the clocks go back)."""
    return datetime.combine(day, time(hour, minute, fold=fold), tzinfo=location.tz).astimezone(UTC)


def consultation(location: Location, starts_at: datetime, physician: User) -> Appointment:
    return AppointmentFactory(
        location=location,
        appointment_type=appointment_type("consultation"),
        clinician=physician,
        starts_at=starts_at,
    )


def refusal(error: pytest.ExceptionInfo[ValidationError], field: str = "status") -> str:
    return " ".join(error.value.message_dict[field])


def snapshot(appointment: Appointment) -> tuple:
    """Everything a refused move must leave as it was."""
    appointment = Appointment.objects.get(pk=appointment.pk)
    return (
        appointment.status,
        appointment.cancel_reason,
        appointment.updated_at,
        list(AppointmentStatusChange.objects.values_list("pk", flat=True)),
        AuditEvent.objects.filter(action__in=WRITES).count(),
        list(WaitlistEntry.objects.order_by("pk").values_list("state", "offered_appointment")),
        OutboxMessage.objects.count(),
    )


def check_in(actor: User, appointment: Appointment) -> Appointment:
    return appointment_set_status(actor=actor, appointment=appointment, status=A.CHECKED_IN)


def no_show(actor: User, appointment: Appointment) -> Appointment:
    return appointment_set_status(actor=actor, appointment=appointment, status=A.NO_SHOW)


def undo(actor: User, appointment: Appointment, reason: str = REASON) -> Appointment:
    return appointment_undo(actor=actor, appointment=appointment, reason=reason)


def assert_refused(move, appointment: Appointment, says: str, field: str = "status") -> None:
    before = snapshot(appointment)
    with pytest.raises(ValidationError) as error:
        move()
    assert says in refusal(error, field)
    assert snapshot(appointment) == before


def day_agrees() -> None:
    """The deferred "appointment and session agree" triggers, checked now (and deferred
    again, as the services expect)."""
    names = "infusion_day_agrees_appointment, infusion_day_agrees_session"
    with connection.cursor() as cursor:
        cursor.execute(f"SET CONSTRAINTS {names} IMMEDIATE")
        cursor.execute(f"SET CONSTRAINTS {names} DEFERRED")


@pytest.fixture(params=ZONES, ids=["new_york", "denver"])
def clinic(request, nina, phil) -> Location:
    return riverside_for(nina, phil, time_zone=request.param)


@pytest.fixture
def frank(db) -> User:
    """Another member of the front desk."""
    return make_staff("frank@clinic.test", "Frank Frontdesk", Role.FRONT_DESK)


# --- Check-in: not more than 60 minutes early ----------------------------------------------------


@pytest.mark.parametrize("minutes_before", [60, 59, 1, 0])
def test_check_in_opens_60_minutes_before_the_start(clock, fran, phil, clinic, minutes_before):
    appointment = consultation(clinic, local(clinic, MONDAY, 9), phil)
    clock(appointment.starts_at - timedelta(minutes=minutes_before))

    check_in(fran, appointment)

    appointment.refresh_from_db()
    assert appointment.status == A.CHECKED_IN
    change = appointment.status_changes.get()
    assert (change.from_status, change.to_status, change.by, change.by_roles) == (
        A.BOOKED,
        A.CHECKED_IN,
        fran,
        [Role.FRONT_DESK],
    )
    assert change.at == timezone.now()


def test_check_in_61_minutes_early_is_refused_and_says_when_it_opens(clock, fran, phil, clinic):
    appointment = consultation(clinic, local(clinic, MONDAY, 9), phil)
    clock(appointment.starts_at - timedelta(minutes=61))

    assert_refused(
        lambda: check_in(fran, appointment),
        appointment,
        "It's too early to check in: the appointment starts at 09:00 on Mon 11 Jan 2027, and "
        "check-in opens 60 minutes before, at 08:00.",
    )


def test_a_late_check_in_the_same_local_day_is_allowed(clock, fran, phil, clinic):
    appointment = consultation(clinic, local(clinic, MONDAY, 9), phil)
    clock(local(clinic, MONDAY, 23, 59))

    check_in(fran, appointment)

    appointment.refresh_from_db()
    assert appointment.status == A.CHECKED_IN


def test_an_evening_check_in_counts_the_local_day_not_utcs(clock, fran, phil, clinic):
    """19:00 local is already Tuesday in UTC: still Monday at the clinic."""
    appointment = consultation(clinic, local(clinic, MONDAY, 20), phil)
    clock(local(clinic, MONDAY, 19))
    assert timezone.now().date() == MONDAY + timedelta(days=1)

    check_in(fran, appointment)

    appointment.refresh_from_db()
    assert appointment.status == A.CHECKED_IN


# --- Check-in: on the appointment's local day only ---------------------------------------------


def test_check_in_at_23_59_the_evening_before_is_refused(clock, fran, phil, clinic):
    """Half an hour before a 00:30 appointment is inside the hour, but the day before."""
    appointment = consultation(clinic, local(clinic, MONDAY, 0, 30), phil)
    clock(local(clinic, MONDAY - timedelta(days=1), 23, 59))

    assert_refused(
        lambda: check_in(fran, appointment),
        appointment,
        "The appointment is on Mon 11 Jan 2027: patients check in on the day of their "
        f"appointment (today is Sun 10 Jan 2027 at {clinic.name}).",
    )


@pytest.mark.parametrize("minute", [0, 1])
def test_check_in_from_midnight_of_the_day_is_allowed(clock, fran, phil, clinic, minute):
    appointment = consultation(clinic, local(clinic, MONDAY, 0, 30), phil)
    clock(local(clinic, MONDAY, 0, minute))

    check_in(fran, appointment)

    assert Appointment.objects.get(pk=appointment.pk).status == A.CHECKED_IN


@pytest.mark.parametrize(("hour", "minute"), [(0, 0), (9, 0)])
def test_check_in_the_day_after_is_refused(clock, fran, phil, clinic, hour, minute):
    appointment = consultation(clinic, local(clinic, MONDAY, 9), phil)
    clock(local(clinic, MONDAY + timedelta(days=1), hour, minute))

    assert_refused(
        lambda: check_in(fran, appointment),
        appointment,
        "The appointment was on Mon 11 Jan 2027: patients check in on the day of their "
        f"appointment (today is Tue 12 Jan 2027 at {clinic.name}).",
    )


# --- Check-in on the days the clocks change ------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "opens"),
    [((3, 0), (1, 0)), ((3, 30), (1, 30))],
    ids=["03:00", "03:30"],
)
def test_check_in_opens_60_real_minutes_before_on_the_spring_forward_day(
    clock, fran, phil, clinic, start, opens
):
    """02:00 to 03:00 does not exist that night: 60 minutes before 03:00 is 01:00 on the wall."""
    appointment = consultation(clinic, local(clinic, SPRING_FORWARD, *start), phil)
    opening = appointment.starts_at - timedelta(minutes=60)
    assert opening == local(clinic, SPRING_FORWARD, *opens)

    clock(opening - timedelta(minutes=1))
    assert_refused(
        lambda: check_in(fran, appointment),
        appointment,
        f"the appointment starts at {start[0]:02}:{start[1]:02} on Sun 14 Mar 2027, and "
        f"check-in opens 60 minutes before, at {opens[0]:02}:{opens[1]:02}.",
    )
    clock(opening)
    check_in(fran, appointment)
    assert Appointment.objects.get(pk=appointment.pk).status == A.CHECKED_IN


def test_check_in_one_minute_after_opening_on_the_spring_forward_day(clock, fran, phil, clinic):
    appointment = consultation(clinic, local(clinic, SPRING_FORWARD, 3), phil)
    clock(local(clinic, SPRING_FORWARD, 1, 1))

    check_in(fran, appointment)

    assert Appointment.objects.get(pk=appointment.pk).status == A.CHECKED_IN


def test_check_in_for_the_second_0130_opens_at_the_first_on_the_fall_back_day(
    clock, fran, phil, clinic
):
    """01:30 happens twice that night: the second one's check-in opens at the first."""
    starts_at = local(clinic, FALL_BACK, 1, 30, fold=1)
    assert starts_at - local(clinic, FALL_BACK, 1, 30, fold=0) == timedelta(hours=1)
    appointment = consultation(clinic, starts_at, phil)

    clock(starts_at - timedelta(minutes=61))
    assert_refused(
        lambda: check_in(fran, appointment),
        appointment,
        "check-in opens 60 minutes before, at 01:30.",
    )
    clock(starts_at - timedelta(minutes=60))
    check_in(fran, appointment)
    assert Appointment.objects.get(pk=appointment.pk).status == A.CHECKED_IN


@pytest.mark.parametrize("day", [SPRING_FORWARD, FALL_BACK], ids=["spring", "fall"])
def test_the_local_day_rule_holds_across_midnight_on_a_clock_change_day(
    clock, fran, phil, clinic, day
):
    appointment = consultation(clinic, local(clinic, day, 0, 30), phil)

    clock(local(clinic, day - timedelta(days=1), 23, 59))
    assert_refused(lambda: check_in(fran, appointment), appointment, "patients check in on the day")
    clock(local(clinic, day, 0, 0))
    check_in(fran, appointment)
    assert Appointment.objects.get(pk=appointment.pk).status == A.CHECKED_IN


# --- No-show: from 15 minutes after the start ----------------------------------------------------


def test_a_no_show_14_minutes_after_the_start_is_refused(clock, fran, phil, clinic):
    appointment = consultation(clinic, local(clinic, MONDAY, 9), phil)
    clock(appointment.starts_at + timedelta(minutes=14))

    assert_refused(
        lambda: no_show(fran, appointment),
        appointment,
        "It's too early to mark a no-show: the patient may still come. From 09:15 on Mon 11 "
        "Jan 2027 (15 minutes after the start) they can be marked one.",
    )


@pytest.mark.parametrize("minutes_after", [15, 16])
def test_a_no_show_from_15_minutes_after_the_start_is_recorded(
    clock, fran, phil, clinic, minutes_after
):
    appointment = consultation(clinic, local(clinic, MONDAY, 9), phil)
    clock(appointment.starts_at + timedelta(minutes=minutes_after))

    no_show(fran, appointment)

    appointment.refresh_from_db()
    assert appointment.status == A.NO_SHOW
    change = appointment.status_changes.get()
    assert (change.from_status, change.to_status, change.by) == (A.BOOKED, A.NO_SHOW, fran)
    event = AuditEvent.objects.get(object_id=str(appointment.public_id))
    assert event.summary == (
        f"changed status from booked to no_show for patient {appointment.patient.public_id}"
    )


def test_the_no_show_grace_counts_real_minutes_over_the_spring_forward_gap(
    clock, fran, phil, clinic
):
    """A 01:50 appointment may be marked a no-show from 03:05 (15 minutes later)."""
    appointment = consultation(clinic, local(clinic, SPRING_FORWARD, 1, 50), phil)

    clock(local(clinic, SPRING_FORWARD, 3, 4))
    assert_refused(lambda: no_show(fran, appointment), appointment, "From 03:05 on Sun 14 Mar")
    clock(local(clinic, SPRING_FORWARD, 3, 5))
    no_show(fran, appointment)
    assert Appointment.objects.get(pk=appointment.pk).status == A.NO_SHOW


# --- Undo: within 15 minutes -------------------------------------------------------------------


def checked_in(clock, fran, phil, location) -> Appointment:
    appointment = consultation(location, local(location, MONDAY, 9), phil)
    clock(appointment.starts_at - timedelta(minutes=10))
    return check_in(fran, appointment)


def no_showed(clock, fran, phil, location) -> Appointment:
    appointment = consultation(location, local(location, MONDAY, 9), phil)
    clock(appointment.starts_at + timedelta(minutes=15))
    return no_show(fran, appointment)


def cancelled(clock, fran, phil, location) -> Appointment:
    appointment = consultation(location, local(location, MONDAY, 9), phil)
    consenting(appointment.patient, Channel.SMS)
    clock(appointment.starts_at - timedelta(days=2))
    return appointment_cancel(actor=fran, appointment=appointment, reason="Patient unwell")


MADE = {A.CHECKED_IN: checked_in, A.NO_SHOW: no_showed, A.CANCELLED: cancelled}
UNDOABLE = list(MADE)


@pytest.mark.parametrize("minutes_after", [14, 15])
@pytest.mark.parametrize("status", UNDOABLE)
def test_it_undoes_a_move_up_to_15_minutes_after_it(
    clock, fran, phil, clinic, status, minutes_after
):
    appointment = MADE[status](clock, fran, phil, clinic)
    made = appointment.status_changes.get()
    clock(made.at + timedelta(minutes=minutes_after))

    undone = undo(fran, appointment, reason="  Pressed   by mistake ")

    appointment.refresh_from_db()
    assert undone.status == appointment.status == A.BOOKED
    assert appointment.cancel_reason == ""
    last = appointment.status_changes.last()
    assert (last.from_status, last.to_status, last.by, last.reason, last.undo) == (
        status,
        A.BOOKED,
        fran,
        REASON,
        True,
    )
    event = AuditEvent.objects.filter(object_id=str(appointment.public_id)).latest("id")
    assert event.summary == (
        f"undid status from {status} to booked for patient {appointment.patient.public_id} "
        "with a reason"
    )
    assert REASON not in event.summary


@pytest.mark.parametrize("status", UNDOABLE)
def test_it_refuses_an_undo_16_minutes_after(clock, fran, phil, clinic, status):
    appointment = MADE[status](clock, fran, phil, clinic)
    clock(appointment.status_changes.get().at + timedelta(minutes=16))

    assert_refused(
        lambda: undo(fran, appointment),
        appointment,
        f"It was {A(status).label.lower()} more than 15 minutes ago, so it can't be undone any "
        "more: book the patient again if needed.",
    )


def test_the_undo_window_counts_real_minutes_over_the_spring_forward_gap(clock, fran, phil, clinic):
    """Checked in at 01:55; 03:10 on the wall is 15 minutes later."""
    appointment = consultation(clinic, local(clinic, SPRING_FORWARD, 3), phil)
    clock(local(clinic, SPRING_FORWARD, 1, 55))
    check_in(fran, appointment)

    clock(local(clinic, SPRING_FORWARD, 3, 11))
    assert_refused(lambda: undo(fran, appointment), appointment, "more than 15 minutes ago")
    clock(local(clinic, SPRING_FORWARD, 3, 10))
    undo(fran, appointment)
    assert Appointment.objects.get(pk=appointment.pk).status == A.BOOKED


# --- Undo: who, and why ------------------------------------------------------------------------


@pytest.mark.parametrize("status", UNDOABLE)
def test_another_front_desk_person_may_undo(clock, fran, frank, phil, clinic, status):
    appointment = MADE[status](clock, fran, phil, clinic)
    clock(timezone.now() + timedelta(minutes=5))

    undo(frank, appointment)

    appointment.refresh_from_db()
    assert appointment.status == A.BOOKED
    assert appointment.status_changes.last().by == frank


@pytest.mark.parametrize("persona", ["nina", "phil", "alice"])
@pytest.mark.parametrize("status", UNDOABLE)
def test_someone_in_another_role_may_not_undo(request, clock, fran, phil, clinic, status, persona):
    appointment = MADE[status](clock, fran, phil, clinic)
    clock(timezone.now() + timedelta(minutes=5))
    someone = request.getfixturevalue(persona)

    assert_refused(
        lambda: undo(someone, appointment),
        appointment,
        "Only someone in the role of the person who made the change can undo it: ask them, "
        "or a colleague in the same role.",
    )


@pytest.mark.parametrize("reason", ["", "   "])
@pytest.mark.parametrize("status", UNDOABLE)
def test_an_undo_without_a_reason_changes_nothing(clock, fran, phil, clinic, status, reason):
    appointment = MADE[status](clock, fran, phil, clinic)

    assert_refused(
        lambda: undo(fran, appointment, reason=reason),
        appointment,
        "Say why the change is undone, for example “pressed by mistake”.",
        field="reason",
    )


def test_only_the_latest_move_is_undone_and_only_once(clock, fran, phil, clinic):
    appointment = checked_in(clock, fran, phil, clinic)
    undo(fran, appointment)

    assert_refused(
        lambda: undo(fran, appointment),
        appointment,
        "This appointment is booked: only a check-in, a no-show, a cancellation or a "
        "consultation's discharge can be undone, and only the latest one.",
    )


def test_a_cancellation_the_patient_made_online_is_not_undone_by_staff(clock, fran, phil, clinic):
    appointment = consultation(clinic, local(clinic, MONDAY, 9), phil)
    clock(appointment.starts_at - timedelta(days=2))
    appointment_cancel(actor=None, appointment=appointment, reason="Can't make it")

    assert_refused(
        lambda: undo(fran, appointment),
        appointment,
        "The patient did this online: book a new appointment if they changed their mind.",
    )


# --- Undo: taking a freed time back ------------------------------------------------------------


@pytest.fixture
def infusion_no_show(clock, fran, nina, phil) -> Appointment:
    """An infusion at 09:00 in New York's only chair, marked a no-show at 09:15."""
    location = riverside_for(nina, phil, time_zone=NEW_YORK)
    clock(local(location, MONDAY, 8) - timedelta(days=7))
    appointment = book(fran, cleared_for_infusions(phil), location, "infusion", hour=9, day=MONDAY)
    clock(appointment.starts_at + timedelta(minutes=15))
    return no_show(fran, appointment)


def test_undoing_a_no_show_takes_the_chair_back(clock, fran, phil, infusion_no_show):
    clock(timezone.now() + timedelta(minutes=5))

    undo(fran, infusion_no_show)
    day_agrees()

    assert Appointment.objects.get(pk=infusion_no_show.pk).status == A.BOOKED
    with pytest.raises(SlotTaken):
        book(
            fran,
            cleared_for_infusions(phil),
            infusion_no_show.location,
            "infusion",
            hour=9,
            minute=30,
            day=MONDAY,
        )


def test_undoing_a_no_show_is_refused_once_the_chair_was_booked_again(
    clock, fran, phil, infusion_no_show
):
    clock(timezone.now() + timedelta(minutes=1))
    walk_in = book(
        fran,
        cleared_for_infusions(phil),
        infusion_no_show.location,
        "infusion",
        hour=9,
        minute=30,
        day=MONDAY,
    )
    assert walk_in.chair == infusion_no_show.chair
    clock(timezone.now() + timedelta(minutes=1))

    assert_refused(
        lambda: undo(fran, infusion_no_show),
        infusion_no_show,
        "The time has been booked for someone else since, so it can't be taken back: book the "
        "patient at another time.",
    )
    assert Appointment.objects.get(pk=walk_in.pk).status == A.BOOKED


@pytest.fixture
def waiting(db) -> Callable[[Location], WaitlistEntry]:
    def entry_at(location: Location) -> WaitlistEntry:
        return WaitlistEntry.objects.create(
            patient=consenting(None, Channel.SMS),
            location=location,
            appointment_type=appointment_type("consultation"),
        )

    return entry_at


def test_undoing_a_cancel_withdraws_an_unanswered_waitlist_offer(
    clock, fran, phil, clinic, waiting
):
    entry = waiting(clinic)
    appointment = cancelled(clock, fran, phil, clinic)
    entry.refresh_from_db()
    assert (entry.state, entry.offered_appointment) == (WaitlistEntry.State.OFFERED, appointment)
    clock(timezone.now() + timedelta(minutes=10))

    undo(fran, appointment)

    entry.refresh_from_db()
    assert (entry.state, entry.offered_appointment) == (WaitlistEntry.State.WAITING, None)
    event = AuditEvent.objects.filter(object_id=str(entry.public_id)).latest("id")
    assert event.actor == fran
    assert event.summary.startswith("withdrew the offer of a freed time from patient")
    assert Appointment.objects.get(pk=appointment.pk).status == A.BOOKED
    # The offer still queued is not sent: nobody answered it, and it was taken back.
    offer = OutboxMessage.objects.get(kind="waitlist_offer")
    assert kind_named("waitlist_offer").still_wanted(offer) is not None


def test_undoing_a_cancel_stops_the_cancellation_notice_still_queued(clock, fran, phil, clinic):
    appointment = cancelled(clock, fran, phil, clinic)
    clock(timezone.now() + timedelta(minutes=5))

    undo(fran, appointment)

    notice = OutboxMessage.objects.get(kind=CANCELLED, appointment=appointment)
    assert kind_named(CANCELLED).still_wanted(notice) is not None


def test_undoing_a_cancel_refused_when_the_offered_chair_was_taken(clock, fran, nina, phil):
    location = riverside_for(nina, phil, time_zone=DENVER)
    clock(local(location, MONDAY, 8) - timedelta(days=7))
    appointment = book(fran, cleared_for_infusions(phil), location, "infusion", hour=9, day=MONDAY)
    appointment_cancel(actor=fran, appointment=appointment, reason="Patient unwell")
    clock(timezone.now() + timedelta(minutes=3))
    book(fran, cleared_for_infusions(phil), location, "infusion", hour=9, day=MONDAY)
    clock(timezone.now() + timedelta(minutes=3))

    assert_refused(lambda: undo(fran, appointment), appointment, "booked for someone else since")


def test_undoing_a_cancel_refused_when_the_physician_was_booked_again(clock, fran, phil, clinic):
    appointment = cancelled(clock, fran, phil, clinic)
    clock(timezone.now() + timedelta(minutes=3))
    book(fran, PatientFactory(), clinic, "consultation", hour=9, day=MONDAY, clinician=phil)
    clock(timezone.now() + timedelta(minutes=3))

    assert_refused(lambda: undo(fran, appointment), appointment, "booked for someone else since")


# --- The pages and the API ---------------------------------------------------------------------


def no_show_url(appointment: Appointment) -> str:
    return f"/staff/schedule/appointments/{appointment.public_id}/no-show/"


def undo_url(appointment: Appointment) -> str:
    return f"/staff/schedule/appointments/{appointment.public_id}/undo/"


@pytest.fixture
def ny(nina, phil) -> Location:
    return riverside_for(nina, phil, time_zone=NEW_YORK)


@pytest.fixture
def due(clock, phil, ny) -> Appointment:
    """A consultation at 09:00, and the clock at 09:15: it may be marked a no-show."""
    appointment = consultation(ny, local(ny, MONDAY, 9), phil)
    clock(appointment.starts_at + timedelta(minutes=15))
    return appointment


def test_the_no_show_page_asks_for_confirmation(client, fran, due):
    client.force_login(fran)

    response = client.get(no_show_url(due))

    assert response.status_code == 200
    page = response.content.decode()
    assert f"Mark {due.patient.display_name} a no-show?" in page
    assert "Yes, the patient did not come" in page
    assert Appointment.objects.get(pk=due.pk).status == A.BOOKED


def test_the_no_show_page_says_when_it_is_too_early(client, clock, fran, due):
    clock(due.starts_at + timedelta(minutes=14))
    client.force_login(fran)

    page = client.get(no_show_url(due)).content.decode()

    assert "too early to mark a no-show" in page
    assert "From 09:15 on Mon 11 Jan 2027" in page
    assert 'name="confirm"' not in page


@pytest.mark.parametrize("data", [{}, {"confirm": ""}])
def test_a_no_show_posted_without_the_confirm_box_is_refused(client, fran, due, data):
    client.force_login(fran)
    before = snapshot(due)

    response = client.post(no_show_url(due), data)

    assert response.status_code == 200
    assert "Tick the box to confirm the patient did not come." in response.content.decode()
    assert snapshot(due) == before


def test_a_confirmed_no_show_is_recorded(client, fran, due):
    client.force_login(fran)

    response = client.post(no_show_url(due), {"confirm": "on"})

    assert response.status_code == 302
    due.refresh_from_db()
    assert due.status == A.NO_SHOW
    assert due.status_changes.get().by == fran


def test_a_confirmed_no_show_too_early_is_refused(client, clock, fran, due):
    clock(due.starts_at + timedelta(minutes=14))
    client.force_login(fran)
    before = snapshot(due)

    response = client.post(no_show_url(due), {"confirm": "on"})

    assert response.status_code == 200
    assert "too early to mark a no-show" in response.content.decode()
    assert snapshot(due) == before


def test_the_one_click_board_action_does_not_mark_a_no_show(client, fran, due):
    client.force_login(fran)
    before = snapshot(due)

    client.post(f"/staff/schedule/appointments/{due.public_id}/no-show-now/")
    client.post(f"/staff/schedule/appointments/{due.public_id}/no_show/")

    assert snapshot(due) == before


def test_the_undo_page_undoes_with_a_reason(client, clock, fran, due):
    no_show(fran, due)
    clock(timezone.now() + timedelta(minutes=15))
    client.force_login(fran)

    page = client.get(undo_url(due)).content.decode()
    response = client.post(undo_url(due), {"reason": REASON})

    assert "This can be done until 09:30." in page
    assert response.status_code == 302
    due.refresh_from_db()
    assert due.status == A.BOOKED
    assert due.status_changes.last().reason == REASON


def test_the_undo_page_refuses_without_a_reason(client, fran, due):
    no_show(fran, due)
    client.force_login(fran)
    before = snapshot(due)

    response = client.post(undo_url(due), {"reason": "  "})

    assert response.status_code == 200
    assert "Say why the change is undone" in response.content.decode()
    assert snapshot(due) == before


def test_the_undo_page_says_who_may_undo(client, fran, nina, due):
    no_show(fran, due)
    client.force_login(nina)
    before = snapshot(due)

    page = client.get(undo_url(due)).content.decode()
    response = client.post(undo_url(due), {"reason": REASON})

    assert "Only someone in the role of the person who made the change" in page
    assert 'name="reason"' not in page
    assert "Only someone in the role" in response.content.decode()
    assert snapshot(due) == before


def test_the_undo_page_says_when_it_is_too_late(client, clock, fran, due):
    no_show(fran, due)
    clock(timezone.now() + timedelta(minutes=16))
    client.force_login(fran)

    page = client.get(undo_url(due)).content.decode()

    assert "more than 15 minutes ago" in page


def api_undo(client, appointment: Appointment, body: dict, **extra):
    return client.post(
        f"/api/v1/appointments/{appointment.public_id}/undo/",
        body,
        content_type="application/json",
        **extra,
    )


def test_the_api_undoes_with_a_reason(client, clock, fran, due):
    no_show(fran, due)
    clock(timezone.now() + timedelta(minutes=15))
    client.force_login(fran)

    response = api_undo(client, due, {"reason": REASON})

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "booked"
    assert Appointment.objects.get(pk=due.pk).status == A.BOOKED


def test_the_api_undoes_with_a_token(client, clock, fran, due):
    no_show(fran, due)
    key = api_key_for(fran)

    response = api_undo(client, due, {"reason": REASON}, HTTP_AUTHORIZATION=f"Token {key}")

    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "booked"


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "   "}])
def test_the_api_refuses_an_undo_without_a_reason(client, fran, due, body):
    no_show(fran, due)
    client.force_login(fran)
    before = snapshot(due)

    response = api_undo(client, due, body)

    assert response.status_code == 400
    assert "Say why the change is undone" in response.json()["reason"][0]
    assert snapshot(due) == before


def test_the_api_refuses_an_undo_too_late_or_by_another_role(client, clock, fran, nina, due):
    no_show(fran, due)
    before = snapshot(due)
    client.force_login(nina)
    other_role = api_undo(client, due, {"reason": REASON})
    clock(timezone.now() + timedelta(minutes=16))
    client.force_login(fran)
    too_late = api_undo(client, due, {"reason": REASON})

    assert other_role.status_code == 400
    assert "Only someone in the role" in other_role.json()["status"][0]
    assert too_late.status_code == 400
    assert "more than 15 minutes ago" in too_late.json()["status"][0]
    assert snapshot(due) == before


def test_the_api_refuses_anonymous_undo(client, fran, due):
    no_show(fran, due)
    before = snapshot(due)

    response = api_undo(client, due, {"reason": REASON})

    assert response.status_code in (401, 403)
    assert snapshot(due) == before


# --- The board asks the same clock without the words ---------------------------------------------


@pytest.mark.parametrize(
    "offset",
    [-24 * 60, -61, -60, -59, 0, 14, 15, 16, 15 * 60, 24 * 60],
    ids=lambda minutes: f"{minutes:+d}min",
)
def test_the_boards_yes_or_no_is_the_clocks_refusal(clock, phil, clinic, offset):
    """``clock_refuses`` (the board's question, asked of every card) says no exactly when
    ``untimely_refusal`` (the service's answer, in words) does: before and after the
    check-in window and the no-show grace period, and on other days."""
    appointment = consultation(clinic, local(clinic, MONDAY, 9), phil)
    clock(appointment.starts_at + timedelta(minutes=offset))

    for status in (A.CHECKED_IN, A.NO_SHOW, A.CANCELLED):
        assert clock_refuses(appointment, status) == bool(untimely_refusal(appointment, status))
