"""The .ics file: a VTIMEZONE that really defines the zone, the right local DTSTART on the
days around Chicago's clock changes (2026-03-08 and 2026-11-01), lines folded at 75 octets
and ended with CRLF, text escaped; and the same file through the booking pages and email.

``local_to_utc`` reads the VTIMEZONE back the way a calendar does, so these tests check the
file means the right instant, not only that it looks as expected."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from clinic.messaging.registry import kind_named
from clinic.models import OutboxMessage
from scheduling.calendar_files import appointment_ics
from scheduling.ics import IcsEvent, ics_calendar, ics_events_calendar, ics_fold, ics_text
from scheduling.message_queue import CONFIRMATION
from scheduling.models import Appointment
from scheduling.services.book_and_reschedule import appointment_reschedule
from scheduling.services.status_changes import appointment_cancel
from scheduling.tests import test_public_booking
from scheduling.tests.factories import AppointmentFactory, appointment_type
from scheduling.tests.test_booking import at, next_week
from scheduling.tests.test_public_booking import details_url, form_data, token_of

CHICAGO = ZoneInfo("America/Chicago")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

booking_cache = test_public_booking.booking_cache
riverside = test_public_booking.riverside


# --- Reading a file back as a calendar would ------------------------------------------------


def unfold(content: str) -> list[str]:
    return content.replace("\r\n ", "").split("\r\n")[:-1]


def value(content: str, name: str) -> str:
    """The value of the event's ``name`` property (parameters and all after the name)."""
    lines = unfold(content)
    for line in lines[lines.index("BEGIN:VEVENT") :]:
        if re.match(rf"{name}[;:]", line):
            return line[len(name) :]
    raise AssertionError(f"no {name} in {content}")


def _offset(text: str) -> timedelta:
    sign = -1 if text[0] == "-" else 1
    hours, minutes, seconds = int(text[1:3]), int(text[3:5]), int(text[5:7] or 0)
    return sign * timedelta(hours=hours, minutes=minutes, seconds=seconds)


def observances(content: str) -> list[dict[str, str]]:
    found, current = [], None
    for line in unfold(content):
        if line in ("BEGIN:STANDARD", "BEGIN:DAYLIGHT"):
            current = {"kind": line.split(":")[1]}
        elif line in ("END:STANDARD", "END:DAYLIGHT"):
            found.append(current)
            current = None
        elif current is not None:
            name, _, text = line.partition(":")
            current[name] = text
    return found


def local_to_utc(content: str, local: str) -> datetime:
    """The instant a local ``YYYYMMDDTHHMMSS`` in the file's VTIMEZONE stands for: the
    offset of the latest observance that has begun by then."""
    wall = datetime.strptime(local, "%Y%m%dT%H%M%S")
    onsets = sorted(
        (
            datetime.strptime(o["DTSTART"], "%Y%m%dT%H%M%S") - _offset(o["TZOFFSETFROM"]),
            _offset(o["TZOFFSETTO"]),
        )
        for o in observances(content)
    )
    for onset, offset in reversed(onsets):
        if onset <= wall - offset:
            return (wall - offset).replace(tzinfo=UTC)
    raise AssertionError(f"no observance covers {local}")


def event(tzid: str, starts_at: datetime, **fields: object) -> str:
    values = {
        "uid": "test@example.com",
        "tzid": tzid,
        "starts_at": starts_at,
        "ends_at": starts_at + timedelta(minutes=45),
        "summary": "Consultation at Lakeside Clinic",
        "location": "Riverside, 1 River St, Chicago IL 60601",
        "description": "To reach us: +13125550100.",
        "now": NOW,
        **fields,
    }
    return ics_calendar(**values)


# --- Chicago around its clock changes -----------------------------------------------------------


def test_a_consultation_the_day_after_the_clocks_go_back_is_at_9_local():
    starts_at = datetime(2026, 11, 2, 9, 0, tzinfo=CHICAGO)
    content = event("America/Chicago", starts_at)
    assert value(content, "DTSTART") == ";TZID=America/Chicago:20261102T090000"
    assert value(content, "DTEND") == ";TZID=America/Chicago:20261102T094500"
    assert {
        "kind": "STANDARD",
        "DTSTART": "20261101T020000",
        "TZOFFSETFROM": "-0500",
        "TZOFFSETTO": "-0600",
        "TZNAME": "CST",
    } in observances(content)
    assert local_to_utc(content, "20261102T090000") == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)


def test_a_consultation_the_day_after_the_clocks_go_forward_is_at_9_local():
    starts_at = datetime(2026, 3, 9, 9, 0, tzinfo=CHICAGO)
    content = event("America/Chicago", starts_at)
    assert value(content, "DTSTART") == ";TZID=America/Chicago:20260309T090000"
    assert {
        "kind": "DAYLIGHT",
        "DTSTART": "20260308T020000",
        "TZOFFSETFROM": "-0600",
        "TZOFFSETTO": "-0500",
        "TZNAME": "CDT",
    } in observances(content)
    assert local_to_utc(content, "20260309T090000") == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


def test_the_vtimezone_names_the_zone_and_covers_the_year_around_the_event():
    content = event("America/Chicago", datetime(2026, 11, 2, 9, 0, tzinfo=CHICAGO))
    lines = unfold(content)
    start, end = lines.index("BEGIN:VTIMEZONE"), lines.index("END:VTIMEZONE")
    assert lines[start + 1] == "TZID:America/Chicago"
    assert start < lines.index("BEGIN:VEVENT")
    starts = [o["DTSTART"] for o in observances(content)]
    assert starts == [
        "20251102T020000",
        "20260308T020000",
        "20261101T020000",
        "20270314T020000",
    ]
    assert end > start


@pytest.mark.parametrize(
    "tzid",
    [
        "America/Chicago",
        "America/New_York",
        "America/Phoenix",  # no DST
        "America/St_Johns",  # -03:30 / -02:30
        "Europe/London",
        "Australia/Sydney",  # southern hemisphere
        "Asia/Kolkata",  # +05:30, no DST
        "Pacific/Chatham",  # +12:45 / +13:45
        "UTC",
    ],
)
def test_every_local_start_means_the_right_instant_all_year(tzid):
    tz = ZoneInfo(tzid)
    day = date(2026, 1, 5)
    while day < date(2027, 1, 5):
        starts_at = datetime.combine(day, time(10, 15), tz)
        content = event(tzid, starts_at)
        local = value(content, "DTSTART").split(":", 1)[1]
        assert local == f"{starts_at:%Y%m%dT%H%M%S}"
        assert local_to_utc(content, local) == starts_at.astimezone(UTC), (tzid, day)
        day += timedelta(days=9)


def test_a_zone_that_never_changes_has_one_observance():
    content = event(
        "America/Phoenix", datetime(2026, 7, 1, 9, 0, tzinfo=ZoneInfo("America/Phoenix"))
    )
    assert observances(content) == [
        {
            "kind": "STANDARD",
            "DTSTART": "19700101T000000",
            "TZOFFSETFROM": "-0700",
            "TZOFFSETTO": "-0700",
            "TZNAME": "MST",
        }
    ]


# --- The format ----------------------------------------------------------------------------------


def test_one_file_holds_a_course_across_a_clock_change_each_at_10_local():
    days = [date(2026, 10, 26), date(2026, 10, 29), date(2026, 11, 2), date(2026, 11, 5)]
    events = [
        IcsEvent(
            uid=f"infusion-{number}@example.com",
            tzid="America/Chicago",
            starts_at=datetime.combine(day, time(10), tzinfo=CHICAGO),
            ends_at=datetime.combine(day, time(12), tzinfo=CHICAGO),
            summary="Infusion appointment at Lakeside Clinic",
            location="Riverside, 1 River St",
            description="To reach us: +13125550100.",
        )
        for number, day in enumerate(days, start=1)
    ]

    content = ics_events_calendar(events, now=NOW)

    assert content.count("BEGIN:VCALENDAR") == 1 and content.count("BEGIN:VTIMEZONE") == 1
    starts = [line for line in unfold(content) if line.startswith("DTSTART;TZID=")]
    assert len(starts) == 4 and content.count("BEGIN:VEVENT") == 4
    for line, day in zip(starts, days, strict=True):
        local = line.rpartition(":")[2]
        assert local == f"{day:%Y%m%d}T100000"
        assert local_to_utc(content, local) == datetime.combine(day, time(10), tzinfo=CHICAGO)


def test_a_file_needs_an_event():
    with pytest.raises(ValueError, match="at least one event"):
        ics_events_calendar([], now=NOW)


def test_lines_end_in_crlf_and_fold_at_75_octets_without_splitting_a_character():
    long_place = "Clínica Ñandú — Ünïversity Pavilion, Suite 1200; entrance on Lake Shore Drive"
    content = event(
        "America/Chicago",
        datetime(2026, 11, 2, 9, 0, tzinfo=CHICAGO),
        location=long_place * 3,
        description="Line one\nLine two, with a comma; and a semicolon \\ backslash",
        url="https://clinic.example/book/manage/" + "t" * 120 + "/",
    )
    assert content.endswith("\r\n")
    assert "\n" not in content.replace("\r\n", "")
    assert "\r" not in content.replace("\r\n", "")
    physical = content.split("\r\n")[:-1]
    assert max(len(line.encode()) for line in physical) <= 75
    assert any(line.startswith(" ") for line in physical), "something was folded"
    assert value(content, "LOCATION") == ":" + ics_text(long_place * 3)
    assert value(content, "DESCRIPTION") == (
        ":Line one\\nLine two\\, with a comma\\; and a semicolon \\\\ backslash"
    )
    assert value(content, "URL") == ":https://clinic.example/book/manage/" + "t" * 120 + "/"


def test_folding_counts_octets_not_characters():
    line = "SUMMARY:" + "é" * 70  # 148 octets; é is two
    folded = ics_fold(line)
    parts = folded.split("\r\n")
    # 8 + 33 * 2 = 74: another é would make 76. Then a space and 37 * 2 = 75.
    assert [len(part.encode()) for part in parts] == [74, 75]
    assert all(part.startswith(" ") for part in parts[1:])
    assert folded.replace("\r\n ", "") == line
    assert ics_fold("SUMMARY:short") == "SUMMARY:short"
    exactly = "X" * 75
    assert ics_fold(exactly) == exactly
    assert ics_fold("X" * 150).split("\r\n") == ["X" * 75, " " + "X" * 74, " X"]


def test_the_calendar_has_the_required_properties_in_order():
    content = event("America/Chicago", datetime(2026, 11, 2, 9, 0, tzinfo=CHICAGO))
    lines = unfold(content)
    assert lines[:5] == [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Chairside//Online booking//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    assert lines[-1] == "END:VCALENDAR"
    assert "UID:test@example.com" in lines
    assert "DTSTAMP:20260301T120000Z" in lines
    assert "SUMMARY:Consultation at Lakeside Clinic" in lines
    assert "STATUS:CONFIRMED" in lines


# --- An appointment's file ------------------------------------------------------------------------


@pytest.fixture
def consultation_at(riverside, phil):
    def make(starts_at: datetime) -> Appointment:
        return AppointmentFactory(
            location=riverside,
            clinician=phil,
            appointment_type=appointment_type("consultation"),
            starts_at=starts_at,
            source=Appointment.Source.ONLINE,
        )

    return make


def test_an_appointment_file_names_it_and_its_place(consultation_at, settings):
    settings.CLINIC_NAME = "Lakeside Clinic"
    appointment = consultation_at(datetime(2026, 11, 2, 9, 0, tzinfo=CHICAGO))
    content = appointment_ics(appointment, host="clinic.example", url="https://x.example/m/")
    assert f"UID:{appointment.public_id}@clinic.example" in unfold(content)
    assert "SUMMARY:Consultation at Lakeside Clinic" in unfold(content)
    assert "LOCATION:Riverside\\, 1 River St\\, Chicago IL 60601" in unfold(content)
    assert "To change or cancel: https://x.example/m/" in value(content, "DESCRIPTION")
    assert "SEQUENCE:0" in unfold(content)


def test_a_moved_or_cancelled_appointment_updates_the_same_event(consultation_at, riverside, fran):
    day = next_week(riverside)
    appointment = consultation_at(at(riverside, day, 9))
    # Booked an hour ago: SEQUENCE counts the seconds since.
    Appointment.objects.filter(pk=appointment.pk).update(
        created_at=appointment.created_at - timedelta(hours=1)
    )
    appointment.refresh_from_db()
    appointment_reschedule(actor=fran, appointment=appointment, starts_at=at(riverside, day, 11))
    moved = appointment_ics(appointment, host="clinic.example")
    assert value(moved, "DTSTART") == f";TZID=America/Chicago:{day:%Y%m%d}T110000"
    assert int(value(moved, "SEQUENCE")[1:]) >= 3600
    appointment_cancel(actor=fran, appointment=appointment, reason="patient unwell")
    cancelled = appointment_ics(appointment, host="clinic.example")
    assert "STATUS:CANCELLED" in unfold(cancelled)
    assert value(cancelled, "UID") == value(moved, "UID")
    assert int(value(cancelled, "SEQUENCE")[1:]) >= int(value(moved, "SEQUENCE")[1:])


# --- Through the booking pages, on Chicago's clock-change weeks ---------------------------


@pytest.mark.parametrize(
    ("now", "day", "utc_start"),
    [
        (datetime(2026, 10, 26, 12, 0, tzinfo=UTC), date(2026, 11, 2), "2026-11-02T15:00Z"),
        (datetime(2026, 3, 2, 12, 0, tzinfo=UTC), date(2026, 3, 9), "2026-03-09T14:00Z"),
    ],
)
def test_a_booking_made_online_shows_9_am_local_everywhere(
    client, riverside, monkeypatch, django_capture_on_commit_callbacks, now, day, utc_start
):
    monkeypatch.setattr(timezone, "now", lambda: now)
    slots = client.get(f"/book/{riverside.public_id}/?week=1").content.decode()
    assert f'start={utc_start}" aria-label="{day:%A}, {day:%B} {day.day}, {day.year}, 9:00 AM' in (
        slots
    )
    starts_at = datetime.combine(day, time(9), CHICAGO)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(details_url(riverside), form_data(starts_at))
    assert response.status_code == 302
    token = token_of(response)
    download = client.get(f"/book/manage/{token}/calendar.ics").content.decode()
    [confirmation] = OutboxMessage.objects.filter(kind=CONFIRMATION, channel="email")
    attached = kind_named(CONFIRMATION).render(confirmation).attachments[0][1]
    for content in (download, attached):
        local = f"{day:%Y%m%d}T090000"
        assert value(content, "DTSTART") == f";TZID=America/Chicago:{local}"
        assert local_to_utc(content, local) == starts_at.astimezone(UTC)
    assert value(download, "UID") == value(attached, "UID")
