"""iCalendar (RFC 5545) output, with the VTIMEZONE that makes it exact.

A pure module: no database, no settings. The ``icalendar`` package builds the file: the
VCALENDAR with its VTIMEZONEs and VEVENTs, every property's value written in its RFC 5545
form (UTC stamps, offsets, integers, URIs) and TEXT escaped. ``ics_calendar`` writes a
VCALENDAR with one VEVENT whose start and end are local times in an IANA zone
(``DTSTART;TZID=America/Chicago:…``) and a VTIMEZONE for that zone, so a calendar in any
zone shows the right local time, on DST days too, without knowing the zone itself (the
complaint about ICS files without a VTIMEZONE, DOMAIN.md).

``ics_events_calendar`` writes one VCALENDAR with several VEVENTs (a course's infusions),
one VTIMEZONE per zone they use, covering a year either side of the first and the last.

What we keep of our own, because the library does it otherwise:
- The VTIMEZONE's observances, worked out from zoneinfo's own data: every change of offset
  in the year either side of the event, found a day at a time and pinned to the second,
  each a single occurrence whose DTSTART is the wall time of the change on the clock
  before it (as in RFC 5545's examples: 02:00 for both of Chicago's changes).
  icalendar's ``Timezone.from_tzid`` folds the changes into RDATEs and puts the spring
  change at 03:00, on the clock after it.
- Lines folded at exactly 75 octets (``ics_fold``), where icalendar folds at 74.
- ``DTSTART;TZID=UTC:…`` for a location whose zone is UTC, like every other zone, where
  icalendar would write ``…Z`` and no TZID.

Lines end in CRLF and are folded at 75 octets, never inside a UTF-8 character.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from icalendar import (
    Calendar,
    Event,
    Timezone,
    TimezoneDaylight,
    TimezoneStandard,
    vDatetime,
    vText,
)
from icalendar.parser import Parameters

LINE_OCTETS = 75
PRODID = "-//Chairside//Online booking//EN"
# How far either side of the event the VTIMEZONE describes the zone.
TIMEZONE_REACH = timedelta(days=366)


class IcsEvent(NamedTuple):
    """One VEVENT: ``starts_at`` and ``ends_at`` aware, shown on the clock of zone ``tzid``;
    ``summary``, ``location`` and ``description`` plain text (escaped when written)."""

    uid: str
    tzid: str
    starts_at: datetime
    ends_at: datetime
    summary: str
    location: str
    description: str
    cancelled: bool = False
    sequence: int = 0
    url: str = ""


def ics_events_calendar(events: list[IcsEvent], *, now: datetime) -> str:
    """A whole .ics file holding every one of ``events`` (in the order given), with a
    VTIMEZONE for each zone they use; ``now`` is every event's DTSTAMP."""
    if not events:
        raise ValueError("A calendar file needs at least one event.")
    zones: dict[str, list[datetime]] = {}
    for event in events:
        zones.setdefault(event.tzid, []).append(event.starts_at)
    calendar = Calendar()
    calendar.add("VERSION", "2.0")
    calendar.add("PRODID", PRODID)
    calendar.add("CALSCALE", "GREGORIAN")
    calendar.add("METHOD", "PUBLISH")
    for tzid, starts in zones.items():
        calendar.add_component(vtimezone(tzid, min(starts), until=max(starts)))
    for event in events:
        calendar.add_component(_vevent(event, now))
    # Properties in the order added (the library would sort them), each line folded here.
    lines = calendar.content_lines(sorted=False)
    return "".join(ics_fold(line) + "\r\n" for line in lines if line)


def _vevent(event: IcsEvent, now: datetime) -> Event:
    vevent = Event()
    vevent.add("UID", event.uid)
    vevent.add("DTSTAMP", now.astimezone(UTC))
    vevent.add("DTSTART", _on_the_clock(event.starts_at, event.tzid))
    vevent.add("DTEND", _on_the_clock(event.ends_at, event.tzid))
    vevent.add("SUMMARY", event.summary)
    vevent.add("LOCATION", event.location)
    vevent.add("DESCRIPTION", event.description)
    vevent.add("STATUS", "CANCELLED" if event.cancelled else "CONFIRMED")
    vevent.add("SEQUENCE", event.sequence)
    if event.url:
        vevent.add("URL", event.url)
    return vevent


def _on_the_clock(instant: datetime, tzid: str) -> vDatetime:
    """``instant`` as the local time of zone ``tzid``, with that TZID."""
    value = vDatetime(instant.astimezone(ZoneInfo(tzid)))
    return _ZoneTime(value.dt, tzid) if value.is_utc() else value


class _TzidParameters(Parameters):
    """The one parameter TZID, written even when it names UTC."""

    def to_ical(self, sorted: bool = True) -> bytes:
        return f"TZID={self.tzid}".encode()


class _ZoneTime(vDatetime):
    """A time in a zone icalendar takes for UTC (``UTC``, but also ``Atlantic/Reykjavik`` or
    ``Africa/Accra``) written like any other zone's, ``DTSTART;TZID=UTC:20260105T101500``
    against its VTIMEZONE: the file such a location has always had, naming its own zone.
    (icalendar would write ``20260105T101500Z`` and no TZID, the same instant.)"""

    def __init__(self, local: datetime, tzid: str) -> None:
        super().__init__(local.replace(tzinfo=None))
        self.params = _TzidParameters(TZID=tzid)

    def is_utc(self) -> bool:
        return False


def ics_calendar(
    *,
    uid: str,
    tzid: str,
    starts_at: datetime,
    ends_at: datetime,
    summary: str,
    location: str,
    description: str,
    now: datetime,
    cancelled: bool = False,
    sequence: int = 0,
    url: str = "",
) -> str:
    """A whole .ics file: one event from ``starts_at`` to ``ends_at`` (aware) shown on the
    clock of zone ``tzid``. ``summary``, ``location`` and ``description`` are plain text
    (escaped here); ``now`` is the DTSTAMP."""
    event = IcsEvent(
        uid=uid,
        tzid=tzid,
        starts_at=starts_at,
        ends_at=ends_at,
        summary=summary,
        location=location,
        description=description,
        cancelled=cancelled,
        sequence=sequence,
        url=url,
    )
    return ics_events_calendar([event], now=now)


def ics_text(value: str) -> str:
    """A TEXT value escaped as the file has it (RFC 5545 3.3.11, by icalendar): backslash,
    semicolon, comma, line breaks."""
    return vText(value).to_ical().decode()


def ics_fold(line: str) -> str:
    """Fold a content line into lines of at most 75 octets (RFC 5545 3.1), never inside a
    UTF-8 character; each continuation starts with a space."""
    if len(line.encode()) <= LINE_OCTETS:
        return line
    parts: list[str] = []
    current, size, limit = "", 0, LINE_OCTETS
    for char in line:
        octets = len(char.encode())
        if size + octets > limit:
            parts.append(current)
            # The leading space of a continuation line counts towards its 75.
            current, size, limit = "", 0, LINE_OCTETS - 1
        current += char
        size += octets
    parts.append(current)
    return "\r\n ".join(parts)


class _Observed(NamedTuple):
    offset: timedelta
    is_dst: bool
    name: str


class _Transition(NamedTuple):
    at: datetime  # UTC
    before: _Observed
    after: _Observed


def vtimezone(tzid: str, around: datetime, *, until: datetime | None = None) -> Timezone:
    """A VTIMEZONE for IANA zone ``tzid`` valid from a year before ``around`` to a year after
    ``until`` (default ``around``): one STANDARD or DAYLIGHT observance per change zoneinfo
    knows of in that span, each a single occurrence (no RRULE, so nothing is guessed about
    other years), plus one from 1970 for the time before the first change when that is after
    ``around`` (for a zone without changes, the only one)."""
    tz = ZoneInfo(tzid)
    last = max(until or around, around)
    changes = _transitions(tz, around - TIMEZONE_REACH, last + TIMEZONE_REACH)
    component = Timezone()
    component.add("TZID", tzid)
    if not changes or changes[0].at > around:
        base = changes[0].before if changes else _observed(tz, around)
        component.add_component(_observance(base, base, datetime(1970, 1, 1)))
    for change in changes:
        # DTSTART is the wall time the change happens at, on the clock before it.
        local_start = (change.at + change.before.offset).replace(tzinfo=None)
        component.add_component(_observance(change.before, change.after, local_start))
    return component


def _observance(
    before: _Observed, after: _Observed, onset: datetime
) -> TimezoneStandard | TimezoneDaylight:
    observance = TimezoneDaylight() if after.is_dst else TimezoneStandard()
    observance.add("DTSTART", onset)
    observance.add("TZOFFSETFROM", before.offset)
    observance.add("TZOFFSETTO", after.offset)
    observance.add("TZNAME", after.name)
    return observance


def _observed(tz: ZoneInfo, instant: datetime) -> _Observed:
    local = instant.astimezone(tz)
    return _Observed(
        offset=local.utcoffset() or timedelta(0),
        is_dst=bool(local.dst()),
        name=local.tzname() or "",
    )


def _transitions(tz: ZoneInfo, start: datetime, end: datetime) -> list[_Transition]:
    """Every change of offset, DST flag or abbreviation between ``start`` and ``end``, to the
    second: looked for a day at a time (no zone changes twice in a day), then bisected."""
    found = []
    step = timedelta(days=1)
    here, seen = start, _observed(tz, start)
    while here < end:
        there = min(here + step, end)
        observed = _observed(tz, there)
        if observed != seen:
            low, high = int(here.timestamp()), int(there.timestamp())
            while high - low > 1:
                middle = (low + high) // 2
                if _observed(tz, datetime.fromtimestamp(middle, UTC)) == seen:
                    low = middle
                else:
                    high = middle
            found.append(_Transition(datetime.fromtimestamp(high, UTC), seen, observed))
        here, seen = there, observed
    return found
