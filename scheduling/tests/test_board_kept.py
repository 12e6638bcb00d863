"""The boards' grids kept rendered (scheduling.board.kept): a second view costs a few queries,
every write to anything a grid shows is on the next view, and a reader never gets a grid
kept for someone who may see or do more (or less).

Each test starts at a fixed second of a minute (09:00:05 on the board's day at Riverside),
so that a second view in the same test is in the same minute: what changes the grid there is
the write, never the clock."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.conf import settings
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client

from clinic.audit import Action
from clinic.models import AuditEvent, Location, OpeningHours
from clinic.roles import Role
from infusions.models import InfusionSession, SessionAlert
from infusions.models.sessions import InfusionSessionState
from infusions.sessions import session_for_appointment, session_transition
from infusions.tests.factories import complete_pre_assessment, signed_order
from infusions.tests.test_flowsheet import STEPS, record, walk_to
from patients.tests.factories import PatientFactory
from scheduling.models import Appointment, AppointmentStatus
from scheduling.services.status_changes import appointment_cancel, appointment_set_status
from scheduling.tests.factories import ClosureFactory, StaffFactory, appointment_type
from scheduling.tests.test_board import (
    DAY_KEPT_QUERIES,
    DAY_QUERIES,
    WEEK_KEPT_QUERIES,
    WEEK_QUERIES,
    appointment,
)
from scheduling.tests.test_booking import (
    at,
    book,
    cleared_for_infusions,
    next_week,
    riverside_for,
)
from tests.clock import travel_to

Status = AppointmentStatus
S = InfusionSessionState
TOKEN = re.compile(r"\b[A-Za-z0-9]{64}\b")


@pytest.fixture
def riverside(nina, phil) -> Location:
    return riverside_for(nina, phil, chairs=2)


@pytest.fixture
def day(riverside):
    """The board's day: a week ahead, with the clock at 09:00:05 there."""
    day = next_week(riverside)
    travel_to(at(riverside, day, 9) + timedelta(seconds=5))
    return day


@pytest.fixture
def infusion(riverside, day, nina, phil) -> Appointment:
    """Ana Able's infusion at 10:00 in the first chair, with nina as its clinician."""
    return appointment(
        riverside,
        day,
        10,
        chair=riverside.chairs.order_by("name").first(),
        clinician=nina,
        patient=cleared_for_infusions(
            phil,
            PatientFactory(legal_first_name="Ana", legal_last_name="Able", preferred_name=""),
        ),
    )


def day_board(client, user, location, day) -> str:
    if user is not None:
        client.force_login(user)
    response = client.get("/staff/schedule/", {"location": location.public_id, "date": day})
    assert response.status_code == 200
    return response.content.decode()


def week_board(client, user, location, day) -> str:
    if user is not None:
        client.force_login(user)
    response = client.get(
        "/staff/schedule/", {"location": location.public_id, "date": day, "view": "week"}
    )
    assert response.status_code == 200
    return response.content.decode()


BOARDS = [day_board, week_board]


# --- Kept, and what it costs ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("view", "drawn", "kept"),
    [(day_board, DAY_QUERIES, DAY_KEPT_QUERIES), (week_board, WEEK_QUERIES, WEEK_KEPT_QUERIES)],
)
@pytest.mark.parametrize("count", [1, 12])
def test_a_board_seen_again_is_the_kept_one_at_a_constant_cost(
    client, django_assert_num_queries, fran, riverside, day, view, drawn, kept, count
):
    for hour in range(count):
        appointment(riverside, day, 8 + hour % 10, kind="consultation")
    client.force_login(fran)
    with django_assert_num_queries(drawn):
        first = view(client, None, riverside, day)

    with django_assert_num_queries(kept):
        again = view(client, None, riverside, day)

    # The same page but for the CSRF tokens (masked afresh for each response).
    assert re.sub(TOKEN, "T", again) == re.sub(TOKEN, "T", first)


@pytest.mark.parametrize("view", BOARDS)
def test_a_kept_board_is_still_an_audited_read_of_patient_data(
    client, fran, riverside, day, infusion, view
):
    view(client, fran, riverside, day)
    view(client, fran, riverside, day)

    summaries = list(
        AuditEvent.objects.filter(actor=fran, action=Action.VIEW)
        .values_list("summary", flat=True)
        .order_by("id")
    )
    assert len(summaries) == 2
    assert summaries[0] == summaries[1]
    assert summaries[1].endswith(": 1 appointments shown")


def test_the_week_counts_only_the_attending_in_its_audit(client, fran, riverside, day, infusion):
    appointment(
        riverside, day, 11, kind="consultation", status=Status.CANCELLED, cancel_reason="unwell"
    )
    week_board(client, fran, riverside, day)
    week_board(client, fran, riverside, day)

    latest = AuditEvent.objects.filter(actor=fran, action=Action.VIEW).latest("id")
    assert latest.summary.endswith(": 1 appointments shown")


def test_the_day_is_drawn_again_in_the_next_minute(client, fran, riverside, day, infusion):
    travel_to(at(riverside, day, 8, 59) + timedelta(seconds=5))
    before = day_board(client, fran, riverside, day)
    travel_to(at(riverside, day, 9) + timedelta(seconds=5))

    after = day_board(client, fran, riverside, day)

    # Check-in opened at 09:00, an hour before the 10:00 infusion.
    assert before.count('data-action="check-in"') == 0
    assert after.count('data-action="check-in"') == 1


# --- Every write shows on the next view -----------------------------------------------------------


@pytest.mark.parametrize("view", BOARDS)
def test_a_booking_shows(client, fran, riverside, day, infusion, view):
    view(client, fran, riverside, day)
    book(fran, PatientFactory(legal_first_name="Bea", legal_last_name="Booked"), riverside, day=day)

    assert "Bea Booked" in view(client, fran, riverside, day)


@pytest.mark.parametrize("view", BOARDS)
def test_a_cancellation_shows(client, fran, riverside, day, infusion, view):
    appointment(riverside, day, 11, kind="consultation")  # the week lists days with any
    view(client, fran, riverside, day)
    appointment_cancel(actor=fran, appointment=infusion, reason="patient unwell")

    html = view(client, fran, riverside, day)
    if view is day_board:
        assert "<del>Ana Able</del>" in html
        assert "Reason: patient unwell" in html
    else:
        assert "Ana Able" not in html
        assert "(1 cancelled or no-show)" in html


def test_a_check_in_shows_with_its_undo(client, fran, riverside, day, infusion):
    travel_to(at(riverside, day, 9, 45) + timedelta(seconds=5))
    before = day_board(client, fran, riverside, day)
    appointment_set_status(actor=fran, appointment=infusion, status=Status.CHECKED_IN)

    after = day_board(client, fran, riverside, day)

    assert 'data-action="check-in"' in before
    assert 'data-action="check-in"' not in after
    assert 'data-status="checked_in"' in after
    assert "Undo check-in" in after


@pytest.mark.parametrize("view", BOARDS)
def test_a_status_written_by_hand_shows(client, fran, riverside, day, infusion, view):
    view(client, fran, riverside, day)
    Appointment.objects.filter(pk=infusion.pk).update(status=Status.NO_SHOW)

    html = view(client, fran, riverside, day)
    assert "No-show" in html if view is day_board else "Ana Able" not in html


@pytest.mark.parametrize("view", BOARDS)
def test_a_deleted_appointment_goes(client, fran, riverside, day, infusion, view):
    view(client, fran, riverside, day)
    infusion.delete()

    assert "Ana Able" not in view(client, fran, riverside, day)


@pytest.mark.parametrize("view", BOARDS)
def test_an_appointment_moved_to_another_week_goes(client, fran, riverside, day, infusion, view):
    view(client, fran, riverside, day)
    Appointment.objects.filter(pk=infusion.pk).update(
        starts_at=infusion.starts_at + timedelta(days=14),
        ends_at=infusion.ends_at + timedelta(days=14),
        blocks_until=infusion.blocks_until + timedelta(days=14),
    )

    assert "Ana Able" not in view(client, fran, riverside, day)


@pytest.mark.parametrize("view", BOARDS)
def test_a_renamed_patient_shows(client, fran, riverside, day, infusion, view):
    view(client, fran, riverside, day)
    patient = infusion.patient
    patient.legal_last_name = "Archer"
    patient.save(update_fields=["legal_last_name"])

    html = view(client, fran, riverside, day)
    assert "Ana Archer" in html
    assert "Ana Able" not in html


@pytest.mark.parametrize("view", BOARDS)
def test_a_renamed_chair_shows(client, fran, riverside, day, infusion, view):
    view(client, fran, riverside, day)
    chair = infusion.chair
    chair.name = "Window bay"
    chair.save(update_fields=["name"])

    assert "Window bay" in view(client, fran, riverside, day)


def test_a_chair_change_shows(client, fran, riverside, day, infusion):
    week_board(client, fran, riverside, day)
    other = riverside.chairs.exclude(pk=infusion.chair_id).get()
    Appointment.objects.filter(pk=infusion.pk).update(chair=other)

    html = week_board(client, fran, riverside, day)
    assert f"<td>{other.name} · " in html


@pytest.mark.parametrize("view", BOARDS)
def test_a_renamed_appointment_type_shows(client, fran, riverside, day, infusion, view):
    view(client, fran, riverside, day)
    kind = appointment_type("infusion")
    kind.name = "Ketamine infusion (IV)"
    kind.save(update_fields=["name"])

    assert "Ketamine infusion (IV)" in view(client, fran, riverside, day)


@pytest.mark.parametrize("view", BOARDS)
def test_a_renamed_clinician_shows(client, fran, phil, riverside, day, view):
    appointment(riverside, day, 11, kind="consultation", clinician=phil)
    view(client, fran, riverside, day)
    phil.full_name = "Dr Philippa Stone"
    phil.save(update_fields=["full_name"])

    assert "Dr Philippa Stone" in view(client, fran, riverside, day)


@pytest.mark.parametrize("view", BOARDS)
def test_new_opening_hours_show(client, fran, riverside, day, infusion, view):
    view(client, fran, riverside, day)
    OpeningHours.objects.filter(location=riverside, weekday=day.weekday()).update(opens_at="07:30")

    assert "Open 07:30–18:00" in view(client, fran, riverside, day)


@pytest.mark.parametrize("view", BOARDS)
def test_a_closure_shows(client, fran, riverside, day, infusion, view):
    view(client, fran, riverside, day)
    ClosureFactory(location=riverside, starts_on=day, ends_on=day, reason="Burst pipe")

    assert "Burst pipe" in view(client, fran, riverside, day)


@pytest.mark.parametrize("view", BOARDS)
def test_a_renamed_location_shows(client, fran, riverside, day, infusion, view):
    view(client, fran, riverside, day)
    Location.objects.filter(pk=riverside.pk).update(name="Riverside East")

    assert f"{day:%a} {day.day} {day:%b}" in view(client, fran, riverside, day)
    assert "at Riverside East" in view(client, fran, riverside, day)


# --- What the apps above add to a card: the infusion session --------------------------------------


def test_the_session_state_shows(client, nina, riverside, day, infusion):
    travel_to(at(riverside, day, 9, 45) + timedelta(seconds=5))
    session = session_for_appointment(appointment=infusion, actor=nina)
    session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)
    before = day_board(client, nina, riverside, day)
    # The session alone moves (its checks passed): the appointment stays checked in.
    InfusionSession.objects.filter(pk=session.pk).update(state=S.PRE_ASSESSMENT_PASSED)

    after = day_board(client, nina, riverside, day)

    assert "Next: pre-infusion checks" in before
    assert "Checks passed · next: the dose order" in after


def test_a_signed_dose_order_shows(client, nina, phil, riverside, day, infusion):
    travel_to(at(riverside, day, 9, 45) + timedelta(seconds=5))
    session = session_for_appointment(appointment=infusion, actor=nina)
    session = session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)
    complete_pre_assessment(session, nina)
    session = session_transition(actor=nina, session=session, to_state=S.PRE_ASSESSMENT_PASSED)
    before = day_board(client, nina, riverside, day)
    signed_order(session, phil)

    after = day_board(client, nina, riverside, day)

    assert 'data-action="start-infusion"' not in before
    assert 'data-action="start-infusion"' in after


def test_an_open_alert_and_its_acknowledgement_show(client, nina, phil, riverside, day, infusion):
    travel_to(at(riverside, day, 10) + timedelta(seconds=5))
    session = walk_to(
        session_for_appointment(appointment=infusion, actor=nina), nina, STEPS[S.INFUSING]
    )
    travel_to(at(riverside, day, 10, 30) + timedelta(seconds=5))
    before = day_board(client, nina, riverside, day)
    record(nina, session, spo2=88)

    raised = day_board(client, nina, riverside, day)
    SessionAlert.objects.filter(session=session).update(
        acknowledged_at=at(riverside, day, 10, 30), acknowledged_by=nina, action="recheck"
    )
    acknowledged = day_board(client, nina, riverside, day)

    assert 'data-testid="open-alerts"' not in before
    assert "1 open alert" in raised
    assert 'data-testid="open-alerts"' not in acknowledged


# --- Readers never share what they may not --------------------------------------------------------


def test_the_front_desk_never_gets_a_grid_kept_for_a_nurse(
    client, fran, nina, riverside, day, infusion
):
    travel_to(at(riverside, day, 9, 45) + timedelta(seconds=5))
    session = session_for_appointment(appointment=infusion, actor=nina)
    session_transition(actor=nina, session=session, to_state=S.CHECKED_IN)
    Appointment.objects.filter(pk=infusion.pk).update(status=Status.CHECKED_IN)
    InfusionSession.objects.filter(pk=session.pk).update(state=S.INFUSING)
    Appointment.objects.filter(pk=infusion.pk).update(status=Status.INFUSING)

    nurse = day_board(client, nina, riverside, day)
    desk = day_board(client, fran, riverside, day)

    assert 'data-testid="session-link"' in nurse
    assert 'data-action="recovery"' in nurse
    assert 'data-testid="session-link"' not in desk
    assert 'data-action="recovery"' not in desk


def test_a_nurse_never_gets_a_grid_kept_for_the_front_desk(
    client, fran, nina, riverside, day, infusion
):
    desk = day_board(client, fran, riverside, day)
    nurse = day_board(client, nina, riverside, day)

    assert 'data-testid="session-link"' not in desk
    assert 'data-testid="session-link"' in nurse


def test_a_content_editor_gets_no_grid_at_all(client, edie, fran, riverside, day, infusion):
    day_board(client, fran, riverside, day)
    client.force_login(edie)

    response = client.get("/staff/schedule/", {"location": riverside.public_id, "date": day})

    assert response.status_code == 403
    assert b"Ana Able" not in response.content


def test_only_the_author_sees_their_undo_when_no_role_is_shared(client, fran, riverside, day):
    """The author of a check-in may undo it, and so may anyone in a role they held then;
    a colleague with the author's roles of today, but not the author, must not get the
    author's grid (nor the author theirs)."""
    author = StaffFactory(email="gus@clinic.test", roles=[Role.CLINIC_ADMIN])
    visit = appointment(riverside, day, 9, 30, kind="consultation")
    appointment_set_status(actor=author, appointment=visit, status=Status.CHECKED_IN)
    # Moved to the front desk since: fran shares no role with the author's at the time.
    author.roles = [Role.FRONT_DESK]
    author.save(update_fields=["roles"])

    colleague_first = day_board(client, fran, riverside, day)
    authors = day_board(client, author, riverside, day)
    colleague_again = day_board(client, fran, riverside, day)

    assert "Undo check-in" not in colleague_first
    assert "Undo check-in" in authors
    assert "Undo check-in" not in colleague_again


def test_the_page_each_move_comes_back_to_is_the_readers(client, fran, riverside, day, infusion):
    travel_to(at(riverside, day, 9, 45) + timedelta(seconds=5))
    client.force_login(fran)
    plain = client.get(
        "/staff/schedule/", {"location": riverside.public_id, "date": day}
    ).content.decode()
    other = client.get(
        "/staff/schedule/", {"date": day, "location": riverside.public_id}
    ).content.decode()

    assert f"date={day.isoformat()}&amp;location=" in other
    assert f"date={day.isoformat()}&amp;location=" not in plain


def test_each_reader_gets_their_own_csrf_token(client, fran, riverside, day, infusion):
    other_screen = Client()
    pages = [day_board(one, fran, riverside, day) for one in (client, other_screen)]

    marker = 'name="csrfmiddlewaretoken" value="'
    tokens = [{part.split('"', 1)[0] for part in html.split(marker)[1:]} for html in pages]
    secrets = [one.cookies[settings.CSRF_COOKIE_NAME].value for one in (client, other_screen)]
    assert [{_unmask_cipher_token(token) for token in found} for found in tokens] == [
        {secret} for secret in secrets
    ]
    assert secrets[0] != secrets[1]
