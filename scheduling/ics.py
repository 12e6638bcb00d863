"""iCalendar (RFC 5545) output, with the VTIMEZONE that makes it exact.

A pure module: no database, no settings. ``ics_calendar`` writes a VCALENDAR with one VEVENT
whose start and end are local times in an IANA zone (``DTSTART;TZID=America/Chicago:…``)
and a VTIMEZONE for that zone worked out from zoneinfo's own data: every change of offset in
the year either side of the event, found a day at a time and pinned to the second. So a
calendar in any zone shows the right local time, on DST days too, without knowing the zone
itself (the complaint about ICS files without a VTIMEZONE, DOMAIN.md).

``ics_events_calendar`` writes one VCALENDAR with several VEVENTs (a course's infusions),
one VTIMEZONE per zone they use, covering a year either side of the first and the last.

Lines end in CRLF and are folded at 75 octets, never inside a UTF-8 character; TEXT values
are escaped.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

LINE_OCTETS = 75
_DATETIME = "%Y%m%dT%H%M%S"
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
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Chairside//Online booking//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    for tzid, starts in zones.items():
        lines += vtimezone_lines(tzid, min(starts), until=max(starts))
    for event in events:
        lines += _vevent_lines(event, now)
    lines.append("END:VCALENDAR")
    return "".join(ics_fold(line) + "\r\n" for line in lines)


def _vevent_lines(event: IcsEvent, now: datetime) -> list[str]:
    tz = ZoneInfo(event.tzid)
    return [
        "BEGIN:VEVENT",
        f"UID:{event.uid}",
        f"DTSTAMP:{now.astimezone(UTC):{_DATETIME}}Z",
        f"DTSTART;TZID={event.tzid}:{event.starts_at.astimezone(tz):{_DATETIME}}",
        f"DTEND;TZID={event.tzid}:{event.ends_at.astimezone(tz):{_DATETIME}}",
        f"SUMMARY:{ics_text(event.summary)}",
        f"LOCATION:{ics_text(event.location)}",
        f"DESCRIPTION:{ics_text(event.description)}",
        f"STATUS:{'CANCELLED' if event.cancelled else 'CONFIRMED'}",
        f"SEQUENCE:{event.sequence}",
        *([f"URL:{event.url}"] if event.url else []),
        "END:VEVENT",
    ]


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
    """A TEXT value escaped (RFC 5545 3.3.11): backslash, semicolon, comma, line breaks."""
    return (
        value.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
    )


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


def vtimezone_lines(tzid: str, around: datetime, *, until: datetime | None = None) -> list[str]:
    """A VTIMEZONE for IANA zone ``tzid`` valid from a year before ``around`` to a year after
    ``until`` (default ``around``): one STANDARD or DAYLIGHT observance per change zoneinfo
    knows of in that span, each a single occurrence (no RRULE, so nothing is guessed about
    other years), plus one from 1970 for the time before the first change when that is after
    ``around`` (for a zone without changes, the only one)."""
    tz = ZoneInfo(tzid)
    last = max(until or around, around)
    changes = _transitions(tz, around - TIMEZONE_REACH, last + TIMEZONE_REACH)
    lines = ["BEGIN:VTIMEZONE", f"TZID:{tzid}"]
    if not changes or changes[0].at > around:
        base = changes[0].before if changes else _observed(tz, around)
        lines += _observance(base, base, "19700101T000000")
    for change in changes:
        # DTSTART is the wall time the change happens at, on the clock before it.
        local_start = (change.at + change.before.offset).replace(tzinfo=None)
        lines += _observance(change.before, change.after, f"{local_start:{_DATETIME}}")
    lines.append("END:VTIMEZONE")
    return lines


def _observance(before: _Observed, after: _Observed, dtstart: str) -> list[str]:
    kind = "DAYLIGHT" if after.is_dst else "STANDARD"
    return [
        f"BEGIN:{kind}",
        f"DTSTART:{dtstart}",
        f"TZOFFSETFROM:{_utc_offset(before.offset)}",
        f"TZOFFSETTO:{_utc_offset(after.offset)}",
        f"TZNAME:{ics_text(after.name)}",
        f"END:{kind}",
    ]


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


def _utc_offset(offset: timedelta) -> str:
    """-0600, +0530, or +002030 when seconds are needed."""
    total = int(offset.total_seconds())
    sign = "-" if total < 0 else "+"
    hours, rest = divmod(abs(total), 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{sign}{hours:02d}{minutes:02d}" + (f"{seconds:02d}" if seconds else "")
