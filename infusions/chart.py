"""A picture of the session: blood pressure, heart rate and SpO2 over time, as inline SVG.

``session_chart`` is a pure function of plain data (points, the alert thresholds, marks on
the time axis and the location's time zone) and returns an ``SvgChart`` whose markup a
template prints as it is (its string is safe markup); every piece of text in it is escaped here.
No JavaScript and no library: the server draws it, so it prints and works everywhere.

Two panels share the time axis: systolic and diastolic pressure and heart rate on the upper
one (mmHg and beats a minute sit on similar scales), SpO2 on the lower one. Each series has
its own marker shape as well as its colour, the alert limits are dashed lines, and infusion
start, pause, resume and end and the session's events are marked on the time axis. The SVG
has a ``<title>`` and a ``<desc>`` saying in words what it shows; pages put the readings
next to it as a table too.

``chart_for_session`` (at the end) is the small selector that builds the data from the
models.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from html import escape

from django.utils.safestring import SafeString

from infusions.vitals import AlertThresholds

# The drawing's own coordinates; it scales to the width of its container.
WIDTH, HEIGHT = 760, 380
LEFT, RIGHT = 48, 684  # the alert limits are labelled right of the plot
TOP_PANEL = (40, 236)  # y of the top and bottom of the upper panel
LOW_PANEL = (262, 330)
AXIS_LABELS_Y = 348
LEGEND_Y = 370

SERIES = {
    # name: (label, colour, marker)
    "systolic": ("Systolic BP (mmHg)", "#b02a37", "triangle-up"),
    "diastolic": ("Diastolic BP (mmHg)", "#6f42c1", "triangle-down"),
    "heart_rate": ("Heart rate (/min)", "#0b5ed7", "circle"),
    "spo2": ("SpO2 (%)", "#146c43", "square"),
}


@dataclass(frozen=True)
class ChartPoint:
    """One reading; None where the value was not measured."""

    at: datetime
    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    spo2: int | None = None


@dataclass(frozen=True)
class ChartMark:
    """Something at a time: ``kind`` is "start", "pause", "resume", "end" or "event"."""

    at: datetime
    label: str
    kind: str = "event"


@dataclass(frozen=True)
class SvgChart:
    """The chart's markup (escaped already), and what it says in words."""

    svg: str
    title: str
    description: str
    empty: bool
    points: tuple[ChartPoint, ...] = ()
    marks: tuple[ChartMark, ...] = ()

    def __html__(self) -> str:
        return self.svg

    def __str__(self) -> str:
        # Templates turn a value into a string before escaping it: this one is markup whose
        # text was escaped here.
        return SafeString(self.svg)


def session_chart(
    points: Sequence[ChartPoint],
    thresholds: AlertThresholds,
    marks: Sequence[ChartMark],
    tz: tzinfo,
    *,
    id_prefix: str = "session-chart",
) -> SvgChart:
    """Draw ``points`` (any order) with ``thresholds`` and ``marks``, times in ``tz``.

    With no points there is nothing to draw: ``empty`` is True and ``svg`` is "".
    ``id_prefix`` keeps the ids of the title and description unique on the page."""
    title = "Vital signs over the session"
    points = sorted(points, key=lambda point: point.at)
    if not points:
        return SvgChart(
            svg="", title=title, description="No readings yet.", empty=True, marks=tuple(marks)
        )
    marks = sorted(marks, key=lambda mark: mark.at)
    times = [point.at for point in points] + [mark.at for mark in marks]
    start, end = min(times), max(times)
    if end - start < timedelta(minutes=10):
        start, end = start - timedelta(minutes=5), end + timedelta(minutes=5)
    x = _scale(start.timestamp(), end.timestamp(), LEFT, RIGHT)

    top_values = [
        value
        for point in points
        for value in (point.systolic, point.diastolic, point.heart_rate)
        if value is not None
    ]
    top_low = _floor(min([40, thresholds.heart_rate_below - 10, *top_values]), 20)
    top_high = _ceil(max([200, thresholds.systolic_at_or_above + 20, *top_values]), 20)
    y_top = _scale(top_low, top_high, TOP_PANEL[1], TOP_PANEL[0])
    spo2_values = [point.spo2 for point in points if point.spo2 is not None]
    low_low = _floor(min([thresholds.spo2_below - 4, *spo2_values]), 2)
    y_low = _scale(low_low, 100, LOW_PANEL[1], LOW_PANEL[0])

    description = _description(points, thresholds, marks, tz)
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        'width="100%" class="session-chart" role="img" '
        f'aria-labelledby="{_e(title_id)} {_e(desc_id)}" '
        'font-family="system-ui, sans-serif" font-size="11">',
        f'<title id="{_e(title_id)}">{_e(title)}</title>',
        f'<desc id="{_e(desc_id)}">{_e(description)}</desc>',
    ]
    parts += _panel(y_top, top_low, top_high, 20, TOP_PANEL, "mmHg, /min")
    parts += _panel(y_low, low_low, 100, 2 if 100 - low_low <= 10 else 4, LOW_PANEL, "SpO2 %")
    parts += _time_axis(start, end, x, tz)
    # The alert limits: dashed, labelled at the right.
    limits = [
        (y_top, thresholds.systolic_at_or_above, f"SBP ≥ {thresholds.systolic_at_or_above}"),
        (y_top, thresholds.diastolic_at_or_above, f"DBP ≥ {thresholds.diastolic_at_or_above}"),
        (y_top, thresholds.heart_rate_above, f"HR > {thresholds.heart_rate_above}"),
        (y_top, thresholds.heart_rate_below, f"HR < {thresholds.heart_rate_below}"),
        (y_low, thresholds.spo2_below, f"SpO2 < {thresholds.spo2_below}"),
    ]
    label_y = -100.0
    for y, value, label in sorted(limits, key=lambda limit: limit[0](limit[1])):
        yy = y(value)
        label_y = max(yy + 4, label_y + 12)  # labels close together are moved apart
        parts.append(
            f'<line class="threshold" x1="{LEFT}" x2="{RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" '
            'stroke="#dc3545" stroke-width="1" stroke-dasharray="6 4"/>'
        )
        parts.append(
            f'<text class="threshold-label" x="{RIGHT + 4}" y="{label_y:.1f}" '
            f'fill="#dc3545">{_e(label)}</text>'
        )
    parts += _marks(marks, x, tz)
    for name in ("systolic", "diastolic", "heart_rate"):
        parts += _series(name, points, x, y_top, tz)
    parts += _series("spo2", points, x, y_low, tz)
    parts += _legend()
    parts.append("</svg>")
    return SvgChart(
        svg="".join(parts),
        title=title,
        description=description,
        empty=False,
        points=tuple(points),
        marks=tuple(marks),
    )


# --- Pieces of the drawing ------------------------------------------------------------------


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _scale(low: float, high: float, out_low: float, out_high: float):
    span = (high - low) or 1

    def scale(value: float) -> float:
        return out_low + (value - low) * (out_high - out_low) / span

    return scale


def _floor(value: int, step: int) -> int:
    return value - value % step


def _ceil(value: int, step: int) -> int:
    return value + (-value) % step


def _panel(y, low: int, high: int, step: int, box: tuple[int, int], unit: str) -> list[str]:
    parts = [
        f'<rect x="{LEFT}" y="{box[0]}" width="{RIGHT - LEFT}" height="{box[1] - box[0]}" '
        'fill="none" stroke="#adb5bd"/>',
        f'<text x="4" y="{box[0] - 6}" fill="#495057">{_e(unit)}</text>',
    ]
    for value in range(low, high + 1, step):
        yy = y(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e9ecef"/>'
        )
        parts.append(
            f'<text x="{LEFT - 4}" y="{yy + 4:.1f}" text-anchor="end" fill="#495057">{value}</text>'
        )
    return parts


def _tick_minutes(span: timedelta) -> int:
    minutes = span.total_seconds() / 60
    for limit, step in ((30, 5), (90, 10), (180, 15), (360, 30)):
        if minutes <= limit:
            return step
    return 60


def _time_axis(start: datetime, end: datetime, x, tz: tzinfo) -> list[str]:
    """Ticks on round minutes of the local clock (so a DST day is labelled as lived)."""
    step = _tick_minutes(end - start)
    local = start.astimezone(tz)
    past = (local.hour * 60 + local.minute) % step
    tick = start.replace(second=0, microsecond=0) + timedelta(minutes=(step - past) % step)
    if tick < start:
        tick += timedelta(minutes=step)
    parts = []
    while tick <= end:
        xx = x(tick.timestamp())
        parts.append(
            f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{TOP_PANEL[0]}" y2="{LOW_PANEL[1]}" '
            'stroke="#f1f3f5"/>'
        )
        parts.append(
            f'<text class="time-label" x="{xx:.1f}" y="{AXIS_LABELS_Y}" text-anchor="middle" '
            f'fill="#495057">{_e(f"{tick.astimezone(tz):%H:%M}")}</text>'
        )
        tick += timedelta(minutes=step)
    return parts


MARK_STYLE = {
    "start": ("#198754", ""),
    "resume": ("#198754", ' stroke-dasharray="2 2"'),
    "pause": ("#fd7e14", ' stroke-dasharray="2 2"'),
    "end": ("#212529", ""),
    "stop": ("#dc3545", ""),
}


def _marks(marks: Sequence[ChartMark], x, tz: tzinfo) -> list[str]:
    parts = []
    row = 0
    for mark in marks:
        xx = x(mark.at.timestamp())
        when = f"{mark.at.astimezone(tz):%H:%M}"
        tooltip = f"<title>{_e(f'{when} {mark.label}')}</title>"
        if mark.kind == "event":
            # A small flag below the lower panel: events are many and short.
            y0 = LOW_PANEL[1]
            parts.append(
                f'<g class="mark mark-event">{tooltip}'
                f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{TOP_PANEL[0]}" y2="{y0}" '
                'stroke="#6c757d" stroke-width="1" stroke-dasharray="1 3"/>'
                f'<path d="M{xx:.1f},{y0 - 8} l5,8 h-10 z" fill="#6c757d"/></g>'
            )
            continue
        colour, dash = MARK_STYLE.get(mark.kind, ("#212529", ""))
        label_y = 14 + 12 * (row % 2)
        row += 1
        # Near the right edge the label goes to the left of its line.
        anchor = ' text-anchor="end"' if xx > RIGHT - 90 else ""
        xx_label = xx - 3 if anchor else xx + 3
        parts.append(
            f'<g class="mark mark-{_e(mark.kind)}">{tooltip}'
            f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{label_y + 3}" y2="{LOW_PANEL[1]}" '
            f'stroke="{colour}" stroke-width="1.5"{dash}/>'
            f'<text x="{xx_label:.1f}" y="{label_y}" fill="{colour}"{anchor}>'
            f"{_e(mark.label)}</text></g>"
        )
    return parts


def _marker(shape: str, cx: float, cy: float, colour: str) -> str:
    if shape == "circle":
        return f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{colour}"/>'
    if shape == "square":
        return f'<rect x="{cx - 3:.1f}" y="{cy - 3:.1f}" width="6" height="6" fill="{colour}"/>'
    if shape == "triangle-up":
        return f'<path d="M{cx:.1f},{cy - 4.5:.1f} l4,7 h-8 z" fill="{colour}"/>'
    return f'<path d="M{cx:.1f},{cy + 4.5:.1f} l4,-7 h-8 z" fill="{colour}"/>'


def _series(name: str, points: Sequence[ChartPoint], x, y, tz: tzinfo) -> list[str]:
    label, colour, shape = SERIES[name]
    present = [(point.at, getattr(point, name)) for point in points]
    present = [(at, value) for at, value in present if value is not None]
    if not present:
        return []
    coords = [(x(at.timestamp()), y(value)) for at, value in present]
    parts = [f'<g class="series series-{name}" aria-hidden="true">']
    if len(coords) > 1:
        line = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
        parts.append(f'<polyline points="{line}" fill="none" stroke="{colour}" stroke-width="2"/>')
    for (at, value), (cx, cy) in zip(present, coords, strict=True):
        when = f"{at.astimezone(tz):%H:%M}"
        parts.append(
            f'<g class="point"><title>{_e(f"{when} {label}: {value}")}</title>'
            f"{_marker(shape, cx, cy, colour)}</g>"
        )
    parts.append("</g>")
    return parts


def _legend() -> list[str]:
    parts = ['<g class="legend">']
    xx = LEFT
    for label, colour, shape in SERIES.values():
        parts.append(_marker(shape, xx + 4, LEGEND_Y - 4, colour))
        parts.append(f'<text x="{xx + 12}" y="{LEGEND_Y}" fill="#212529">{_e(label)}</text>')
        xx += 140
    parts.append(
        f'<line x1="{xx}" x2="{xx + 18}" y1="{LEGEND_Y - 4}" y2="{LEGEND_Y - 4}" '
        'stroke="#dc3545" stroke-dasharray="6 4"/>'
        f'<text x="{xx + 22}" y="{LEGEND_Y}" fill="#212529">Alert limit</text>'
    )
    parts.append("</g>")
    return parts


def _range(values: list[int]) -> str:
    low, high = min(values), max(values)
    return str(low) if low == high else f"{low} to {high}"


def _description(
    points: Sequence[ChartPoint],
    thresholds: AlertThresholds,
    marks: Sequence[ChartMark],
    tz: tzinfo,
) -> str:
    first, last = points[0].at.astimezone(tz), points[-1].at.astimezone(tz)
    count = len(points)
    sentences = [f"{count} reading{'s' if count != 1 else ''} from {first:%H:%M} to {last:%H:%M}."]
    for name in SERIES:
        values = [getattr(point, name) for point in points if getattr(point, name) is not None]
        if values:
            sentences.append(f"{SERIES[name][0]}: {_range(values)}.")
    sentences.append(
        f"Dashed lines are the alert limits: systolic {thresholds.systolic_at_or_above} or "
        f"more, diastolic {thresholds.diastolic_at_or_above} or more, heart rate above "
        f"{thresholds.heart_rate_above} or below {thresholds.heart_rate_below}, SpO2 below "
        f"{thresholds.spo2_below}."
    )
    if marks:
        marked = ", ".join(f"{mark.label} at {mark.at.astimezone(tz):%H:%M}" for mark in marks)
        sentences.append(f"Marked: {marked}.")
    return " ".join(sentences)


# --- The data, from the models --------------------------------------------------------------


def chart_for_session(
    session, *, id_prefix: str = "session-chart", readings=None, events=None
) -> SvgChart:
    """The chart of ``session``: its readings and events not entered in error, the moves
    into and out of infusing, the clinic's alert thresholds, the location's time zone.
    Three queries (readings, state changes, events); one when the caller passes the
    session's ``readings`` and ``events`` (all of them, in time order, as the session
    screen has read them for its flowsheet)."""
    from infusions.models import SessionEvent, VitalsReading
    from infusions.models.sessions import InfusionSessionState
    from infusions.vitals import alert_thresholds_from_settings

    state = InfusionSessionState
    if readings is None:
        values = VitalsReading.objects.filter(
            session=session, entered_in_error_at__isnull=True
        ).values_list("taken_at", "systolic", "diastolic", "heart_rate", "spo2")
    else:
        values = [
            (r.taken_at, r.systolic, r.diastolic, r.heart_rate, r.spo2)
            for r in readings
            if r.entered_in_error_at is None
        ]
    points = [
        ChartPoint(at=taken_at, systolic=sbp, diastolic=dbp, heart_rate=hr, spo2=spo2)
        for taken_at, sbp, dbp, hr, spo2 in values
    ]
    marks = []
    for change in session.state_changes.order_by("at", "id"):
        mark = _state_mark(change.from_state, change.to_state, state, session.is_esketamine)
        if mark is not None:
            marks.append(ChartMark(at=change.at, label=mark[0], kind=mark[1]))
    if events is None:
        events = SessionEvent.objects.filter(session=session, entered_in_error_at__isnull=True)
    for event in events:
        if event.entered_in_error_at is None:
            marks.append(ChartMark(at=event.occurred_at, label=event_label(event), kind="event"))
    return session_chart(
        points,
        alert_thresholds_from_settings(),
        marks,
        session.appointment.location.tz,
        id_prefix=id_prefix,
    )


def _state_mark(
    from_state: str, to_state: str, state, esketamine: bool = False
) -> tuple[str, str] | None:
    if esketamine:
        # The nasal spray: the dose starts and ends the "infusing" step at once.
        return ("Dose given", "start") if to_state == state.INFUSING else None
    if to_state == state.INFUSING:
        return ("Resumed", "resume") if from_state == state.PAUSED else ("Started", "start")
    if to_state == state.PAUSED:
        return ("Paused", "pause")
    if from_state in (state.INFUSING, state.PAUSED):
        if to_state == state.STOPPED_EARLY:
            return ("Stopped early", "stop")
        return ("Infusion ended", "end")
    return None


def event_label(event) -> str:
    """A side effect (with severity) and/or a medication given, in a few words."""
    parts = []
    if event.side_effect:
        what = event.description if event.side_effect == "other" else ""
        what = what or event.get_side_effect_display()
        parts.append(f"{what} ({event.get_severity_display().lower()})")
    if event.medication_name:
        parts.append(f"{event.medication_name} {event.medication_dose}".strip())
    return ", ".join(parts)
