"""A picture of a patient's questionnaire scores over time, with the infusions marked, as
inline SVG.

``trajectory_svg`` is a pure function of plain data (the scores of each questionnaire,
the times infusions started, a time zone) and returns the markup as a safe string that a
template prints as it is: every piece of text in it is escaped here. No JavaScript, no
library: the server draws it, like ``infusions.chart`` draws a session.

One small panel per questionnaire, one under the other, on a shared time axis so an
infusion lines up across panels. Each panel's scale is the questionnaire's own range (0 to
its maximum total, from ``patients.questionnaires``), higher is worse; the scores are
joined by a line; the remission threshold (PHQ-9, GAD-7) is a dashed line; each infusion
is a tick on the time axis with a faint line up through the panel. The SVG has a
``<title>`` and a ``<desc>`` saying in words what it shows; the chart section puts the
scores next to it as a table too.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from html import escape

from django.utils.safestring import mark_safe

from patients.questionnaires import REMISSION_BELOW, Definition, Instrument, definition_for

# The drawing's own coordinates; it scales to the width of its container.
WIDTH = 640
LEFT, RIGHT = 40, 624
PANEL_HEIGHT = 132  # one questionnaire: its name, the plot, the ticks and dates below it
PLOT_TOP, PLOT_BOTTOM = 22, 96  # within a panel
TICK_LENGTH = 7
DATE_LABEL_Y = 118  # within a panel
LEGEND_HEIGHT = 22
SCORE_COLOUR = "#0b5ed7"
INFUSION_COLOUR = "#198754"
REMISSION_COLOUR = "#6c757d"

Series = Mapping[Instrument | str, Sequence[tuple[datetime, int]]]


def trajectory_svg(
    series: Series,
    infusions: Sequence[datetime],
    tz: tzinfo,
    *,
    title: str = "Questionnaire scores over time",
    id_prefix: str = "trajectory",
) -> str:
    """Draw each questionnaire's ``(completed_at, total)`` scores (any order) with
    ``infusions`` (start times) marked, dates in ``tz``. Returns "" when there is no score
    to draw. ``id_prefix`` keeps the ids of the title and description unique on a page."""
    panels = [
        (definition_for(instrument), sorted(points, key=lambda point: point[0]))
        for instrument, points in sorted(series.items(), key=lambda item: _order(item[0]))
        if points
    ]
    if not panels:
        return ""
    infusions = sorted(infusions)
    times = [at for _, points in panels for at, _ in points] + list(infusions)
    start, end = min(times), max(times)
    if end - start < timedelta(days=2):
        start, end = start - timedelta(days=1), end + timedelta(days=1)
    pad = (end - start) / 30  # keeps the first and last points off the frame
    x = _scale((start - pad).timestamp(), (end + pad).timestamp(), LEFT, RIGHT)

    height = PANEL_HEIGHT * len(panels) + LEGEND_HEIGHT
    title_id, desc_id = f"{id_prefix}-title", f"{id_prefix}-desc"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height}" '
        'width="100%" class="outcome-trajectory" role="img" '
        f'aria-labelledby="{_e(title_id)} {_e(desc_id)}" '
        'font-family="system-ui, sans-serif" font-size="11">',
        f'<title id="{_e(title_id)}">{_e(title)}</title>',
        f'<desc id="{_e(desc_id)}">{_e(_description(panels, infusions, tz))}</desc>',
    ]
    for index, (definition, points) in enumerate(panels):
        parts += _panel(definition, points, infusions, x, PANEL_HEIGHT * index, start, end, tz)
    with_remission = any(definition.instrument in REMISSION_BELOW for definition, _ in panels)
    parts += _legend(PANEL_HEIGHT * len(panels) + LEGEND_HEIGHT - 6, with_remission)
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 (every text above went through _e)


# --- Pieces of the drawing --------------------------------------------------------------


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _order(instrument: Instrument | str) -> int:
    return list(Instrument).index(Instrument(instrument))


def _scale(low: float, high: float, out_low: float, out_high: float) -> Callable[[float], float]:
    span = (high - low) or 1

    def scale(value: float) -> float:
        return out_low + (value - low) * (out_high - out_low) / span

    return scale


def _day(at: datetime, tz: tzinfo) -> str:
    return f"{at.astimezone(tz):%Y-%m-%d}"


def _panel(
    definition: Definition,
    points: list[tuple[datetime, int]],
    infusions: list[datetime],
    x: Callable[[float], float],
    top: int,
    start: datetime,
    end: datetime,
    tz: tzinfo,
) -> list[str]:
    y = _scale(definition.min_total, definition.max_total, top + PLOT_BOTTOM, top + PLOT_TOP)
    bottom = top + PLOT_BOTTOM
    name = definition.short_name
    parts = [
        f'<g class="panel panel-{_e(definition.instrument.value)}">',
        f'<text x="{LEFT}" y="{top + 14}" font-weight="bold" fill="#212529">'
        f"{_e(name)} (0 to {definition.max_total}, higher is worse)</text>",
        f'<rect x="{LEFT}" y="{top + PLOT_TOP}" width="{RIGHT - LEFT}" '
        f'height="{PLOT_BOTTOM - PLOT_TOP}" fill="none" stroke="#adb5bd"/>',
    ]
    for value in sorted({definition.min_total, definition.max_total // 2, definition.max_total}):
        yy = y(value)
        parts.append(
            f'<line x1="{LEFT}" x2="{RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="#e9ecef"/>'
            f'<text class="scale-label" x="{LEFT - 4}" y="{yy + 4:.1f}" text-anchor="end" '
            f'fill="#495057">{value}</text>'
        )
    below = REMISSION_BELOW.get(definition.instrument)
    if below is not None:
        yy = y(below)
        parts.append(
            f'<line class="remission" x1="{LEFT}" x2="{RIGHT}" y1="{yy:.1f}" y2="{yy:.1f}" '
            f'stroke="{REMISSION_COLOUR}" stroke-dasharray="6 4">'
            f"<title>{_e(f'Remission: {name} below {below}')}</title></line>"
        )
    for at in infusions:
        xx = x(at.timestamp())
        parts.append(
            f'<g class="infusion"><title>{_e(f"Infusion on {_day(at, tz)}")}</title>'
            f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{top + PLOT_TOP}" y2="{bottom}" '
            f'stroke="{INFUSION_COLOUR}" stroke-opacity="0.25"/>'
            f'<line x1="{xx:.1f}" x2="{xx:.1f}" y1="{bottom}" y2="{bottom + TICK_LENGTH}" '
            f'stroke="{INFUSION_COLOUR}" stroke-width="2"/></g>'
        )
    for at in (start, end):
        xx = x(at.timestamp())
        anchor = "start" if at == start else "end"
        parts.append(
            f'<text class="date-label" x="{xx:.1f}" y="{top + DATE_LABEL_Y}" '
            f'text-anchor="{anchor}" fill="#495057">{_e(_day(at, tz))}</text>'
        )
    coords = [(x(at.timestamp()), y(total)) for at, total in points]
    if len(coords) > 1:
        line = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in coords)
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="{SCORE_COLOUR}" stroke-width="2"/>'
        )
    for (at, total), (cx, cy) in zip(points, coords, strict=True):
        label = f"{name} {total} of {definition.max_total} on {_day(at, tz)}"
        parts.append(
            f'<g class="point"><title>{_e(label)}</title>'
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{SCORE_COLOUR}"/></g>'
        )
    parts.append("</g>")
    return parts


def _legend(y: int, with_remission: bool) -> list[str]:
    parts = [
        '<g class="legend">',
        f'<circle cx="{LEFT + 4}" cy="{y - 4}" r="3.5" fill="{SCORE_COLOUR}"/>',
        f'<text x="{LEFT + 12}" y="{y}" fill="#212529">Score</text>',
        f'<line x1="{LEFT + 80}" x2="{LEFT + 80}" y1="{y - 10}" y2="{y}" '
        f'stroke="{INFUSION_COLOUR}" stroke-width="2"/>',
        f'<text x="{LEFT + 86}" y="{y}" fill="#212529">Infusion</text>',
    ]
    if with_remission:
        parts += [
            f'<line x1="{LEFT + 160}" x2="{LEFT + 178}" y1="{y - 4}" y2="{y - 4}" '
            f'stroke="{REMISSION_COLOUR}" stroke-dasharray="6 4"/>',
            f'<text x="{LEFT + 182}" y="{y}" fill="#212529">Remission threshold</text>',
        ]
    parts.append("</g>")
    return parts


def _description(
    panels: list[tuple[Definition, list[tuple[datetime, int]]]],
    infusions: list[datetime],
    tz: tzinfo,
) -> str:
    sentences = []
    for definition, points in panels:
        (first_at, first), (last_at, last) = points[0], points[-1]
        count = len(points)
        name = f"{definition.short_name} (0 to {definition.max_total})"
        if count == 1:
            sentences.append(f"{name}: one score, {first} on {_day(first_at, tz)}.")
        else:
            sentences.append(
                f"{name}: {count} scores, from {first} on {_day(first_at, tz)} "
                f"to {last} on {_day(last_at, tz)}."
            )
    if infusions:
        count = len(infusions)
        if count == 1:
            sentences.append(f"One infusion, on {_day(infusions[0], tz)}, marked on the time axis.")
        else:
            sentences.append(
                f"{count} infusions, from {_day(infusions[0], tz)} to "
                f"{_day(infusions[-1], tz)}, marked as ticks on the time axis."
            )
    else:
        sentences.append("No infusion yet.")
    return " ".join(sentences)
