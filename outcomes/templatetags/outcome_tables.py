"""The long lists of the chart's outcomes section (``patients/chart/partials/_outcomes.html``)
as tags: a busy patient has over a hundred scores and a hundred infusions, and the
template's loops (a date filter, lookups and a ``forloop.last`` test per item) cost ~10 ms
a chart. The markup is the template's, character for character."""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.timezone import template_localtime

from outcomes.views import ChartOutcomes

register = template.Library()


def _local(value: datetime | None, pattern: str) -> str:
    """What ``value|date:...`` shows, on the clock of the template's ``{% timezone %}``."""
    return "" if value is None else template_localtime(value).strftime(pattern)


@register.simple_tag
def outcome_score_rows(outcomes: ChartOutcomes) -> SafeString:
    """The table's rows: each questionnaire's scores, oldest first."""
    rows = []
    for outcome in outcomes.instruments:
        name = conditional_escape(outcome.definition.short_name)
        out_of = outcome.definition.max_total
        rows.extend(
            f'\n          <tr><td>{name}</td><td class="text-nowrap">'
            f"{_local(point.completed_at, '%Y-%m-%d %H:%M')}</td>"
            f"<td>{point.total}/{out_of}</td></tr>\n          "
            for point in outcome.series
        )
    return mark_safe("".join(rows))  # noqa: S308 (the one text is escaped; the rest are numbers and dates)


@register.simple_tag
def infusion_dates(outcomes: ChartOutcomes) -> str:
    """The days infusions started, "2025-01-06, 2025-01-13"."""
    return ", ".join(_local(at, "%Y-%m-%d") for at in outcomes.infusions)
