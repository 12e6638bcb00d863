"""Every way back to the day board names the day as the board reads it (``date=``, the day in
the location's own calendar), so staff land on the day they came from, not on today."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.template import Context, Template

from infusions.tests.factories import infusion_session
from scheduling.tests.factories import clinic_location
from scheduling.tests.test_booking import at, riverside_for


def board_link(html: str) -> str:
    start = html.index('data-testid="board-link"')
    href = html.rindex('href="', 0, start) + len('href="')
    return html[href : html.index('"', href)].replace("&amp;", "&")


def test_the_session_screen_leads_back_to_the_board_on_the_sessions_day(client, nina, phil):
    session = infusion_session(nina, phil, hour=9)
    appointment = session.appointment
    day = appointment.starts_at.astimezone(appointment.location.tz).date()
    client.force_login(nina)

    html = client.get(f"/staff/sessions/{session.public_id}/").content.decode()

    link = board_link(html)
    assert link == (
        f"/staff/schedule/?location={appointment.location.public_id}&date={day.isoformat()}"
        f"#appointment-{appointment.public_id}"
    )
    board = client.get(link.split("#")[0])
    assert board.context["day"] == day
    assert board.context["location"] == appointment.location
    assert f'id="appointment-{appointment.public_id}"' in board.content.decode()


def test_an_evening_session_far_west_of_utc_leads_back_to_its_own_day(client, nina, phil):
    waikiki = clinic_location(name="Waikiki", time_zone="Pacific/Honolulu", staff=[nina, phil])
    session = infusion_session(nina, phil, location=waikiki, hour=16)
    day = session.appointment.starts_at.astimezone(waikiki.tz).date()
    assert session.appointment.starts_at.date() == day + timedelta(days=1)  # already so in UTC
    client.force_login(nina)

    html = client.get(f"/staff/sessions/{session.public_id}/").content.decode()

    assert f"&date={day.isoformat()}#" in board_link(html)


def test_the_week_leads_to_each_of_its_days(client, fran, nina, phil):
    riverside = riverside_for(nina, phil)
    client.force_login(fran)

    html = client.get(
        "/staff/schedule/", {"location": riverside.public_id, "date": "2026-12-03", "view": "week"}
    ).content.decode()

    monday = date(2026, 11, 30)
    for day in (monday + timedelta(days=offset) for offset in range(7)):
        assert f'href="/staff/schedule/?location={riverside.public_id}&amp;date={day}"' in html


@pytest.mark.parametrize("hour", [0, 12, 23])
def test_the_tag_takes_a_day_or_a_moment_on_the_locations_clock(db, hour):
    honolulu = clinic_location(name="Waikiki", time_zone="Pacific/Honolulu")
    moment: datetime = at(honolulu, date(2026, 12, 1), hour)
    template = Template("{% load schedule_links %}{% board_url location when %}")

    from_moment = template.render(Context({"location": honolulu, "when": moment}))
    from_day = template.render(Context({"location": honolulu, "when": date(2026, 12, 1)}))

    assert from_moment == from_day
    assert from_day == f"/staff/schedule/?location={honolulu.public_id}&amp;date=2026-12-01"
