"""The day board and the week board: who sees them, what they show, in whose time, and at
what cost in queries."""

from __future__ import annotations

from datetime import date, time, timedelta

import pytest
from django.template.loader import render_to_string
from django.utils import timezone

from clinic.audit import Action
from clinic.models import AuditEvent, Location
from infusions.models import InfusionSession
from patients.tests.factories import PatientFactory
from scheduling.board.cards import patient_appointments
from scheduling.models import Appointment, AppointmentStatus, StaffShift
from scheduling.tests.factories import (
    AppointmentFactory,
    ClosureFactory,
    appointment_type,
    clinic_location,
)
from scheduling.tests.test_booking import at, next_week, riverside_for
from tests.clock import travel_to

Status = AppointmentStatus

# The session and the signed-in user; the locations; the open vitals alerts at the location
# (the banner); the version of the rows the grid is drawn from (scheduling.board.kept); when
# the grid is not kept yet, opening hours and closures, chairs, the day's appointments (type
# and clinician joined in), then their patients by id (joined in, PostgreSQL hashed every
# patient of the chain); the audit event; the session's last-activity update (savepoint,
# update, release). However many appointments there are.
DAY_QUERIES = 14
# The same for a week, without the banner.
WEEK_QUERIES = 13
# Seen again (test_board_kept.py), with the session's last activity just written: the
# session, the user, the locations, (the banner,) the version, the audit event.
DAY_KEPT_QUERIES = 6
WEEK_KEPT_QUERIES = 5


@pytest.fixture
def riverside(nina, phil) -> Location:
    return riverside_for(nina, phil, chairs=2)


def board(client, user, **params):
    client.force_login(user)
    return client.get("/staff/schedule/", params)


def appointment(location, day, hour, minute=0, kind="infusion", **fields) -> Appointment:
    fields.setdefault("patient", PatientFactory())
    return AppointmentFactory(
        location=location,
        appointment_type=appointment_type(kind),
        starts_at=at(location, day, hour, minute),
        **fields,
    )


def a_busy_day(location, day, count, *, nurse, physician) -> None:
    """``count`` appointments: infusions in both chairs through the day, then consultations
    with ``physician``, then cancellations."""
    chairs = list(location.chairs.order_by("name"))
    made = 0
    for hour, minute in [(8, 0), (9, 30), (11, 0), (12, 30), (14, 0), (15, 30)]:
        for chair in chairs:
            if made < count:
                appointment(location, day, hour, minute, chair=chair, clinician=nurse)
                made += 1
    for hour in range(8, 18):
        if made < count:
            appointment(location, day, hour, kind="consultation", clinician=physician)
            made += 1
    while made < count:
        appointment(location, day, 8, status=Status.CANCELLED, cancel_reason="patient unwell")
        made += 1


# --- Who may see it ---------------------------------------------------------------------------


@pytest.mark.parametrize("user", ["fran", "nina", "phil", "alice"])
def test_staff_who_schedule_see_the_board(client, riverside, user, request):
    response = board(client, request.getfixturevalue(user))

    assert response.status_code == 200


def test_a_content_editor_may_not_see_the_board(client, riverside, edie):
    assert board(client, edie).status_code == 403


def test_it_asks_visitors_to_sign_in(client, riverside):
    response = client.get("/staff/schedule/")

    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")


def test_it_says_what_to_do_when_there_is_no_open_location(client, fran):
    response = board(client, fran)

    assert response.status_code == 200
    assert b"no open location" in response.content


# --- What it shows ------------------------------------------------------------------------------


def test_it_opens_today_at_the_first_open_location(client, fran, riverside):
    clinic_location(name="Northside")
    clinic_location(name="Aardvark Lane", is_active=False)

    response = board(client, fran)

    assert response.context["location"] == Location.objects.get(name="Northside")
    assert response.context["day"] == response.context["location"].local_now().date()
    assert response.context["view"] == "day"


def test_a_clinician_opens_it_where_they_work(client, fran, nina, phil, riverside):
    clinic_location(name="Aardvark Lane")  # first by name; nobody on shift there
    weekday = riverside.local_now().weekday()
    elsewhere = clinic_location(name="Bayside")
    StaffShift.objects.create(
        staff=phil,
        location=elsewhere,
        weekday=(weekday + 1) % 7,
        starts_at=time(8),
        ends_at=time(18),
    )
    StaffShift.objects.filter(staff=phil, location=riverside).delete()

    # Nina works at Riverside today; Phil works at Bayside, not today; Fran has no shifts.
    assert board(client, nina).context["location"] == riverside
    assert board(client, phil).context["location"] == elsewhere
    assert board(client, fran).context["location"].name == "Aardvark Lane"


def test_it_shows_the_location_and_day_asked_for(client, fran, riverside):
    clinic_location(name="Northside")

    response = board(client, fran, location=riverside.public_id, date="2026-12-01")

    assert response.context["location"] == riverside
    assert response.context["day"] == date(2026, 12, 1)
    assert "Tue 1 Dec 2026 at Riverside" in response.content.decode()


def test_it_links_to_the_day_before_and_after(client, fran, riverside):
    response = board(client, fran, location=riverside.public_id, date="2026-12-01")

    assert response.context["previous_url"] == (
        f"/staff/schedule/?location={riverside.public_id}&date=2026-11-30"
    )
    assert response.context["next_period_url"] == (
        f"/staff/schedule/?location={riverside.public_id}&date=2026-12-02"
    )


def test_an_empty_day_says_so_and_where(client, fran, riverside):
    response = board(client, fran, location=riverside.public_id, date="2026-12-01")

    assert "No appointments on Tue 1 Dec at Riverside." in response.content.decode()


def test_a_closed_day_says_why(client, fran, riverside):
    ClosureFactory(
        location=riverside,
        starts_on=date(2026, 12, 1),
        ends_on=date(2026, 12, 1),
        reason="Staff training",
    )

    response = board(client, fran, location=riverside.public_id, date="2026-12-01")

    html = response.content.decode()
    assert "Staff training" in html
    assert "Riverside is closed on this day and no infusions are booked." in html
    assert response.context["board"].slots == []


def test_it_draws_an_infusion_across_its_procedure_and_recovery_in_its_chair(
    client, fran, nina, riverside
):
    day = next_week(riverside)
    chair = riverside.chairs.get(name="Chair 2")
    booked = appointment(riverside, day, 10, chair=chair, clinician=nina)

    response = board(client, fran, location=riverside.public_id, date=day.isoformat())

    grid = response.context["board"]
    assert [slot.local.strftime("%H:%M") for slot in grid.slots[:2]] == ["08:00", "08:30"]
    assert len(grid.slots) == 20  # 08:00 to 18:00 in half hours
    column = next(column for column in grid.chair_columns if column.chair == chair)
    # From the 10:00 row, 40 minutes of infusion and 45 of recovery: three half hours.
    assert placed(column) == [(4, 3, booked)]
    html = response.content.decode()
    assert "10:00</time>–10:40 · Infusion" in html
    assert "Recovery until 11:25" in html
    assert booked.patient.display_name in html


def placed(column) -> list[tuple[int, int, Appointment]]:
    """(first slot, slots spanned, appointment) for each appointment in a chair's column."""
    slot, found = 0, []
    for cell in column.cells:
        if cell.entry is not None:
            found.append((slot, cell.span, cell.entry.appointment))
        slot += cell.span
    return found


def test_every_active_chair_has_a_column_even_when_free(client, fran, riverside):
    response = board(client, fran, location=riverside.public_id, date="2026-12-01")

    columns = response.context["board"].chair_columns
    assert [column.label for column in columns] == ["Chair 1", "Chair 2"]
    assert all(sum(cell.span for cell in column.cells) == 20 for column in columns)


def test_it_lists_consultations_and_follow_ups_by_clinician(client, fran, nina, phil, riverside):
    day = next_week(riverside)
    appointment(riverside, day, 11, kind="consultation", clinician=phil)
    appointment(riverside, day, 9, kind="follow_up", clinician=phil)
    appointment(riverside, day, 10, kind="consultation")

    response = board(client, fran, location=riverside.public_id, date=day.isoformat())

    visits = response.context["board"].visits
    assert [group.label for group in visits] == ["Phil Physician", "No clinician assigned"]
    assert [entry.local_start.hour for entry in visits[0].entries] == [9, 11]


def test_cancellations_and_no_shows_are_struck_through_in_their_own_list(
    client, fran, nina, riverside
):
    day = next_week(riverside)
    chair = riverside.chairs.get(name="Chair 1")
    cancelled = appointment(
        riverside, day, 10, chair=chair, status=Status.CANCELLED, cancel_reason="patient unwell"
    )
    no_show = appointment(riverside, day, 10, kind="consultation", status=Status.NO_SHOW)
    attending = appointment(riverside, day, 10, chair=chair)

    response = board(client, fran, location=riverside.public_id, date=day.isoformat())

    grid = response.context["board"]
    assert [entry.appointment for entry in grid.not_attending] == [cancelled, no_show]
    assert [entry.appointment for entry in grid.chair_entries] == [attending]
    assert grid.visits == []
    html = response.content.decode()
    assert f"<del>{cancelled.patient.display_name}</del>" in html
    assert f"<del>{no_show.patient.display_name}</del>" in html
    assert "Reason: patient unwell" in html


@pytest.mark.parametrize(
    ("status", "label"),
    [
        (Status.BOOKED, "Booked"),
        (Status.CHECKED_IN, "Checked in"),
        (Status.INFUSING, "Infusing"),
        (Status.RECOVERING, "Recovering"),
        (Status.DISCHARGED, "Discharged"),
        (Status.NO_SHOW, "No-show"),
    ],
)
def test_each_appointment_shows_its_status(client, fran, riverside, status, label):
    day = next_week(riverside)
    appointment(riverside, day, 9, chair=riverside.chairs.first(), status=status)

    response = board(client, fran, location=riverside.public_id, date=day.isoformat())

    assert f'data-testid="status">{label}</span>' in response.content.decode()


def test_the_front_desk_gets_the_front_desk_buttons_only(client, fran, riverside):
    day = next_week(riverside)
    chair = riverside.chairs.first()
    appointment(riverside, day, 8, chair=chair)
    appointment(riverside, day, 10, chair=chair, status=Status.CHECKED_IN)
    appointment(riverside, day, 12, chair=chair, status=Status.INFUSING)
    travel_to(at(riverside, day, 7, 50))  # the morning of the day: check-in is open at 8

    response = board(client, fran, location=riverside.public_id, date=day.isoformat())

    actions = _actions_by_hour(response)
    # No no-show before the grace period after the start; no cancel once checked in (the
    # infusion's session decides), but an undo of the check-in for a few minutes.
    assert actions == {8: ["check-in"], 10: [], 12: []}
    html = response.content.decode()
    assert html.count(">Cancel…<") == 1
    assert html.count(">Reschedule<") == 1  # only a booked appointment moves


def test_nurses_and_physicians_move_an_infusion_along(client, nina, riverside):
    day = next_week(riverside)
    chair = riverside.chairs.first()
    appointment(riverside, day, 8, chair=chair)
    appointment(riverside, day, 10, chair=chair, status=Status.CHECKED_IN)
    appointment(riverside, day, 12, chair=chair, status=Status.INFUSING)
    appointment(riverside, day, 14, chair=chair, status=Status.RECOVERING)
    appointment(riverside, day, 16, chair=chair, status=Status.DISCHARGED)
    travel_to(at(riverside, day, 7, 50))  # the morning of the day: check-in is open at 8

    response = board(client, nina, location=riverside.public_id, date=day.isoformat())

    # "Start infusion" only once the session may start (checks passed, an order signed), and
    # discharge is the checklist on the session: tested in test_board_actions.py.
    assert _actions_by_hour(response) == {8: ["check-in"], 10: [], 12: ["recovery"], 14: [], 16: []}
    steps = [entry.session_step for entry in response.context["board"].chair_entries]
    assert steps == [
        "Next: check in",
        "Next: pre-infusion checks",
        "Infusion running · next: recovery",
        "Recovering · next: discharge checklist",
        "Gone home",
    ]


def test_a_session_stopped_early_says_gone_home_once_discharged(client, nina, riverside):
    day = next_week(riverside)
    chair = riverside.chairs.first()
    recovering = appointment(riverside, day, 10, chair=chair, status=Status.RECOVERING)
    gone = appointment(riverside, day, 14, chair=chair, status=Status.DISCHARGED)
    for stopped in (recovering, gone):
        InfusionSession.objects.filter(appointment=stopped).update(
            state="stopped_early", stop_reason="Patient asked to stop."
        )
    travel_to(at(riverside, day, 15, 0))

    response = board(client, nina, location=riverside.public_id, date=day.isoformat())

    steps = [entry.session_step for entry in response.context["board"].chair_entries]
    assert steps == ["Stopped early · next: discharge checklist", "Stopped early · gone home"]


def test_a_consultation_is_discharged_by_the_front_desk_and_never_infused(client, fran, riverside):
    day = next_week(riverside)
    visit = appointment(riverside, day, 9, kind="consultation", status=Status.CHECKED_IN)
    travel_to(visit.starts_at - timedelta(minutes=10))

    early = board(client, fran, location=riverside.public_id, date=day.isoformat())
    travel_to(visit.starts_at)
    response = board(client, fran, location=riverside.public_id, date=day.isoformat())

    assert _actions_by_hour(early) == {9: []}, "not done before it starts"
    assert _actions_by_hour(response) == {9: ["discharge"]}


def _actions_by_hour(response) -> dict[int, list[str]]:
    grid = response.context["board"]
    entries = grid.chair_entries + [entry for group in grid.visits for entry in group.entries]
    return {entry.local_start.hour: [a.slug for a in entry.actions] for entry in entries}


def test_the_buttons_post_with_csrf_and_work_without_javascript(client, fran, riverside):
    day = next_week(riverside)
    booked = appointment(riverside, day, 9, chair=riverside.chairs.first())
    travel_to(at(riverside, day, 8, 50))  # check-in is open
    client.force_login(fran)
    url = f"/staff/schedule/?location={riverside.public_id}&date={day.isoformat()}"

    html = client.get(url).content.decode()

    action = f"/staff/schedule/appointments/{booked.public_id}/check-in/"
    assert f'<form method="post" action="{action}" hx-post="{action}"' in html
    assert 'name="csrfmiddlewaretoken"' in html
    assert f'name="next" value="{url.replace("&", "&amp;")}"' in html


def test_reading_the_board_is_in_the_audit_log(client, fran, riverside):
    day = next_week(riverside)
    appointment(riverside, day, 9, chair=riverside.chairs.first())

    board(client, fran, location=riverside.public_id, date=day.isoformat())

    event = AuditEvent.objects.get(action=Action.VIEW, object_type="patients.patient")
    assert event.actor == fran
    assert "1 appointments shown" in event.summary


def test_today_the_half_hour_we_are_in_is_marked(client, fran, nina):
    all_day = clinic_location(name="All day", opens_at=time(0), closes_at=time(23, 59))

    response = board(client, fran, location=all_day.public_id)

    now = timezone.now()
    marked = [slot for slot in response.context["board"].slots if slot.is_now]
    assert len(marked) == 1
    assert marked[0].starts_at <= now < marked[0].starts_at + timedelta(minutes=30)
    assert '<span class="badge text-bg-primary">Now</span>' in response.content.decode()


# --- Time zones and DST --------------------------------------------------------------------------


def test_times_are_the_locations_own(client, fran, nina):
    honolulu = clinic_location(name="Waikiki", time_zone="Pacific/Honolulu", staff=[nina])
    day = next_week(honolulu)
    appointment(honolulu, day, 9, chair=honolulu.chairs.first())

    response = board(client, fran, location=honolulu.public_id, date=day.isoformat())

    html = response.content.decode()
    assert "09:00</time>–09:40" in html
    assert "times in Pacific/Honolulu" in html


def test_the_day_the_clocks_go_back_shows_the_right_local_times(client, fran, nina, phil):
    chicago = riverside_for(nina, phil, chairs=1)
    day = date(2026, 11, 1)  # 02:00 CDT becomes 01:00 CST
    infusion = appointment(chicago, day, 10, chair=chicago.chairs.get(), clinician=nina)
    appointment(chicago, day, 15, 30, kind="consultation", clinician=phil)

    response = board(client, fran, location=chicago.public_id, date="2026-11-01")

    assert infusion.starts_at.hour == 16  # UTC, six hours behind Chicago in winter time
    html = response.content.decode()
    assert "10:00</time>–10:40 · Infusion" in html
    assert "Recovery until 11:25" in html
    assert "15:30</time>–16:15 · Consultation" in html
    grid = response.context["board"]
    assert grid.slots[0].local.strftime("%H:%M") == "08:00"
    assert placed(grid.chair_columns[0]) == [(4, 3, infusion)]  # from the 10:00 row


def test_a_night_clinic_sees_the_repeated_hour_twice(client, fran, nina):
    night = clinic_location(name="Night", opens_at=time(0), closes_at=time(4), staff=[nina])

    response = board(client, fran, location=night.public_id, date="2026-11-01")

    labels = [slot.local.strftime("%H:%M") for slot in response.context["board"].slots]
    assert len(labels) == 10  # five real hours between midnight and 04:00
    assert labels == [
        "00:00", "00:30", "01:00", "01:30",  # summer time
        "01:00", "01:30", "02:00", "02:30", "03:00", "03:30",  # winter time
    ]  # fmt: skip


def test_a_night_clinic_skips_the_hour_the_clocks_jump(client, fran, nina):
    night = clinic_location(name="Night", opens_at=time(0), closes_at=time(4), staff=[nina])

    response = board(client, fran, location=night.public_id, date="2026-03-08")

    labels = [slot.local.strftime("%H:%M") for slot in response.context["board"].slots]
    assert len(labels) == 6  # three real hours
    assert labels == ["00:00", "00:30", "01:00", "01:30", "03:00", "03:30"]


# --- The week ----------------------------------------------------------------------------------


def test_the_week_counts_appointments_per_chair_and_day_and_lists_them(
    client, fran, nina, phil, riverside
):
    monday = date(2026, 11, 30)
    chair_1, chair_2 = riverside.chairs.order_by("name")
    appointment(riverside, monday, 9, chair=chair_1)
    appointment(riverside, monday, 11, chair=chair_1)
    appointment(riverside, monday + timedelta(days=2), 9, chair=chair_2)
    appointment(riverside, monday + timedelta(days=6), 10, kind="consultation", clinician=phil)
    appointment(
        riverside, monday, 14, chair=chair_2, status=Status.CANCELLED, cancel_reason="unwell"
    )
    appointment(riverside, monday + timedelta(days=7), 9, chair=chair_1)  # next week

    response = board(client, fran, location=riverside.public_id, date="2026-12-03", view="week")

    week = response.context["week"]
    assert week.first_day == monday
    assert [row.label for row in week.chair_rows] == ["Chair 1", "Chair 2"]
    assert week.chair_rows[0].counts == [2, 0, 0, 0, 0, 0, 0]
    assert week.chair_rows[1].counts == [0, 0, 1, 0, 0, 0, 0]
    assert week.visit_row.counts == [0, 0, 0, 0, 0, 0, 1]
    assert week.days[0].not_attending_count == 1
    assert week.attending_count == 4
    html = response.content.decode()
    assert "Mon 30 Nov – Sun 6 Dec 2026 at Riverside" in html
    assert html.count('href="/staff/schedule/appointments/') == 4
    assert response.context["next_period_url"].endswith("date=2026-12-07&view=week")


def test_a_late_appointment_on_the_day_the_clocks_go_back_stays_on_that_day(
    client, fran, riverside
):
    late = appointment(riverside, date(2026, 11, 1), 23, 30, kind="consultation")

    response = board(client, fran, location=riverside.public_id, date="2026-10-28", view="week")

    week = response.context["week"]
    assert week.first_day == date(2026, 10, 26)
    assert [entry.appointment for entry in week.days[-1].entries] == [late]  # Sunday
    assert week.visit_row.counts == [0, 0, 0, 0, 0, 0, 1]
    assert late.starts_at.day == 2  # already Monday in UTC


def test_an_empty_week_says_so(client, fran, riverside):
    response = board(client, fran, location=riverside.public_id, date="2026-12-03", view="week")

    assert "No appointments from Mon 30 Nov to Sun 6 Dec at Riverside." in (
        response.content.decode()
    )


# --- Bad input -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"location": "not-a-uuid"}, "location", "no open location with that id"),
        ({"location": "00000000-0000-0000-0000-000000000000"}, "location", "no open location"),
        ({"date": "yesterday-ish"}, "date", "Enter the date as YYYY-MM-DD"),
        ({"date": "9999-12-31"}, "date", "Choose a date between 2000-01-01 and 2099-12-31"),
        ({"date": "0001-01-01"}, "date", "Choose a date between"),
        ({"view": "explode"}, "view", "Choose the day view or the week view"),
    ],
)
def test_nonsense_parameters_are_explained_and_the_defaults_shown(
    client, fran, riverside, params, field, message
):
    response = board(client, fran, **params)

    assert response.status_code == 200
    assert message in response.context["form"].errors[field][0]
    assert message in response.content.decode()
    assert response.context["location"] == riverside


def test_an_inactive_location_is_not_offered(client, fran, riverside):
    closed = clinic_location(name="Closed for good", is_active=False)

    response = board(client, fran, location=closed.public_id)

    assert response.context["location"] == riverside
    assert "no open location with that id" in response.content.decode()


# --- For the patient chart ---------------------------------------------------------------------


def test_a_patients_appointments_to_come_are_ready_for_the_chart(
    django_assert_num_queries, fran, nina, riverside
):
    patient = PatientFactory()
    day = next_week(riverside)
    appointment(
        riverside, day + timedelta(days=1), 9, chair=riverside.chairs.first(), patient=patient
    )
    soon = appointment(riverside, day, 11, kind="consultation", patient=patient)
    appointment(riverside, date(2026, 1, 5), 9, kind="consultation", patient=patient)  # past
    appointment(riverside, day, 9, kind="consultation")  # someone else's

    with django_assert_num_queries(1):
        entries = patient_appointments(fran, patient)

    assert [entry.appointment.starts_at for entry in entries][:1] == [soon.starts_at]
    assert len(entries) == 2
    html = render_to_string(
        "scheduling/appointments/partials/_patient_appointments.html",
        {"appointments": entries, "patient": patient, "can_book": True},
    )
    assert f"/staff/schedule/book/?patient={patient.public_id}" in html
    assert f"/staff/schedule/waitlist/new/?patient={patient.public_id}" in html
    assert f"{day:%a} {day.day} {day:%b %Y}, 11:00" in html


# --- Cost in queries ------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [1, 20])
def test_the_day_board_costs_the_same_queries_however_many_appointments(
    client, django_assert_num_queries, fran, nina, phil, riverside, count
):
    day = next_week(riverside)
    a_busy_day(riverside, day, count, nurse=nina, physician=phil)
    client.force_login(fran)

    with django_assert_num_queries(DAY_QUERIES):
        response = client.get(
            "/staff/schedule/", {"location": riverside.public_id, "date": day.isoformat()}
        )

    grid = response.context["board"]
    assert grid.attending_count + len(grid.not_attending) == count


@pytest.mark.parametrize("count", [1, 20])
def test_the_week_board_costs_the_same_queries_however_many_appointments(
    client, django_assert_num_queries, fran, nina, phil, riverside, count
):
    day = next_week(riverside)
    monday = day - timedelta(days=day.weekday())
    for offset in range(3):  # spread over Monday to Wednesday
        share = count // 3 + (1 if offset < count % 3 else 0)
        a_busy_day(riverside, monday + timedelta(days=offset), share, nurse=nina, physician=phil)
    client.force_login(fran)

    with django_assert_num_queries(WEEK_QUERIES):
        response = client.get(
            "/staff/schedule/",
            {"location": riverside.public_id, "date": day.isoformat(), "view": "week"},
        )

    week = response.context["week"]
    assert sum(len(one.entries) + one.not_attending_count for one in week.days) == count
